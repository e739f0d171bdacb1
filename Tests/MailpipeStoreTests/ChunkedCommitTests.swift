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
            let slug = try TenantSlug("t")
            let stateRoot = StateRoot(explicit: state)
            try AccountInit.run(.init(tenant: slug, state: stateRoot))
            let options = AccountCommit.Options(tenant: slug, state: stateRoot, now: Timestamp(seconds: 1_800_000_000),
                                                stream: StreamOptions(stage: "account commit", inputs: [input]),
                                                chunkBytes: chunkBytes, threads: threads)
            let (summary, status) = try AccountCommit.run(options)
            XCTAssertEqual(status, .success)
            XCTAssertEqual(summary["new"], 2000)
            XCTAssertEqual(summary["updated"] + summary["unchanged"], 1000)
            let store = try ContactStore(directory: stateRoot.tenant(slug).contactsPath)
            var out = ""
            try store.forEach { out += String(decoding: $0, as: UTF8.self) + "\n" }
            return (out, store.runs)
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
}
