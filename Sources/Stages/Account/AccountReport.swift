#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// `account report`: contacts by status, verdict, language, tag and source; per campaign the
/// sends, deliveries, bounces (hard/soft/policy), complaints, opens, clicks, unsubscribes and
/// their rates; events per day; warm-up per vmta. Figures come from the contact store and the
/// event log (the source of truth), read on every core.
public enum AccountReport {
    public struct Options {
        public var tenant: TenantSlug
        public var state: StateRoot
        public var now: Timestamp
        /// Only events at or after this time.
        public var since: Timestamp?
        /// Only this campaign's events.
        public var campaign: String?
        public var workers: Int

        public init(tenant: TenantSlug, state: StateRoot, now: Timestamp, since: Timestamp? = nil, campaign: String? = nil,
                    workers: Int = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) {
            self.tenant = tenant
            self.state = state
            self.now = now
            self.since = since
            self.campaign = campaign
            self.workers = max(1, workers)
        }
    }

    /// The counters of the report, in column order.
    public static let counters = ["sent", "delivered", "deferred", "bounced_hard", "bounced_soft", "bounced_policy",
                                  "complained", "unsubscribed", "opened", "clicked", "failed", "manual_suppress", "manual_unsuppress"]

    public struct Report {
        public var tenant: String
        public var generatedAt: String
        public var since: String?
        public var campaignFilter: String?
        public var contacts = 0
        public var byStatus: [String: Int] = [:]
        public var byVerdict: [String: Int] = [:]
        public var byLanguage: [String: Int] = [:]
        public var byTag: [String: Int] = [:]
        public var bySource: [String: Int] = [:]
        public var events = 0
        public var unknownContactEvents = 0
        public var totals = [Int](repeating: 0, count: counters.count)
        public var campaigns: [String: [Int]] = [:]
        public var days: [String: [Int]] = [:]
        public var suppressed = 0
        public var warmup: [AccountWarmup.Row] = []
        public var warmupHistory: [String: [(date: String, week: Int)]] = [:]
        public var lastWeek = 6

        public func count(_ c: [Int], _ name: String) -> Int { c[AccountReport.counters.firstIndex(of: name)!] }
        public func bounced(_ c: [Int]) -> Int { count(c, "bounced_hard") + count(c, "bounced_soft") + count(c, "bounced_policy") }
        /// Sends: the recorded ones, or delivered + bounced when none were recorded (MTA-only books).
        public func sends(_ c: [Int]) -> Int { count(c, "sent") > 0 ? count(c, "sent") : count(c, "delivered") + bounced(c) }

        public func rates(_ c: [Int]) -> [(String, Double?)] {
            let s = sends(c)
            let d = count(c, "delivered")
            func r(_ n: Int, _ of: Int) -> Double? { of > 0 ? Double(n) / Double(of) : nil }
            return [("delivery_rate", r(d, s)), ("bounce_rate", r(bounced(c), s)), ("hard_bounce_rate", r(count(c, "bounced_hard"), s)),
                    ("complaint_rate", r(count(c, "complained"), d)), ("open_rate", r(count(c, "opened"), d)),
                    ("click_rate", r(count(c, "clicked"), d)), ("unsubscribe_rate", r(count(c, "unsubscribed"), d))]
        }
    }

    /// Per-worker tallies of the event scan.
    struct Tally {
        var parser = JSONParser(maxDepth: 64)
        var events = 0
        var unknown = 0
        var totals = [Int](repeating: 0, count: counters.count)
        /// Day and campaign keys → slots of `dayCounts` / `campaignCounts` (counters.count each);
        /// the previous event's key is tried first (logs run in time and campaign order).
        var dayIndex: [[UInt8]: Int] = [:]
        var dayKeys: [[UInt8]] = []
        var dayCounts: [Int] = []
        var lastDay: [UInt8] = []
        var lastDaySlot = -1
        var campaignIndex: [[UInt8]: Int] = [:]
        var campaignKeys: [[UInt8]] = []
        var campaignCounts: [Int] = []
        var lastCampaignRaw: [UInt8] = []
        var lastCampaignSlot = -1
        var key: [UInt8] = []

        mutating func countDay(_ raw: UnsafeRawBufferPointer, _ index: Int) {
            let n = AccountReport.counters.count
            if lastDaySlot < 0 || !AccountReport.equal(raw, lastDay) {
                lastDay = Array(raw)
                if let s = dayIndex[lastDay] { lastDaySlot = s } else {
                    lastDaySlot = dayKeys.count
                    dayIndex[lastDay] = lastDaySlot
                    dayKeys.append(lastDay)
                    dayCounts.append(contentsOf: repeatElement(0, count: n))
                }
            }
            dayCounts[lastDaySlot * n + index] += 1
        }

        mutating func countCampaign(_ c: JSONNode, _ index: Int) {
            let n = AccountReport.counters.count
            let raw = c.rawContent
            if lastCampaignSlot < 0 || !AccountReport.equal(raw, lastCampaignRaw) {
                lastCampaignRaw = Array(raw)
                key.removeAll(keepingCapacity: true)
                c.appendDecodedString(to: &key)
                if let s = campaignIndex[key] { lastCampaignSlot = s } else {
                    lastCampaignSlot = campaignKeys.count
                    campaignIndex[key] = lastCampaignSlot
                    campaignKeys.append(key)
                    campaignCounts.append(contentsOf: repeatElement(0, count: n))
                }
            }
            campaignCounts[lastCampaignSlot * n + index] += 1
        }
    }

