#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// What a contact did with the tenant's mail, kept on the contact as its `engagement` member by
/// `account` bookkeeping (`sent` events, and `opened`/`clicked` events not marked `machine`):
///
///     "engagement": {"sent": 4, "opened": 2, "clicked": 1, "unengaged_sends": 1,
///                    "first_sent_at": "…", "last_sent_at": "…", "last_opened_at": "…",
///                    "last_clicked_at": "…", "unanswered": [1794992400], "log": 81234}
///
/// `unengaged_sends` counts the sends since the last open or click, `unanswered` holds the times
/// (Unix seconds) of the latest of them (so an open imported after a later send answers only the
/// sends before it); `log` is the length of the event log the member reflects, so a batch
/// applied again after an interruption (the books replay the events their ledger does not
/// reflect) is not counted twice.
///
/// The score (docs/account.md, "Engagement") is computed when asked, against a time: recency
/// decays, and a score stored at event time would only ever be stale.
public struct Engagement: Sendable, Equatable {
    public var sent = 0
    public var opened = 0
    public var clicked = 0
    public var unengagedSends = 0
    public var firstSentAt: Timestamp?
    public var lastSentAt: Timestamp?
    public var lastOpenedAt: Timestamp?
    public var lastClickedAt: Timestamp?
    /// The event-log length this state reflects (0: unknown).
    public var log = 0
    /// Times (Unix seconds, ascending) of the latest unanswered sends, at most `keptSends`.
    public var unansweredSends: [Int64] = []

    public init() {}

    /// The latest open or click.
    public var lastEngagedAt: Timestamp? {
        switch (lastOpenedAt, lastClickedAt) {
        case let (o?, c?): return max(o, c)
        case let (o, c): return o ?? c
        }
    }

    /// Nothing recorded: no score, no sunset.
    public var isEmpty: Bool { sent == 0 && opened == 0 && clicked == 0 }

    // MARK: reading and writing the member

    /// The `engagement` member of a stored contact (nil: absent or not an object). Members of
    /// the wrong kind read as absent: the next event writes them whole again.
    public init?(_ value: JSONValue) {
        guard case .object(let o) = value else { return nil }
        func count(_ key: String) -> Int { max(0, o[key]?.int ?? 0) }
        func time(_ key: String) -> Timestamp? { o[key]?.string.flatMap(Timestamp.init(parsing:)) }
        sent = count("sent")
        opened = count("opened")
        clicked = count("clicked")
        unengagedSends = count("unengaged_sends")
        firstSentAt = time("first_sent_at")
        lastSentAt = time("last_sent_at")
        lastOpenedAt = time("last_opened_at")
        lastClickedAt = time("last_clicked_at")
        log = count("log")
        unansweredSends = (o["unanswered"]?.array ?? []).compactMap { $0.int.map(Int64.init) }.sorted()
        unengagedSends = max(unengagedSends, unansweredSends.count)
    }

    /// The member of a record as bytes (the raw JSON object).
    public init?(json bytes: UnsafeRawBufferPointer) {
        guard let value = try? JSONValue.parse(Array(bytes)) else { return nil }
        self.init(value)
    }

    public var json: JSONValue {
        var o = JSONObject()
        o.append("sent", .int(sent))
        o.append("opened", .int(opened))
        o.append("clicked", .int(clicked))
        o.append("unengaged_sends", .int(unengagedSends))
        for (key, t) in [("first_sent_at", firstSentAt), ("last_sent_at", lastSentAt), ("last_opened_at", lastOpenedAt),
                         ("last_clicked_at", lastClickedAt)] {
            if let t { o.append(key, .string(t.rfc3339)) }
        }
        o.append("unanswered", .array(unansweredSends.map { .number(String($0)) }))
        o.append("log", .int(log))
        return .object(o)
    }

    // MARK: events

    /// The unanswered sends kept with their times (the latest ones): enough to tell how many
    /// sends an open that arrives late (a daily import) answered.
    public static let keptSends = 12

