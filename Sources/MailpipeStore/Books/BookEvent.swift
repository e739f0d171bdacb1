#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// One event as `account` keeps it (docs/design.md §2 "Event"), before it is written to the log.
public struct BookEvent {
    public var id: UInt64
    public var email: String
    public var type: String
    public var bounceClass: String?
    public var reason: String?
    public var campaign: String?
    public var vmta: String?
    public var at: Timestamp
    public var source: String
    /// Further members (`channel`, `remote_id`, `status`, `url`, …), written after the fixed ones.
    public var extra: [(String, JSONValue)] = []
    /// False when the address is not in the contact store (kept, marked `"contact":"unknown"`).
    public var known = true
    /// `EmailKey.hash(email)` when the reader already had it from the bytes.
    public var cachedEmailHash: UInt64? = nil
    /// Read from a source several tenants share (a PowerMTA accounting file, MailWizz webhooks):
    /// whose it is, `EventScope` tells (`Books.scoped`). Not logged.
    public var shared = false
    /// The MailWizz list of a webhook event (not logged).
    public var listUID: String? = nil

    /// The email's shard/store hash.
    public var emailHash: UInt64 { cachedEmailHash ?? EmailKey.hash(email) }

    public init(id: UInt64, email: String, type: String, bounceClass: String? = nil, reason: String? = nil,
                campaign: String? = nil, vmta: String? = nil, at: Timestamp, source: String, extra: [(String, JSONValue)] = []) {
        self.id = id
        self.email = email
        self.type = type
        self.bounceClass = bounceClass
        self.reason = reason
        self.campaign = campaign
        self.vmta = vmta
        self.at = at
        self.source = source
        self.extra = extra
    }

    public static let types: Set<String> = ["sent", "delivered", "deferred", "bounced", "complained", "unsubscribed", "opened", "clicked"]

    /// The ledger counter this event adds to.
    public var counter: String {
        switch type {
        case "bounced":
            switch bounceClass {
            case "hard": return "bounced_hard"
            case "policy": return "bounced_policy"
            default: return "bounced_soft"
            }
        case "suppressed": return "manual_suppress"
        case "unsuppressed": return "manual_unsuppress"
        default: return type
        }
    }

    /// Writes the event's log line (the members in a fixed order, as a JSONObjectWriter would).
    func write(tenant: String, known: Bool, times: inout TimeText, into out: inout ByteBuffer) {
        var idText: (UInt64, UInt64, UInt64) = (0, 0, 0)  // `{"id":"0123456789abcdef"`: 24 bytes
        withUnsafeMutableBytes(of: &idText) { raw in
            for (i, b) in "{\"id\":\"".utf8.enumerated() { raw[i] = b }
            for i in 0..<16 { raw[22 - i] = EventID.digits[Int((id >> (4 * UInt64(i))) & 0xF)] }
            raw[23] = 0x22
            out.append(UnsafeRawBufferPointer(rebasing: raw[0..<24]))
        }
        BookEvent.member(",\"tenant\":", tenant, into: &out)
        BookEvent.member(",\"email\":", email, into: &out)
        BookEvent.member(",\"type\":", type, into: &out)
        if let bounceClass { BookEvent.member(",\"bounce_class\":", bounceClass, into: &out) }
        if let reason { BookEvent.member(",\"reason\":", reason, into: &out) }
        if let campaign { BookEvent.member(",\"campaign\":", campaign, into: &out) }
        if let vmta { BookEvent.member(",\"vmta\":", vmta, into: &out) }
        out.append(",\"at\":" as StaticString)
        times.quotedRFC3339(at).withUnsafeBytes { out.append($0) }
        BookEvent.member(",\"source\":", source, into: &out)
        for (k, v) in extra {
            out.append(UInt8(ascii: ","))
            out.appendJSONString(k)
            out.append(UInt8(ascii: ":"))
            v.write(into: &out)
        }
        if !known { out.append(",\"contact\":\"unknown\"" as StaticString) }
        out.append(UInt8(ascii: "}"))
        out.append(0x0A)
    }

    /// The log lines of `events[positions]`, written on up to two threads (same bytes as one).
    static func serialise(_ events: [BookEvent], _ positions: [Int32], known: [Bool], tenant: String) throws -> ByteBuffer {
        let parts = positions.count >= 100_000 ? 2 : 1
        let buffers = UnsafeMutableBufferPointer<ByteBuffer>.allocate(capacity: parts)
        for i in 0..<parts {
            // The first part's buffer ends up holding all of them.
            let room = i == 0 ? positions.count * 200 + 4096 : positions.count / parts * 200 + 4096
            (buffers.baseAddress! + i).initialize(to: ByteBuffer(capacity: room))
        }
        defer { buffers.deinitialize(); buffers.deallocate() }
        try events.withUnsafeBufferPointer { ev in
            try positions.withUnsafeBufferPointer { pos in
                try known.withUnsafeBufferPointer { kn in
                    try WorkCrew.perform(workers: parts) { part in
                        let lo = pos.count * part / parts
                        let hi = pos.count * (part + 1) / parts
                        var times = TimeText()
                        var out = buffers[part]
                        for k in lo..<hi {
                            let i = Int(pos[k])
                            ev[i].write(tenant: tenant, known: kn[i], times: &times, into: &out)
                        }
                        buffers[part] = out
                    }
                }
            }
        }
        // The later parts after the first (one copy of the smaller share, no new array).
        var all = buffers[0]
        for i in 1..<parts { buffers[i].withUnsafeBytes { all.append($0) } }
        return all
    }

