import MailpipeCore
import MailpipeStore

/// Chooses the `X-Virtual-MTA` of each message among the tenant's vmtas: smooth weighted
/// round-robin by `weight` (deterministic for the same input), skipping vmtas whose warm-up quota
/// for today is spent. Today's quota and what was already sent come from the store's
/// `WarmupBook` — the numbers `account warmup` shows — in the tenant's time zone.
/// Remaining today = quota(week) − sent today (ledger) − what this run already gave the vmta.
public struct VmtaPicker {
    public struct Entry: Equatable {
        public var name: String
        public var weight: Int
        public var week: Int
        public var remaining: Int
        var current = 0

        public init(name: String, weight: Int, week: Int, remaining: Int) {
            self.name = name; self.weight = weight; self.week = week; self.remaining = remaining
        }
    }

    public private(set) var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// The tenant's configured vmtas with what the warm-up allows them today.
    public init(config: TenantConfig, ledger: Ledger, now: Timestamp) {
        let book = WarmupBook(config: config, now: now)
        let days = book.configuredVmtas(ledger, order: config.vmtas)
        entries = zip(config.vmtas, days).map { v, d in Entry(name: v.name, weight: v.weight, week: d.week, remaining: d.remaining) }
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// The next vmta with quota left (its quota taken), or nil when every quota is spent.
    public mutating func pick() -> String? {
        var total = 0
        var best = -1
        for i in entries.indices where entries[i].remaining > 0 && entries[i].weight > 0 {
            entries[i].current += entries[i].weight
            total += entries[i].weight
            if best < 0 || entries[i].current > entries[best].current { best = i }
        }
        guard best >= 0 else { return nil }
        entries[best].current -= total
        entries[best].remaining -= 1
        return entries[best].name
    }

    /// Gives a unit of quota back (the message was not sent after all).
    public mutating func giveBack(_ name: String) {
        if let i = entries.firstIndex(where: { $0.name == name }) { entries[i].remaining += 1 }
    }
}
