import MailpipeCore

/// How an incoming contact record is folded into the stored one (docs/design.md §4, issue "Core").
///
/// - members keep the stored order; new members follow in the incoming order;
/// - a non-empty incoming value wins, an empty one (null, "", [], {}) never erases;
/// - `tags` are unioned (stored order first), `custom` is merged key by key;
/// - `email` and `created_at` keep the stored value; `updated_at` is set when anything changed;
/// - a stored sticky status (`ContactStatus.isSticky`: bounced, unsubscribed, complained,
///   blacklisted, in any of their spellings) is never replaced
///   (only `account suppress --remove` lifts it);
/// - `dedupe` is a marker of one stream, not a fact about the contact: it is not stored.
public enum ContactMerge {
    /// A new contact as stored: email normalised, tags de-duplicated, tenant and created_at filled.
    ///
    /// This is the bulk path of an import, so it works on raw bytes: keys are compared in place,
    /// and a tags array of plain distinct strings is copied token by token (the same bytes the
    /// general path would write).
    public static func insert(_ incoming: JSONNode, key: String, tenant: String, now: Timestamp, into out: inout ByteBuffer) {
        var key = key
        key.withUTF8 { insert(incoming, key: UnsafeRawBufferPointer($0), tenant: tenant, createdAt: now.rfc3339, into: &out) }
    }

    /// The same, with the key as bytes and the creation time already formatted: a commit formats
    /// its clock once, not once a contact.
    public static func insert(_ incoming: JSONNode, key: UnsafeRawBufferPointer, tenant: String, createdAt: String,
                              into out: inout ByteBuffer) {
        _ = insert(incoming, key: key, tenant: tenant, createdAt: createdAt, refusingStickyStatus: false, into: &out)
    }

    /// The same, unless `refusingStickyStatus` and the record's status (its first `status`
    /// member) is sticky: then nothing is written and the result is false. The status is read in
    /// the same walk over the members (a commit's new contacts, where sticky ones are rare).
    static func insert(_ incoming: JSONNode, key: UnsafeRawBufferPointer, tenant: String, createdAt: String,
                       refusingStickyStatus: Bool, into out: inout ByteBuffer) -> Bool {
        let start = out.count
        var writer = JSONObjectWriter(into: &out)
        var sawTenant = false
        var sawCreated = false
        var earlier = EarlierKeys(object: incoming)
        for (k, v) in incoming.members {
            if earlier.isDuplicate(k) { continue }
            switch KnownKey(k) {
            case .dedupe:
                continue
            case .email:
                writer.member("email", utf8: key, into: &out)
            case .tags:
                if !writePlainTags(v, into: &out, writer: &writer) {
                    writer.member("tags", tagsValue(union(nil, v)), into: &out)
                }
            case .createdAt:
                if v.isEmpty { continue }
                sawCreated = true
                writer.rawMember(key: k.raw, value: v.raw, into: &out)
            case .tenant:
                sawTenant = true
                writer.rawMember(key: k.raw, value: v.raw, into: &out)
            case .status:
                if refusingStickyStatus && ContactStatus.isSticky(v) {
                    out.truncate(to: start)
                    return false
                }
                writer.rawMember(key: k.raw, value: v.raw, into: &out)
            case .updatedAt, .custom, .other:
                writer.rawMember(key: k.raw, value: v.raw, into: &out)
            }
        }
        if !sawTenant { writer.member("tenant", string: tenant, into: &out) }
        if !sawCreated { writer.member("created_at", string: createdAt, into: &out) }
        writer.finish(into: &out)
        return true
    }

    /// The member names `insert` and `merge` treat specially, recognised from raw key bytes.
    enum KnownKey {
        case email, tags, tenant, createdAt, updatedAt, dedupe, status, custom, other

        init(_ key: JSONNode) {
            guard !key.isEscaped else {
                switch key.string {
                case "email": self = .email
                case "tags": self = .tags
                case "tenant": self = .tenant
                case "created_at": self = .createdAt
                case "updated_at": self = .updatedAt
                case "dedupe": self = .dedupe
                case "status": self = .status
                case "custom": self = .custom
                default: self = .other
                }
                return
            }
            let c = key.rawContent
            switch (c.count, c.first ?? 0) {
            case (5, UInt8(ascii: "e")) where key.stringEquals("email"): self = .email
            case (4, UInt8(ascii: "t")) where key.stringEquals("tags"): self = .tags
            case (6, UInt8(ascii: "t")) where key.stringEquals("tenant"): self = .tenant
            case (10, UInt8(ascii: "c")) where key.stringEquals("created_at"): self = .createdAt
            case (10, UInt8(ascii: "u")) where key.stringEquals("updated_at"): self = .updatedAt
            case (6, UInt8(ascii: "d")) where key.stringEquals("dedupe"): self = .dedupe
            case (6, UInt8(ascii: "s")) where key.stringEquals("status"): self = .status
            case (6, UInt8(ascii: "c")) where key.stringEquals("custom"): self = .custom
            default: self = .other
            }
        }
    }

