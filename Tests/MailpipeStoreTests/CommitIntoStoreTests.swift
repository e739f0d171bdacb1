import AccountStage
import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// A commit into a store that holds contacts already: each group's stored version is looked up on
/// the merging threads (a reader of the runs each). The store must come out as if every record
/// had been merged into it one at a time, in input order, and byte for byte the same on one
/// thread or several, in one chunk or many.
final class CommitIntoStoreTests: XCTestCase {
    static let storedCount = 10_000
    static let updateCount = 14_000
    static let now = Timestamp(seconds: 1_800_000_000).rfc3339

    func testCommitIntoAFullStoreEqualsMergingRecordByRecord() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("mp-again-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let stored = (0..<Self.storedCount).map(Self.storedRecord)
        let updates = (0..<Self.updateCount).map(Self.update)
        let storedInput = root + "/stored.ndjson", updateInput = root + "/updates.ndjson"
        try (stored.joined(separator: "\n") + "\n").write(toFile: storedInput, atomically: true, encoding: .utf8)
        try (updates.joined(separator: "\n") + "\n").write(toFile: updateInput, atomically: true, encoding: .utf8)
        let base = root + "/base"
        _ = try commitContacts(storedInput, state: base, threads: 2)

        var model = try RecordByRecord()
        defer { model.deallocate() }
        for line in stored { try model.apply(line) }
        model.counts = (0, 0, 0)
        for line in updates { try model.apply(line) }
        XCTAssertGreaterThan(model.counts.updated, 3000, "the input must update many stored contacts")
        XCTAssertGreaterThan(model.counts.unchanged, 3000)
        XCTAssertGreaterThan(model.counts.new, 1000)

        for chunkBytes in [1 << 30, 64 << 10] {
            var storeFiles: [String: Data]?
            for threads in [1, 2, 3] {
                let state = root + "/c\(chunkBytes)-t\(threads)"
                try FileManager.default.copyItem(atPath: base, toPath: state)
                let summary = try commitContacts(updateInput, state: state, chunkBytes: chunkBytes, threads: threads)
                let label = "chunk \(chunkBytes), \(threads) threads"
                XCTAssertEqual(summary["new"], model.counts.new, label)
                XCTAssertEqual(summary["updated"], model.counts.updated, label)
                XCTAssertEqual(summary["unchanged"], model.counts.unchanged, label)
                let contacts = StateRoot(explicit: state).tenant(try TenantSlug("t")).contactsPath
                var out = ""
                try ContactStore(directory: contacts).forEach { out += String(decoding: $0, as: UTF8.self) + "\n" }
                XCTAssertEqual(out, model.export, label)
                // Run data, index and manifest: the same bytes at every thread count.
                var files: [String: Data] = [:]
                for name in try FileManager.default.contentsOfDirectory(atPath: contacts) where name != "lock" {
                    files[name] = try Data(contentsOf: URL(fileURLWithPath: contacts + "/" + name))
                }
                if let storeFiles { XCTAssertEqual(files, storeFiles, label) } else { storeFiles = files }
            }
        }
    }

    /// Stored contact `n`: plain members, a custom object on some, an escaped key on a few.
    static func storedRecord(_ n: Int) -> String {
        var members = [#""email":"c\#(n)@x.fr""#, #""first_name":"F\#(n)""#, #""tags":["a","b\#(n % 7)"]"#,
                       #""city":"C\#(n % 13)""#, #""status":"\#(n % 31 == 0 ? "bounced" : "validated")""#]
        if n % 3 == 0 { members.append(#""custom":{"k":"\#(n % 4)","z":1}"#) }
        if n % 101 == 0 { members.append(#""no\u0074e":"escaped key""#) }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// Incoming record `i`: emails in no order, repeated, in other case, a tenth of them new;
    /// same values (unchanged), new tags, empty values (which never erase), new members, sticky
    /// statuses, custom objects merged key by key.
    static func update(_ i: Int) -> String {
        let n = (i &* 7919) % (storedCount + storedCount / 5)
        let email = i % 10 == 0 ? "C\(n)@X.fr" : "c\(n)@x.fr"
        switch i % 5 {
        case 0: return storedRecord(n)
        case 1: return #"{"email":"\#(email)","tags":["a","n\#(i % 3)"]}"#
        case 2: return #"{"email":"\#(email)","city":"","phone":"+33\#(i % 50)"}"#
        case 3: return #"{"email":"\#(email)","status":"\#(n % 5 == 0 ? "unsubscribed" : "active")","dedupe":"x"}"#
        default: return #"{"email":"\#(email)","custom":{"k":"\#(i % 2)","y":[1,2]},"first\u005fname":"E\#(i % 4)","tags":[]}"#
        }
    }

    /// The store's contacts after merging records one at a time, in input order, as `account
    /// commit` merges one record into a contact's stored version.
    struct RecordByRecord {
        var lines: [[UInt8]: [UInt8]] = [:]
        var counts = (new: 0, updated: 0, unchanged: 0)
        var parsers = (incoming: JSONParser(maxDepth: 64), stored: JSONParser(maxDepth: 256))

        init() throws {}

        mutating func deallocate() {
            parsers.incoming.deallocate()
            parsers.stored.deallocate()
        }

        mutating func apply(_ record: String) throws {
            try Array(record.utf8).withUnsafeBytes { try apply(record: $0) }
        }

        private mutating func apply(record: UnsafeRawBufferPointer) throws {
            let incoming = try parsers.incoming.parse(record).root
            var email: [UInt8] = []
            incoming["email"]!.appendDecodedString(to: &email)
            var key: [UInt8] = []
            email.withUnsafeBytes { EmailKey.normalize($0, into: &key) }
            var out = ByteBuffer(capacity: 1024)
            guard let old = lines[key] else {
                key.withUnsafeBytes { ContactMerge.insert(incoming, key: $0, tenant: "t", createdAt: CommitIntoStoreTests.now, into: &out) }
                lines[key] = out.bytes
                counts.new += 1
                return
            }
            try old.withUnsafeBytes { oldLine in
                let storedNode = try parsers.stored.parse(oldLine).root
                ContactMerge.merge(stored: storedNode, incoming: incoming, updatedAt: nil, into: &out)
                if out.bytes == old {
                    counts.unchanged += 1
                    return
                }
                out.removeAll()
                ContactMerge.merge(stored: storedNode, incoming: incoming, updatedAt: CommitIntoStoreTests.now, into: &out)
                lines[key] = out.bytes
                counts.updated += 1
            }
        }

        /// The contacts in key order, a line each (as the store reads back).
        var export: String {
            lines.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { String(decoding: lines[$0]!, as: UTF8.self) + "\n" }.joined()
        }
    }
}
