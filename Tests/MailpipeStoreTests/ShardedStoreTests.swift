import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// The sharded contact store through its public API: routing, the tenant-level reader (k-way
/// merge, newest wins, email order), shard reads, lookups, reshard.
final class ShardedStoreTests: XCTestCase {
    var root: String!
    var tenant: TenantDirectory!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("mailpipe-shards-\(UUID().uuidString)").path
        tenant = StateRoot(explicit: root).tenant(try TenantSlug("t"))
        try FileSystem.createDirectory(tenant.contactsPath)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    func hash(_ email: String) -> UInt64 { EmailKey.hash(email) }

    /// Commits lines (email → line) through one writer session, each to its slot.
    func commit(shard: Shard?, _ lines: [(String, String)]) throws -> [String] {
        let session = try TenantContactsWriter(tenant: tenant, shard: shard)
        defer { session.unlock() }
        var bySlot: [[(String, String)]] = Array(repeating: [], count: session.writers.count)
        var refused: [String] = []
        for (email, line) in lines {
            if let slot = session.slot(forHash: hash(email)) { bySlot[slot].append((email, line)) } else { refused.append(email) }
        }
        for (slot, writer) in session.writers.enumerated() {
            writer.foldRatio = 0
            try writer.addRun { add in
                for (key, line) in bySlot[slot].sorted(by: { $0.0 < $1.0 }) {
                    try Array(line.utf8).withUnsafeBytes { l in try Array(key.utf8).withUnsafeBytes { try add(l, $0) } }
                }
            }
        }
        try session.commit()
        return refused
    }

    func read(_ shard: Shard? = nil) throws -> [String] {
        var lines: [String] = []
        try TenantContacts.open(tenant).forEach(shard: shard) { lines.append(String(decoding: $0, as: UTF8.self)) }
        return lines
    }

    func contact(_ i: Int, _ v: Int) -> (String, String) {
        ("c\(i)@x.fr", #"{"email":"c\#(i)@x.fr","v":\#(v)}"#)
    }

    func testShardedStoreReadsAsTheUnionNewestFirstInEmailOrder() throws {
        XCTAssertTrue(try StoreLayout.initialise(contactsPath: tenant.contactsPath, shards: 4))
        XCTAssertEqual(try StoreLayout.shardCount(contactsPath: tenant.contactsPath), 4)
        XCTAssertEqual(try commit(shard: nil, (0..<400).map { contact($0, 1) }), [])
        // Shard 1 alone: newer versions of its contacts; the others' are refused.
        let refused = try commit(shard: try Shard(index: 1, count: 4), (0..<100).map { contact($0, 2) })
        XCTAssertEqual(refused.count, (0..<100).filter { hash("c\($0)@x.fr") % 4 != 1 }.count)
        XCTAssertFalse(refused.contains { hash($0) % 4 == 1 })

        let all = try read()
        XCTAssertEqual(all.count, 400)
        let emails = all.map { try! JSONValue.parse($0)["email"]!.string! }
        XCTAssertEqual(emails, emails.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        for i in 0..<100 {
            let want = hash("c\(i)@x.fr") % 4 == 1 ? 2 : 1
            XCTAssertTrue(all.contains(contact(i, want).1), "c\(i)")
        }
        // Shard reads: the store's own count (one sub-store), a divisor, a multiple, a stranger.
        for (i, n) in [(1, 4), (0, 2), (5, 8), (2, 3)] {
            let shard = try Shard(index: i, count: n)
            XCTAssertEqual(try read(shard), all.filter { shard.contains(hash: hash(try! JSONValue.parse($0)["email"]!.string!)) }, "\(shard)")
        }
        // Lookups go to the address's shard; hashes cover every contact.
        let lookup = try TenantContacts.open(tenant).lookup()
        XCTAssertEqual(try Array("c7@x.fr".utf8).withUnsafeBytes { try lookup.find(key: $0) }.map { String(decoding: $0, as: UTF8.self) },
                       contact(7, hash("c7@x.fr") % 4 == 1 ? 2 : 1).1)
        XCTAssertNil(try Array("nobody@x.fr".utf8).withUnsafeBytes { try lookup.find(key: $0) })
        // (As ContactStore's: sorted, one entry per stored version, for membership tests.)
        let hashes = try TenantContacts.open(tenant).emailHashes()
        XCTAssertEqual(hashes, hashes.sorted())
        XCTAssertEqual(Set(hashes), Set((0..<400).map { hash("c\($0)@x.fr") }))
        // The flat-store API refuses a sharded folder rather than reading it as empty.
        XCTAssertThrowsError(try ContactStore(directory: tenant.contactsPath))
        XCTAssertThrowsError(try ContactStoreWriter(directory: tenant.contactsPath))
        // A shard writer of another count is a usage error.
        XCTAssertThrowsError(try TenantContactsWriter(tenant: tenant, shard: try Shard(index: 0, count: 8))) { error in
            XCTAssertEqual((error as? StageError)?.exitStatus, .usage)
        }
    }

    func testReshardKeepsEveryContactOnceInItsShard() throws {
        // A flat store of two runs, then flat → 4 → 8 → 3.
        _ = try commit(shard: nil, (0..<300).map { contact($0, 1) })
        _ = try commit(shard: nil, (200..<500).map { contact($0, 2) })
        let before = try read()
        XCTAssertEqual(before.count, 500)
        for m in [4, 8, 3] {
            let result = try ContactReshard.run(tenant: tenant, shards: m)
            XCTAssertEqual(result.to, m)
            XCTAssertEqual(result.contacts, 500)
            XCTAssertEqual(try read(), before, "after reshard to \(m)")
            XCTAssertEqual(try FileSystem.listDirectory(tenant.contactsPath),
                           (["layout.json", "layout.lock"] + (0..<m).map { StoreLayout.shardFolder($0, of: m) }).sorted())
            var union: [String] = []
            for i in 0..<m { union += try read(try Shard(index: i, count: m)) }
            XCTAssertEqual(union.sorted(), before.sorted())
        }
        // Initialising a store that holds contacts is refused (that is a reshard).
        XCTAssertThrowsError(try StoreLayout.initialise(contactsPath: tenant.contactsPath, shards: 5))
    }
}
