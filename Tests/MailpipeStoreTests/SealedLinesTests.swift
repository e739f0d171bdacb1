import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// inject's journals and dead letters are `SealedLines`: every cut of the file (at any byte,
/// line boundaries included) and every single bit flip of the file or its seal is `StateDamage`
/// naming `account fsck`; what a kill leaves (whole lines past the seal, a torn last line) is
/// taken or cut, never damage; a file written before seals is read and sealed.
final class SealedLinesTests: FolderTestCase {
    private let marker = Array(#"{"journal":2}"#.utf8)
    private let lines = [#"{"email":"a@example.org","state":"begin"}"#, #"{"email":"a@example.org","state":"sent","code":250}"#,
                         #"{"email":"b@example.org","state":"begin"}"#]

    /// A sealed journal holding the marker and `lines`, appended in two batches.
    private func sealedJournal() throws -> String {
        let path = "\(folder!)/nov.ndjson"
        let file = try SealedLines(path: path, marker: marker, warn: { _ in })
        try file.append(Array((lines[0] + "\n" + lines[1] + "\n").utf8))
        try file.append(Array((lines[2] + "\n").utf8))
        return path
    }

    private func assertDamage(_ path: String, names file: String, _ message: String, line: UInt = #line) {
        do {
            _ = try SealedLines.read(path: path, marker: marker)
            XCTFail("\(message): read as sound", line: line)
        } catch let damage as StateDamage {
            XCTAssertEqual(damage.file, file, message, line: line)
            XCTAssertTrue("\(damage)".contains("account fsck"), "\(damage)", line: line)
        } catch {
            XCTFail("\(message): \(error)", line: line)
        }
    }

    func testANewFileStartsWithItsMarkerAndReadsBack() throws {
        let path = try sealedJournal()
        let reading = try SealedLines.read(path: path, marker: marker)
        let expected = ([#"{"journal":2}"#] + lines).map { $0 + "\n" }.joined()
        XCTAssertEqual(String(decoding: reading.lines, as: UTF8.self), expected)
        XCTAssertEqual(reading.sealed, expected.utf8.count)
        XCTAssertEqual(try FileSystem.fileSize(SealedLines.sealPath(path)), SealedLines.sealSize)
    }

    func testEveryCutIsDamageEvenAtALineBoundary() throws {
        let path = try sealedJournal()
        let original = try FileSystem.readFile(path)
        for length in 0..<original.count {
            try Data(original[0..<length]).write(to: URL(fileURLWithPath: path))
            assertDamage(path, names: path, "cut to \(length) of \(original.count) bytes")
        }
    }

    func testEveryBitFlipOfTheFileOrItsSealIsDamage() throws {
        let path = try sealedJournal()
        for target in [path, SealedLines.sealPath(path)] {
            let original = try FileSystem.readFile(target)
            for bit in 0..<(original.count * 8) {
                var bytes = original
                bytes[bit / 8] ^= UInt8(1 << (bit % 8))
                try Data(bytes).write(to: URL(fileURLWithPath: target))
                assertDamage(path, names: target, "bit \(bit) of \(FileSystem.basename(of: target))")
            }
            try Data(original).write(to: URL(fileURLWithPath: target))
        }
        XCTAssertNoThrow(try SealedLines.read(path: path, marker: marker))
    }

    func testAMissingFileOrSealOrAFolderInPlaceIsDamage() throws {
        let path = try sealedJournal()
        let seal = SealedLines.sealPath(path)
        let bytes = try FileSystem.readFile(path)
        try FileSystem.remove(path)
        assertDamage(path, names: path, "file deleted, seal kept")
        try FileSystem.createDirectory(path)
        assertDamage(path, names: path, "a folder in the file's place")
        try FileManager.default.removeItem(atPath: path)
        try FileSystem.writeAtomically(path, bytes)
        try FileSystem.remove(seal)
        assertDamage(path, names: seal, "seal deleted beside a journal that holds its format line")
    }

    func testWhatAKillLeavesIsTakenOrCut() throws {
        let path = try sealedJournal()
        let sealed = try FileSystem.readFile(path)
        // Killed between a batch's write and its seal: whole lines past the seal are taken.
        let batch = Array(#"{"email":"b@example.org","state":"sent"}"#.utf8) + [0x0A]
        try Data(sealed + batch).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try SealedLines.read(path: path, marker: marker).lines, sealed + batch)
        // Killed inside that write: the torn line is cut off by the next writer, with a warning.
        try Data(sealed + batch.dropLast(5)).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try SealedLines.read(path: path, marker: marker).torn, batch.count - 5)
        var warnings: [String] = []
        let file = try SealedLines(path: path, marker: marker, warn: { warnings.append($0) })
        XCTAssertEqual(file.lines, sealed)
        XCTAssertEqual(warnings.count, 1)
        XCTAssertEqual(try FileSystem.readFile(path), sealed)
    }

    func testAFileWrittenBeforeSealsIsReadAndSealed() throws {
        let path = "\(folder!)/old.ndjson"
        let old = lines.map { $0 + "\n" }.joined()
        try FileSystem.writeAtomically(path, Array(old.utf8))
        XCTAssertEqual(String(decoding: try SealedLines.read(path: path, marker: marker).lines, as: UTF8.self), old)
        let file = try SealedLines(path: path, marker: marker, warn: { _ in })
        XCTAssertEqual(String(decoding: file.lines, as: UTF8.self), old)
        let reading = try SealedLines.read(path: path, marker: marker)
        XCTAssertEqual(String(decoding: reading.lines, as: UTF8.self), old + #"{"journal":2}"# + "\n")
        XCTAssertEqual(reading.sealed, reading.lines.count)
        // From then on a cut at a line boundary is seen.
        try Data(Array(old.utf8)).write(to: URL(fileURLWithPath: path))
        assertDamage(path, names: path, "an upgraded journal cut back to its old lines")
    }
}
