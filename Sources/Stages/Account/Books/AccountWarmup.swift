import MailpipeCore
import MailpipeStore

/// `account warmup`: the warm-up state per vmta — week of the schedule, today's quota, sends
/// today, yesterday's bounce rate. `--advance` (run daily, safe to run twice a day) moves a vmta:
/// - back one week when yesterday's bounce rate reached twice the week's ceiling ("stepped-back");
/// - to the next week when a week (7 days) has passed at this step and the bounce rate over it
///   stayed under the ceiling ("advanced"), else it starts the week again ("held");
/// - otherwise it stays ("in-week").
/// The ledger's `vmtas.<name>.week` and `quota` are what `inject smtp` reads.
public enum AccountWarmup {
    public struct Options {
        public var tenant: TenantSlug
        public var state: StateRoot
        public var now: Timestamp
        public var advance: Bool

        public init(tenant: TenantSlug, state: StateRoot, now: Timestamp, advance: Bool) {
            self.tenant = tenant
            self.state = state
            self.now = now
            self.advance = advance
        }
    }

    public struct Row {
        public var vmta: String
        public var week: Int
        public var quota: Int
        public var ceiling: Double
        public var sentToday: Int
        public var yesterdaySent: Int
        public var yesterdayBounced: Int
        public var yesterdayRate: Double?
        public var action: String?

        public var json: JSONValue {
            var o = JSONObject([("vmta", .string(vmta)), ("week", .int(week)), ("quota", .int(quota)),
                                ("max_bounce_rate", .number(WarmupSchedule.format(ceiling))), ("sent_today", .int(sentToday)),
                                ("yesterday_sent", .int(yesterdaySent)), ("yesterday_bounced", .int(yesterdayBounced))])
            o.append("yesterday_bounce_rate", yesterdayRate.map { .number(WarmupSchedule.format($0)) } ?? .null)
            if let action { o.append("action", .string(action)) }
            return .object(o)
        }
    }

    static func day(_ t: Timestamp, plus days: Int64) -> String { Timestamp(seconds: t.seconds + days * 86_400).date }

    /// Sends of a day: the recorded sends, or delivered + bounced when none were recorded.
    static func sends(_ m: Ledger.Vmta, _ day: String) -> Int {
        let s = m.sent[day] ?? 0
        return s > 0 ? s : (m.delivered[day] ?? 0) + (m.bounced[day] ?? 0)
    }

    static func rate(_ m: Ledger.Vmta, days: [String]) -> Double? {
        let s = days.reduce(0) { $0 + sends(m, $1) }
        guard s > 0 else { return nil }
        return Double(days.reduce(0) { $0 + (m.bounced[$1] ?? 0) }) / Double(s)
    }

    public static func run(_ options: Options) throws -> [Row] {
        let dir = options.state.tenant(options.tenant)
        try dir.requireExisting()
        let books = try Books(dir: dir, now: options.now, warn: warnToStderr)
        let today = options.now.date
        let yesterday = day(options.now, plus: -1)
        // Every configured vmta has a warm-up state from its start day (or today).
        var changed = false
        for v in books.config.vmtas where books.ledger.vmtas[v.name] == nil {
            _ = books.ledger.vmta(v.name, firstSeen: today, config: books.config)
            changed = true
        }
        var rows: [Row] = []
        for name in books.ledger.vmtas.keys.sorted() {
            var m = books.ledger.vmtas[name]!
            var action: String?
            if options.advance && m.lastCheck != today && m.started <= today {
                let step = books.schedule.step(week: m.week)
                let yRate = rate(m, days: [yesterday])
                guard let weekStart = Timestamp(parsing: m.weekStarted) else { continue }
                let elapsed = Int((Timestamp(parsing: today)!.seconds - weekStart.seconds) / 86_400)
                let weekDays = (0..<max(0, elapsed)).map { day(weekStart, plus: Int64($0)) }
                let weekRate = rate(m, days: weekDays)
                if let yRate, yRate >= 2 * step.ceiling {
                    action = m.week > 1 ? "stepped-back" : "held"
                    m.week = max(1, m.week - 1)
                    m.weekStarted = today
                    m.history.append((today, action!, m.week, yRate))
                } else if elapsed >= 7 {
                    if let weekRate, weekRate < step.ceiling {
                        action = "advanced"
                        m.week += 1
                    } else {
                        action = "held"
                    }
                    m.weekStarted = today
                    m.history.append((today, action!, m.week, weekRate))
                } else {
                    action = "in-week"
                }
                m.lastCheck = today
                books.ledger.vmtas[name] = m
                changed = true
            } else if options.advance {
                action = m.started > today ? "not-started" : "already-checked"
            }
            let step = books.schedule.step(week: m.week)
            let ys = sends(m, yesterday)
            rows.append(Row(vmta: name, week: m.week, quota: step.quota, ceiling: step.ceiling, sentToday: m.sent[today] ?? 0,
                            yesterdaySent: ys, yesterdayBounced: m.bounced[yesterday] ?? 0,
                            yesterdayRate: rate(m, days: [yesterday]), action: action))
        }
        if changed {
            try books.saveLedger()
        }
        return rows
    }
}
