import CCurl
import MailpipeCore
import MailpipeCurl
import MailpipeStore

/// `inject`: records in, one outcome record per input record out, delivered through libcurl's
/// multi interface from one thread (`--concurrency` transfers at a time, `--rate` starts per
/// second), with retries on transient failures and an idempotency journal per tenant, channel
/// and campaign.
public enum InjectStage {
    public struct Options {
        public var stream: StreamOptions
        public var state: StateRoot
        public var tenant: TenantSlug?
        /// Pinned clock (outcome `at`, Date headers); nil = the real clock.
        public var now: Timestamp?
        public var campaign: String?
        public var concurrency: Int
        /// Transfers started per second at most (nil = unlimited).
        public var rate: Double?
        public var maxAttempts: Int
        /// First retry delay in seconds; doubles per attempt up to `backoffMax`, with jitter.
        public var backoffBase: Double
        public var backoffMax: Double
        /// Seconds between fdatasyncs of the journal, done on a background thread (0 = synchronously
        /// after every batch). Writes themselves happen before anything new starts, whatever this is.
        public var journalSyncInterval: Double = 0.1
        /// Try again records the journal says failed for good (`--retry-failed`).
        public var retryFailed = false
        /// `--replay FILE`: send a dead-letter file's records again (implies `retryFailed`).
        public var replay: String?
        /// Send window and --not-before.
        public var schedule = SendSchedule()
        /// Seconds between looks at the pause switches.
        public var pauseCheckInterval: Double = 0.2

        public init(stream: StreamOptions, state: StateRoot, tenant: TenantSlug? = nil, now: Timestamp? = nil,
                    campaign: String? = nil, concurrency: Int = 4, rate: Double? = nil, maxAttempts: Int = 5,
                    backoffBase: Double = 0.5, backoffMax: Double = 30) {
            self.stream = stream; self.state = state; self.tenant = tenant; self.now = now; self.campaign = campaign
            self.concurrency = concurrency; self.rate = rate; self.maxAttempts = maxAttempts
            self.backoffBase = backoffBase; self.backoffMax = backoffMax
        }
    }

    public static func run(_ options: Options, channel: InjectChannel, output: inout OutputSink) throws -> (Summary, ExitStatus) {
        var options = options
        var replaying: String? = nil
        if let file = options.replay {
            replaying = try takeForReplay(file)
            options.stream.inputs = [replaying!]
            options.retryFailed = true
        }
        let rejects = try RejectSink(stage: options.stream.stage, path: options.stream.rejectsPath)
        var stream = try RecordStream(options: options.stream, rejects: rejects)
        defer { stream.close() }
        var engine = try Engine(options: options, channel: channel, rejects: rejects)
        try engine.run(&stream, &output)
        try output.flush()
        // Every record of the replayed file has its outcome (what failed again is in a fresh
        // dead-letter file): the file is done with.
        if let replaying { try FileSystem.remove(replaying) }
        var summary = Summary(stage: options.stream.stage,
                              headline: ["in", "sent", "deferred", "failed", "skipped", "resent", "rejected"])
        if engine.pausedOut > 0 { summary.notes.append("\(options.stream.stage): \(engine.pausedOut) deferred: campaign paused (a run after `inject resume` sends them)") }
        if engine.windowOut > 0 { summary.notes.append("\(options.stream.stage): \(engine.windowOut) deferred: outside the send window or before --not-before") }
        summary["in"] = stream.linesIn
        for (name, value) in engine.counts { summary[name] = value }
        summary["rejected"] = rejects.count
        summary.setGroup("reject_reasons", rejects.reasons)
        try rejects.finish()
        let status: ExitStatus = options.stream.strict && rejects.count > 0 ? .rejectsUnderStrict : .success
        return (summary, status)
    }
}

