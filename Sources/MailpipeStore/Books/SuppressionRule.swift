import MailpipeCore

/// Which events put an address on the suppression list or take it off, and why: the one rule the
/// books apply as events come (`Books`) and replay from the event log — the list's source of
/// truth — when the list is short or behind (`Books` repairs, `MailPolicy` for readers).
public struct SuppressionRule: Sendable {
    public let softLimit: Int
    public let softWindowDays: Int
    var window: Int64 { Int64(softWindowDays) * 86_400 }

    public init(config: TenantConfig) {
        softLimit = config.bounces.softLimit
        softWindowDays = config.bounces.softWindowDays
    }

    /// What one event does to the list.
    public enum Effect: Equatable {
        case none
        /// On the list, with the entry's reason and the contact's status.
        case add(reason: String, status: String)
        /// Off the list; the contact's status becomes `status`.
        case remove(status: String)
    }

    /// The effect of `e`; soft bounces are counted in `softBounces` (the ledger's history: the
    /// times of each address's soft bounces inside the window).
    public func effect(of e: BookEvent, softBounces: inout [String: [Int64]]) -> Effect {
        func because(_ what: String) -> String { what + (e.reason.map { ": " + $0 } ?? "") }
        switch e.type {
        case "bounced":
            if e.bounceClass == "hard" { return .add(reason: because("hard-bounce"), status: "bounced") }
            guard e.bounceClass == "soft" else { return .none }
            var times = softBounces[e.email, default: []]
            times.append(e.at.seconds)
            let latest = times.max()!
            times = times.filter { $0 > latest - window }.sorted()
            softBounces[e.email] = times
            guard times.count >= softLimit else { return .none }
            return .add(reason: "soft-bounces: \(times.count) in \(softWindowDays) days", status: "bounced")
        case "complained":
            return .add(reason: because("complaint"), status: "complained")
        case "unsubscribed":
            return .add(reason: because("unsubscribe"), status: "unsubscribed")
        case "suppressed":
            return .add(reason: e.reason ?? "manual", status: e.extra.first { $0.0 == "status" }?.1.string ?? "blacklisted")
        case "unsuppressed":
            return .remove(status: e.extra.first { $0.0 == "status" }?.1.string ?? "validated")
        default:
            return .none
        }
    }

    /// Drops soft-bounce history that can no longer count, after a batch whose newest event is
    /// at `newest` (done once per batch, so a replay counts as the books did).
    func prune(_ softBounces: inout [String: [Int64]], newest: Int64) {
        for (email, times) in softBounces where times.allSatisfy({ $0 <= newest - window }) {
            softBounces[email] = nil
        }
    }

    /// The suppression list's line for an address put on it by `e`.
    static func entryLine(_ e: BookEvent, reason: String) -> [UInt8] {
        var line = ByteBuffer(capacity: 160)
        var w = JSONObjectWriter(into: &line)
        w.member("email", string: e.email, into: &line)
        w.member("reason", string: reason, into: &line)
        w.member("at", string: e.at.rfc3339, into: &line)
        w.member("source", string: e.source, into: &line)
        if let c = e.campaign { w.member("campaign", string: c, into: &line) }
        w.finish(into: &line)
        return line.bytes
    }

    /// The logged events of `eventsPath` in the appends from `from` to `length` (a sealed end),
    /// one batch (append) at a time, oldest first. A line that is no event is damage: the log is
    /// the source of truth and is never read past a line it cannot use.
    public static func forEachBatch(eventsPath: String, from: Int = 0, length: Int,
                                    _ body: ([BookEvent]) throws -> Void) throws {
        var parser = JSONParser(maxDepth: 64)
        defer { parser.deallocate() }
        for range in try AppendLog.appendRanges(path: eventsPath, length: length) where range.lowerBound >= from {
            var batch: [BookEvent] = []
            try AppendLog.forEachLine(path: eventsPath, range: range) { line in
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
                guard let root = try? parser.parse(line).root, let e = BookEvent.parse(root) else {
                    throw StateDamage(file: eventsPath, problem: "the append at offset \(range.lowerBound) holds a line that is no event",
                                      repair: .restore)
                }
                batch.append(e)
            }
            try body(batch)
        }
    }

    /// The hashes of the addresses the events from `from` put on the list. Removals are applied
    /// only with `removals` (a check of the whole list); a reader that replays events errs on the
    /// side of not mailing.
    public func suppressedHashes(eventsPath: String, from: Int, length: Int,
                                 softBounces start: [String: [Int64]], removals: Bool = false) throws -> Set<UInt64> {
        var softBounces = start
        var hashes = Set<UInt64>()
        try SuppressionRule.forEachBatch(eventsPath: eventsPath, from: from, length: length) { batch in
            var newest = Int64.min
            for e in batch {
                newest = max(newest, e.at.seconds)
                switch effect(of: e, softBounces: &softBounces) {
                case .add: hashes.insert(EmailKey.hash(EmailKey.normalize(e.email)))
                case .remove where removals: hashes.remove(EmailKey.hash(EmailKey.normalize(e.email)))
                default: break
                }
            }
            if newest > .min { prune(&softBounces, newest: newest) }
        }
        return hashes
    }
}
