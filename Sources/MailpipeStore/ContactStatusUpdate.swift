#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// A change to one stored contact, made by `account` bookkeeping (not by a merge): its status
/// and a few fields. The key is the normalised email.
public struct ContactFieldUpdate {
    public var key: [UInt8]
    /// The new status, or nil to leave it.
    public var status: String?
    /// Replace even a sticky status (bounced, unsubscribed, complained, blacklisted): only
    /// `account suppress --remove` does this.
    public var force: Bool
    /// Members set as given (added when absent).
    public var fields: [(String, JSONValue)]
    /// A batch's engagement events, applied to the stored `engagement` member (`Engagement.apply`:
    /// once per event-log length).
    public var engagement: EngagementBatch?

    public init(key: [UInt8], status: String?, force: Bool = false, fields: [(String, JSONValue)] = [], engagement: EngagementBatch? = nil) {
        self.key = key
        self.status = status
        self.force = force
        self.fields = fields
        self.engagement = engagement
    }

    /// Folds a later update for the same contact into this one.
    public mutating func absorb(_ later: ContactFieldUpdate) {
        if let s = later.status {
            // A sticky status is kept unless the later change is forced.
            let currentSticky = status.map(ContactStatus.isSticky) ?? false
            if later.force || !currentSticky {
                status = s
                force = force || later.force
            }
        }
        for (k, v) in later.fields {
            if let i = fields.firstIndex(where: { $0.0 == k }) { fields[i].1 = v } else { fields.append((k, v)) }
        }
        if let later = later.engagement {
            engagement = EngagementBatch(events: (engagement?.events ?? []) + later.events, log: later.log)
        }
    }
}

/// Applies status/field updates to the contact store as one new run (committed atomically by
/// the manifest replace). Contacts absent from the store are skipped (and counted).
///
/// Few updates are made with point lookups; many by inflating, on every core, the store members
/// that hold them (ContactStatusUpdateBlocks.swift).
public enum ContactStatusUpdate {
    public struct Result {
        public var changed = 0
        public var unchanged = 0
        public var missing = 0
    }

    /// `updates` need not be sorted; keys must be unique. `updatedAt` is written on changed contacts.
    public static func apply(_ updates: [ContactFieldUpdate], writer: ContactStoreWriter, updatedAt: String,
                             scanThreshold: Int = 1_000) throws -> Result {
        var result = Result()
        guard !updates.isEmpty else { return result }
        let sorted = updates.sorted { a, b in compareKeys(a.key, b.key) < 0 }
        var parser = JSONParser(maxDepth: 256)
        defer { parser.deallocate() }
        var out = ByteBuffer(capacity: 4096)
        if sorted.count < scanThreshold || writer.store.isEmpty {
            let lookup = try writer.lookup()
            try writer.addRun { add in
                for u in sorted {
                    let stored = try u.key.withUnsafeBytes { try lookup.find(key: $0) }
                    guard let stored else { result.missing += 1; continue }
                    let changed = try stored.withUnsafeBytes { line -> Bool in
                        let root = try parser.parse(line).root
                        return rewrite(root, u, updatedAt: updatedAt, into: &out)
                    }
                    if changed {
                        result.changed += 1
                        try out.bytes.withUnsafeBytes { o in try u.key.withUnsafeBytes { try add(o, $0) } }
                    } else {
                        result.unchanged += 1
                    }
                }
            }
        } else {
            try applyByBlocks(sorted, writer: writer, updatedAt: updatedAt, result: &result)
        }
        try writer.commit()
        return result
    }

    /// Writes the updated contact into `out`; false when nothing would change.
    static func rewrite(_ stored: JSONNode, _ u: ContactFieldUpdate, updatedAt: String, into out: inout ByteBuffer) -> Bool {
        var changed = false
        var statusDone = u.status == nil
        var done = [Bool](repeating: false, count: u.fields.count)
        // The engagement member as it will be (nil: untouched).
        var engagement: JSONValue? = nil
        if let batch = u.engagement {
            var e = stored["engagement"].flatMap { Engagement(JSONValue($0)) } ?? Engagement()
            if e.apply(batch.events, log: batch.log) { engagement = e.json; changed = true }
        }
        // First pass: decide whether anything changes.
        for (k, v) in stored.members {
            if let s = u.status, k.stringEquals("status") {
                statusDone = true
                let current = v.string
                let sticky = current.map(ContactStatus.isSticky) ?? false
                if current != s && (u.force || !sticky) { changed = true }
                continue
            }
            for (i, f) in u.fields.enumerated() where !done[i] {
                if let name = k.string, name == f.0 {
                    done[i] = true
                    if !JSONValue(v).sameValue(as: f.1) { changed = true }
                }
            }
        }
        if !statusDone || done.contains(false) { changed = true }
        guard changed else { return false }

        out.removeAll()
        var writer = JSONObjectWriter(into: &out)
        var wroteStatus = u.status == nil
        var wroteField = [Bool](repeating: false, count: u.fields.count)
        var wroteUpdated = false
        var wroteEngagement = false
        for (k, v) in stored.members {
            if let s = u.status, k.stringEquals("status") {
                wroteStatus = true
                let sticky = v.string.map(ContactStatus.isSticky) ?? false
                if u.force || !sticky { writer.member("status", string: s, into: &out) }
                else { writer.rawMember(key: k.raw, value: v.raw, into: &out) }
                continue
            }
            if let engagement, k.stringEquals("engagement") {
                if !wroteEngagement { writer.member("engagement", engagement, into: &out) }
                wroteEngagement = true
                continue
            }
            if k.stringEquals("updated_at") {
                wroteUpdated = true
                writer.member("updated_at", string: updatedAt, into: &out)
                continue
            }
            if let name = k.string, let i = u.fields.firstIndex(where: { $0.0 == name }) {
                if !wroteField[i] { wroteField[i] = true; writer.member(name, u.fields[i].1, into: &out) }
                continue
            }
            writer.rawMember(key: k.raw, value: v.raw, into: &out)
        }
        if !wroteStatus, let s = u.status { writer.member("status", string: s, into: &out) }
        for (i, f) in u.fields.enumerated() where !wroteField[i] { writer.member(f.0, f.1, into: &out) }
        if let engagement, !wroteEngagement { writer.member("engagement", engagement, into: &out) }
        if !wroteUpdated { writer.member("updated_at", string: updatedAt, into: &out) }
        writer.finish(into: &out)
        return true
    }

    @inline(__always)
    public static func compareKeys(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                let n = min(x.count, y.count)
                let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                if c != 0 { return Int(c) }
                return x.count - y.count
            }
        }
    }
}
