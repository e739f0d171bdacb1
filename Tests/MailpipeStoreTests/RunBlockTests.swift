import AccountStage
import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// A commit gathers and compresses a run's 32 KiB blocks on its merging threads, a batch of lines
/// at a time (the block under way carried from batch to batch); a fold or a status update adds
/// lines one at a time. Both must make the same run: the same gzip members, the same index.
final class RunBlockTests: FolderTestCase {
    /// Lines of every length about a block: short ones, ones near and over 32 KiB (a line longer
    /// than a block closes it alone), addresses whose gmail and plus folds the index keeps; more
    /// than one merge batch (8,192 contacts), so blocks run across batches.
    func testCommittedRunIsTheRunLinesWrittenOneAtATimeMake() throws {
        let input = folder + "/in.ndjson"
        try contacts(count: 12_000, seed: 7).write(toFile: input, atomically: true, encoding: .utf8)
        var reference: [UInt8]?
        for (name, threads, chunkBytes) in [("t1", 1, 1 << 30), ("t2", 2, 1 << 30), ("t3", 3, 1 << 30), ("small-chunks", 2, 256 << 10)] {
            let state = folder + "/" + name
            let summary = try commitContacts(input, state: state, chunkBytes: chunkBytes, threads: threads)
            XCTAssertEqual(summary["new"], 12_000, name)
            let runs = try ContactStore(directory: contactsPath(state)).runs
            XCTAssertEqual(runs.count, 1, name)
            let data = try assertRunEqualsLinesWrittenOneAtATime(runs[0], store: contactsPath(state), name)
            if let reference { XCTAssertEqual(data, reference, "\(name): not the run one thread writes") } else { reference = data }
        }
    }

