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
///
/// `opened` and `clicked` are recipients — unique (campaign, address) pairs, per day unique
/// (day, campaign, address) — so a contact opening five times is one open; the raw event counts
/// are `opened_events` and `clicked_events`. Opens and clicks marked `"machine": true` (privacy
/// proxies, scanners: account serve's MachineRules) are no person's: they are counted apart, as
/// events, in `opened_machine` and `clicked_machine`, and never in `opened`/`clicked`, their
/// events or the rates (as engagement and the A/B comparison). MailWizz list syncs are `synced`, never sends. A
/// day's `sends` are the sends made that day (bounces arriving later are not sends of theirs);
/// only books without any recorded send (MTA accounting alone) count delivered + bounced.
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
        /// What books the report cannot count whole (a torn events tail, a log shorter than the
        /// ledger, a lost ledger) do to it.
        public var damage: DamagePolicy

        public init(tenant: TenantSlug, state: StateRoot, now: Timestamp, since: Timestamp? = nil, campaign: String? = nil,
                    workers: Int = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), damage: DamagePolicy = .warn) {
            self.tenant = tenant
            self.state = state
            self.now = now
            self.since = since
            self.campaign = campaign
            self.workers = max(1, workers)
            self.damage = damage
        }
    }

    public enum DamagePolicy: Sendable {
        /// Count what is readable and say on standard error what is not (`account report`).
        case warn
        /// Stop with `StateDamage` (`account health`: a verdict on part of the books could be wrong).
        case fail
    }

    /// The counters of the report, in column order.
    public static let counters = ["sent", "delivered", "deferred", "bounced_hard", "bounced_soft", "bounced_policy",
                                  "complained", "unsubscribed", "opened", "clicked", "failed", "manual_suppress", "manual_unsuppress",
                                  "synced", "opened_events", "clicked_events", "opened_machine", "clicked_machine"]
    /// Where the scan counts what (`opened`/`clicked` are filled from the unique recipients after it).
    enum Slot {
        static let opened = 8, clicked = 9, synced = 13, openedEvents = 14, clickedEvents = 15
        static let openedMachine = 16, clickedMachine = 17

        /// Where a machine's open or click goes instead of a person's (other slots unchanged).
        static func machine(_ index: Int) -> Int {
            switch index {
            case openedEvents: return openedMachine
            case clickedEvents: return clickedMachine
            default: return index
            }
        }
    }

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
        /// The tenant's ceilings: a rate over one is flagged (in colour in the HTML, with ! in text).
        public var ceilings = Ceilings()
        /// The A/B comparison of split campaigns (empty when no send carried a variant).
        public var variants = VariantComparison.Result()

        public func count(_ c: [Int], _ name: String) -> Int { c[AccountReport.counters.firstIndex(of: name)!] }
        public func bounced(_ c: [Int]) -> Int { count(c, "bounced_hard") + count(c, "bounced_soft") + count(c, "bounced_policy") }
        /// Sends: the recorded ones, or delivered + bounced when none were recorded (MTA-only books).
        public func sends(_ c: [Int]) -> Int { count(c, "sent") > 0 ? count(c, "sent") : count(c, "delivered") + bounced(c) }
        /// A day's sends: those made that day. Only books without any recorded send fall back to
        /// delivered + bounced (a bounce of yesterday's mail is no send of today).
        public func daySends(_ c: [Int]) -> Int {
            count(totals, "sent") > 0 ? count(c, "sent") : count(c, "delivered") + bounced(c)
        }

        public func rates(_ c: [Int]) -> [(String, Double?)] { rates(c, sends: sends(c)) }

        /// The rates of counters `c` whose sends are `s` (a window of days passes `daySends`):
        /// delivery and bounces of sends; complaints, opens, clicks and unsubscribes of
        /// deliveries, or of sends when no delivery was recorded (direct SMTP without MTA
        /// accounting), as the A/B comparison does.
        public func rates(_ c: [Int], sends s: Int) -> [(String, Double?)] {
            let d = count(c, "delivered")
            let base = d > 0 ? d : s
            func r(_ n: Int, _ of: Int) -> Double? { of > 0 ? Double(n) / Double(of) : nil }
            return [("delivery_rate", r(d, s)), ("bounce_rate", r(bounced(c), s)), ("hard_bounce_rate", r(count(c, "bounced_hard"), s)),
                    ("complaint_rate", r(count(c, "complained"), base)), ("open_rate", r(count(c, "opened"), base)),
                    ("click_rate", r(count(c, "clicked"), base)), ("unsubscribe_rate", r(count(c, "unsubscribed"), base))]
        }

        /// The counters of the days from `first` to `last` (YYYY-MM-DD, the tenant's days), summed.
        public func sum(from first: String, to last: String) -> [Int] {
            var sum = [Int](repeating: 0, count: AccountReport.counters.count)
            for (day, c) in days where day >= first && day <= last { AccountReport.add(&sum, c) }
            return sum
        }
    }

    /// Per-worker tallies of the event scan.
    struct Tally {
        var parser = JSONParser(maxDepth: 64)
        var events = 0
        var unknown = 0
        var totals = [Int](repeating: 0, count: counters.count)
        /// Counters per day and per campaign; the previous event's key is tried first (logs run
        /// in time and campaign order).
        var days = KeyedCounts()
        var campaigns = KeyedCounts()
        /// Opens and clicks as (kind, day, campaign, recipient): unique recipients are counted from them.
        var touches = Set<Touch>()
        /// The tenant's time zone, nil for UTC (an event's day is then its time's first ten bytes).
        let zone: ZoneInfo?
        /// The last local day worked out, valid for its quarter hour of UTC (zone offsets and
        /// their changes fall on quarter hours).
        var dayQuarter: Int64 = .min
        var dayBytes: [UInt8] = []

        init(zone: ZoneInfo?) { self.zone = zone }

        mutating func touch(_ index: Int, day: [UInt8], campaign: [UInt8]?, email: UnsafeRawBufferPointer) {
            touches.insert(Touch(click: index == Slot.clickedEvents, day: day, campaign: campaign, email: EmailKey.hash(email)))
        }

        /// Counts `index` on the tenant's day of the event time `at`; returns that day for opens
        /// and clicks (their unique recipients are counted per day).
        mutating func countDay(at: UnsafeRawBufferPointer, _ index: Int) -> [UInt8]? {
            let wanted = index == Slot.openedEvents || index == Slot.clickedEvents
            guard let zone else {
                guard at.count >= 10 else { return nil }
                let day = UnsafeRawBufferPointer(rebasing: at[0..<10])
                countDay(day, index)
                return wanted ? Array(day) : nil
            }
            guard let seconds = AccountReport.seconds(at) else { return nil }
            let quarter = seconds >= 0 ? seconds / 900 : .min
            if quarter != dayQuarter || quarter == .min {
                dayQuarter = quarter
                dayBytes = Array(zone.date(Timestamp(seconds: seconds)).utf8)
            }
            let day = dayBytes
            day.withUnsafeBytes { countDay($0, index) }
            return wanted ? day : nil
        }

        mutating func countDay(_ raw: UnsafeRawBufferPointer, _ index: Int) {
            days.count(raw: raw, index) { Array($0) }
        }

        /// `countCampaign` for a plain (unescaped) string's bytes.
        mutating func countCampaign(raw: UnsafeRawBufferPointer, _ index: Int) {
            campaigns.count(raw: raw, index) { Array($0) }
        }

        mutating func countCampaign(_ c: JSONNode, _ index: Int) {
            campaigns.count(raw: c.rawContent, index) { _ in
                var key: [UInt8] = []
                c.appendDecodedString(to: &key)
                return key
            }
        }
    }

    /// Unix seconds of an event time: `YYYY-MM-DDTHH:MM:SSZ` (as `account` writes it) read from
    /// its bytes, any other form parsed.
    static func seconds(_ at: UnsafeRawBufferPointer) -> Int64? {
        if at.count == 20 && at[4] == 0x2D && at[7] == 0x2D && at[10] == 0x54 && at[13] == 0x3A && at[16] == 0x3A && at[19] == 0x5A {
            func number(_ from: Int, _ count: Int) -> Int64? {
                var v: Int64 = 0
                for k in from..<(from + count) {
                    let d = at[k] &- 0x30
                    guard d < 10 else { return nil }
                    v = v * 10 + Int64(d)
                }
                return v
            }
            if let y = number(0, 4), let mo = number(5, 2), let d = number(8, 2), let h = number(11, 2), let mi = number(14, 2),
               let s = number(17, 2) {
                return Timestamp.days(fromCivil: y, mo, d) * 86_400 + h * 3_600 + mi * 60 + s
            }
        }
        return Timestamp(parsing: String(decoding: at, as: UTF8.self))?.seconds
    }

    /// One recipient's open or click of a campaign on a day.
    struct Touch: Hashable {
        var click: Bool
        var day: [UInt8]
        var campaign: [UInt8]?
        var email: UInt64
    }

    /// Counters (`counters.count` a key) for byte keys, keys in first-seen order.
    struct KeyedCounts {
        var index: [[UInt8]: Int] = [:]
        var keys: [[UInt8]] = []
        var counts: [Int] = []
        private var lastRaw: [UInt8] = []
        private var lastSlot = -1

        /// Counts `counter` for the key whose raw text is `raw` (`decode` gives the key from it).
        @inline(__always)
        mutating func count(raw: UnsafeRawBufferPointer, _ counter: Int, decode: (UnsafeRawBufferPointer) -> [UInt8]) {
            let n = AccountReport.counters.count
            if lastSlot < 0 || !AccountReport.equal(raw, lastRaw) {
                lastRaw = Array(raw)
                let key = decode(raw)
                if let s = index[key] { lastSlot = s } else {
                    lastSlot = keys.count
                    index[key] = lastSlot
                    keys.append(key)
                    counts.append(contentsOf: repeatElement(0, count: n))
                }
            }
            counts[lastSlot * n + counter] += 1
        }

        func add(into totals: inout [String: [Int]]) {
            let n = AccountReport.counters.count
            for (i, k) in keys.enumerated() {
                AccountReport.add(&totals[String(decoding: k, as: UTF8.self), default: [Int](repeating: 0, count: n)],
                                  Array(counts[(i * n)..<((i + 1) * n)]))
            }
        }
    }

    /// `counterIndex` for plain (unescaped) string bytes.
    static func counterIndex(type: UnsafeRawBufferPointer, bounceClass: UnsafeRawBufferPointer?) -> Int? {
        func eq(_ b: UnsafeRawBufferPointer, _ s: StaticString) -> Bool { FlatEvent.equals(b, s) }
        if eq(type, "delivered") { return 1 }
        if eq(type, "opened") { return Slot.openedEvents }
        if eq(type, "sent") { return 0 }
        if eq(type, "bounced") {
            if let b = bounceClass {
                if eq(b, "hard") { return 3 }
                if eq(b, "policy") { return 5 }
            }
            return 4
        }
        if eq(type, "deferred") { return 2 }
        if eq(type, "clicked") { return Slot.clickedEvents }
        if eq(type, "synced") { return Slot.synced }
        if eq(type, "complained") { return 6 }
        if eq(type, "unsubscribed") { return 7 }
        if eq(type, "failed") { return 10 }
        if eq(type, "suppressed") { return 11 }
        if eq(type, "unsuppressed") { return 12 }
        return nil
    }

    static func counterIndex(type: JSONNode, bounceClass: JSONNode?) -> Int? {
        if type.stringEquals("delivered") { return 1 }
        if type.stringEquals("opened") { return Slot.openedEvents }
        if type.stringEquals("sent") { return 0 }
        if type.stringEquals("bounced") {
            if let b = bounceClass {
                if b.stringEquals("hard") { return 3 }
                if b.stringEquals("policy") { return 5 }
            }
            return 4
        }
        if type.stringEquals("deferred") { return 2 }
        if type.stringEquals("clicked") { return Slot.clickedEvents }
        if type.stringEquals("synced") { return Slot.synced }
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
        let ledger = try Ledger.load(path: dir.ledgerPath)
        try checkDamage(dir, ledger: ledger, policy: options.damage)
        // Contacts, on a thread of their own while the event log is read on the others.
        let store = try TenantContacts.open(dir)
        var parser = JSONParser(maxDepth: 64)
        defer { parser.deallocate() }
        let contactSide = ContactSide()
        // A thread of its own beside the event scan's workers.
        let contactsDone = try SideThread {
            var p = JSONParser(maxDepth: 64)
            defer { p.deallocate() }
            do {
                try store.forEach { line in
                    guard let root = try? p.parse(line).root else { return }
                    contactSide.tally.add(root)
                }
            } catch {
                contactSide.error = error
            }
        }
        // Events.
        let sinceBytes: [UInt8]? = options.since.map { Array($0.rfc3339.utf8) }
        let campaignBytes: [UInt8]? = options.campaign.map { Array($0.utf8) }
        let n = counters.count
        // Days are the tenant's (tenant.json `timezone`), as in the ledger.
        let localZone: ZoneInfo? = config.timezone.isUTC ? nil : config.timezone
        let scanned: [Tally]
        do {
            scanned = try AppendLog.parallelScan(path: dir.eventsPath, workers: options.workers, makeState: { Tally(zone: localZone) }) { t, line in
                // Lines as `account` writes them (flat, plain ASCII strings) are read without the
                // parser; anything else goes the general way below, with the same result. (A
                // machine's open or click carries `"machine": true`, no string: never flat.)
                var flat = FlatEvent()
                if FlatEvent.scan(line, into: &flat) {
                    guard flat.type.lowerBound >= 0, flat.at.lowerBound >= 0 else { return }
                    let type = UnsafeRawBufferPointer(rebasing: line[flat.type])
                    let atRaw = UnsafeRawBufferPointer(rebasing: line[flat.at])
                    if let sinceBytes, !lexicallyAtLeast(atRaw, sinceBytes) { return }
                    let campaign = flat.campaign.lowerBound >= 0 ? UnsafeRawBufferPointer(rebasing: line[flat.campaign]) : nil
                    if let campaignBytes {
                        guard let c = campaign, equal(c, campaignBytes) else { return }
                    }
                    let bounce = flat.bounceClass.lowerBound >= 0 ? UnsafeRawBufferPointer(rebasing: line[flat.bounceClass]) : nil
                    guard let index = counterIndex(type: type, bounceClass: bounce) else { return }
                    t.events += 1
                    if flat.contact.lowerBound >= 0 && FlatEvent.equals(UnsafeRawBufferPointer(rebasing: line[flat.contact]), "unknown") { t.unknown += 1 }
                    t.totals[index] += 1
                    let day = t.countDay(at: atRaw, index)
                    if let c = campaign { t.countCampaign(raw: c, index) }
                    if let day, flat.email.lowerBound >= 0 {
                        t.touch(index, day: day, campaign: campaign.map { Array($0) }, email: UnsafeRawBufferPointer(rebasing: line[flat.email]))
                    }
                    return
                }
                guard let root = try? t.parser.parse(line).root, root.kind == .object else { return }
                // The members the report reads, in one pass (the first of each name counts).
                var type: JSONNode? = nil, at: JSONNode? = nil, campaign: JSONNode? = nil
                var bounceClass: JSONNode? = nil, contact: JSONNode? = nil, email: JSONNode? = nil, machine: JSONNode? = nil
                for (k, v) in root.members {
                    let n = k.isEscaped ? -1 : k.rawContent.count
                    if (n == 4 || n < 0) && type == nil && k.stringEquals("type") { type = v }
                    else if (n == 2 || n < 0) && at == nil && k.stringEquals("at") { at = v }
                    else if (n == 8 || n < 0) && campaign == nil && k.stringEquals("campaign") { campaign = v }
                    else if (n == 12 || n < 0) && bounceClass == nil && k.stringEquals("bounce_class") { bounceClass = v }
                    else if (n == 7 || n < 0) && contact == nil && k.stringEquals("contact") { contact = v }
                    else if (n == 5 || n < 0) && email == nil && k.stringEquals("email") { email = v }
                    else if (n == 7 || n < 0) && machine == nil && k.stringEquals("machine") { machine = v }
                }
                guard let type, let at else { return }
                let atRaw = at.rawContent
                if let sinceBytes, !lexicallyAtLeast(atRaw, sinceBytes) { return }
                if let campaignBytes {
                    guard let c = campaign, equal(c.rawContent, campaignBytes) else { return }
                }
                guard var index = counterIndex(type: type, bounceClass: bounceClass) else { return }
                if machine?.bool == true { index = Slot.machine(index) }
                t.events += 1
                if let c = contact, c.stringEquals("unknown") { t.unknown += 1 }
                t.totals[index] += 1
                let day = t.countDay(at: atRaw, index)
                if let c = campaign { t.countCampaign(c, index) }
                if let day, let email {
                    var name: [UInt8]? = nil
                    if let c = campaign { name = []; c.appendDecodedString(to: &name!) }
                    var address: [UInt8] = []
                    email.appendDecodedString(to: &address)
                    address.withUnsafeBytes { t.touch(index, day: day, campaign: name, email: $0) }
                }
            }
        } catch {
            contactsDone.wait()
            throw error
        }
        contactsDone.wait()
        if let e = contactSide.error { throw e }
        contactSide.tally.finish(into: &report)
        let tallies = scanned
        var touches = Set<Touch>()
        for t in tallies {
            report.events += t.events
            report.unknownContactEvents += t.unknown
            for i in 0..<n { report.totals[i] += t.totals[i] }
            t.days.add(into: &report.days)
            t.campaigns.add(into: &report.campaigns)
            touches.formUnion(t.touches)
            t.parser.deallocate()
        }
        // Unique recipients: per day (day, campaign, address); per campaign and in total
        // (campaign, address).
        var perCampaign = Set<Touch>()
        for touch in touches {
            let slot = touch.click ? Slot.clicked : Slot.opened
            report.days[String(decoding: touch.day, as: UTF8.self)]?[slot] += 1
            guard perCampaign.insert(Touch(click: touch.click, day: [], campaign: touch.campaign, email: touch.email)).inserted else { continue }
            report.totals[slot] += 1
            if let c = touch.campaign { report.campaigns[String(decoding: c, as: UTF8.self)]?[slot] += 1 }
        }
        // Suppression and warm-up (read without the lock: the ledger and logs are replaced or
        // appended atomically).
        // Who may not be mailed, as segment and inject see it: the list and what logged events
        // add to it that it does not show yet (an interrupted or running account events).
        report.suppressed = try MailPolicy.load(dir).suppressedCount
        report.variants = try VariantComparison.build(eventsPath: dir.eventsPath, campaign: options.campaign, since: options.since)
        let schedule = config.warmup
        report.lastWeek = schedule.lastWeek
        report.ceilings = Ceilings(config: config, schedule: schedule)
        let book = WarmupBook(config: config, now: options.now)
        for name in ledger.vmtas.keys.sorted() {
            let m = ledger.vmtas[name]!
            report.warmup.append(book.view(name, m))
            report.warmupHistory[name] = [(m.started, 1)] + m.history.map { ($0.date, $0.week) }
        }
        return report
    }

    /// The report counts the sealed part of the event log and shows the ledger's warm-up: what
    /// they lack, a warning says (naming the file), rather than figures that look whole; under
    /// `.fail` it is `StateDamage` instead.
    static func checkDamage(_ dir: TenantDirectory, ledger: Ledger, policy: DamagePolicy) throws {
        // The size first: an append landing meanwhile (account serve, an import beside this
        // reader) then only adds sealed bytes, where the other order took it for a torn tail.
        let size = FileSystem.entryExists(dir.eventsPath) ? try FileSystem.fileSize(dir.eventsPath) : 0
        let sealed = try AppendLog.readableLength(path: dir.eventsPath)
        let fsck = "account fsck --tenant \(dir.slug.value)"
        func found(_ file: String, _ problem: String, _ consequence: String) throws {
            switch policy {
            case .warn: StateWarning.emit("\(file): \(problem)\(consequence)")
            case .fail: throw StateDamage(file: file, problem: problem, repair: .fsck)
            }
        }
        if size > sealed {
            try found(dir.eventsPath, "\(size - sealed) bytes after the last sealed append (torn or damaged)", " are not counted (\(fsck) says which)")
        }
        if sealed < ledger.eventsLength {
            try found(dir.eventsPath, "shorter than the ledger says (\(sealed) < \(ledger.eventsLength)): events were lost",
                      " and are not counted (\(fsck) says which)")
        }
        if sealed > 0 && !FileSystem.entryExists(dir.ledgerPath) {
            try found(dir.ledgerPath, "missing", "; no warm-up shown (the next account command recounts it from the events)")
        }
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

/// Counts of byte texts (contact statuses, languages, tags…): Strings are made once per
/// distinct text, not per contact.
struct RawTally {
    private var keys: [[UInt8]] = []
    private var counts: [Int] = []
    private var slots: [[UInt8]: Int] = [:]
    private var scratch: [UInt8] = []
    static let none: [UInt8] = Array("none".utf8)

    /// A string node's decoded text; anything else (absent, not a string) counts as "none".
    mutating func add(_ node: JSONNode?) {
        guard let node, node.kind == .string else { Self.none.withUnsafeBytes { add(bytes: $0) }; return }
        if node.isEscaped {
            scratch.removeAll(keepingCapacity: true)
            node.appendDecodedString(to: &scratch)
            let copy = scratch
            copy.withUnsafeBytes { add(bytes: $0) }
        } else {
            add(bytes: node.rawContent)
        }
    }

    /// A string element (tags): nothing for other kinds.
    mutating func addString(_ node: JSONNode) {
        guard node.kind == .string else { return }
        add(node)
    }

    mutating func add(bytes: UnsafeRawBufferPointer) {
        if keys.count <= 32 {
            for i in 0..<keys.count where keys[i].count == bytes.count
                && (bytes.count == 0 || keys[i].withUnsafeBytes { memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) {
                counts[i] += 1
                return
            }
            if keys.count < 32 {
                keys.append(Array(bytes))
                counts.append(1)
                return
            }
            for (i, k) in keys.enumerated() { slots[k] = i }
        }
        let key = Array(bytes)
        if let i = slots[key] { counts[i] += 1; return }
        slots[key] = keys.count
        keys.append(key)
        counts.append(1)
    }

    func finish(into dict: inout [String: Int]) {
        for (i, k) in keys.enumerated() { dict[String(decoding: k, as: UTF8.self), default: 0] += counts[i] }
    }
}

/// The contact tally and its error, filled on one thread and read after it is done.
final class ContactSide: @unchecked Sendable {
    var tally = ContactTally()
    var error: Error? = nil
}

/// The contact side of a report.
struct ContactTally {
    var contacts = 0
    var status = RawTally(), verdict = RawTally(), language = RawTally(), source = RawTally(), tag = RawTally()

    mutating func add(_ root: JSONNode) {
        contacts += 1
        guard root.kind == .object else {
            status.add(nil); verdict.add(nil); language.add(nil); source.add(nil)
            return
        }
        var st: JSONNode? = nil, va: JSONNode? = nil, la: JSONNode? = nil, so: JSONNode? = nil, ta: JSONNode? = nil
        for (k, v) in root.members {
            let n = k.isEscaped ? -1 : k.rawContent.count
            if (n == 6 || n < 0) && st == nil && k.stringEquals("status") { st = v }
            else if (n == 10 || n < 0) && va == nil && k.stringEquals("validation") { va = v }
            else if (n == 8 || n < 0) && la == nil && k.stringEquals("language") { la = v }
            else if (n == 6 || n < 0) && so == nil && k.stringEquals("source") { so = v }
            else if (n == 4 || n < 0) && ta == nil && k.stringEquals("tags") { ta = v }
        }
        status.add(st)
        verdict.add(va?["verdict"])
        language.add(la)
        source.add(so)
        if let ta, ta.kind == .array {
            for t in ta.elements { tag.addString(t) }
        }
    }

    func finish(into report: inout AccountReport.Report) {
        report.contacts += contacts
        status.finish(into: &report.byStatus)
        verdict.finish(into: &report.byVerdict)
        language.finish(into: &report.byLanguage)
        source.finish(into: &report.bySource)
        tag.finish(into: &report.byTag)
    }
}

/// The members a report reads from an event line in the shape `account` writes it: one flat
/// object whose keys and values are all strings of printable ASCII without escapes, with no
/// spaces between tokens. Such a line is valid JSON and means exactly what the parser would
/// make of it; `scan` refuses (false) any other line, which is then parsed.
struct FlatEvent {
    var type = -1..<(-1)
    var at = -1..<(-1)
    var campaign = -1..<(-1)
    var bounceClass = -1..<(-1)
    var contact = -1..<(-1)
    var email = -1..<(-1)

    @inline(__always) static func plain(_ b: UInt8) -> Bool { b >= 0x20 && b < 0x7F && b != 0x22 && b != 0x5C }

    @inline(__always) static func equals(_ b: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        b.count == s.utf8CodeUnitCount && (b.count == 0 || memcmp(b.baseAddress!, s.utf8Start, b.count) == 0)
    }

    /// Fills the ranges (first occurrence of each name; -1 when absent).
    @inline(__always)
    static func scan(_ line: UnsafeRawBufferPointer, into f: inout FlatEvent) -> Bool {
        let n = line.count
        guard n >= 2, line[0] == UInt8(ascii: "{"), line[n - 1] == UInt8(ascii: "}") else { return false }
        if n == 2 { return true }
        var i = 1
        while true {
            guard line[i] == 0x22 else { return false }
            let ks = i + 1
            i = ks
            while i < n && plain(line[i]) { i += 1 }
            guard i + 2 < n, line[i] == 0x22, line[i + 1] == UInt8(ascii: ":"), line[i + 2] == 0x22 else { return false }
            let ke = i
            let vs = i + 3
            i = vs
            while i < n && plain(line[i]) { i += 1 }
            guard i + 1 < n, line[i] == 0x22 else { return false }
            let value = vs..<i
            i += 1
            let key = UnsafeRawBufferPointer(rebasing: line[ks..<ke])
            switch key.count {
            case 4: if f.type.lowerBound < 0 && equals(key, "type") { f.type = value }
            case 2: if f.at.lowerBound < 0 && equals(key, "at") { f.at = value }
            case 8: if f.campaign.lowerBound < 0 && equals(key, "campaign") { f.campaign = value }
            case 12: if f.bounceClass.lowerBound < 0 && equals(key, "bounce_class") { f.bounceClass = value }
            case 7: if f.contact.lowerBound < 0 && equals(key, "contact") { f.contact = value }
            case 5: if f.email.lowerBound < 0 && equals(key, "email") { f.email = value }
            default: break
            }
            if line[i] == UInt8(ascii: ",") { i += 1; continue }
            return i == n - 1  // the closing brace
        }
    }
}
