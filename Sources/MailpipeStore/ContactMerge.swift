import MailpipeCore

/// How an incoming contact record is folded into the stored one (DESIGN.md §4, issue "Core").
///
/// - members keep the stored order; new members follow in the incoming order;
/// - a non-empty incoming value wins, an empty one (null, "", [], {}) never erases;
/// - `tags` are unioned (stored order first), `custom` is merged key by key;
/// - `email` and `created_at` keep the stored value; `updated_at` is set when anything changed;
/// - a stored status of bounced, unsubscribed, complained or blacklisted is never replaced
///   (only `account suppress --remove` lifts it);
/// - `dedupe` is a marker of one stream, not a fact about the contact: it is not stored.
public enum ContactMerge {
    public static let stickyStatuses: Set<String> = ["bounced", "unsubscribed", "complained", "blacklisted"]

    /// A new contact as stored: email normalised, tags de-duplicated, tenant and created_at filled.
    public static func insert(_ incoming: JSONNode, key: String, tenant: String, now: Timestamp, into out: inout ByteBuffer) {
        var writer = JSONObjectWriter(into: &out)
        var sawTenant = false
        var sawCreated = false
        var seen: [[UInt8]] = []
        for (k, v) in incoming.members {
            if isDuplicateKey(k, &seen) || k.stringEquals("dedupe") { continue }
            if k.stringEquals("email") {
                writer.member("email", string: key, into: &out)
            } else if k.stringEquals("tags") {
                writer.member("tags", tagsValue(union(nil, v)), into: &out)
            } else {
                if k.stringEquals("tenant") { sawTenant = true }
                if k.stringEquals("created_at") && !v.isEmpty { sawCreated = true }
                if k.stringEquals("created_at") && v.isEmpty { continue }
                writer.rawMember(key: k.raw, value: v.raw, into: &out)
            }
        }
        if !sawTenant { writer.member("tenant", string: tenant, into: &out) }
        if !sawCreated { writer.member("created_at", string: now.rfc3339, into: &out) }
        writer.finish(into: &out)
    }

    /// The merged record. `updatedAt` nil keeps the stored `updated_at` (to test whether anything
    /// changed); otherwise it is written (added when absent).
    public static func merge(stored: JSONNode, incoming: JSONNode, updatedAt: String?, into out: inout ByteBuffer) {
        var writer = JSONObjectWriter(into: &out)
        var seen: [[UInt8]] = []
        var wroteUpdated = false
        for (k, old) in stored.members {
            if isDuplicateKey(k, &seen) || k.stringEquals("dedupe") { continue }
            let new = lookup(incoming, k)
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
                writer.member("tags", tagsValue(union(old, new)), into: &out)
            } else if k.stringEquals("status"), let status = old.string, stickyStatuses.contains(status) {
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
                writer.member("tags", tagsValue(union(nil, new)), into: &out)
            } else {
                writer.rawMember(key: k.raw, value: new.raw, into: &out)
            }
        }
        if let updatedAt, !wroteUpdated { writer.member("updated_at", string: updatedAt, into: &out) }
        writer.finish(into: &out)
    }

    /// Shallow merge of two objects: non-empty incoming values win.
    static func mergeObjects(_ old: JSONNode, _ new: JSONNode, into out: inout ByteBuffer) {
        var writer = JSONObjectWriter(into: &out)
        var seen: [[UInt8]] = []
        for (k, v) in old.members {
            if isDuplicateKey(k, &seen) { continue }
            if let n = lookup(new, k), !n.isEmpty { writer.rawMember(key: k.raw, value: n.raw, into: &out) }
            else { writer.rawMember(key: k.raw, value: v.raw, into: &out) }
        }
        for (k, v) in new.members where !isDuplicateKey(k, &seen) && !v.isEmpty {
            writer.rawMember(key: k.raw, value: v.raw, into: &out)
        }
        writer.finish(into: &out)
    }

    /// Tags of `old` then `new`, each once, in order. Non-string entries are dropped (tags are slugs).
    static func union(_ old: JSONNode?, _ new: JSONNode?) -> [String] {
        var result: [String] = []
        var seen: Set<String> = []
        for node in [old, new] {
            guard let node else { continue }
            if node.kind == .array {
                for e in node.elements { if let s = e.string, !s.isEmpty, seen.insert(s).inserted { result.append(s) } }
            } else if let s = node.string, !s.isEmpty, seen.insert(s).inserted {
                result.append(s)
            }
        }
        return result
    }

    static func tagsValue(_ tags: [String]) -> JSONValue {
        .array(tags.map { .string($0) })
    }

    /// The member of `object` whose key equals `key` (by decoded text), or nil.
    static func lookup(_ object: JSONNode, _ key: JSONNode) -> JSONNode? {
        if !key.isEscaped {
            let want = key.rawContent
            for (k, v) in object.members where !k.isEscaped {
                let c = k.rawContent
                if c.count == want.count && (c.count == 0 || memcmp(c.baseAddress!, want.baseAddress!, c.count) == 0) { return v }
            }
            if !object.members.contains(where: { $0.key.isEscaped }) { return nil }
        }
        guard let name = key.string else { return nil }
        return object[name]
    }

    /// Records a key; true when it was already seen (the first occurrence of a key wins).
    static func isDuplicateKey(_ key: JSONNode, _ seen: inout [[UInt8]]) -> Bool {
        var k: [UInt8] = []
        key.appendDecodedString(to: &k)
        if seen.contains(k) { return true }
        seen.append(k)
        return false
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