    /// A second commit updates some contacts (their merged lines are written on the merging
    /// threads) and adds new ones (their lines taken as the parsing threads wrote them): its run
    /// is the one lines written one at a time make, at 1, 2 and 3 threads.
    func testUpdatingCommitsRunIsTheRunLinesWrittenOneAtATimeMake() throws {
        let first = folder + "/first.ndjson", second = folder + "/second.ndjson"
        try contacts(count: 10_000, seed: 11).write(toFile: first, atomically: true, encoding: .utf8)
        // Every 20th contact again with a note (updated), and 300 contacts the store lacks.
        try (contacts(count: 10_000, seed: 12, every: 20, extra: #","v":2"#) + contacts(count: 300, seed: 13, firstNumber: 50_000))
            .write(toFile: second, atomically: true, encoding: .utf8)
        for threads in [1, 2, 3] {
            let state = folder + "/u\(threads)"
            _ = try commitContacts(first, state: state, threads: threads)
            let summary = try commitContacts(second, state: state, threads: threads)
            XCTAssertEqual(summary["new"], 300)
            XCTAssertEqual(summary["updated"], 500)
            let runs = try ContactStore(directory: contactsPath(state)).runs
            XCTAssertEqual(runs.count, 2, "the small second run stays beside the first")
            try assertRunEqualsLinesWrittenOneAtATime(runs[1], store: contactsPath(state), "threads \(threads)")
        }
    }

    /// Blocks that end exactly at 32 KiB, the first merge batch (8,192 contacts) ending exactly
    /// where a block does (nothing carried into the next batch), lines of 32 KiB less or more the
    /// newline, and lines of two blocks: each closes its block where a line-at-a-time writer does.
    func testBlocksEndingExactlyAtTheBlockSizeAndAtABatchEnd() throws {
        // How much longer a stored line is than its note (tenant and created_at are added).
        let probe = folder + "/probe.ndjson"
        try #"{"email":"c000000@x.fr","note":"nnnn"}"#.write(toFile: probe, atomically: true, encoding: .utf8)
        _ = try commitContacts(probe, state: folder + "/probe", threads: 1)
        let probeRun = try XCTUnwrap(try ContactStore(directory: contactsPath(folder + "/probe")).runs.first)
        let probeLines = try storedLines(probeRun, store: contactsPath(folder + "/probe"))
        let overhead = (probeLines.first?.count ?? 0) - 4
        XCTAssertEqual(probeLines.count, 1)
        XCTAssertGreaterThan(overhead, 0)
        XCTAssertLessThan(overhead, 96)
        // Stored line lengths in email order: 8,192 lines of 127 bytes (128 with the newline: 256 to
        // a block, the batch ends with the 32nd block), then lines that fill a block to the byte or
        // one past it, lines longer than a block, and short ones between.
        var lengths = [Int](repeating: 127, count: 8192)
        lengths += [32_767, 32_767, 32_768, 100, 32_768 - 101 - 1, 32_769, 70_000, 96, 65_536]
        lengths += (0..<3000).map { 127 + ($0 * 7919) % 900 }
        var records: [String] = []
        for (n, length) in lengths.enumerated() {
            let email = String(format: "c%06d@x.fr", n)
            records.append(#"{"email":"\#(email)","note":"\#(String(repeating: "n", count: length - overhead))"}"#)
        }
        var order = NewContactLineTests.SeededOrder(state: 5)
        records.shuffle(using: &order)
        let input = folder + "/exact.ndjson"
        try (records.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        for threads in [1, 2, 3] {
            let state = folder + "/exact\(threads)"
            _ = try commitContacts(input, state: state, threads: threads)
            let run = try XCTUnwrap(try ContactStore(directory: contactsPath(state)).runs.first)
            XCTAssertEqual(try storedLines(run, store: contactsPath(state)).map(\.count), lengths, "stored line lengths")
            try assertRunEqualsLinesWrittenOneAtATime(run, store: contactsPath(state), "exact, threads \(threads)")
        }
    }

    /// A few short lines, no block filled: the block under way is closed by the end of the run.
    func testRunShorterThanABlock() throws {
        let input = folder + "/in.ndjson"
        try (0..<5).map { #"{"email":"s\#($0)@x.fr"}"# + "\n" }.joined().write(toFile: input, atomically: true, encoding: .utf8)
        let state = folder + "/s"
        _ = try commitContacts(input, state: state, threads: 2)
        let runs = try ContactStore(directory: contactsPath(state)).runs
        try assertRunEqualsLinesWrittenOneAtATime(runs[0], store: contactsPath(state), "short")
    }

    // MARK: - Helpers

    /// Contacts numbered from `firstNumber` to `firstNumber + count` (every `every`-th), in a
    /// shuffled order, with notes of lengths drawn about the block size and `extra` members.
    private func contacts(count: Int, seed: UInt64, every: Int = 1, firstNumber: Int = 0, extra: String = "") -> String {
        var random = NewContactLineTests.SeededOrder(state: seed)
        var numbers = Array(stride(from: firstNumber, to: firstNumber + count, by: every))
        numbers.shuffle(using: &random)
        var out = ""
        for n in numbers {
            let email = n % 5 == 0 ? "first.last+\(n)@gmail.com" : n % 5 == 1 ? "c\(n)+tag@x.fr" : "c\(n)@d\(n % 7).fr"
            let roll = random.next() % 1000
            let length: UInt64 = roll < 850 ? random.next() % 400
                : roll < 970 ? 400 + random.next() % 3600
                : roll < 995 ? 4000 + random.next() % 30_000
                : 34_000 + random.next() % 36_000
            let note = String(repeating: "n", count: Int(length))
            out += #"{"email":"\#(email)","tags":["t\#(n % 3)"],"note":"\#(note)"\#(extra)}"# + "\n"
        }
        return out
    }

    private func contactsPath(_ state: String) throws -> String {
        StateRoot(explicit: state).tenant(try TenantSlug("t")).contactsPath
    }

    /// Reads the run's lines back, writes them one at a time into a new store
    /// (`ContactStoreWriter.addRun`), and compares the two runs' data and index files byte for
    /// byte; returns the run's data.
    @discardableResult
    private func assertRunEqualsLinesWrittenOneAtATime(_ run: RunInfo, store: String, _ label: String) throws -> [UInt8] {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: store + "/" + run.dataFile)))
        let index = try [UInt8](Data(contentsOf: URL(fileURLWithPath: store + "/" + run.indexFile)))
        let lines = try storedLines(run, store: store)
        XCTAssertEqual(lines.count, run.records, label)
        let referenceStore = folder + "/reference-" + UUID().uuidString
        let writer = try ContactStoreWriter(directory: referenceStore)
        try writer.addRun { add in
            for line in lines {
                // Every line here starts {"email":"<its key>".
                let key = line.dropFirst(10).prefix { $0 != 0x22 }
                try Array(line).withUnsafeBytes { l in try Array(key).withUnsafeBytes { try add(l, $0) } }
            }
        }
        try writer.commit()
        let written = try XCTUnwrap(try ContactStore(directory: referenceStore).runs.first)
        let referenceData = try [UInt8](Data(contentsOf: URL(fileURLWithPath: referenceStore + "/" + written.dataFile)))
        let referenceIndex = try [UInt8](Data(contentsOf: URL(fileURLWithPath: referenceStore + "/" + written.indexFile)))
        XCTAssertEqual(data.count, referenceData.count, "\(label): run file size")
        XCTAssertTrue(data == referenceData, "\(label): the run's gzip members differ from the line-at-a-time run's")
        XCTAssertTrue(index == referenceIndex, "\(label): the run's index differs from the line-at-a-time run's")
        XCTAssertGreaterThan(data.count, 0)
        return data
    }

    /// A run's lines, read from its data file.
    private func storedLines(_ run: RunInfo, store: String) throws -> [[UInt8]] {
        var reader = LineReader(input: try InputReader(path: store + "/" + run.dataFile), maxLine: 1 << 20)
        defer { reader.deallocate() }
        var lines: [[UInt8]] = []
        while let event = try reader.next() {
            if case .line(let bytes, _) = event { lines.append(Array(bytes)) }
        }
        return lines
    }
}