    @inline(__always) static func member(_ key: StaticString, _ value: String, into out: inout ByteBuffer) {
        out.append(key)
        var copy = value
        copy.withUTF8 { out.appendJSONString(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Reads an event back from a log line (recovery replays the log's uncommitted tail).
    static func parse(_ root: JSONNode) -> BookEvent? {
        guard let idText = root["id"]?.string, let id = EventID.parse(idText), let email = root["email"]?.string,
              let type = root["type"]?.string, let atText = root["at"]?.string, let at = Timestamp(parsing: atText) else { return nil }
        var e = BookEvent(id: id, email: email, type: type, bounceClass: root["bounce_class"]?.string, reason: root["reason"]?.string,
                          campaign: root["campaign"]?.string, vmta: root["vmta"]?.string, at: at, source: root["source"]?.string ?? "")
        let fixed: Set<String> = ["id", "tenant", "email", "type", "bounce_class", "reason", "campaign", "vmta", "at", "source", "contact"]
        for (k, v) in root.members {
            guard let name = k.string, !fixed.contains(name) else { continue }
            e.extra.append((name, JSONValue(v)))
        }
        e.known = root["contact"]?.string != "unknown"
        return e
    }
}

/// Stable event ids: a 64-bit hash of what identifies the event at its source (a PowerMTA row,
/// a webhook event, an outcome), written as 16 hex digits.
public enum EventID {
    public static func hash(_ parts: [String]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for (i, p) in parts.enumerated() {
            if i > 0 { h = (h ^ 0x1F) &* 0x0000_0100_0000_01B3 }
            for b in p.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        }
        return finalize(h)
    }

    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ seed
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return finalize(h)
    }

    @inline(__always) static func finalize(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func hex(_ id: UInt64) -> String {
        var b = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { b[15 - i] = digits[Int((id >> (4 * UInt64(i))) & 0xF)] }
        return String(decoding: b, as: UTF8.self)
    }

    public static func parse(_ text: String) -> UInt64? {
        guard text.utf8.count == 16 else { return nil }
        return UInt64(text, radix: 16)
    }
}

/// The ids of every event in the log, sorted, in `events.ids` (a derived index: rebuilt from
/// the log when it is missing or does not match the log's length).
struct EventIDIndex {
    var ids: [UInt64]
    var logLength: Int
    static let magic: [UInt8] = Array("MPEVID01".utf8)

    static func load(path: String) -> EventIDIndex? {
        guard let bytes = try? FileSystem.readFile(path, options: .noFollow), bytes.count >= 16,
              Array(bytes[0..<8]) == magic, (bytes.count - 16) % 8 == 0 else { return nil }
        return bytes.withUnsafeBytes { raw in
            let length = Int(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian)
            let n = (bytes.count - 16) / 8
            var ids = [UInt64](repeating: 0, count: n)
            ids.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[16...])) }
            return EventIDIndex(ids: ids, logLength: length)
        }
    }

    func save(path: String) throws {
        var bytes = EventIDIndex.magic
        var length = UInt64(logLength).littleEndian
        withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
        ids.withUnsafeBytes { bytes.append(contentsOf: $0) }
        try FileSystem.writeAtomically(path, bytes)
    }

    func contains(_ id: UInt64) -> Bool {
        var lo = 0
        var hi = ids.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo < ids.count && ids[lo] == id
    }

    /// Adds sorted ids (a merge, not a sort of everything).
    mutating func add(sortedNew new: [UInt64]) {
        guard !new.isEmpty else { return }
        var merged = [UInt64]()
        merged.reserveCapacity(ids.count + new.count)
        ids.withUnsafeBufferPointer { a in
            new.withUnsafeBufferPointer { b in
                var i = 0
                var j = 0
                while i < a.count || j < b.count {
                    let v: UInt64
                    if j >= b.count || (i < a.count && a[i] <= b[j]) { v = a[i]; i += 1 } else { v = b[j]; j += 1 }
                    if merged.isEmpty || merged[merged.count - 1] != v { merged.append(v) }
                }
            }
        }
        ids = merged
    }

    mutating func add(_ new: [UInt64]) {
        guard !new.isEmpty else { return }
        ids.append(contentsOf: new)
        ids.sort()
        var w = 0
        for i in 0..<ids.count where i == 0 || ids[i] != ids[w - 1] {
            ids[w] = ids[i]
            w += 1
        }
        ids.removeLast(ids.count - w)
    }

    /// Ids found in the log's appends starting at or after `from`.
    static func scan(logPath: String, from: Int) throws -> [UInt64] {
        let states = try AppendLog.parallelScan(path: logPath, from: from, workers: 2, makeState: { [UInt64]() }) { ids, line in
            // `"id":"<16 hex>"` is the first member of every event line.
            if line.count > 24, line[1] == UInt8(ascii: "\""), line[2] == UInt8(ascii: "i"), line[3] == UInt8(ascii: "d") {
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: line[7..<23]), as: UTF8.self)
                if let id = EventID.parse(text) { ids.append(id) }
            }
        }
        return states.flatMap { $0 }
    }
}

