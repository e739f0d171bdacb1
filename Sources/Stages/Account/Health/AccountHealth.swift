import MailpipeCore
import MailpipeStore

/// `account health`: a 0–100 score of a tenant's sending health with its reasons, for cron and
/// alerting (docs/account.md "Health"). Every figure is `account report`'s: the report is built
/// once (its damage policy `.fail`: books it cannot count whole are `StateDamage`, never a
/// verdict on part of them) and the health reads its day rows, contacts, suppression count and
/// warm-up rows. A reader: no lock, nothing written.
///
/// Score = 100 − the points each check takes (not below 0); the status is the worst level of
/// the checks. A tenant that never sent has no score ("ok, no data").
public enum AccountHealth {
    public struct Options {
        public var tenant: TenantSlug
        public var state: StateRoot
        public var now: Timestamp

        public init(tenant: TenantSlug, state: StateRoot, now: Timestamp) {
            self.tenant = tenant
            self.state = state
            self.now = now
        }
    }

    public enum Level: String, Sendable, Comparable, CaseIterable {
        case ok, warn, critical

        /// The exit status cron sees: 0 ok, 1 warn, 2 critical.
        public var exitCode: Int32 {
            switch self {
            case .ok: return 0
            case .warn: return 1
            case .critical: return 2
            }
        }

        var rank: Int { Level.allCases.firstIndex(of: self)! }
        public static func < (a: Level, b: Level) -> Bool { a.rank < b.rank }
    }

    /// The checks, in the order they are shown.
    public enum Check: String, Sendable, CaseIterable {
        case bounceRate = "bounce_rate"
        case complaintRate = "complaint_rate"
        case gmailSpamRate = "gmail_spam_rate"
        case warmup
        case bouncedShare = "bounced_share"
        case unvalidatedShare = "unvalidated_share"
        case suppressedShare = "suppressed_share"
        case unsubscribeTrend = "unsubscribe_trend"

        /// Points a check takes at a level (docs/account.md "Health" lists them).
        public func points(_ level: Level) -> Int {
            switch (self, level) {
            case (_, .ok): return 0
            case (.bounceRate, .warn), (.complaintRate, .warn): return 15
            case (.bounceRate, .critical), (.complaintRate, .critical): return 40
            case (.gmailSpamRate, _): return 50
            case (.warmup, .warn): return 10
            case (.warmup, .critical): return 25
            case (.unsubscribeTrend, _): return 10
            case (.bouncedShare, _), (.unvalidatedShare, _), (.suppressedShare, _): return 5
            }
        }
    }

    /// Google's bulk-sender line: a spam rate at or over 0.3 % loses Gmail's mitigation.
    public static let gmailSpamRateLine = 0.003
    /// A rate over this share of its ceiling is a warning (it is getting close).
    public static let approachShare = 0.75

    /// One check's verdict: its figure, the threshold it was held against, the points taken.
    public struct Reason: Sendable, Equatable {
        public var check: Check
        public var level: Level
        public var figure: Double?
        public var threshold: Double?
        public var points: Int
        /// What the figure is, in words with its counts.
        public var detail: String
        /// The vmta a warm-up reason is about.
        public var vmta: String?

        public init(check: Check, level: Level, figure: Double?, threshold: Double?, detail: String, vmta: String? = nil) {
            self.check = check
            self.level = level
            self.figure = figure
            self.threshold = threshold
            self.points = check.points(level)
            self.detail = detail
            self.vmta = vmta
        }
    }

    /// Counts of a run of days, and their rates (`AccountReport.Report.rates`).
    public struct Window: Sendable, Equatable {
        public var first: String
        public var last: String
        public var sends = 0
        public var delivered = 0
        public var bounced = 0
        public var complained = 0
        public var unsubscribed = 0
        public var bounceRate: Double?
        public var complaintRate: Double?
        public var unsubscribeRate: Double?

        public init(first: String, last: String) {
            self.first = first
            self.last = last
        }
    }

    /// What the verdict is made of, all of it from the report.
    public struct Figures: Sendable {
        public var window: Window
        public var previous: Window
        /// Sends in the whole books (0: nothing was ever sent).
        public var everSent = 0
        public var contacts = 0
        public var bouncedContacts = 0
        /// Contacts without a validation verdict.
        public var unvalidatedContacts = 0
        /// Addresses segment and inject hold back (the suppression list and pending events).
        public var suppressed = 0
        public var vmtas: [WarmupBook.VmtaDay] = []
        /// Vmtas whose week went down on a day of the window.
        public var steppedBack: [String] = []
        public var bounceCeiling = 0.01
        public var complaintCeiling = 0.001

        public init(window: Window, previous: Window) {
            self.window = window
            self.previous = previous
        }
    }

