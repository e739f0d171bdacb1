import MailpipeCore
import MailpipeStore

/// `ledger.json`: counters per campaign, day and vmta, and the warm-up state per vmta
/// (docs/account.md gives the shape; `inject` reads `vmtas`).
public struct Ledger {
    public struct Vmta {
        public var week = 1
        /// The warm-up start day (YYYY-MM-DD).
        public var started: String
        /// The day the current week began.
        public var weekStarted: String
        /// The last day `warmup --advance` ran for this vmta.
        public var lastCheck: String?
        public var sent: [String: Int] = [:]
        public var delivered: [String: Int] = [:]
        public var bounced: [String: Int] = [:]
        /// (date, action, week after, rate) — the warm-up history.
        public var history: [(date: String, action: String, week: Int, rate: Double?)] = []

        public init(started: String) {
            self.started = started
            weekStarted = started
        }
    }

    public var vmtas: [String: Vmta] = [:]
    public var campaigns: [String: [String: Int]] = [:]
    public var days: [String: [String: Int]] = [:]
    /// Soft bounces per address (unix seconds), kept while inside the rule's window.
    public var softBounces: [String: [Int64]] = [:]
    /// The lengths of the event and suppression logs this ledger reflects.
    public var eventsLength = 0
    public var suppressionLength = 0
    /// Where `account events --mailwizz-pull` stopped, written by the commit of the events it
    /// brought, so a pull and its cursor land together.
    public var mailwizzPull = MailWizzCursor()

    public init() {}

    /// What a MailWizz pull has read of each campaign's unsubscribe and bounce logs (both newest
    /// first in MailWizz): how many records, and the newest one's subscriber, which tells a log
    /// that only grew (read the new head) from one that also lost records (read it all again).
    public struct MailWizzCursor: Equatable {
        public struct Log: Equatable {
            public var count = 0
            public var newest: String?

            public init(count: Int = 0, newest: String? = nil) {
                self.count = count
                self.newest = newest
            }
        }

        public struct Campaign: Equatable {
            public var name: String
            public var listUID: String
            public var unsubscribes = Log()
            public var bounces = Log()

            public init(name: String, listUID: String) {
                self.name = name
                self.listUID = listUID
            }
        }

        public var pulledAt: String?
        /// By campaign uid.
        public var campaigns: [String: Campaign] = [:]

        public init() {}

        init(_ value: JSONValue?) {
            pulledAt = value?["pulled_at"]?.string
            func log(_ v: JSONValue?) -> Log { Log(count: v?["count"]?.int ?? 0, newest: v?["newest"]?.string) }
            for (uid, c) in value?["campaigns"]?.object?.members ?? [] {
                var campaign = Campaign(name: c["name"]?.string ?? uid, listUID: c["list_uid"]?.string ?? "")
                campaign.unsubscribes = log(c["unsubscribes"])
                campaign.bounces = log(c["bounces"])
                campaigns[uid] = campaign
            }
        }

        var json: JSONValue {
            func log(_ l: Log) -> JSONValue {
                var o = JSONObject([("count", .int(l.count))])
                if let n = l.newest { o.append("newest", .string(n)) }
                return .object(o)
            }
            var root = JSONObject()
            if let pulledAt { root.append("pulled_at", .string(pulledAt)) }
            root.append("campaigns", .object(JSONObject(campaigns.keys.sorted().map { uid in
                let c = campaigns[uid]!
                return (uid, .object(JSONObject([("name", .string(c.name)), ("list_uid", .string(c.listUID)),
                                                 ("unsubscribes", log(c.unsubscribes)), ("bounces", log(c.bounces))])))
            })))
            return .object(root)
        }
    }

