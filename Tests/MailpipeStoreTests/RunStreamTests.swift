import AccountStage
import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// Reading a one-run store hands out its members' lines batch after batch (64 members each), the
/// next batch inflated while the caller reads one. The lines and their order must be the run's
/// as plain zlib reads it, over many batches; a damaged member stops the read before any line of
/// its batch goes out.
final class RunStreamTests: FolderTestCase {
    /// ~150 members (more than two batches, the last one partial), lines of every length, some
    /// longer than a member: `forEach` gives the lines of the whole file gunzipped, in order.
    func testStreamedLinesAreTheRunGunzippedWhole() throws {
        let store = try committedStore(count: 9_000, seed: 3)
        let run = try XCTUnwrap(try ContactStore(directory: store).runs.first)
        let data = try fileBytes(store + "/" + run.dataFile)
        XCTAssertGreaterThan(memberEnds(data).count, 2 * 64, "the run must span more than two batches")
        let expected = lines(of: try gunzip(data))
        XCTAssertEqual(expected.count, run.records)
        let streamed = try streamedLines(store)
        XCTAssertEqual(streamed.count, expected.count)
        XCTAssertTrue(streamed == expected, "first difference at line \(zip(streamed, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
    }

    /// A member of the second batch whose checksum is wrong: `StateDamage` naming the run file,
    /// after exactly the first batch's lines were handed out.
    func testDamagedMemberInTheSecondBatchStopsBeforeItsBatch() throws {
        let run = try runFile(seed: 4)
        let firstBatchLines = lines(of: try gunzip(Array(run.data[0..<run.ends[63]])))
        for damaged in [64, 70, 127] {
            var copy = run.data
            copy[run.ends[damaged] - 8] ^= 0xFF  // the member's CRC-32: zlib rejects it at the member's end
            try Data(copy).write(to: URL(fileURLWithPath: run.path))
            try assertReadStops(run, handingOut: firstBatchLines, "member \(damaged)")
        }
        let data = try fileBytes(run.path)  // the last damaged copy: the first batch still reads whole
        XCTAssertEqual(lines(of: try gunzip(Array(data[0..<run.ends[63]]))), firstBatchLines)
    }

    /// A member whose bytes read as deflate data without an error but end before its stream
    /// does (here: the start of a stored, uncompressed member of the same lines, longer than the
    /// member's place) is damage, not a shorter member: the read stops as for a bad CRC.
    func testMemberThatEndsInsideItsStreamIsDamage() throws {
        let run = try runFile(seed: 5)
        let damaged = 70
        let start = run.ends[damaged - 1], end = run.ends[damaged]
        let content = try gunzip(Array(run.data[start..<end]))
        var stored: [UInt8] = []
        try content.withUnsafeBytes { try GzipEncoder(level: 0).compressMember($0, appendingTo: &stored) }
        XCTAssertGreaterThan(stored.count, end - start, "a stored member must be longer than the compressed one")
        var copy = run.data
        copy.replaceSubrange(start..<end, with: stored[0..<(end - start)])
        try Data(copy).write(to: URL(fileURLWithPath: run.path))
        try assertReadStops(run, handingOut: lines(of: try gunzip(Array(run.data[0..<run.ends[63]]))), "member \(damaged)")
    }

    // MARK: helpers

    /// A committed one-run store of 9,000 contacts: its data file's path, bytes and member ends
    /// (more than two batches of 64).
    private func runFile(seed: UInt64) throws -> (store: String, path: String, data: [UInt8], ends: [Int]) {
        let store = try committedStore(count: 9_000, seed: seed)
        let run = try XCTUnwrap(try ContactStore(directory: store).runs.first)
        let path = store + "/" + run.dataFile
        let data = try fileBytes(path)
        let ends = memberEnds(data)
        XCTAssertGreaterThan(ends.count, 2 * 64)
        return (store, path, data, ends)
    }

    /// Reading the store raises `StateDamage` naming the run file, after exactly `expected` lines.
    private func assertReadStops(_ run: (store: String, path: String, data: [UInt8], ends: [Int]),
                                 handingOut expected: [[UInt8]], _ what: String) throws {
        var handed: [[UInt8]] = []
        XCTAssertThrowsError(try ContactStore(directory: run.store).forEach { handed.append(Array($0)) }, what) { error in
            guard let damage = error as? StateDamage else { return XCTFail("\(error) is not StateDamage") }
            XCTAssertEqual(damage.file, run.path)
            XCTAssertEqual(damage.problem, "a gzip member is unreadable")
        }
        // Counted and compared whole (not XCTAssertEqual: a failure would print megabytes).
        XCTAssertEqual(handed.count, expected.count, "\(what): lines handed out before the damage")
        XCTAssertTrue(handed == expected, "\(what): not the lines before the damaged batch")
    }

    private func committedStore(count: Int, seed: UInt64) throws -> String {
        let input = folder + "/in\(seed).ndjson"
        var random = NewContactLineTests.SeededOrder(state: seed)
        var records = ""
        for n in 0..<count {
            let roll = random.next() % 1000
            let length = roll < 900 ? random.next() % 600 : roll < 995 ? 600 + random.next() % 6000 : 33_000 + random.next() % 40_000
            records += #"{"email":"c\#(n)@d\#(n % 7).fr","note":"\#(String(repeating: "n", count: Int(length)))"}"# + "\n"
        }
        try records.write(toFile: input, atomically: true, encoding: .utf8)
        let state = folder + "/state\(seed)"
        _ = try commitContacts(input, state: state, threads: 2)
        return StateRoot(explicit: state).tenant(try TenantSlug("t")).contactsPath
    }

    private func streamedLines(_ store: String) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        try ContactStore(directory: store).forEach { out.append(Array($0)) }
        return out
    }

    private func fileBytes(_ path: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The whole multi-member file as one stream, as zcat reads it.
    private func gunzip(_ data: [UInt8]) throws -> [UInt8] {
        let decoder = try GzipDecoder()
        var out: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 1 << 16)
        try data.withUnsafeBytes { input in
            var consumed = 0
            while true {
                let (used, made) = try chunk.withUnsafeMutableBytes {
                    try decoder.inflate(input: UnsafeRawBufferPointer(rebasing: input[consumed...]), output: $0)
                }
                consumed += used
                out += chunk[0..<made]
                if made == 0 && (consumed == input.count || used == 0) { break }
            }
        }
        XCTAssertTrue(decoder.atMemberBoundary, "the run ends inside a member")
        return out
    }

    /// Where each gzip member ends, as zlib finds them.
    private func memberEnds(_ data: [UInt8]) -> [Int] {
        guard let decoder = try? GzipDecoder() else { return [] }
        var ends: [Int] = [], chunk = [UInt8](repeating: 0, count: 1 << 16)
        data.withUnsafeBytes { input in
            var consumed = 0
            while consumed < input.count {
                guard let step = try? chunk.withUnsafeMutableBytes({
                    try decoder.inflateMember(input: UnsafeRawBufferPointer(rebasing: input[consumed...]), output: $0)
                }) else { return }
                consumed += step.consumed
                if step.ended { ends.append(consumed) }
            }
        }
        return ends
    }

    /// The non-empty lines of `bytes`.
    private func lines(of bytes: [UInt8]) -> [[UInt8]] {
        bytes.split(separator: 0x0A, omittingEmptySubsequences: true).map(Array.init)
    }
}
