import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// `ContactMerge.merge` keeps the first occurrence of each key without a list of decoded keys
/// (`EarlierKeys` per object, an incoming key looked for among the stored ones) and unions plain
/// ASCII tags by their bytes: against the plain merge it replaced (a list of decoded keys, tags
/// through `Set<String>`) on generated pairs of records.
final class ContactMergeFastPathTests: XCTestCase {
    /// Key spellings: the names merge treats apart, escaped spellings of them, keys equal in
    /// digest (length and end bytes), the empty key.
    static let keys = [
        #""email""#, #""tags""#, #""t\u0061gs""#, #""tenant""#, #""created_at""#, #""updated_at""#, #""upd\u0061ted_at""#,
        #""dedupe""#, #""status""#, #""st\u0061tus""#, #""custom""#, #""a""#, #""\u0061""#, #""b""#, #""ab""#, #""ba""#,
        #""name""#, #""nbme""#, #""""#, #""été""#, #""\u00e9t\u00e9""#,
    ]
    /// Tags: repeats, empty, escaped, non-ASCII (and a canonically equal decomposed spelling).
    static let tags = [#""x""#, #""y""#, #""lang-fr""#, #""""#, #""\u0078""#, #""été""#, #""e\u0301té""#, #""e\#u{0301}té""#, #""x y""#, "1", "null"]
    static let statuses = [#""bounced""#, #""Unsubscribed""#, #""active""#, #""""#, "null", #""bounc\u0065d""#]

    func testMergeAgainstPlainMerge() throws {
        var rng = ContactMergeKeysTests.SplitMix(state: 2026)
        var parsers = (JSONParser(), JSONParser())
        defer { parsers.0.deallocate(); parsers.1.deallocate() }
        for round in 0..<6000 {
            let plainKeys = round % 3 == 0
            let stored = Self.record(&rng, plainKeys: plainKeys)
            let incoming = Self.record(&rng, plainKeys: plainKeys || rng.next(2) == 0)
            for updatedAt in [nil, "2026-12-07T08:00:00Z"] {
                let (got, want) = try Array(stored.utf8).withUnsafeBytes { s in
                    try Array(incoming.utf8).withUnsafeBytes { i -> (String, String) in
                        let storedNode = try parsers.0.parse(s).root, incomingNode = try parsers.1.parse(i).root
                        var fast = ByteBuffer(capacity: 512), plain = ByteBuffer(capacity: 512)
                        ContactMerge.merge(stored: storedNode, incoming: incomingNode, updatedAt: updatedAt, into: &fast)
                        PlainMerge.merge(stored: storedNode, incoming: incomingNode, updatedAt: updatedAt, into: &plain)
                        return (String(decoding: fast.bytes, as: UTF8.self), String(decoding: plain.bytes, as: UTF8.self))
                    }
                }
                XCTAssertEqual(got, want, "stored \(stored) incoming \(incoming)")
            }
        }
    }

    static func record(_ rng: inout ContactMergeKeysTests.SplitMix, plainKeys: Bool) -> String {
        let pool = plainKeys ? keys.filter { !$0.contains("\\") } : keys
        var members: [String] = []
        for _ in 0..<rng.next(10) {
            let key = pool[rng.next(pool.count)]
            members.append(key + ":" + value(for: key, &rng))
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    static func value(for key: String, _ rng: inout ContactMergeKeysTests.SplitMix) -> String {
        func list(_ pool: [String], _ n: Int, _ rng: inout ContactMergeKeysTests.SplitMix) -> String {
            "[" + (0..<rng.next(n)).map { _ in pool[rng.next(pool.count)] }.joined(separator: ",") + "]"
        }
        switch key {
        case #""tags""#, #""t\u0061gs""#:
            return [list(tags, 6, &rng), list(Array(tags[0..<3]), 5, &rng), #""x""#, "[]", "null"][rng.next(5)]
        case #""status""#, #""st\u0061tus""#:
            return statuses[rng.next(statuses.count)]
        case #""custom""#:
            let members = (0..<rng.next(4)).map { _ in [#""k""#, #""\u006b""#, #""j""#][rng.next(3)] + ":" + [#""v""#, #""""#, "1"][rng.next(3)] }
            return ["{" + members.joined(separator: ",") + "}", #""flat""#, "{}"][rng.next(3)]
        case #""created_at""#:
            return [#""2026-01-01T00:00:00Z""#, #""""#][rng.next(2)]
        default:
            return [#""v\#(rng.next(3))""#, #""""#, "\(rng.next(3))", "null", "[1]", #"{"a":1}"#][rng.next(6)]
        }
    }

    /// The merge as it was before the fast paths, line for line: decoded keys in a list, tags
    /// through `ContactMerge.union` (Strings) every time.
    enum PlainMerge {
        static func merge(stored: JSONNode, incoming: JSONNode, updatedAt: String?, into out: inout ByteBuffer) {
            var writer = JSONObjectWriter(into: &out)
            var seen: [[UInt8]] = []
            var wroteUpdated = false
            for (k, old) in stored.members {
                if isDuplicateKey(k, &seen) || k.stringEquals("dedupe") { continue }
                let new = ContactMerge.lookup(incoming, k)
                if k.stringEquals("updated_at") {
                    wroteUpdated = true
                    if let updatedAt { writer.member("updated_at", string: updatedAt, into: &out) }
                    else { writer.rawMember(key: k.raw, value: old.raw, into: &out) }
                    continue
                }
                guard let new, !new.isEmpty else {
                    writer.rawMember(key: k.raw, value: old.raw, into: &out)
                    continue
                }
                if k.stringEquals("email") || (k.stringEquals("created_at") && !old.isEmpty) {
                    writer.rawMember(key: k.raw, value: old.raw, into: &out)
                } else if k.stringEquals("tags") {
                    writer.member("tags", tagsValue(ContactMerge.union(old, new)), into: &out)
                } else if k.stringEquals("status"), let status = old.string, ContactStatus.isSticky(status) {
                    writer.rawMember(key: k.raw, value: old.raw, into: &out)
                } else if k.stringEquals("custom") && old.kind == .object && new.kind == .object {
                    var nested = ByteBuffer(capacity: old.raw.count + new.raw.count)
                    mergeObjects(old, new, into: &nested)
                    nested.withUnsafeBytes { writer.rawMember(key: k.raw, value: $0, into: &out) }
                } else {
                    writer.rawMember(key: k.raw, value: new.raw, into: &out)
                }
            }
            for (k, new) in incoming.members {
                if isDuplicateKey(k, &seen) || k.stringEquals("dedupe") || new.isEmpty { continue }
                if k.stringEquals("updated_at") { continue }
                if k.stringEquals("tags") {
                    writer.member("tags", tagsValue(ContactMerge.union(nil, new)), into: &out)
                } else {
                    writer.rawMember(key: k.raw, value: new.raw, into: &out)
                }
            }
            if let updatedAt, !wroteUpdated { writer.member("updated_at", string: updatedAt, into: &out) }
            writer.finish(into: &out)
        }

        static func mergeObjects(_ old: JSONNode, _ new: JSONNode, into out: inout ByteBuffer) {
            var writer = JSONObjectWriter(into: &out)
            var seen: [[UInt8]] = []
            for (k, v) in old.members {
                if isDuplicateKey(k, &seen) { continue }
                if let n = ContactMerge.lookup(new, k), !n.isEmpty { writer.rawMember(key: k.raw, value: n.raw, into: &out) }
                else { writer.rawMember(key: k.raw, value: v.raw, into: &out) }
            }
            for (k, v) in new.members where !isDuplicateKey(k, &seen) && !v.isEmpty {
                writer.rawMember(key: k.raw, value: v.raw, into: &out)
            }
            writer.finish(into: &out)
        }

        static func tagsValue(_ tags: [String]) -> JSONValue { .array(tags.map { .string($0) }) }

        static func isDuplicateKey(_ key: JSONNode, _ seen: inout [[UInt8]]) -> Bool {
            var k: [UInt8] = []
            key.appendDecodedString(to: &k)
            if seen.contains(k) { return true }
            seen.append(k)
            return false
        }
    }
}