    public struct Result: Sendable {
        public var tenant: String
        public var generatedAt: String
        public var level: Level
        /// nil when nothing was ever sent.
        public var score: Int?
        public var figures: Figures
        public var reasons: [Reason]
        public var windowDays: Int

        public var noData: Bool { score == nil }
    }

    /// The verdict and the report it was made of (the metrics read both: TenantMetrics).
    public struct Assessment {
        public var result: Result
        public var report: AccountReport.Report
    }

    public static func run(_ options: Options) throws -> Result { try assessment(options).result }

    public static func assessment(_ options: Options) throws -> Assessment {
        let report = try AccountReport.build(.init(tenant: options.tenant, state: options.state, now: options.now, damage: .fail))
        let config = try options.state.tenant(options.tenant).loadConfig()
        let figures = Figures(report: report, config: config, now: options.now)
        var result = assess(figures, rules: config.health)
        result.tenant = report.tenant
        result.generatedAt = report.generatedAt
        return Assessment(result: result, report: report)
    }

    /// The verdict on `f` (what the XCTests call with figures of their own).
    public static func assess(_ f: Figures, rules: TenantConfig.HealthRules) -> Result {
        var result = Result(tenant: "", generatedAt: "", level: .ok, score: nil, figures: f, reasons: [], windowDays: rules.windowDays)
        guard f.everSent > 0 else { return result }
        result.reasons = rateReasons(f) + [warmupReason(f)] + hygieneReasons(f, rules) + [unsubscribeReason(f, rules)]
        result.level = result.reasons.map(\.level).max() ?? .ok
        result.score = max(0, 100 - result.reasons.reduce(0) { $0 + $1.points })
        return result
    }

    static func rateReasons(_ f: Figures) -> [Reason] {
        let w = f.window
        func level(_ rate: Double?, ceiling: Double) -> Level {
            guard let rate else { return .ok }
            if rate > ceiling { return .critical }
            return rate > approachShare * ceiling ? .warn : .ok
        }
        let noSends = "no sends from \(w.first) to \(w.last)"
        let bounce = Reason(check: .bounceRate, level: level(w.bounceRate, ceiling: f.bounceCeiling), figure: w.bounceRate,
                            threshold: f.bounceCeiling,
                            detail: w.bounceRate == nil ? noSends : "\(w.bounced) of \(w.sends) sends bounced")
        let complaintBase = w.delivered > 0 ? "\(w.delivered) delivered" : "\(w.sends) sends"
        let complaintDetail = w.complaintRate == nil ? noSends : "\(w.complained) complaints of \(complaintBase)"
        let complaint = Reason(check: .complaintRate, level: level(w.complaintRate, ceiling: f.complaintCeiling), figure: w.complaintRate,
                               threshold: f.complaintCeiling, detail: complaintDetail)
        // Gmail measures its spam rate on Gmail recipients; the tenant's complaint rate stands in.
        let overGmail = (w.complaintRate ?? 0) >= gmailSpamRateLine
        let gmail = Reason(check: .gmailSpamRate, level: overGmail ? .critical : .ok, figure: w.complaintRate, threshold: gmailSpamRateLine,
                           detail: w.complaintRate == nil ? noSends
                               : overGmail ? "\(complaintDetail): at or over Gmail's 0.3 % line" : "\(complaintDetail): under Gmail's 0.3 % line")
        return [bounce, complaint, gmail]
    }

    /// The worst vmta: bouncing at twice its week's ceiling yesterday is critical (the next
    /// `account warmup --advance` steps it back); over the ceiling, over today's quota or stepped
    /// back within the window is a warning.
    static func warmupReason(_ f: Figures) -> Reason {
        guard !f.vmtas.isEmpty else {
            return Reason(check: .warmup, level: .ok, figure: nil, threshold: nil, detail: "no vmta in the ledger")
        }
        var worst: Reason? = nil
        for v in f.vmtas {
            var level = Level.ok
            var why = "week \(v.week), yesterday \(v.yesterdayBounced) of \(v.yesterdaySent) bounced"
            if let rate = v.yesterdayRate, rate >= 2 * v.ceiling {
                level = .critical
                why += ", twice its week's ceiling or more: the next advance steps it back"
            } else if let rate = v.yesterdayRate, rate > v.ceiling {
                level = .warn
                why += ", over its week's ceiling"
            } else if v.sentToday > v.quota {
                level = .warn
                why += "; \(v.sentToday) sent today over a quota of \(v.quota)"
            } else if f.steppedBack.contains(v.vmta) {
                level = .warn
                why += "; stepped back a week since \(f.window.first)"
            }
            let reason = Reason(check: .warmup, level: level, figure: v.yesterdayRate, threshold: v.ceiling, detail: "\(v.vmta): \(why)", vmta: v.vmta)
            if worst == nil || level > worst!.level || (level == worst!.level && (v.yesterdayRate ?? -1) > (worst!.figure ?? -1)) {
                worst = reason
            }
        }
        var reason = worst!
        if reason.level == .ok { reason.detail = "\(f.vmtas.count) vmta(s) within their weeks' ceilings; worst \(reason.detail)" }
        return reason
    }