    /// What one event does to the state. Events may come in any order: a send older than the
    /// last open or click is answered by it; an open answers the sends before it.
    public mutating func record(_ kind: EngagementEvent, at: Timestamp) {
        switch kind {
        case .sent:
            sent += 1
            if firstSentAt.map({ at < $0 }) ?? true { firstSentAt = at }
            if lastSentAt.map({ at > $0 }) ?? true { lastSentAt = at }
            if let engaged = lastEngagedAt, at <= engaged { return }
            unengagedSends += 1
            let i = unansweredSends.firstIndex { $0 > at.seconds } ?? unansweredSends.count
            unansweredSends.insert(at.seconds, at: i)
            if unansweredSends.count > Engagement.keptSends { unansweredSends.removeFirst() }
        case .opened, .clicked:
            if kind == .opened {
                opened += 1
                if lastOpenedAt.map({ at > $0 }) ?? true { lastOpenedAt = at }
            } else {
                clicked += 1
                if lastClickedAt.map({ at > $0 }) ?? true { lastClickedAt = at }
            }
            // The kept sends at or before it are answered, and so are the older ones not kept;
            // an open older than every kept send tells nothing about those.
            let answered = unansweredSends.prefix { $0 <= at.seconds }.count
            if answered > 0 || unansweredSends.isEmpty {
                unansweredSends.removeFirst(answered)
                unengagedSends = unansweredSends.count
            }
        }
    }

    /// Applies a batch's events (in log order) once per event-log length: the same batch
    /// applied again (the books replay what their ledger does not reflect) changes nothing.
    public mutating func apply(_ events: [(EngagementEvent, Timestamp)], log: Int) -> Bool {
        guard log != self.log else { return false }
        for (kind, at) in events { record(kind, at: at) }
        self.log = log
        return true
    }

    // MARK: score and sunset

    /// 0–100 from recency and frequency (docs/account.md, "Engagement"):
    /// `round(100 × (0.6 × 0.5^(days since the last open or click / half-life) + 0.4 × min(1, (opens + 2 × clicks) / sends)))`;
    /// recency is 0 for a contact that never engaged. Nil when nothing is recorded.
    public func score(at now: Timestamp, rules: EngagementRules) -> Int? {
        guard !isEmpty else { return nil }
        var recency = 0.0
        if let engaged = lastEngagedAt {
            let days = max(0, Double(now.seconds - engaged.seconds) / 86_400)
            recency = pow(0.5, days / Double(rules.halfLifeDays))
        }
        let frequency = min(1, Double(opened + 2 * clicked) / Double(max(sent, 1)))
        return Int((100 * (0.6 * recency + 0.4 * frequency)).rounded())
    }

    /// Why the sunset policy holds this contact back at `now`, if it does.
    public func sunset(at now: Timestamp, rules: EngagementRules) -> SunsetRule? {
        guard sent > 0 else { return nil }
        if let n = rules.sunsetAfterSends, unengagedSends >= n { return .sends(n) }
        if let days = rules.sunsetAfterDays, let since = lastEngagedAt ?? firstSentAt,
           now.seconds - since.seconds >= Int64(days) * 86_400 {
            return .days(days)
        }
        return nil
    }
}

/// A batch's engagement events for one contact, in log order, and the event-log length after
/// the batch (what the stored member then reflects).
public struct EngagementBatch: Sendable {
    public var events: [(EngagementEvent, Timestamp)]
    public var log: Int

    public init(events: [(EngagementEvent, Timestamp)] = [], log: Int = 0) {
        self.events = events
        self.log = log
    }
}

/// The events engagement is made of (opens and clicks marked `machine` are not among them).
public enum EngagementEvent: Sendable, Equatable {
    case sent, opened, clicked

    /// The engagement a logged event carries, if any.
    public init?(type: String, machine: Bool) {
        switch type {
        case "sent": self = .sent
        case "opened" where !machine: self = .opened
        case "clicked" where !machine: self = .clicked
        default: return nil
        }
    }
}

/// Which part of the sunset policy holds a contact back.
public enum SunsetRule: Sendable, Equatable, CustomStringConvertible {
    /// `engagement.sunset_after_sends`: this many sends since the last open or click.
    case sends(Int)
    /// `engagement.sunset_after_days`: no open or click for this many days (counted from the
    /// first send for a contact that never engaged).
    case days(Int)

    public var description: String {
        switch self {
        case .sends(let n): return "\(n) sends without an open or click"
        case .days(let n): return "no open or click in \(n) days"
        }
    }
}

/// tenant.json `engagement`: `half_life_days` (of the score's recency, default 30),
/// `sunset_after_sends`, `sunset_after_days` (both off unless set).
public struct EngagementRules: Sendable, Equatable {
    public var halfLifeDays = 30
    public var sunsetAfterSends: Int?
    public var sunsetAfterDays: Int?

    public init(halfLifeDays: Int = 30, sunsetAfterSends: Int? = nil, sunsetAfterDays: Int? = nil) {
        self.halfLifeDays = halfLifeDays
        self.sunsetAfterSends = sunsetAfterSends
        self.sunsetAfterDays = sunsetAfterDays
    }

    /// Whether any sunset rule is set.
    public var sunsets: Bool { sunsetAfterSends != nil || sunsetAfterDays != nil }
}
