import MailpipeCore
import MailpipeStore

/// Chooses the `X-Virtual-MTA` of each message among the tenant's vmtas: smooth weighted
/// round-robin by `weight` (deterministic for the same input), skipping vmtas whose warm-up quota
/// for today is spent.
///
/// What is read:
/// - tenant.json `vmtas`: `[{"name":…, "weight":N (default 1), "warmup_start":"YYYY-MM-DD"?}]`
///   (`ip`, `hostname` are the MTA's business);
/// - tenant.json `warmup`: `[{"week":N,"daily_quota":N,…}]` (docs/design.md §4 defaults when absent;
///   weeks past the last entry use the last entry's quota);
/// - the ledger written by `account`, `state/<tenant>/ledger.json`:
///   `{"vmtas":{"<name>":{"week":N,"sent":{"YYYY-MM-DD":n}}}}` — the vmta's warm-up week and what
///   was sent per UTC day. A missing ledger or vmta entry means nothing sent; the week then comes
///   from `warmup_start` (week 1 is its first 7 days), else week 1.
/// Today's remaining quota = quota(week) − ledger sent[today] − what this run already gave it.
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

    public init(config: TenantConfig, ledger: JSONValue?, today: Timestamp) throws {
        let date = today.date
        var entries: [Entry] = []
        for vmta in config.vmtas {
            let ledgerEntry = ledger?["vmtas"]?[vmta.name]
            var week = ledgerEntry?["week"]?.int ?? 0
            if week <= 0 {
                if let start = vmta.warmupStart.flatMap(Timestamp.init(parsing:)) {
                    week = max(1, Int((today.days - start.days) / 7) + 1)
                } else {
                    week = 1
                }
            }
            let sent = ledgerEntry?["sent"]?[date]?.int ?? 0
            entries.append(Entry(name: vmta.name, weight: vmta.weight, week: week,
                                 remaining: max(0, config.warmup.step(week: week).quota - sent)))
        }
        self.entries = entries
    }

    /// Reads ledger.json if present (a missing file is an empty ledger).
    public static func loadLedger(_ dir: TenantDirectory) throws -> JSONValue? {
        guard FileSystem.exists(dir.ledgerPath) else { return nil }
        do { return try JSONValue.parse(try FileSystem.readFile(dir.ledgerPath)) } catch {
            throw StageError.configuration("\(dir.ledgerPath): \(error)")
        }
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
