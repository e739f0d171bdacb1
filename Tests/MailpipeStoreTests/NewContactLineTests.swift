import AccountStage
import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// `account commit` writes a new contact's stored line on the parsing threads and keeps it,
/// instead of parsing the record again at the merge (`ContactCommit.newContactLine`). The store
/// must be the one the merge makes from the records themselves: for repeated emails, contacts
/// already stored, do-not-contact statuses, odd spellings of a record, one chunk or spilled ones.
final class NewContactLineTests: XCTestCase {
    /// Records of every shape `ContactMerge.insert` treats apart, over a pool of emails that
    /// repeat (within the input and against what an earlier commit stored).
    static func records(count: Int, seed: UInt64) -> [String] {
        var rng = seed
        func next(_ n: Int) -> Int {
            rng &+= 0x9E37_79B9_7F4A_7C15
            var z = rng
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(n))
        }
        var lines: [String] = []
        for i in 0..<count {
            let n = next(count / 2)
            let email = ["c\(n)@x.fr", "  C\(n)@X.FR ", "c\(n)@X.fr"][next(3)]
            var members = [#""email":"\#(email)""#]
            switch next(12) {
            case 0: members.append(#""tags":["a","a","b"]"#)
            case 1: members.append(#""tags":"solo""#)
            case 2: members.append(#""tags":["t\#(i % 5)",""]"#)
            case 3: members.append(#""status":"unsubscribed""#)
            case 4: members.append(#""status":"Bounced""#)
            case 5: members.append(#""dedupe":"new""#)
            case 6: members.append(#""name":"first","name":"second""#)
            case 7: members.append(#""created_at":"""#)
            case 8: members.append(#""created_at":"2020-01-01T00:00:00Z","tenant":"t""#)
            case 9: members.append(#""custom":{"k\#(next(3))":"v\#(i)","z":null}"#)
            case 10: members.append(#""n\u0061me":"escaped key \#(i)""#)
            default: members.append(#""tags":["t\#(i % 7)"],"seq":\#(i)"#)
            }
            if next(4) == 0 { members.append(#""status":"active""#) }
            if next(3) == 0 {
                var order = SeededOrder(state: UInt64(i))
                members.shuffle(using: &order)
            }
            let spaced = next(6) == 0
            lines.append("{" + members.joined(separator: spaced ? " , " : ",") + (spaced ? " }" : "}"))
        }
        return lines
    }

    struct SeededOrder: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            return state ^ (state >> 29)
        }
    }

    func testNewContactLinesMakeTheStoreTheMergeMakes() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("mp-newline-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let first = Self.records(count: 1500, seed: 1)
        let second = Self.records(count: 4000, seed: 2)
        let now = Timestamp(seconds: 1_800_000_000)
        let slug = try TenantSlug("t")

        /// The store and counts `account commit` makes of the two inputs, one after the other.
        func viaStage(_ state: String, chunkBytes: Int) throws -> (String, [Int]) {
            let stateRoot = StateRoot(explicit: state)
            try AccountInit.run(.init(tenant: slug, state: stateRoot))
            var counts: [Int] = []
            for (k, lines) in [first, second].enumerated() {
                let input = "\(state)-in\(k).ndjson"
                try (lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
                let options = AccountCommit.Options(tenant: slug, state: stateRoot, now: now,
                                                    stream: StreamOptions(stage: "account commit", inputs: [input]),
                                                    chunkBytes: chunkBytes, threads: 2)
                let (summary, status) = try AccountCommit.run(options)
                XCTAssertEqual(status, .success)
                XCTAssertEqual(summary["rejected"], 0)
                counts += [summary["new"], summary["updated"], summary["unchanged"], summary["suppressed"]]
            }
            return (try export(stateRoot), counts)
        }

        /// The same through `ContactCommit` given the records only: every line parsed by the merge.
        func fromRecords(_ state: String, chunkBytes: Int) throws -> (String, [Int]) {
            let stateRoot = StateRoot(explicit: state)
            try AccountInit.run(.init(tenant: slug, state: stateRoot))
            var counts: [Int] = []
            var blocked = Set<String>()
            var parser = JSONParser(maxDepth: 64)
            defer { parser.deallocate() }
            for lines in [first, second] {
                let commit = try ContactCommit(tenant: stateRoot.tenant(slug), shard: nil, now: now, chunkBytes: chunkBytes, threads: 2)
                for (n, line) in lines.enumerated() {
                    var bytes = Array(line.utf8)
                    try bytes.withUnsafeMutableBytes { raw in
                        let record = Record(document: try parser.parse(UnsafeRawBufferPointer(raw)), line: n + 1, file: nil)
                        let id = ContactIdentity(record)
                        XCTAssertNil(id.problem)
                        let hash = id.key.withUnsafeBytes { EmailKey.hash($0) }
                        try commit.add(UnsafeRawBufferPointer(raw), key: id.key, hash: hash, slot: try XCTUnwrap(commit.slot(forHash: hash)))
                    }
                }
                try commit.finish()
                try commit.commit()
                let fresh = Set(commit.counts.blocked.map(\.email)).subtracting(blocked)
                blocked.formUnion(fresh)
                counts += [commit.counts.new, commit.counts.updated, commit.counts.unchanged, fresh.count]
            }
            return (try export(stateRoot), counts)
        }

        func export(_ stateRoot: StateRoot) throws -> String {
            let store = try ContactStore(directory: stateRoot.tenant(slug).contactsPath)
            var out = ""
            try store.forEach { out += String(decoding: $0, as: UTF8.self) + "\n" }
            return out
        }

        let (expected, expectedCounts) = try fromRecords(root + "/records", chunkBytes: 1 << 30)
        XCTAssertGreaterThan(expectedCounts[1], 100, "the second input updates stored contacts")
        XCTAssertGreaterThan(expectedCounts[3], 10, "and blocks some")
        for chunkBytes in [1 << 30, 64 << 10] {
            let (store, counts) = try viaStage(root + "/stage-\(chunkBytes)", chunkBytes: chunkBytes)
            XCTAssertEqual(counts, expectedCounts, "chunk \(chunkBytes)")
            XCTAssertEqual(store, expected, "chunk \(chunkBytes)")
        }
    }
}
