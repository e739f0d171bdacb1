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
            let summary = try commit(input, state: state, threads: threads, chunkBytes: chunkBytes)
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
            _ = try commit(first, state: state, threads: threads)
            let summary = try commit(second, state: state, threads: threads)
            XCTAssertEqual(summary["new"], 300)
            XCTAssertEqual(summary["updated"], 500)
            let runs = try ContactStore(directory: contactsPath(state)).runs
            XCTAssertEqual(runs.count, 2, "the small second run stays beside the first")
            try assertRunEqualsLinesWrittenOneAtATime(runs[1], store: contactsPath(state), "threads \(threads)")
        }
    }

    /// A few short lines, no block filled: the block under way is closed by the end of the run.
    func testRunShorterThanABlock() throws {
        let input = folder + "/in.ndjson"
        try (0..<5).map { #"{"email":"s\#($0)@x.fr"}"# + "\n" }.joined().write(toFile: input, atomically: true, encoding: .utf8)
        let state = folder + "/s"
        _ = try commit(input, state: state, threads: 2)
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

    /// Commits `input` into the store at `state` (made the first time), tenant `t`.
    private func commit(_ input: String, state: String, threads: Int, chunkBytes: Int = 1 << 30) throws -> Summary {
        let slug = try TenantSlug("t")
        let stateRoot = StateRoot(explicit: state)
        if !FileManager.default.fileExists(atPath: try contactsPath(state)) {
            try AccountInit.run(.init(tenant: slug, state: stateRoot))
        }
        let options = AccountCommit.Options(tenant: slug, state: stateRoot, now: Timestamp(seconds: 1_800_000_000),
                                            stream: StreamOptions(stage: "account commit", inputs: [input]),
                                            chunkBytes: chunkBytes, threads: threads)
        let (summary, status) = try AccountCommit.run(options)
        XCTAssertEqual(status, .success)
        return summary
    }

    /// Reads the run's lines back, writes them one at a time into a new store
    /// (`ContactStoreWriter.addRun`), and compares the two runs' data and index files byte for
    /// byte; returns the run's data.
    @discardableResult
    private func assertRunEqualsLinesWrittenOneAtATime(_ run: RunInfo, store: String, _ label: String) throws -> [UInt8] {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: store + "/" + run.dataFile)))
        let index = try [UInt8](Data(contentsOf: URL(fileURLWithPath: store + "/" + run.indexFile)))
        let lines = try inflate(data).split(separator: 0x0A, omittingEmptySubsequences: false).dropLast()
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

    private func inflate(_ gzip: [UInt8]) throws -> [UInt8] {
        let decoder = try GzipDecoder()
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        try gzip.withUnsafeBytes { input in
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
        return out
    }
}
