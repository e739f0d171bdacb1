import AccountStage
import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// A commit larger than one in-memory chunk spills runs and folds them: the result must equal a
/// one-chunk commit, as one compressed run.
final class ChunkedCommitTests: XCTestCase {
    func testSpilledChunksFoldIntoTheSameStore() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("mp-chunks-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var lines = ""
        for i in 0..<3000 {
            // Out of order, with repeats that must merge in input order.
            let n = (i * 7919) % 2000
            lines += #"{"email":"c\#(n)@x.fr","tags":["t\#(i % 3)"],"seq":\#(i)}"# + "\n"
        }
        let input = root + "-in.ndjson"
        try lines.write(toFile: input, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: input) }

        func commitAndExport(state: String, chunkBytes: Int, threads: Int = 2) throws -> (String, [RunInfo]) {
            let (summary, out, runs) = try commit(input, state: state, chunkBytes: chunkBytes, threads: threads)
            XCTAssertEqual(summary["new"], 2000)
            XCTAssertEqual(summary["updated"] + summary["unchanged"], 1000)
            return (out, runs)
        }
        let (whole, wholeRuns) = try commitAndExport(state: root + "/one", chunkBytes: 1 << 30)
        let (chunked, chunkedRuns) = try commitAndExport(state: root + "/many", chunkBytes: 8 << 10)
        XCTAssertEqual(chunked, whole)
        // Merged on one thread or three: the same store.
        let (single, _) = try commitAndExport(state: root + "/single", chunkBytes: 1 << 30, threads: 1)
        let (three, _) = try commitAndExport(state: root + "/three", chunkBytes: 1 << 30, threads: 3)
        XCTAssertEqual(single, whole)
        XCTAssertEqual(three, whole)
        XCTAssertEqual(wholeRuns.count, 1)
        XCTAssertEqual(chunkedRuns.count, 1, "spilled chunk runs are folded into one")
        // The folded run is compressed (level 1), not left stored.
        XCTAssertLessThan(chunkedRuns[0].bytes, whole.utf8.count / 2)
    }

    /// A chunk past the bucket sort's threshold (16,384 records) is dealt into buckets by its
    /// keys' first two bytes, sorted on several threads: records of one email must still merge in input order (the last `seq` wins,
    /// tags in the order they came), contacts come out in email order, and the store is the same
    /// at every chunk size and thread count — with keys shorter than the 8 bytes compared first,
    /// keys sharing more than their first 16, and a line longer than a slab of the chunk arena.
    func testEqualEmailsMergeInInputOrderAtEveryChunkSizeAndThreadCount() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("mp-order-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var lines = ""
        var lastSeq: [String: Int] = [:]
        var tagsInOrder: [String: [String]] = [:]
        for i in 0..<40_000 {
            let n = (i &* 7919) % 24_000
            let email = n % 3 == 0 ? "\(n % 97)@x.fr" : n % 3 == 1 ? "a.very.long.shared.prefix.\(n)@example.org" : "c\(n)@x.fr"
            let tag = "t\(i % 5)"
            let note = i == 1234 ? #","note":""# + String(repeating: "p", count: 100_000) + "\"" : ""
            lines += #"{"email":"\#(email)","tags":["\#(tag)"],"seq":\#(i)\#(note)}"# + "\n"
            lastSeq[email] = i
            if !(tagsInOrder[email] ?? []).contains(tag) { tagsInOrder[email, default: []].append(tag) }
        }
        let input = root + "-in.ndjson"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try lines.write(toFile: input, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: input) }

        func commitAndExport(_ name: String, chunkBytes: Int, threads: Int) throws -> String {
            let (summary, out, _) = try commit(input, state: root + "/" + name, chunkBytes: chunkBytes, threads: threads)
            XCTAssertEqual(summary["new"], lastSeq.count)
            return out
        }
        let whole = try commitAndExport("whole", chunkBytes: 1 << 30, threads: 2)
        var emails: [String] = []
        for line in whole.split(separator: "\n") {
            let contact = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let email = try XCTUnwrap(contact["email"] as? String)
            emails.append(email)
            XCTAssertEqual(contact["seq"] as? Int, lastSeq[email], email)
            XCTAssertEqual(contact["tags"] as? [String], tagsInOrder[email], email)
        }
        XCTAssertEqual(emails, lastSeq.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        XCTAssertEqual(try commitAndExport("one-thread", chunkBytes: 1 << 30, threads: 1), whole)
        XCTAssertEqual(try commitAndExport("three-threads", chunkBytes: 1 << 30, threads: 3), whole)
        XCTAssertEqual(try commitAndExport("chunks-1m", chunkBytes: 1 << 20, threads: 2), whole)
        XCTAssertEqual(try commitAndExport("chunks-64k", chunkBytes: 64 << 10, threads: 2), whole)
    }

    /// `input` committed into a new store at `state` (tenant `t`): the summary, the store's
    /// contacts as lines, and its runs.
    private func commit(_ input: String, state: String, chunkBytes: Int, threads: Int) throws -> (Summary, String, [RunInfo]) {
        let summary = try commitContacts(input, state: state, chunkBytes: chunkBytes, threads: threads)
        let store = try ContactStore(directory: StateRoot(explicit: state).tenant(try TenantSlug("t")).contactsPath)
        var out = ""
        try store.forEach { out += String(decoding: $0, as: UTF8.self) + "\n" }
        return (summary, out, store.runs)
    }
}