extension InjectStage {
    /// Moves a dead-letter file aside (`FILE.replaying`) so that the records failing again go to
    /// a fresh one instead of the file being read; an interrupted replay's file is taken up again.
    /// A dead-letter file with its seal beside it is checked first (a cut or changed file is
    /// `StateDamage`, not a replay of what is left); the seal is removed before the move, so no
    /// instant leaves a seal without its file.
    static func takeForReplay(_ file: String) throws -> String {
        let aside = file + ".replaying"
        if FileSystem.exists(aside) {
            guard !FileSystem.exists(file) else {
                throw StageError.usage("\(aside) is left from an interrupted replay: replay it first (--replay \(aside))")
            }
            return aside
        }
        if file.hasSuffix(".replaying") {
            guard FileSystem.exists(file) else { throw StageError.usage("\(file): no such file") }
            return file
        }
        let seal = SealedLines.sealPath(file)
        if FileSystem.entryExists(seal) {
            _ = try SealedLines.read(path: file)
            try FileSystem.remove(seal)
        }
        guard FileSystem.exists(file) else { throw StageError.usage("\(file): no such file") }
        try FileSystem.rename(file, to: aside)
        return aside
    }
}

/// The multi loop.
struct Engine {
    let options: InjectStage.Options
    let channel: InjectChannel
    let rejects: RejectSink
    let transport: Transport
    var idle: [Int]
    var running: [Int: Job] = [:]
    var ready: [Job] = []
    var waiting: [Job] = []           // retries, each with its notBefore
    /// Unfinished records per tenant and address, oldest first. A job waits in `blocked` while an
    /// earlier record for one of its addresses sits in another job, so records for one address
    /// keep their input order (an unsubscribe never overtakes the create it follows).
    var unfinished: [String: [Int]] = [:]
    var blocked: [Job] = []
    var tenants: [String: TenantContext] = [:]
    var journalsToSync: [ObjectIdentifier: Journal] = [:]
    var pendingOut: [Int: [UInt8]] = [:]
    var nextSeq = 0
    var nextEmit = 0
    var inputDone = false
    var counts: [(String, Int)] = [("sent", 0), ("deferred", 0), ("failed", 0), ("skipped", 0), ("resent", 0)]
    var tokens: Double
    var lastRefill = monotonicNow()
    var rng = SystemRandomNumberGenerator()
    /// `--tenant`: every record's tenant must be it.
    let tenantCheck: TenantCheck?
    /// Records read ahead of the oldest unfinished one, at most.
    let window: Int
    /// Jobs prepared ahead while every slot is busy.
    let lookahead: Int
    /// Pause switches per tenant and campaign: (paused, monotonic time looked at).
    var pauses: [String: (paused: Bool, checked: Double)] = [:]
    let zones = ZoneCache()
    var pausedOut = 0
    var windowOut = 0

    init(options: InjectStage.Options, channel: InjectChannel, rejects: RejectSink) throws {
        self.options = options
        self.channel = channel
        self.rejects = rejects
        tenantCheck = options.tenant.map { TenantCheck(expected: $0.value) }
        let n = max(1, options.concurrency)
        transport = try channel.transport(connections: n) ?? MultiTransport(channel: channel, connections: n)
        idle = Array((0..<transport.slotCount).reversed())
        tokens = Double(max(1, min(n, Int(options.rate ?? 1))))
        window = max(20_000, n * 64)
        lookahead = min(transport.slotCount, 32)
    }

    mutating func count(_ name: String) {
        if let i = counts.firstIndex(where: { $0.0 == name }) { counts[i].1 += 1 } else { counts.append((name, 1)) }
    }

    var nowText: String { (options.now ?? .current()).rfc3339 }

    // MARK: input

    mutating func tenantContext(_ name: String) throws -> TenantContext {
        if let t = tenants[name] { return t }
        let slug = try TenantSlug(name)
        let dir = options.state.tenant(slug)
        let ctx = try TenantContext(slug: slug, directory: dir, config: try dir.loadConfig())
        tenants[name] = ctx
        return ctx
    }

