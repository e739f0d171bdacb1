import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// A run index finds a hash by starting where a uniform hash would sit and widening from there:
/// every stored email must be found, and no other hash — next to a stored one, 0, the largest —
/// in runs of every size (under and over the 64 hashes below which it only bisects).
final class RunIndexSearchTests: FolderTestCase {
    func testStoredHashesAndTheirNeighboursAgainstASet() throws {
        let writer = try ContactStoreWriter(directory: folder + "/contacts")
        writer.foldRatio = 0   // the runs stay apart: each is searched on its own
        var emails: [String] = []
        for (run, count) in [(0, 20_000), (1, 3_000), (2, 65), (3, 7)] {
            let keys = (0..<count).map { "r\(run)-c\($0)@x.fr" }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            try writer.addRun { add in
                for key in keys {
                    let line = #"{"email":"\#(key)","n":\#(run)}"#
                    try Array(line.utf8).withUnsafeBytes { l in try Array(key.utf8).withUnsafeBytes { try add(l, $0) } }
                }
            }
            try writer.commit()
            emails += keys
        }
        XCTAssertEqual(writer.store.runs.count, 4)
        let lookup = try writer.lookup()
        let stored = Set(emails.map { EmailKey.hash($0) })
        for email in emails {
            let line = try Array(email.utf8).withUnsafeBytes { try lookup.find(key: $0) }
            XCTAssertEqual(line.map { try! JSONValue.parse(String(decoding: $0, as: UTF8.self))["email"]!.string! }, email)
        }
        var probes: [UInt64] = [0, 1, UInt64.max, UInt64.max - 1]
        for hash in stored { probes += [hash &- 1, hash, hash &+ 1] }
        var rng = ContactMergeKeysTests.SplitMix(state: 5)
        for _ in 0..<20_000 { probes.append(UInt64(rng.next(Int.max)) << 1 | UInt64(rng.next(2))) }
        for hash in probes {
            XCTAssertEqual(lookup.mayContain(hash: hash), stored.contains(hash), "hash \(hash)")
        }
        XCTAssertNil(try Array("nobody@x.fr".utf8).withUnsafeBytes { try lookup.find(key: $0) })
    }
}