    public static func load(path: String) throws -> Ledger {
        var ledger = Ledger()
        guard let bytes = try FileSystem.readFileIfPresent(path, options: .noFollow) else { return ledger }
        let value = try StateJSON.decode(bytes, path: path, what: "ledger", maxDepth: 16)
        func counts(_ v: JSONValue?) -> [String: Int] {
            var r: [String: Int] = [:]
            for (k, n) in v?.object?.members ?? [] { r[k] = n.int ?? 0 }
            return r
        }
        ledger.eventsLength = value["events_length"]?.int ?? 0
        ledger.suppressionLength = value["suppression_length"]?.int ?? 0
        ledger.mailwizzPull = MailWizzCursor(value["mailwizz_pull"])
        for (name, v) in value["vmtas"]?.object?.members ?? [] {
            let started = v["started"]?.string ?? "1970-01-01"
            var m = Vmta(started: started)
            m.week = v["week"]?.int ?? 1
            m.weekStarted = v["week_started"]?.string ?? started
            m.lastCheck = v["last_check"]?.string
            m.sent = counts(v["sent"])
            m.delivered = counts(v["delivered"])
            m.bounced = counts(v["bounced"])
            for h in v["history"]?.array ?? [] {
                m.history.append((h["date"]?.string ?? "", h["action"]?.string ?? "", h["week"]?.int ?? 1, h["rate"]?.double))
            }
            ledger.vmtas[name] = m
        }
        for (name, v) in value["campaigns"]?.object?.members ?? [] { ledger.campaigns[name] = counts(v) }
        for (name, v) in value["days"]?.object?.members ?? [] { ledger.days[name] = counts(v) }
        for (email, v) in value["soft_bounces"]?.object?.members ?? [] {
            ledger.softBounces[email] = (v.array ?? []).compactMap { $0.string.flatMap(Timestamp.init(parsing:))?.seconds }
        }
        return ledger
    }

    /// The file's members (`StateJSON` adds the format and the checksum).
    func members(schedule: WarmupSchedule) -> [(String, JSONValue)] {
        func counts(_ d: [String: Int]) -> JSONValue {
            .object(JSONObject(d.keys.sorted().map { ($0, .int(d[$0]!)) }))
        }
        var vm = JSONObject()
        for name in vmtas.keys.sorted() {
            let m = vmtas[name]!
            var o = JSONObject()
            o.append("week", .int(m.week))
            o.append("quota", .int(schedule.step(week: m.week).quota))
            o.append("max_bounce_rate", .number(WarmupSchedule.format(schedule.step(week: m.week).ceiling)))
            o.append("started", .string(m.started))
            o.append("week_started", .string(m.weekStarted))
            if let c = m.lastCheck { o.append("last_check", .string(c)) }
            o.append("sent", counts(m.sent))
            o.append("delivered", counts(m.delivered))
            o.append("bounced", counts(m.bounced))
            o.append("history", .array(m.history.map { h in
                var e = JSONObject([("date", .string(h.date)), ("action", .string(h.action)), ("week", .int(h.week))])
                if let r = h.rate { e.append("rate", .number(WarmupSchedule.format(r))) }
                return .object(e)
            }))
            vm.append(name, .object(o))
        }
        var root = JSONObject()
        root.append("vmtas", .object(vm))
        root.append("campaigns", .object(JSONObject(campaigns.keys.sorted().map { ($0, counts(campaigns[$0]!)) })))
        root.append("days", .object(JSONObject(days.keys.sorted().map { ($0, counts(days[$0]!)) })))
        root.append("soft_bounces", .object(JSONObject(softBounces.keys.sorted().map { email in
            (email, .array(softBounces[email]!.map { .string(Timestamp(seconds: $0).rfc3339) }))
        })))
        if mailwizzPull != MailWizzCursor() { root.append("mailwizz_pull", mailwizzPull.json) }
        root.append("events_length", .int(eventsLength))
        root.append("suppression_length", .int(suppressionLength))
        return root.members
    }

    func save(path: String, schedule: WarmupSchedule) throws {
        try FileSystem.writeAtomically(path, StateJSON.encode(members(schedule: schedule)))
    }

    /// Forgets what the events count — per campaign, day and vmta, and the soft-bounce history —
    /// before a recount from the event log; each vmta's warm-up week and history stay.
    mutating func resetCounters() {
        campaigns = [:]
        days = [:]
        softBounces = [:]
        for name in vmtas.keys {
            vmtas[name]!.sent = [:]
            vmtas[name]!.delivered = [:]
            vmtas[name]!.bounced = [:]
        }
    }

    public mutating func vmta(_ name: String, firstSeen day: String, config: TenantConfig) -> Vmta {
        if let m = vmtas[name] { return m }
        let configured = config.vmtas.first { $0.name == name }?.warmupStart
        let m = Vmta(started: configured ?? day)
        vmtas[name] = m
        return m
    }
}