    mutating func journal(_ ctx: TenantContext, campaign: String) throws -> Journal {
        if let j = ctx.journals[campaign] { return j }
        let stage = options.stream.stage
        let j = try Journal(tenant: ctx.directory, channel: channel.name, campaign: campaign) { message in
            try? FileDescriptor.standardError.writeAll("\(stage): warning: \(message)\n")
        }
        j.syncInterval = options.journalSyncInterval
        ctx.journals[campaign] = j
        return j
    }

    /// Reads one record; false at the end of the input.
    mutating func pull(_ stream: inout RecordStream) throws -> Bool {
        guard let record = try stream.next() else { return false }
        guard let emailNode = record["email"], let rawEmail = emailNode.string, !rawEmail.isEmpty else {
            rejects.reject(.missingEmail, "a record needs an email string", origin: record.origin, record: record.bytes)
            return true
        }
        let email = EmailKey.normalize(rawEmail)
        if let refusal = TenantCheck.refusal(record["tenant"], against: tenantCheck) {
            rejects.reject(refusal, origin: record.origin, record: record.bytes)
            return true
        }
        let tenantName = record.string("tenant") ?? options.tenant?.value
        guard let tenantName else {
            rejects.reject(.missingTenant, "no tenant in the record and no --tenant", origin: record.origin, record: record.bytes)
            return true
        }
        let ctx: TenantContext
        do { ctx = try tenantContext(tenantName) } catch let error as StageError {
            if case .configuration = error, tenants.isEmpty, options.tenant != nil { throw error }
            rejects.reject(.unknownTenant, "\(error)", origin: record.origin, record: record.bytes)
            return true
        }
        var campaign = record["campaign"]?.string ?? options.campaign
        if campaign == nil { campaign = try channel.defaultCampaign(tenant: ctx) }
        guard let campaign, !campaign.isEmpty else {
            rejects.reject(.missingCampaign, "no campaign in the record and no --campaign", origin: record.origin, record: record.bytes)
            return true
        }
        if let why = Journal.campaignProblem(campaign) {
            rejects.reject(.invalidCampaign, why, origin: record.origin, record: record.bytes)
            return true
        }
        let journal = try journal(ctx, campaign: campaign)
        var item = Item(seq: nextSeq, tenant: tenantName, email: email, campaign: campaign, journal: journal)
        item.bytes = deadLetterBytes(record, tenant: tenantName, campaign: campaign)
        // The tenant's policy, at send time: a suppressed or non-contactable address is never sent
        // (MailWizz gets its unsubscribe pushed instead).
        try ctx.refreshPolicy()
        let status = record.string("status") ?? record["contact"]?["status"]?.string
        if case .refused(let why) = ctx.policy.decide(emailHash: EmailKey.hash(email), status: status) {
            guard channel.pushesRefusals else {
                nextSeq += 1
                emit(item, .skipped(code: nil, remoteID: nil, "suppressed: \(why)", .suppressed))
                return true
            }
            item.refusal = why
        }
        item.action = channel.action(for: item)
        item.variant = record.string("variant")
        switch journal.state(of: email) {
        case .sent(let code, let remoteID, let vmta, let action)? where action == item.action || (action == nil && item.action == channel.defaultAction):
            nextSeq += 1
            item.vmta = vmta
            emit(item, .skipped(code: code, remoteID: remoteID, "already sent (journal)", .alreadySent))
            return true
        case .failed(let code, let error)? where !options.retryFailed:
            nextSeq += 1
            emit(item, .skipped(code: code, remoteID: nil, "failed for good before: \(error ?? "") (--retry-failed tries again)", .failedBefore))
            return true
        case .begun?:
            item.resent = true
        default:
            break
        }
        // A pause or a send window holds sends; an unsubscribe pushed to MailWizz is never held.
        if item.refusal == nil, isPaused(ctx, campaign: campaign) {
            nextSeq += 1
            pausedOut += 1
            emit(item, .deferred(code: nil, "paused: \(PauseSwitch.path(ctx.directory, campaign: campaign)) is there", .paused))
            return true
        }
        if item.refusal == nil, let opening = scheduled(record, tenant: ctx) {
            nextSeq += 1
            windowOut += 1
            var outcome = Outcome.deferred(code: nil, opening.reason, .scheduled)
            outcome.notBefore = opening.at
            emit(item, outcome)
            return true
        }
        let intake: Intake
        do { intake = try channel.intake(record, item: item, tenant: ctx) } catch let error as Mime.Failure {
            rejects.reject(.invalidMessage, "\(error)", origin: record.origin, record: record.bytes)
            return true
        } catch let error as RecordRefusal {
            rejects.reject(error, origin: record.origin, record: record.bytes)
            return true
        }
        nextSeq += 1
        switch intake {
        case .outcome(let outcome): emit(item, outcome)
        case .job(let job): track(item); enqueue(job)
        case .held: track(item)
        }
        return true
    }