    static func counterIndex(type: JSONNode, bounceClass: JSONNode?) -> Int? {
        if type.stringEquals("delivered") { return 1 }
        if type.stringEquals("opened") { return 8 }
        if type.stringEquals("sent") { return 0 }
        if type.stringEquals("bounced") {
            if let b = bounceClass {
                if b.stringEquals("hard") { return 3 }
                if b.stringEquals("policy") { return 5 }
            }
            return 4
        }
        if type.stringEquals("deferred") { return 2 }
        if type.stringEquals("clicked") { return 9 }
        if type.stringEquals("complained") { return 6 }
        if type.stringEquals("unsubscribed") { return 7 }
        if type.stringEquals("failed") { return 10 }
        if type.stringEquals("suppressed") { return 11 }
        if type.stringEquals("unsuppressed") { return 12 }
        return nil
    }

    public static func build(_ options: Options) throws -> Report {
        let dir = options.state.tenant(options.tenant)
        try dir.requireExisting()
        let config = try dir.loadConfig()
        var report = Report(tenant: options.tenant.value, generatedAt: options.now.rfc3339, since: options.since?.rfc3339,
                            campaignFilter: options.campaign)
        // Contacts.
        let store = try TenantContacts.open(dir)
        var parser = JSONParser(maxDepth: 64)
        defer { parser.deallocate() }
        try store.forEach { line in
            guard let root = try? parser.parse(line).root else { return }
            report.contacts += 1
            report.byStatus[root["status"]?.string ?? "none", default: 0] += 1
            report.byVerdict[root["validation"]?["verdict"]?.string ?? "none", default: 0] += 1
            report.byLanguage[root["language"]?.string ?? "none", default: 0] += 1
            report.bySource[root["source"]?.string ?? "none", default: 0] += 1
            if let tags = root["tags"], tags.kind == .array {
                for t in tags.elements { if let s = t.string { report.byTag[s, default: 0] += 1 } }
            }
        }
        // Events.
        let sinceBytes: [UInt8]? = options.since.map { Array($0.rfc3339.utf8) }
        let campaignBytes: [UInt8]? = options.campaign.map { Array($0.utf8) }
        let n = counters.count
        let tallies = try AppendLog.parallelScan(path: dir.eventsPath, workers: options.workers, makeState: { Tally() }) { t, line in
            guard let root = try? t.parser.parse(line).root, let type = root["type"], let at = root["at"] else { return }
            let atRaw = at.rawContent
            if let sinceBytes, !lexicallyAtLeast(atRaw, sinceBytes) { return }
            let campaign = root["campaign"]
            if let campaignBytes {
                guard let c = campaign, equal(c.rawContent, campaignBytes) else { return }
            }
            guard let index = counterIndex(type: type, bounceClass: root["bounce_class"]) else { return }
            t.events += 1
            if let c = root["contact"], c.stringEquals("unknown") { t.unknown += 1 }
            t.totals[index] += 1
            if atRaw.count >= 10 { t.countDay(UnsafeRawBufferPointer(rebasing: atRaw[0..<10]), index) }
            if let c = campaign { t.countCampaign(c, index) }
        }
        for t in tallies {
            report.events += t.events
            report.unknownContactEvents += t.unknown
            for i in 0..<n { report.totals[i] += t.totals[i] }
            for (i, k) in t.dayKeys.enumerated() {
                add(&report.days[String(decoding: k, as: UTF8.self), default: [Int](repeating: 0, count: n)], Array(t.dayCounts[(i * n)..<((i + 1) * n)]))
            }
            for (i, k) in t.campaignKeys.enumerated() {
                add(&report.campaigns[String(decoding: k, as: UTF8.self), default: [Int](repeating: 0, count: n)],
                    Array(t.campaignCounts[(i * n)..<((i + 1) * n)]))
            }
            t.parser.deallocate()
        }
        // Suppression and warm-up (read without the lock: the ledger and logs are replaced or
        // appended atomically).
        if FileSystem.exists(dir.suppressionPath) {
            var emails = Set<String>()
            let length = try AppendLog.readableLength(path: dir.suppressionPath)
            for r in try AppendLog.appendRanges(path: dir.suppressionPath, length: length) {
                try AppendLog.forEachLine(path: dir.suppressionPath, range: r) { line in
                    if let e = try? parser.parse(line).root["email"]?.string { emails.insert(e) }
                }
            }
            report.suppressed = emails.count
        }
        let ledger = try Ledger.load(path: dir.ledgerPath)
        let schedule = try WarmupSchedule(config: config)
        report.lastWeek = schedule.lastWeek
        let today = options.now.date
        let yesterday = AccountWarmup.day(options.now, plus: -1)
        for name in ledger.vmtas.keys.sorted() {
            let m = ledger.vmtas[name]!
            let step = schedule.step(week: m.week)
            report.warmup.append(AccountWarmup.Row(vmta: name, week: m.week, quota: step.quota, ceiling: step.ceiling,
                                                   sentToday: m.sent[today] ?? 0, yesterdaySent: AccountWarmup.sends(m, yesterday),
                                                   yesterdayBounced: m.bounced[yesterday] ?? 0,
                                                   yesterdayRate: AccountWarmup.rate(m, days: [yesterday]), action: nil))
            report.warmupHistory[name] = [(m.started, 1)] + m.history.map { ($0.date, $0.week) }
        }
        return report
    }

    static func add(_ a: inout [Int], _ b: [Int]) { for i in 0..<a.count { a[i] += b[i] } }

    static func equal(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
        a.count == b.count && b.withUnsafeBytes { memcmp(a.baseAddress!, $0.baseAddress!, a.count) == 0 }
    }

    /// RFC 3339 UTC times of the same shape compare as text.
    static func lexicallyAtLeast(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
        let n = min(a.count, b.count)
        for i in 0..<n where a[i] != b[i] { return a[i] > b[i] }
        return a.count >= b.count
    }
}