    static func hygieneReasons(_ f: Figures, _ rules: TenantConfig.HealthRules) -> [Reason] {
        func share(_ check: Check, _ n: Int, _ limit: Double, _ what: String) -> Reason {
            let figure: Double? = f.contacts > 0 ? Double(n) / Double(f.contacts) : nil
            return Reason(check: check, level: (figure ?? 0) > limit ? .warn : .ok, figure: figure, threshold: limit,
                          detail: f.contacts > 0 ? "\(n) of \(f.contacts) contacts \(what)" : "no contacts")
        }
        return [share(.bouncedShare, f.bouncedContacts, rules.bouncedShare, "bounced"),
                share(.unvalidatedShare, f.unvalidatedContacts, rules.unvalidatedShare, "without a validation verdict"),
                share(.suppressedShare, f.suppressed, rules.suppressedShare, "held back (suppressed)")]
    }

    /// Unsubscribes rising: the window's rate over `unsubscribe_rate` and at least
    /// `unsubscribe_rise` times the previous window's (or the previous window had none).
    static func unsubscribeReason(_ f: Figures, _ rules: TenantConfig.HealthRules) -> Reason {
        let now = f.window.unsubscribeRate, before = f.previous.unsubscribeRate
        let rising: Bool
        if let now, now > rules.unsubscribeRate {
            if let before, before > 0 { rising = now >= rules.unsubscribeRise * before } else { rising = true }
        } else {
            rising = false
        }
        let was = before.map { "\(percent($0)) from \(f.previous.first) to \(f.previous.last)" } ?? "no sends from \(f.previous.first) to \(f.previous.last)"
        let detail = now == nil ? "no sends from \(f.window.first) to \(f.window.last)"
            : "\(f.window.unsubscribed) unsubscribes (\(percent(now))) against \(was)"
        return Reason(check: .unsubscribeTrend, level: rising ? .warn : .ok, figure: now, threshold: rules.unsubscribeRate, detail: detail)
    }

    /// A rate as a percentage with up to two decimals ("0.35%", "12%").
    public static func percent(_ rate: Double?) -> String {
        guard let rate else { return "-" }
        return WarmupSchedule.format((rate * 10_000).rounded() / 100) + "%"
    }
}

extension AccountHealth.Figures {
    /// The health's figures out of a report: the window's day rows summed (the tenant's days,
    /// today and the `window_days` − 1 before), the previous window the same, contacts,
    /// suppression and warm-up as the report has them.
    public init(report: AccountReport.Report, config: TenantConfig, now: Timestamp) {
        let days = Int64(config.health.windowDays)
        let book = WarmupBook(config: config, now: now)
        func window(_ first: Int64, _ last: Int64) -> AccountHealth.Window {
            var w = AccountHealth.Window(first: book.day(first), last: book.day(last))
            let c = report.sum(from: w.first, to: w.last)
            w.sends = report.daySends(c)
            w.delivered = report.count(c, "delivered")
            w.bounced = report.bounced(c)
            w.complained = report.count(c, "complained")
            w.unsubscribed = report.count(c, "unsubscribed")
            let rates = Dictionary(uniqueKeysWithValues: report.rates(c, sends: w.sends).map { ($0.0, $0.1) })
            w.bounceRate = rates["bounce_rate"] ?? nil
            w.complaintRate = rates["complaint_rate"] ?? nil
            w.unsubscribeRate = rates["unsubscribe_rate"] ?? nil
            return w
        }
        self.init(window: window(1 - days, 0), previous: window(1 - 2 * days, -days))
        everSent = report.sends(report.totals)
        contacts = report.contacts
        bouncedContacts = report.byStatus["bounced"] ?? 0
        unvalidatedContacts = report.byVerdict["none"] ?? 0
        suppressed = report.suppressed
        vmtas = report.warmup
        bounceCeiling = report.ceilings.bounceRate
        complaintCeiling = report.ceilings.complaintRate
        // A week lower than the one before, on a day of the window: a step back.
        for (vmta, history) in report.warmupHistory {
            for i in history.indices.dropFirst() where history[i].week < history[i - 1].week && history[i].date >= self.window.first {
                steppedBack.append(vmta)
                break
            }
        }
        steppedBack.sort()
    }
}