    // MARK: schedule and pause

    /// When the record may not leave yet: the instant it may, and why.
    mutating func scheduled(_ record: Record, tenant ctx: TenantContext) -> (at: Timestamp, reason: String)? {
        let schedule = options.schedule
        guard !schedule.isEmpty else { return nil }
        let now = options.now ?? .current()
        var result: (at: Timestamp, reason: String)? = nil
        if let notBefore = schedule.notBefore, now < notBefore {
            result = (notBefore, "not before \(notBefore.rfc3339) (--not-before)")
        }
        if let window = schedule.window {
            var zone = ctx.config.timezone
            if schedule.windowLocal, let own = zones.zone(of: record["contact"] ?? record.root) { zone = own }
            // The window is judged at the later of now and --not-before.
            let from = max(now, result?.at ?? now)
            if let opening = window.nextOpening(after: from, zone: zone) {
                result = (opening, "outside the send window \(window) (\(zone.name)); opens \(opening.rfc3339)")
            }
        }
        return result
    }

    /// Whether the campaign's pause switch (or the tenant's) is on, looked at every
    /// `pauseCheckInterval` seconds at most.
    mutating func isPaused(_ ctx: TenantContext, campaign: String) -> Bool {
        let key = ctx.slug.value + "\u{0}" + campaign
        let now = monotonicNow()
        if let known = pauses[key], now - known.checked < options.pauseCheckInterval { return known.paused }
        let paused = PauseSwitch.isPaused(ctx.directory, campaign: campaign)
        pauses[key] = (paused, now)
        return paused
    }

    /// Jobs of paused campaigns that have not started end as `deferred`.
    mutating func deferPaused() {
        var queues = [ready, waiting, blocked]
        var stopped: [(Job, TenantContext)] = []
        for q in queues.indices {
            queues[q] = queues[q].filter { job in
                guard let first = job.items.first, let ctx = tenants[first.tenant], isPaused(ctx, campaign: first.campaign) else { return true }
                stopped.append((job, ctx))
                return false
            }
        }
        guard !stopped.isEmpty else { return }
        ready = queues[0]; waiting = queues[1]; blocked = queues[2]
        for (job, ctx) in stopped {
            for item in job.items {
                pausedOut += 1
                emit(item, .deferred(code: nil, "paused: \(PauseSwitch.path(ctx.directory, campaign: item.campaign)) is there", .paused))
                channel.released(item, tenant: ctx)
                finished(item)
            }
        }
        unblock()
    }

    // MARK: order per address

    static func addressKey(_ item: Item) -> String { item.tenant + "\u{0}" + item.email }

    mutating func track(_ item: Item) {
        unfinished[Engine.addressKey(item), default: []].append(item.seq)
    }

    mutating func finished(_ item: Item) {
        let key = Engine.addressKey(item)
        guard var seqs = unfinished[key], let i = seqs.firstIndex(of: item.seq) else { return }
        seqs.remove(at: i)
        unfinished[key] = seqs.isEmpty ? nil : seqs
    }