/// Fast, cached time text for per-event paths (Timestamp's formatting allocates several strings).
struct TimeText {
    private var day: Int64 = .min
    private var dayText = ""
    private var dayBytes: [UInt8] = []
    private var second: Int64 = .min
    private var quoted: [UInt8] = []

    private mutating func setDay(_ t: Timestamp) {
        let d = t.days
        if d != day {
            day = d
            dayText = t.date
            dayBytes = Array(dayText.utf8)
        }
    }

    /// `2026-11-23`
    mutating func date(_ t: Timestamp) -> String {
        setDay(t)
        return dayText
    }

    /// `"2026-11-23T19:27:57Z"` with its quotes.
    mutating func quotedRFC3339(_ t: Timestamp) -> [UInt8] {
        if t.seconds == second { return quoted }
        setDay(t)
        second = t.seconds
        let s = t.seconds - t.days * 86_400
        quoted.removeAll(keepingCapacity: true)
        quoted.append(0x22)
        quoted.append(contentsOf: dayBytes)
        quoted.append(UInt8(ascii: "T"))
        for (i, v) in [s / 3600, s / 60 % 60, s % 60].enumerated() {
            if i > 0 { quoted.append(UInt8(ascii: ":")) }
            quoted.append(UInt8(48 + v / 10))
            quoted.append(UInt8(48 + v % 10))
        }
        quoted.append(UInt8(ascii: "Z"))
        quoted.append(0x22)
        return quoted
    }
}

extension BookEvent {
    /// Index of `counter` in `BookEvent.counterNames` (no string building).
    public var counterIndex: Int {
        switch type {
        case "delivered": return 1
        case "bounced":
            switch bounceClass {
            case "hard": return 3
            case "policy": return 5
            default: return 4
            }
        case "sent": return 0
        case "deferred": return 2
        case "complained": return 6
        case "unsubscribed": return 7
        case "opened": return 8
        case "clicked": return 9
        case "suppressed": return 10
        case "unsuppressed": return 11
        case "synced": return 12
        default: return -1
        }
    }

    public static let counterNames = ["sent", "delivered", "deferred", "bounced_hard", "bounced_soft", "bounced_policy",
                               "complained", "unsubscribed", "opened", "clicked", "manual_suppress", "manual_unsuppress", "synced"]
}

/// How a bounce counts (docs/account.md "Bounce class"): `hard` suppresses at once, `soft`
/// counts toward the soft-bounce rule, `policy` (reputation, content, configuration) neither.
public enum BounceClass: String, Sendable {
    case hard, soft, policy

    static let hardCategories: Set<String> = ["bad-mailbox", "bad-domain", "inactive-mailbox"]
    static let softCategories: Set<String> = ["quota-issues", "no-answer-from-host", "relaying-issues", "bad-connection",
                                              "message-expired", "routing-errors"]
    static let policyCategories: Set<String> = ["spam-related", "policy-related", "content-related", "virus-related",
                                                "invalid-sender", "bad-configuration", "protocol-errors"]

    /// By PowerMTA bounce category, else (empty, `other`, unknown) by DSN status: 5.1.x and
    /// 5.2.1 mean the mailbox or domain does not exist (hard); other 5.x.x policy; 4.x.x soft.
    public static func classify(category: String, dsnStatus: String) -> BounceClass {
        if hardCategories.contains(category) { return .hard }
        if softCategories.contains(category) { return .soft }
        if policyCategories.contains(category) { return .policy }
        let status = dsnStatus.split(separator: " ").first.map(String.init) ?? ""
        if status.hasPrefix("5.1.") || status == "5.2.1" { return .hard }
        if status.hasPrefix("5.") { return .policy }
        return .soft
    }

    /// A permanent refusal at send time (SMTP reply `code` and text): by its enhanced status
    /// code when it has one (`550 5.1.1 …`), else 550/551/553 (no such mailbox, user not local,
    /// mailbox name not allowed) hard, 552 (storage) soft, other 5xx policy. HTTP refusals of a
    /// recipient (409, 410, 422) are hard.
    public static func ofRefusal(code: Int?, text: String?) -> BounceClass {
        guard let code else { return .hard }
        if code >= 400 && code < 500 { return .hard }   // HTTP: the service refused this recipient
        let words = (text ?? "").split(separator: " ").prefix(3).map(String.init)
        if let enhanced = words.first(where: { w in
            let parts = w.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) } && (parts[0] == "5" || parts[0] == "4")
        }) {
            return classify(category: "", dsnStatus: enhanced)
        }
        switch code {
        case 550, 551, 553: return .hard
        case 552: return .soft
        default: return .policy
        }
    }
}
