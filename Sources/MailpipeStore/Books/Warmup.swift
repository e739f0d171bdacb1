import MailpipeCore

/// The one warm-up truth of a tenant: per vmta, its week of the schedule, today's quota and what
/// was sent today — all in the tenant's time zone. `inject smtp` sends what `remaining` allows,
/// `account warmup` shows and advances the same state, `account pmta-config` caps PowerMTA at the
/// same quota, so the three can never disagree.
///
/// - A vmta's warm-up starts at week 1 on its `warmup_start` day (tenant.json), else on the day it
///   is first seen; before that day its quota is 0. Only `account warmup --advance` moves the
///   week — never the calendar alone.
/// - Sends of a day are the recorded sends (`account record`) or, when the MTA saw more (mail
///   MailWizz routed through PowerMTA), delivered + bounced from its accounting files.
/// - `--advance`, once a day: yesterday's bounce rate at twice the week's ceiling steps the vmta
///   back a week (not below 1); after 7 days at a week it advances when the week carried at least
///   `requiredSends` and its bounce rate stayed under the ceiling, else it holds (the week starts
///   again).
public struct WarmupBook: Sendable {
    public let schedule: WarmupSchedule
    public let zone: ZoneInfo
    /// Today in the tenant's time zone (YYYY-MM-DD), and as a day number.
    public let today: String
    let todayNumber: Int64
    let configured: [String: VmtaConfig]

    public enum Action: String, Sendable {
        case advanced, held
        case steppedBack = "stepped-back"
        case inWeek = "in-week"
        case alreadyChecked = "already-checked"
        case notStarted = "not-started"
    }

    /// What a vmta may do today.
    public struct VmtaDay: Sendable {
        public var vmta: String
        public var week: Int
        public var quota: Int
        public var ceiling: Double
        public var sentToday: Int
        /// Quota left today (0 before the warm-up's first day).
        public var remaining: Int
        public var started: String
        public var yesterdaySent: Int
        public var yesterdayBounced: Int
        public var yesterdayRate: Double?
        public var action: Action?

        public init(vmta: String, week: Int, quota: Int, ceiling: Double, sentToday: Int, remaining: Int, started: String,
                    yesterdaySent: Int, yesterdayBounced: Int, yesterdayRate: Double?, action: Action?) {
            self.vmta = vmta; self.week = week; self.quota = quota; self.ceiling = ceiling; self.sentToday = sentToday
            self.remaining = remaining; self.started = started; self.yesterdaySent = yesterdaySent
            self.yesterdayBounced = yesterdayBounced; self.yesterdayRate = yesterdayRate; self.action = action
        }
    }

    public init(config: TenantConfig, now: Timestamp) {
        schedule = config.warmup
        zone = config.timezone
        today = config.timezone.date(now)
        todayNumber = config.timezone.localDays(now)
        var byName: [String: VmtaConfig] = [:]
        for v in config.vmtas { byName[v.name] = v }
        configured = byName
    }

    /// A local calendar day as YYYY-MM-DD, `offset` days from today.
    public func day(_ offset: Int64) -> String { Timestamp(seconds: (todayNumber + offset) * 86_400).date }

    static func number(_ date: String) -> Int64? { Timestamp(parsing: date)?.days }

    /// The ledger's state of a vmta, or the state it starts with (week 1 from its start day).
    public func state(of name: String, in ledger: Ledger) -> Ledger.Vmta {
        ledger.vmtas[name] ?? Ledger.Vmta(started: configured[name]?.warmupStart ?? today)
    }

    /// Sends of a day: the recorded ones, or what the MTA saw when that is more.
    public static func sends(_ m: Ledger.Vmta, _ day: String) -> Int {
        max(m.sent[day] ?? 0, (m.delivered[day] ?? 0) + (m.bounced[day] ?? 0))
    }

    static func rate(_ m: Ledger.Vmta, days: [String]) -> Double? {
        let s = days.reduce(0) { $0 + sends(m, $1) }
        guard s > 0 else { return nil }
        return Double(days.reduce(0) { $0 + (m.bounced[$1] ?? 0) }) / Double(s)
    }

    /// Today's figures of a vmta.
    public func view(_ name: String, _ m: Ledger.Vmta, action: Action? = nil) -> VmtaDay {
        let step = schedule.step(week: m.week)
        let notStarted = (WarmupBook.number(m.started) ?? todayNumber) > todayNumber
        let quota = notStarted ? 0 : step.quota
        let sent = WarmupBook.sends(m, today)
        let yesterday = day(-1)
        return VmtaDay(vmta: name, week: m.week, quota: quota, ceiling: step.ceiling, sentToday: sent,
                       remaining: max(0, quota - sent), started: m.started, yesterdaySent: WarmupBook.sends(m, yesterday),
                       yesterdayBounced: m.bounced[yesterday] ?? 0, yesterdayRate: WarmupBook.rate(m, days: [yesterday]), action: action)
    }

    /// Today's figures of every vmta tenant.json lists (the ones `inject` may use), in its order.
    public func configuredVmtas(_ ledger: Ledger, order: [VmtaConfig]) -> [VmtaDay] {
        order.map { view($0.name, state(of: $0.name, in: ledger)) }
    }

    /// Today's advance / hold / step-back decision for one vmta (safe to ask twice a day).
    public func advance(_ m: inout Ledger.Vmta) -> Action {
        guard let started = WarmupBook.number(m.started), started <= todayNumber else { return .notStarted }
        guard m.lastCheck != today else { return .alreadyChecked }
        defer { m.lastCheck = today }
        let step = schedule.step(week: m.week)
        let weekStart = WarmupBook.number(m.weekStarted) ?? started
        let elapsed = Int(todayNumber - weekStart)
        let weekDays = (0..<max(0, elapsed)).map { Timestamp(seconds: (weekStart + Int64($0)) * 86_400).date }
        if let yRate = WarmupBook.rate(m, days: [day(-1)]), yRate >= 2 * step.ceiling {
            let action: Action = m.week > 1 ? .steppedBack : .held
            m.week = max(1, m.week - 1)
            m.weekStarted = today
            m.history.append((today, action.rawValue, m.week, yRate))
            return action
        }
        guard elapsed >= 7 else { return .inWeek }
        let weekRate = WarmupBook.rate(m, days: weekDays)
        let weekSends = weekDays.reduce(0) { $0 + WarmupBook.sends(m, $1) }
        let action: Action
        if let weekRate, weekRate < step.ceiling, weekSends >= step.requiredSends {
            action = .advanced
            m.week += 1
        } else {
            action = .held
        }
        m.weekStarted = today
        m.history.append((today, action.rawValue, m.week, weekRate))
        return action
    }
}