    /// True when no item of the job has an earlier unfinished record in another job.
    func mayStart(_ job: Job) -> Bool {
        for item in job.items {
            guard let seqs = unfinished[Engine.addressKey(item)], seqs.first != item.seq else { continue }
            for seq in seqs {
                if seq >= item.seq { break }
                if !job.items.contains(where: { $0.seq == seq }) { return false }
            }
        }
        return true
    }

    mutating func enqueue(_ job: Job) {
        if mayStart(job) { ready.append(job) } else { blocked.append(job) }
    }

    mutating func unblock() {
        guard !blocked.isEmpty else { return }
        var keep: [Job] = []
        for job in blocked { if mayStart(job) { ready.append(job) } else { keep.append(job) } }
        blocked = keep
    }

    // MARK: outcomes

    mutating func emit(_ item: Item, _ outcome: Outcome) {
        var b = ByteBuffer(capacity: 256)
        var w = JSONLine(&b)
        w.string("tenant", item.tenant, &b)
        w.string("email", item.email, &b)
        w.string("campaign", item.campaign, &b)
        if let variant = item.variant { w.string("variant", variant, &b) }
        w.string("channel", channel.name, &b)
        w.string("outcome", outcome.outcome.rawValue, &b)
        w.int("attempts", item.attempts, &b)
        w.int("code", outcome.code, &b)
        w.string("remote_id", outcome.remoteID, &b)
        w.string("vmta", item.vmta, &b)
        w.string("route", item.route, &b)
        w.string("error", outcome.error, &b)
        if let reason = outcome.reason { w.string("reason", reason.rawValue, &b) }
        if let action = item.action, outcome.outcome == .sent { w.string("action", action, &b) }
        if let notBefore = outcome.notBefore { w.string("not_before", notBefore.rfc3339, &b) }
        let at = nowText
        w.string("at", at, &b)
        w.end(&b)
        pendingOut[item.seq] = b.bytes
        count(outcome.outcome.rawValue)
        if outcome.reason == .suppressed { count("suppressed") }
        if item.attempts > 0 {
            item.journal.end(email: item.email, outcome: outcome, vmta: item.vmta, action: item.action, at: at)
            if outcome.outcome == .failed { item.journal.deadLetter(item.bytes) }
            journalsToSync[ObjectIdentifier(item.journal)] = item.journal
        }
    }

    /// The record as the dead-letter file keeps it: its own bytes, with `tenant` and `campaign`
    /// added when they came from flags, so `inject --replay` needs no flags to send it again.
    func deadLetterBytes(_ record: Record, tenant: String, campaign: String) -> [UInt8] {
        var patch = RecordPatch()
        if record["tenant"] == nil { patch.set("tenant", string: tenant) }
        if record["campaign"] == nil { patch.set("campaign", string: campaign) }
        if patch.isEmpty { return Array(record.bytes) }
        var b = ByteBuffer(capacity: record.bytes.count + 64)
        patch.write(record, into: &b)
        return b.bytes
    }

    mutating func flushOutputs(_ output: inout OutputSink) throws {
        while let line = pendingOut.removeValue(forKey: nextEmit) {
            output.buffer.append(line)
            nextEmit += 1
        }
        try output.flushIfNeeded()
    }

    mutating func syncJournals() throws {
        for j in journalsToSync.values { try j.sync() }
        journalsToSync.removeAll(keepingCapacity: true)
    }

    // MARK: the loop

    mutating func refillTokens() {
        guard let rate = options.rate else { return }
        let now = monotonicNow()
        tokens = min(Double(max(1, min(options.concurrency, Int(rate)))), tokens + (now - lastRefill) * rate)
        lastRefill = now
    }