    /// Writes `"tags":[…]` by copying the tokens when every element is a non-empty string without
    /// escapes and none repeats; returns false (writing nothing) otherwise.
    static func writePlainTags(_ tags: JSONNode, into out: inout ByteBuffer, writer: inout JSONObjectWriter) -> Bool {
        guard tags.kind == .array else { return false }
        var index = 0
        for e in tags.elements {
            guard e.kind == .string, !e.isEscaped, e.rawContent.count > 0 else { return false }
            let c = e.rawContent
            var earlier = 0
            for seen in tags.elements where earlier < index {
                earlier += 1
                let d = seen.rawContent
                if d.count == c.count && memcmp(d.baseAddress!, c.baseAddress!, c.count) == 0 { return false }
            }
            index += 1
        }
        writer.key("tags", into: &out)
        out.append(UInt8(ascii: "["))
        for (i, e) in tags.elements.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(e.raw)
        }
        out.append(UInt8(ascii: "]"))
        return true
    }

    /// The keys of one object met so far, for `insert`'s rule that the first occurrence of a key
    /// wins, without an allocation a record: a mask of a cheap digest of each plain key. Only a key
    /// whose digest bit is already set, or any key once an escaped one appeared, is compared (by
    /// decoded text) with the keys before it, found again by walking the object up to it.
    struct EarlierKeys {
        let object: JSONNode
        var digests: UInt64 = 0
        var sawEscaped = false

        init(object: JSONNode) { self.object = object }

        /// Records a key (the object's keys in order); true when an earlier key has the same text.
        mutating func isDuplicate(_ key: JSONNode) -> Bool {
            if key.isEscaped { sawEscaped = true }
            if !sawEscaped {
                let bit = UInt64(1) << EarlierKeys.digest(key.rawContent)
                if digests & bit == 0 {
                    digests |= bit
                    return false
                }
            }
            return repeatsEarlierKey(key)
        }

        /// Length, first, middle and last bytes hashed into 0..<64: equal keys, equal digests.
        /// The multiplier gives the contact schema's members (docs/design.md §2: tenant, email,
        /// first_name … status, custom, updated_at) 20 different bits, so a usual record is never
        /// walked again.
        static func digest(_ c: UnsafeRawBufferPointer) -> UInt64 {
            guard let p = c.baseAddress, c.count > 0 else { return 0 }
            let first = UInt64(p.load(as: UInt8.self))
            let middle = UInt64(p.load(fromByteOffset: c.count / 2, as: UInt8.self))
            let last = UInt64(p.load(fromByteOffset: c.count - 1, as: UInt8.self))
            let packed = UInt64(c.count) | first << 8 | middle << 16 | last << 24
            return (packed &* 0x92BD_B98E_97ED_2981) >> 58
        }

        /// Once every key of the object is recorded: false when the object surely has no key with
        /// `key`'s text (no escapes on either side, and its digest bit unset).
        func mayHold(_ key: JSONNode) -> Bool {
            sawEscaped || key.isEscaped || digests & (UInt64(1) << EarlierKeys.digest(key.rawContent)) != 0
        }

        func repeatsEarlierKey(_ key: JSONNode) -> Bool {
            let at = key.raw.baseAddress!
            if !sawEscaped {
                let c = key.rawContent
                for (k, _) in object.members {
                    if k.raw.baseAddress! >= at { break }
                    let e = k.rawContent
                    if e.count == c.count && (c.count == 0 || memcmp(e.baseAddress!, c.baseAddress!, c.count) == 0) { return true }
                }
                return false
            }
            var text: [UInt8] = []
            key.appendDecodedString(to: &text)
            var other: [UInt8] = []
            for (k, _) in object.members {
                if k.raw.baseAddress! >= at { break }
                other.removeAll(keepingCapacity: true)
                k.appendDecodedString(to: &other)
                if other == text { return true }
            }
            return false
        }
    }

    /// The merged record. `updatedAt` nil keeps the stored `updated_at` (to test whether anything
    /// changed); otherwise it is written (added when absent).
    ///
    /// Each key counts once, at its first occurrence (stored keys first): tracked by `EarlierKeys`
    /// for each object, an incoming key also looked for among the stored ones (`hasMember`).
    public static func merge(stored: JSONNode, incoming: JSONNode, updatedAt: String?, into out: inout ByteBuffer) {
        var writer = JSONObjectWriter(into: &out)
        var storedKeys = EarlierKeys(object: stored)
        var wroteUpdated = false
        for (k, old) in stored.members {
            if storedKeys.isDuplicate(k) { continue }
            let name = KnownKey(k)
            if name == .dedupe { continue }
            if name == .updatedAt {
                wroteUpdated = true
                if let updatedAt { writer.member("updated_at", string: updatedAt, into: &out) }
                else { writer.rawMember(key: k.raw, value: old.raw, into: &out) }
                continue
            }
            guard let new = lookup(incoming, k), !new.isEmpty else {
                writer.rawMember(key: k.raw, value: old.raw, into: &out)
                continue
            }
            switch name {
            case .email:
                writer.rawMember(key: k.raw, value: old.raw, into: &out)
            case .createdAt where !old.isEmpty:
                writer.rawMember(key: k.raw, value: old.raw, into: &out)
            case .tags:
                writeTagUnion(old, new, into: &out, writer: &writer)
            case .status where ContactStatus.isSticky(old):
                writer.rawMember(key: k.raw, value: old.raw, into: &out)
            case .custom where old.kind == .object && new.kind == .object:
                var nested = ByteBuffer(capacity: old.raw.count + new.raw.count)
                mergeObjects(old, new, into: &nested)
                nested.withUnsafeBytes { writer.rawMember(key: k.raw, value: $0, into: &out) }
            default:
                writer.rawMember(key: k.raw, value: new.raw, into: &out)
            }
        }
        var incomingKeys = EarlierKeys(object: incoming)
        for (k, new) in incoming.members {
            if incomingKeys.isDuplicate(k) || storedKeys.mayHold(k) && hasMember(stored, named: k) || new.isEmpty { continue }
            switch KnownKey(k) {
            case .dedupe, .updatedAt: continue
            case .tags: writeTagUnion(nil, new, into: &out, writer: &writer)
            default: writer.rawMember(key: k.raw, value: new.raw, into: &out)
            }
        }
        if let updatedAt, !wroteUpdated { writer.member("updated_at", string: updatedAt, into: &out) }
        writer.finish(into: &out)
    }

    /// Shallow merge of two objects: non-empty incoming values win.
    static func mergeObjects(_ old: JSONNode, _ new: JSONNode, into out: inout ByteBuffer) {
        var writer = JSONObjectWriter(into: &out)
        var oldKeys = EarlierKeys(object: old)
        for (k, v) in old.members {
            if oldKeys.isDuplicate(k) { continue }
            if let n = lookup(new, k), !n.isEmpty { writer.rawMember(key: k.raw, value: n.raw, into: &out) }
            else { writer.rawMember(key: k.raw, value: v.raw, into: &out) }
        }
        var newKeys = EarlierKeys(object: new)
        for (k, v) in new.members {
            if newKeys.isDuplicate(k) || oldKeys.mayHold(k) && hasMember(old, named: k) || v.isEmpty { continue }
            writer.rawMember(key: k.raw, value: v.raw, into: &out)
        }
        writer.finish(into: &out)
    }

    /// Writes `"tags":[…]`: the tags of `old` then `new`, each once, in order (`union`). When
    /// every tag is an ASCII string without escapes (so equal text is equal bytes), the tokens
    /// are compared and copied as they are: the bytes `union`'s path writes.
    static func writeTagUnion(_ old: JSONNode?, _ new: JSONNode, into out: inout ByteBuffer, writer: inout JSONObjectWriter) {
        let maxPlain = 64
        guard let oldCount = plainTagCount(old), let newCount = plainTagCount(new), oldCount + newCount <= maxPlain else {
            writer.member("tags", tagsValue(union(old, new)), into: &out)
            return
        }
        withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: maxPlain) { kept in
            var count = 0
            func keep(_ list: JSONNode?) {
                guard let list else { return }
                for e in list.elements where e.rawContent.count > 0 {
                    let token = e.raw
                    let seen = kept[0..<count].contains {
                        $0.count == token.count && memcmp($0.baseAddress!, token.baseAddress!, token.count) == 0
                    }
                    if !seen { kept[count] = token; count += 1 }
                }
            }
            keep(old)
            keep(new)
            writer.key("tags", into: &out)
            out.append(UInt8(ascii: "["))
            for i in 0..<count {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(kept[i])
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    /// How many tags a list holds when all are ASCII strings without escapes (0 for none), else nil.
    private static func plainTagCount(_ tags: JSONNode?) -> Int? {
        guard let tags else { return 0 }
        guard tags.kind == .array else { return nil }
        var count = 0
        for e in tags.elements {
            guard e.kind == .string, !e.isEscaped, ByteScan.isASCII(e.rawContent) else { return nil }
            count += 1
        }
        return count
    }

    /// Tags of `old` then `new`, each once, in order. Non-string entries are dropped (tags are slugs).
    public static func union(_ old: JSONNode?, _ new: JSONNode?) -> [String] {
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
    public static func lookup(_ object: JSONNode, _ key: JSONNode) -> JSONNode? {
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

    /// Whether `object` has a member whose key has `key`'s text (decoded, byte for byte).
    static func hasMember(_ object: JSONNode, named key: JSONNode) -> Bool {
        var sawEscaped = key.isEscaped
        if !sawEscaped {
            let want = key.rawContent
            for (k, _) in object.members {
                if k.isEscaped { sawEscaped = true; continue }
                let c = k.rawContent
                if c.count == want.count && (c.count == 0 || memcmp(c.baseAddress!, want.baseAddress!, c.count) == 0) { return true }
            }
            if !sawEscaped { return false }
        }
        var text: [UInt8] = []
        key.appendDecodedString(to: &text)
        var other: [UInt8] = []
        for (k, _) in object.members {
            other.removeAll(keepingCapacity: true)
            k.appendDecodedString(to: &other)
            if other == text { return true }
        }
        return false
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