    mutating func run(_ stream: inout RecordStream, _ output: inout OutputSink) throws {
        while true {
            // Read ahead while there are free slots and the reorder window allows it.
            while !inputDone && ready.count < idle.count && nextSeq - nextEmit < window {
                if try !pull(&stream) {
                    inputDone = true
                    for job in channel.drain() { enqueue(job) }
                }
            }
            let now = monotonicNow()
            if !waiting.isEmpty {
                var keep: [Job] = []
                for job in waiting { if job.notBefore <= now { ready.append(job) } else { keep.append(job) } }
                waiting = keep
            }
            // A campaign paused since its jobs were queued: they end here, unstarted.
            if !pauses.isEmpty && !(ready.isEmpty && waiting.isEmpty && blocked.isEmpty) { deferPaused() }
            // Start what can start; the journal's begin lines are durable before anything is sent.
            refillTokens()
            var starting: [(Int, Job)] = []
            while !idle.isEmpty && !ready.isEmpty {
                if options.rate != nil {
                    if tokens < 1 { break }
                    tokens -= 1
                }
                let job = ready.removeFirst()
                let slot = idle.removeLast()
                for i in job.items.indices {
                    if job.items[i].attempts == 0 {
                        job.items[i].journal.begin(email: job.items[i].email, messageID: job.messageID)
                        journalsToSync[ObjectIdentifier(job.items[i].journal)] = job.items[i].journal
                        if job.items[i].resent { count("resent") }
                    }
                    job.items[i].attempts += 1
                }
                job.stepAttempts += 1
                starting.append((slot, job))
            }
            try syncJournals()
            for (slot, job) in starting {
                do {
                    running[slot] = job
                    try transport.start(slot, job)
                } catch {
                    running[slot] = nil
                    idle.append(slot)
                    complete(job, Finish.all(job, .failed(code: nil, "\(error)", .configuration)))
                }
            }
            try flushOutputs(&output)
            // While every connection is busy, prepare the next jobs (parse, build the message),
            // so a connection that frees up starts its next one at once.
            while !inputDone && idle.isEmpty && ready.count < lookahead && nextSeq - nextEmit < window {
                if try !pull(&stream) {
                    inputDone = true
                    for job in channel.drain() { enqueue(job) }
                }
            }

            if running.isEmpty && ready.isEmpty && waiting.isEmpty && inputDone {
                if blocked.isEmpty { break }
                // Nothing left that could unblock them (cannot happen while every job's records are
                // tracked); start them rather than hang.
                ready = blocked; blocked = []
                continue
            }

            var timeout = 200.0
            if let soonest = waiting.map(\.notBefore).min() { timeout = min(timeout, max(0, (soonest - monotonicNow()) * 1000)) }
            if options.rate != nil && !ready.isEmpty { timeout = min(timeout, 5) }
            if !ready.isEmpty && !idle.isEmpty && options.rate == nil { timeout = 0 }
            for (slot, result) in try transport.step(milliseconds: Int(timeout.rounded(.up))) {
                guard let job = running.removeValue(forKey: slot) else { continue }
                idle.append(slot)
                complete(job, result)
            }
            // Completions are written (with the begin lines of what starts next) at the top of
            // the loop, before any connection carries anything new.
        }
        transport.close()
        try syncJournals()
        for ctx in tenants.values { for j in ctx.journals.values { try j.syncNow() } }
        try flushOutputs(&output)
    }

    mutating func complete(_ job: Job, _ result: Finish) {
        if let retry = result.retry {
            if job.stepAttempts < options.maxAttempts {
                let exp = min(options.backoffMax, options.backoffBase * Double(1 << min(20, job.stepAttempts - 1)))
                let jitter = Double.random(in: 0.5...1.0, using: &rng)
                job.notBefore = monotonicNow() + exp * jitter
                waiting.append(job)
            } else {
                for item in job.items {
                    emit(item, .deferred(code: retry.code, "gave up after \(job.stepAttempts) attempts: \(retry.error)", .transient))
                    channel.released(item, tenant: tenants[item.tenant]!)
                    finished(item)
                }
                unblock()
            }
            return
        }
        for (index, outcome) in result.outcomes {
            let item = job.items[index]
            emit(item, outcome)
            if outcome.outcome != .sent { channel.released(item, tenant: tenants[item.tenant]!) }
            finished(item)
        }
        for next in result.followUps { ready.append(next) }
        if !result.outcomes.isEmpty { unblock() }
    }
}
