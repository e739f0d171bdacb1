#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// A writer's session on a tenant's books: the lock, the event and suppression logs, the
/// ledger and the contact store.
///
/// Commit protocol (docs/design.md §4): the events of a batch are appended to `events.ndjson.gz` as
/// one sealed member — that append is the commit point. Their effects (suppression entries,
/// contact statuses, the event-id index, the ledger) follow, and the ledger, written last and
/// atomically, records how much of each log it reflects. A session that finds the event log
/// longer than the ledger says (a crash between the two) cuts the suppression log back to the
/// ledger's length and applies the unreflected events again, which gives exactly the state the
/// interrupted run would have left.
///
/// The event log is the source of truth of what it derives (docs/account.md, "State integrity"):
/// a suppression list shorter than the ledger says (a torn or lost file), an event log shorter
/// than the ledger says (events lost: the ledger would count them twice on a re-import) and a
/// lost ledger are answered by replaying the log — the counters, the soft-bounce history and the
/// list — and an address still on the list whose events are gone stays on it.
///
/// A session opened `.read` (the read-only commands) takes no lock and writes nothing, so it
/// works on a read-only state or another user's: it reads each log up to its last sealed append
/// and replays in memory what a writer's open would recover, which gives the state the next
/// writer will show.
public final class Books {
    public enum Access: Sendable {
        /// The tenant lock for the session; what the open recovers is written back.
        case write
        /// No lock, nothing written.
        case read
    }


    public let dir: TenantDirectory
    public let config: TenantConfig
    public let schedule: WarmupSchedule
    public var ledger: Ledger
    public let access: Access
    /// The tenant lock, held for the session (a store commit writes a flat store under it too);
    /// none for a `.read` session, nor while a long session is paused (`pause`).
    public private(set) var lock: FileLock?
    var events: AppendLog
    var suppressionLog: AppendLog
    /// Current suppression entries by email (the log's lines, folded).
    var suppressed: [String: [UInt8]] = [:]
    var suppressedOrder: [String] = []
    /// Which events suppress an address (shared with the readers' replay, `MailPolicy`).
    let suppressionRule: SuppressionRule
    let warn: (String) -> Void
    public private(set) var recovered = 0

    var idsPath: String { "\(dir.path)/events.ids" }

    /// `rebuild`: replay the derived parts from the event log even when the lengths agree
    /// (`account fsck --repair`, when the list lacks addresses the events put on it).
    public init(dir: TenantDirectory, now: Timestamp, access: Access = .write, rebuild: Bool = false,
                warn: @escaping (String) -> Void) throws {
        self.dir = dir
        self.warn = warn
        self.access = access
        config = try dir.loadConfig()
        schedule = config.warmup
        suppressionRule = SuppressionRule(config: config)
        lock = access == .write ? try dir.lock() : nil
        ledger = Ledger()
        events = AppendLog(unopened: dir.eventsPath)
        suppressionLog = AppendLog(unopened: dir.suppressionPath)
        do {
            if access == .write {
                try open(now: now, rebuild: rebuild)
            } else {
                // Without the lock a writer may finish a commit meanwhile: the view is taken
                // again while the ledger (replaced last by every commit) changed under it.
                for _ in 0..<3 {
                    let ledgerBefore = FileIdentity(path: dir.ledgerPath)
                    try open(now: now, rebuild: rebuild)
                    if FileIdentity(path: dir.ledgerPath) == ledgerBefore { break }
                }
            }
        } catch {
            lock?.unlock()
            throw error
        }
    }

    /// Reads the ledger and the logs and recovers what they disagree on (see the type's comment).
    private func open(now: Timestamp, rebuild: Bool) throws {
        let ledgerFound = FileSystem.entryExists(dir.ledgerPath)
        ledger = try Ledger.load(path: dir.ledgerPath)
        if access == .write {
            events = try AppendLog(path: dir.eventsPath, warn: warn)
            suppressionLog = try AppendLog(path: dir.suppressionPath, warn: warn)
        } else {
            // The list before the events: a commit appends its events first, so a list read
            // after a commit's entries comes with an event log holding that commit's events.
            suppressionLog = try AppendLog(readOnly: dir.suppressionPath)
            events = try AppendLog(readOnly: dir.eventsPath)
        }
        do {
            if !ledgerFound && events.validLength == 0 {
                // A tenant's first books: the ledger (reflecting nothing yet) is written before the
                // first append, so an interrupted first import is a log ahead of its ledger (finished
                // below on the next open, contact statuses included) and a missing ledger beside
                // logged events is always damage.
                try loadSuppression()
                if access == .write { try saveLedger() }
            } else if !ledgerFound {
                warn("\(dir.ledgerPath): missing; recounting it from the event log (each vmta's warm-up week starts from the configuration)")
                try rebuildFromEvents(upTo: events.validLength, now: now)
            } else if events.validLength < ledger.eventsLength {
                warn("\(dir.eventsPath): shorter than the ledger says (\(events.validLength) < \(ledger.eventsLength)): events were lost; "
                     + "recounting the ledger and the suppression list from the events that remain (addresses on the list stay on it)")
                try rebuildFromEvents(upTo: events.validLength, now: now)
            } else if suppressionLog.validLength < ledger.suppressionLength || rebuild {
                if !rebuild {
                    warn("\(dir.suppressionPath): shorter than the ledger says (\(suppressionLog.validLength) < \(ledger.suppressionLength)); rebuilding it from the event log")
                }
                try rebuildFromEvents(upTo: ledger.eventsLength, now: now)
                if events.validLength > ledger.eventsLength { try recover(now: now, listRebuilt: true) }
            } else if events.validLength > ledger.eventsLength {
                try recover(now: now, listRebuilt: false)
            } else {
                try loadSuppression()
            }
        }
        let published = ledger
        scopeLedgerCopy.withLock { $0 = published }
    }

    deinit { lock?.unlock() }

    // MARK: suppression

    /// The list as its log's first `length` bytes have it (all of the sealed log by default).
    func loadSuppression(upTo length: Int? = nil) throws {
        suppressed = [:]
        suppressedOrder = []
        let length = min(length ?? suppressionLog.validLength, suppressionLog.validLength)
        guard length > 0 else { return }
        try SuppressionList.forEachEntry(path: dir.suppressionPath, length: length) { email, removal, line in
            if removal { suppressed[email] = nil; return }
            if suppressed.updateValue(Array(line), forKey: email) == nil { suppressedOrder.append(email) }
        }
        suppressedOrder = suppressedOrder.filter { suppressed[$0] != nil }
    }

    public var suppressionEntries: [[UInt8]] { suppressedOrder.compactMap { suppressed[$0] } }
    public func isSuppressed(_ email: String) -> Bool { suppressed[email] != nil }

    /// Writes the whole list (after a removal or a rebuild) as one append, atomically.
    private func rewriteSuppression() throws {
        suppressedOrder = suppressedOrder.filter { suppressed[$0] != nil }
        var all = ByteBuffer(capacity: suppressedOrder.count * 120)
        for email in suppressedOrder { all.append(suppressed[email]!); all.append(0x0A) }
        try AppendLog.replace(path: dir.suppressionPath, lines: all.bytes)
        suppressionLog = try AppendLog(path: dir.suppressionPath, warn: warn)
    }

    // MARK: recovery

    /// The ledger's counters and soft-bounce history and the suppression list, replayed from the
    /// event log's first `length` bytes (what the contacts reflect; their statuses are not
    /// rewritten). Each vmta's warm-up week and history are kept. An address on the list that no
    /// remaining event puts there stays on it: a replay never takes anyone off. A `.read` session
    /// keeps the result in memory.
    private func rebuildFromEvents(upTo length: Int, now: Timestamp) throws {
        try loadSuppression()
        let listed = (entries: suppressed, order: suppressedOrder)
        suppressed = [:]
        suppressedOrder = []
        ledger.resetCounters()
        var index = EventIDIndex(ids: [], logLength: 0)  // untouched: nothing is persisted per batch
        try SuppressionRule.forEachBatch(eventsPath: dir.eventsPath, length: length) { batch in
            _ = try apply(EventList(batch, nil), now: now, index: &index, persist: false)
        }
        for email in listed.order where suppressed[email] == nil {
            suppressed[email] = listed.entries[email]
            suppressedOrder.append(email)
        }
        ledger.eventsLength = length
        guard access == .write else {
            suppressedOrder = suppressedOrder.filter { suppressed[$0] != nil }
            return
        }
        try rewriteSuppression()
        try FileSystem.remove(idsPath)  // derived: rebuilt from the log by the next commit
        ledger.suppressionLength = suppressionLog.validLength
        try ledger.save(path: dir.ledgerPath, schedule: schedule)
    }

    /// Applies the events past the ledger's `events_length` (an interrupted or running commit) to
    /// the list as the ledger has it (`listRebuilt`: as just rebuilt in memory).
    private func recover(now: Timestamp, listRebuilt: Bool) throws {
        if access == .write && suppressionLog.validLength > ledger.suppressionLength {
            warn("\(dir.suppressionPath): cutting back an unfinished append (\(suppressionLog.validLength - ledger.suppressionLength) bytes)")
            let fd = try FileDescriptor.open(dir.suppressionPath, .readWrite, options: .noFollow)
            try fd.truncate(to: ledger.suppressionLength)
            try fd.sync()
            fd.close()
            suppressionLog = try AppendLog(path: dir.suppressionPath, warn: warn)
        }
        if !listRebuilt { try loadSuppression(upTo: ledger.suppressionLength) }
        var tail: [BookEvent] = []
        var parser = JSONParser(maxDepth: 64)
        defer { parser.deallocate() }
        for range in try AppendLog.appendRanges(path: dir.eventsPath, length: events.validLength) where range.lowerBound >= ledger.eventsLength {
            try AppendLog.forEachLine(path: dir.eventsPath, range: range) { line in
                if let root = try? parser.parse(line).root, let e = BookEvent.parse(root) { tail.append(e) }
            }
        }
        recovered = tail.count
        if access == .write {
            warn("\(dir.path): applying \(tail.count) logged events an interrupted run had not finished")
            _ = try apply(tail, now: now)
        } else {
            var index = EventIDIndex(ids: [], logLength: 0)  // not written
            _ = try apply(EventList(tail, nil), now: now, index: &index, persist: false)
        }
    }

    // MARK: committing events

    public struct Outcome {
        public var appended = 0
        public var duplicates = 0
        public var unknown = 0
        public var suppressedNew = 0
        public var unsuppressed = 0
        public var contactsChanged = 0
        /// Counter name → number of new events (duplicates excluded).
        public var types: [String: Int] = [:]
        /// The ids of the events logged by this commit, sorted (`account serve` tells each
        /// request whether its event was new).
        public var newIDs: [UInt64] = []
    }

    /// Known-contact test by email hash (the store's indexes), read once a session (`scoped`
    /// then `commit` ask it for the same batch). A session that changed its contacts since
    /// (`account commit` merges after logging) must not ask again.
    public func contactHashes() throws -> [UInt64] {
        if let known = knownHashes { return known }
        let hashes = try TenantContacts.open(dir).emailHashes()
        knownHashes = hashes
        return hashes
    }
    private var knownHashes: [UInt64]? = nil
    /// The id index as last loaded or written (a long session keeps it between batches).
    private var cachedIndex: EventIDIndex? = nil
    /// Events appended whose effects wait for `settle`.
    private var unsettled: [BookEvent] = []
    /// The files as `pause` left them.
    private var pausedStamp: BooksStamp? = nil
    /// Settlements taken and not yet settled (`pause` waits for none).
    private let settling = Guarded(0)
    /// The ledger as last read or written, for `scoped` (a settlement may be changing the
    /// session's own on another thread).
    private let scopeLedgerCopy = Guarded(Ledger())
    private var scopeLedger: Ledger { scopeLedgerCopy.withLock { $0 } }

    /// The vmtas the other tenants of this state folder list. A tenant whose tenant.json cannot be
    /// read is named in a warning (its rows are then told by campaign and recipient only).
    func otherTenantsVmtas() -> Set<String> {
        var names = Set<String>()
        for slug in StateRoot(explicit: dir.root).tenants() where slug != dir.slug {
            do {
                for v in try StateRoot(explicit: dir.root).tenant(slug).loadConfig().vmtas { names.insert(v.name) }
            } catch {
                warn("tenant \(slug.value): \(error); its vmtas cannot tell its accounting rows from this tenant's")
            }
        }
        return names
    }

    /// Splits a batch by tenant (`EventScope`): events of a shared source (`shared`) that belong
    /// to another tenant are left out and counted by the evidence that told; the rest is returned
    /// in order. Recipients are looked up (one sorted merge) only for events their fields leave
    /// undecided.
    public func scoped(_ batch: [BookEvent]) throws -> (events: [BookEvent], other: [EventScope.Evidence: Int]) {
        guard batch.contains(where: { $0.shared }) else { return (batch, [:]) }
        let scope = EventScope(config: config, ledger: scopeLedger, otherVmtas: otherTenantsVmtas())
        var keep = [Bool](repeating: true, count: batch.count)
        var other: [EventScope.Evidence: Int] = [:]
        var undecided: [Int] = []
        // Rows of one file mostly repeat the previous row's vmta, list and campaign.
        var last: (vmta: String?, list: String?, campaign: String?, verdict: EventScope.Verdict?)? = nil
        for (i, e) in batch.enumerated() where e.shared {
            let verdict: EventScope.Verdict?
            if let l = last, l.vmta == e.vmta, l.list == e.listUID, l.campaign == e.campaign {
                verdict = l.verdict
            } else {
                verdict = scope.verdict(vmta: e.vmta, list: e.listUID, campaign: e.campaign)
                last = (e.vmta, e.listUID, e.campaign, verdict)
            }
            switch verdict {
            case .other(let by)?: keep[i] = false; other[by, default: 0] += 1
            case .ours?: break
            case nil: undecided.append(i)
            }
        }
        if !undecided.isEmpty {
            let hashes = try contactHashes()
            let byHash = try Books.sortedKeys(batch, at: undecided) { $0.emailHash }
            hashes.withUnsafeBufferPointer { h in
                var j = 0
                for e in byHash {
                    while j < h.count && h[j] < e.key { j += 1 }
                    if case .other(let by) = EventScope.verdict(isContact: j < h.count && h[j] == e.key) {
                        keep[Int(e.position)] = false
                        other[by, default: 0] += 1
                    }
                }
            }
        }
        guard !other.isEmpty else { return (batch, [:]) }
        var ours: [BookEvent] = []
        ours.reserveCapacity(batch.count - other.values.reduce(0, +))
        for i in batch.indices where keep[i] { ours.append(batch[i]) }
        return (ours, other)
    }

    /// `key` of the events at `positions` (rising), with their positions, in key order and equal
    /// keys in batch order: the batch is then matched against a sorted list by one sequential
    /// merge instead of a cache miss per event.
    private static func sortedKeys<Positions: Collection>(_ batch: [BookEvent], at positions: Positions,
                                                          _ key: (BookEvent) -> UInt64) throws -> [BucketSort.Keyed] where Positions.Element == Int {
        var keyed: [BucketSort.Keyed] = []
        keyed.reserveCapacity(positions.count)
        batch.withUnsafeBufferPointer { events in
            for i in positions { keyed.append(BucketSort.Keyed(key: key(events[i]), position: Int32(truncatingIfNeeded: i))) }
        }
        return try BucketSort.sortedStably(keyed, workers: Cores.workers)
    }

    /// Drops events whose id is already logged (or repeated in the batch), marks unknown
    /// contacts, appends the rest as one member and applies them.
    public func commit(_ batch: [BookEvent], now: Timestamp, markUnknown: Bool = true) throws -> Outcome {
        precondition(access == .write, "a read-only books session commits nothing")
        if !unsettled.isEmpty { _ = try settle(now: now) }
        var index = loadIndex()
        Timing.mark("open books")
        var (result, fresh) = try log(batch, markUnknown: markUnknown, index: &index)
        guard !fresh.isEmpty else { return result }
        let applied = try apply(EventList(batch, fresh), now: now, index: &index, eventsLength: events.validLength)
        cachedIndex = index
        result.suppressedNew = applied.suppressedNew
        result.unsuppressed = applied.unsuppressed
        result.contactsChanged = applied.contactsChanged
        return result
    }

    /// The new events of a batch appended as one sealed member, durable on return (the commit
    /// point), their ids added to `index`; their effects are the caller's. Returns the counts
    /// and the new events' positions in `batch`.
    private func log(_ batch: [BookEvent], markUnknown: Bool, index: inout EventIDIndex) throws -> (Outcome, [Int32]) {
        var result = Outcome()
        // Duplicates (ids already logged, or met earlier in the batch) and unknown contacts are
        // found by sorting the batch's ids and email hashes and merging them with the sorted
        // lists: sequential reads instead of a cache miss per event.
        let n = batch.count
        var duplicate = [Bool](repeating: false, count: n)
        var known = [Bool](repeating: true, count: n)
        let byID = try Books.sortedKeys(batch, at: batch.indices) { $0.id }
        var newIDs: [UInt64] = []  // the fresh ids, sorted (for the index)
        newIDs.reserveCapacity(n)
        index.ids.withUnsafeBufferPointer { logged in
            var j = 0
            for k in 0..<n {
                let id = byID[k].key
                // Equal ids keep batch order (the sort is stable): the first one is the event.
                if k > 0 && byID[k - 1].key == id { duplicate[Int(byID[k].position)] = true; continue }
                while j < logged.count && logged[j] < id { j += 1 }
                if j < logged.count && logged[j] == id { duplicate[Int(byID[k].position)] = true } else { newIDs.append(id) }
            }
        }
        if markUnknown {
            let hashes = try contactHashes()
            let byHash = try Books.sortedKeys(batch, at: batch.indices) { $0.emailHash }
            hashes.withUnsafeBufferPointer { h in
                var j = 0
                for e in byHash {
                    while j < h.count && h[j] < e.key { j += 1 }
                    if !(j < h.count && h[j] == e.key) { known[Int(e.position)] = false }
                }
            }
        }
        Timing.mark("contact hashes + id index")
        var typeCounts = [Int](repeating: 0, count: BookEvent.counterNames.count)
        // The new events, as positions in `batch` (no copies of the events themselves).
        var fresh: [Int32] = []
        fresh.reserveCapacity(n)
        batch.withUnsafeBufferPointer { events in
            for i in 0..<n {
                if duplicate[i] { result.duplicates += 1; continue }
                if markUnknown {
                    if !known[i] { result.unknown += 1 }
                } else {
                    known[i] = events[i].known
                }
                let c = events[i].counterIndex
                if c >= 0 { typeCounts[c] += 1 } else { result.types[events[i].counter, default: 0] += 1 }
                fresh.append(Int32(truncatingIfNeeded: i))
            }
        }
        for (i, n) in typeCounts.enumerated() where n > 0 { result.types[BookEvent.counterNames[i], default: 0] += n }
        guard !fresh.isEmpty else { return (result, fresh) }
        let tenant = dir.slug.value
        let out = try BookEvent.serialise(batch, fresh, known: known, tenant: tenant)
        Timing.mark("dedupe + serialise")
        try out.withUnsafeBytes { try events.append(bytes: $0, level: 1) }  // the commit point
        Timing.mark("append events")
        result.appended = fresh.count
        result.newIDs = newIDs
        index.add(sortedNew: newIDs)
        index.logLength = events.validLength
        return (result, fresh)
    }

    // MARK: a long session (account serve)

    /// Appends a batch like `commit`, durable on return, but leaves its effects (suppression,
    /// contact statuses, counters, the id index and ledger on disk) for `settle`, so a server
    /// answering many small batches pays for them once per many. Until then the events are past
    /// the ledger's `events_length`: readers hold their addresses back (`MailPolicy`), and a
    /// session that ends without settling leaves them to the next writer's open, as an
    /// interrupted commit's. The lock stays held until `settle` and `pause`.
    public func append(_ batch: [BookEvent], now: Timestamp) throws -> Outcome {
        precondition(access == .write && lock != nil, "appending needs a writer's session holding the lock")
        var index = loadIndex()
        let (result, fresh) = try log(batch, markUnknown: true, index: &index)
        cachedIndex = index
        for i in fresh { unsettled.append(batch[Int(i)]) }
        return result
    }

    /// Events appended by `append` whose effects wait for `settle`.
    public var unsettledCount: Int { unsettled.count }

    /// Applies the effects of the events `append` logged, in log order; the ledger written last
    /// reflects them all.
    @discardableResult
    public func settle(now: Timestamp) throws -> Outcome {
        guard let settlement = takeUnsettled() else { return Outcome() }
        return try settle(settlement, now: now)
    }

    /// The effects `append` left for later, taken from the session to be applied by
    /// `settle(_:now:)`, possibly on another thread while this session appends more. It holds
    /// the event-log length and id index as its last append left them: the ledger it writes
    /// claims those events and no later ones, so events appended meanwhile stay past the
    /// ledger's `events_length` until their own settlement (a crash before it leaves them to the
    /// next open, as any interrupted commit).
    public struct Settlement {
        let events: [BookEvent]
        /// The event log's length after the last of `events`.
        public let eventsLength: Int
        let index: EventIDIndex
        public var count: Int { events.count }
    }

    /// Takes what waits for `settle` (nil when nothing does). Call it from the appending thread;
    /// the session must not pause until the settlement is settled.
    public func takeUnsettled() -> Settlement? {
        guard !unsettled.isEmpty else { return nil }
        let settlement = Settlement(events: unsettled, eventsLength: events.validLength, index: loadIndex())
        unsettled = []
        settling.withLock { $0 += 1 }
        return settlement
    }

    /// Applies a settlement: suppression list, contact statuses, engagement, counters, then the
    /// id index and the ledger, each as of the settlement's event-log length. It may run on
    /// another thread while the session's thread `append`s (the two share no state but the
    /// ledger `scoped` reads, which is published here under a lock); settlements are settled one
    /// at a time, in the order taken. Nothing else (commit, pause, resume) may run meanwhile.
    @discardableResult
    public func settle(_ settlement: Settlement, now: Timestamp) throws -> Outcome {
        defer { settling.withLock { $0 -= 1 } }
        var index = settlement.index
        return try apply(EventList(settlement.events, nil), now: now, index: &index, eventsLength: settlement.eventsLength)
    }

    /// Gives the tenant lock back (after `settle`), remembering the files as this session left
    /// them, so `resume` can tell whether another writer changed them meanwhile.
    public func pause() {
        precondition(unsettled.isEmpty && settling.withLock({ $0 }) == 0,
                     "settle before pausing: another writer would apply the events again")
        pausedStamp = BooksStamp(dir)
        lock?.unlock()
        lock = nil
    }

    /// Takes the lock again after `pause`. When the books are as this session left them (the
    /// ledger is the same file, the logs the same length, the contacts untouched) what it read
    /// is kept; otherwise (a cron writer ran meanwhile) they are read again. Returns false then.
    @discardableResult
    public func resume(now: Timestamp) throws -> Bool {
        guard lock == nil, access == .write else { return true }
        lock = try dir.lock()
        if let stamp = pausedStamp, stamp == BooksStamp(dir) { return true }
        do {
            cachedIndex = nil
            knownHashes = nil
            try open(now: now, rebuild: false)
        } catch {
            lock?.unlock()
            lock = nil
            throw error
        }
        return false
    }

    /// The event-id index matching the committed log (extended or rebuilt when behind).
    func loadIndex() -> EventIDIndex {
        if let cached = cachedIndex, cached.logLength == events.validLength { return cached }
        var index = EventIDIndex.load(path: idsPath) ?? EventIDIndex(ids: [], logLength: 0)
        if index.logLength != events.validLength {
            if index.logLength > events.validLength { index = EventIDIndex(ids: [], logLength: 0) }
            if let more = try? EventIDIndex.scan(logPath: dir.eventsPath, from: index.logLength) {
                index.add(more)
            } else {
                index = EventIDIndex(ids: (try? EventIDIndex.scan(logPath: dir.eventsPath, from: 0)) ?? [], logLength: 0)
                index.add([])
            }
            index.logLength = events.validLength
        }
        return index
    }

    private func apply(_ batch: [BookEvent], now: Timestamp) throws -> Outcome {
        var index = loadIndex()
        let outcome = try apply(EventList(batch, nil), now: now, index: &index, eventsLength: events.validLength)
        cachedIndex = index
        return outcome
    }

    /// The effects of logged events: counters, suppression, contact statuses; then the index
    /// and the ledger, which reflect the event log's first `eventsLength` bytes (the end of the
    /// last of these events: the log may be longer, see `Settlement`).
    /// `persist` false (a replay): only the counters, the soft-bounce history and the list in
    /// memory change; nothing is written.
    private func apply(_ batch: EventList, now: Timestamp, index: inout EventIDIndex, eventsLength: Int = 0,
                       persist: Bool = true) throws -> Outcome {
        var result = Outcome()
        var updates: [String: ContactFieldUpdate] = [:]
        var newLines = ByteBuffer(capacity: 4096)
        var removed = false
        func update(_ email: String, _ u: ContactFieldUpdate) {
            if var existing = updates[email] { existing.absorb(u); updates[email] = existing } else { updates[email] = u }
        }
        func suppress(_ e: BookEvent, reason: String, status: String) {
            // An imported status is in the contact already (the commit that logged it writes it).
            if e.source != "import" { update(e.email, ContactFieldUpdate(key: Array(e.email.utf8), status: status)) }
            guard suppressed[e.email] == nil else { return }
            let line = SuppressionRule.entryLine(e, reason: reason)
            suppressed[e.email] = line
            suppressedOrder.append(e.email)
            newLines.append(line)
            newLines.append(0x0A)
            result.suppressedNew += 1
        }
        var times = TimeText()
        let zone = config.timezone
        let utc = zone.isUTC
        // Counters are gathered per (day, counter) and (campaign, counter) first: few keys, many events.
        var dayCounts: [String: [String: Int]] = [:]
        var campaignCounts: [String: [String: Int]] = [:]
        var vmtaCounts: [String: [String: (Int, Int, Int)]] = [:]
        // Fast tallies first: (day, campaign, vmta) slots found by comparing with the previous
        // event's (most runs of a file share them), counters by index.
        let nc = BookEvent.counterNames.count
        var slotOf: [SlotKey: Int] = [:]
        var slotKeys: [SlotKey] = []
        var slotCounts: [Int] = []
        var lastKey: SlotKey? = nil
        var lastSlot = 0
        var recent = [(SlotKey, Int)](repeating: (SlotKey(days: .min, campaign: nil, vmta: nil), -1), count: 16)
        var recentNext = 0
        var newest: Int64? = nil
        // Each contact's engagement in this batch, in log order (folded into the stored one).
        var engaged: [String: [(EngagementEvent, Timestamp)]] = [:]
        let positions = batch.positions
        batch.events.withUnsafeBufferPointer { ev in
        for k in 0..<batch.count {
            // Fields are read in place; only the few events with effects beyond counters are copied.
            let i = positions.map { Int($0[k]) } ?? k
            let at = ev[i].at
            if newest == nil || at.seconds > newest! { newest = at.seconds }
            // The tenant's days: an event's day is its local calendar day.
            let localAt = utc ? at : Timestamp(seconds: at.seconds + zone.offset(at: at))
            let key = SlotKey(days: localAt.days, campaign: ev[i].campaign, vmta: ev[i].vmta)
            let c = ev[i].counterIndex
            if c < 0 {
                let day = times.date(localAt)
                dayCounts[day, default: [:]][ev[i].counter, default: 0] += 1
                if let c = ev[i].campaign { campaignCounts[c, default: [:]][ev[i].counter, default: 0] += 1 }
            }
            let slot: Int
            if let lastKey, lastKey == key { slot = lastSlot } else if let r = recent.firstIndex(where: { $0.0 == key }) {
                slot = recent[r].1
            } else {
                if let s = slotOf[key] { slot = s } else {
                    slot = slotKeys.count
                    slotOf[key] = slot
                    slotKeys.append(key)
                    slotCounts.append(contentsOf: repeatElement(0, count: nc))
                }
                recent[recentNext] = (key, slot)
                recentNext = (recentNext + 1) & 15
            }
            lastKey = key
            lastSlot = slot
            if c >= 0 { slotCounts[slot * nc + c] += 1 }
            if c == 1 || c == 2 { continue }  // delivered, deferred: counters only
            let e = ev[i]
            if persist, let kind = EngagementEvent(type: e.type, machine: e.extra.first(where: { $0.0 == "machine" })?.1.bool == true) {
                engaged[e.email, default: []].append((kind, e.at))
            }
            switch e.type {
            case "synced":
                // A MailWizz list sync: the subscriber uid, no change of status.
                if let uid = e.extra.first(where: { $0.0 == "remote_id" })?.1.string {
                    update(e.email, ContactFieldUpdate(key: Array(e.email.utf8), status: nil, fields: [("mailwizz_uid", .string(uid))]))
                }
            case "sent":
                var fields: [(String, JSONValue)] = [("last_sent_at", .string(e.at.rfc3339))]
                if let c = e.campaign { fields.append(("last_campaign", .string(c))) }
                if let channel = e.extra.first(where: { $0.0 == "channel" })?.1.string, channel == "mailwizz",
                   let uid = e.extra.first(where: { $0.0 == "remote_id" })?.1.string {
                    fields.append(("mailwizz_uid", .string(uid)))
                }
                update(e.email, ContactFieldUpdate(key: Array(e.email.utf8), status: "injected", fields: fields))
            default:
                switch suppressionRule.effect(of: e, softBounces: &ledger.softBounces) {
                case .add(let reason, let status):
                    suppress(e, reason: reason, status: status)
                case .remove(let status):
                    if suppressed.removeValue(forKey: e.email) != nil {
                        removed = true
                        result.unsuppressed += 1
                    }
                    update(e.email, ContactFieldUpdate(key: Array(e.email.utf8), status: status, force: true))
                case .none:
                    break
                }
            }
        }
        }
        for (slot, key) in slotKeys.enumerated() {
            let day = times.date(Timestamp(seconds: key.days * 86_400))
            for c in 0..<nc {
                let n = slotCounts[slot * nc + c]
                guard n > 0 else { continue }
                let name = BookEvent.counterNames[c]
                dayCounts[day, default: [:]][name, default: 0] += n
                if let campaign = key.campaign { campaignCounts[campaign, default: [:]][name, default: 0] += n }
                if let v = key.vmta {
                    switch c {
                    case 0: vmtaCounts[v, default: [:]][day, default: (0, 0, 0)].0 += n
                    case 1: vmtaCounts[v, default: [:]][day, default: (0, 0, 0)].1 += n
                    case 3, 4, 5: vmtaCounts[v, default: [:]][day, default: (0, 0, 0)].2 += n
                    default: break
                    }
                }
            }
        }
        for (day, counts) in dayCounts { for (k, n) in counts { ledger.days[day, default: [:]][k, default: 0] += n } }
        for (c, counts) in campaignCounts { for (k, n) in counts { ledger.campaigns[c, default: [:]][k, default: 0] += n } }
        for v in vmtaCounts.keys.sorted() {
            let days = vmtaCounts[v]!
            var m = ledger.vmta(v, firstSeen: days.keys.min()!, config: config)
            for (day, n) in days {
                if n.0 > 0 { m.sent[day, default: 0] += n.0 }
                if n.1 > 0 { m.delivered[day, default: 0] += n.1 }
                if n.2 > 0 { m.bounced[day, default: 0] += n.2 }
            }
            ledger.vmtas[v] = m
        }
        // Prune soft-bounce history that can no longer count.
        if let newest { suppressionRule.prune(&ledger.softBounces, newest: newest) }
        Timing.mark("apply: counters")
        guard persist else { return result }
        for (email, list) in engaged {
            update(email, ContactFieldUpdate(key: Array(email.utf8), status: nil, engagement: EngagementBatch(events: list, log: eventsLength)))
        }
        if removed {
            try rewriteSuppression()
        } else if !newLines.isEmpty {
            try suppressionLog.append(newLines.bytes)
        }
        Timing.mark("apply: suppression")
        if !updates.isEmpty {
            // Flat store: under our tenant lock; sharded: each shard's lock as well.
            let writer = try TenantContactsWriter(tenant: dir, shard: nil, heldTenantLock: lock)
            defer { writer.unlock() }
            let r = try writer.apply(Array(updates.values), updatedAt: now.rfc3339)
            result.contactsChanged = r.changed
        }
        Timing.mark("apply: contacts")
        index.logLength = eventsLength
        try index.save(path: idsPath)
        Timing.mark("apply: id index")
        try saveLedger(eventsLength: eventsLength)
        Timing.mark("apply: ledger")
        return result
    }

    /// Writes the ledger (the last step of every change), reflecting the event log up to
    /// `eventsLength` (all of it by default).
    public func saveLedger(eventsLength: Int? = nil) throws {
        precondition(access == .write, "a read-only books session writes nothing")
        ledger.eventsLength = eventsLength ?? events.validLength
        ledger.suppressionLength = suppressionLog.validLength
        try ledger.save(path: dir.ledgerPath, schedule: schedule)
        let published = ledger
        scopeLedgerCopy.withLock { $0 = published }
    }
}

/// The (day, campaign, vmta) a batch's counters are gathered under.
struct SlotKey: Hashable {
    var days: Int64
    var campaign: String?
    var vmta: String?
}

/// Some events of a batch, by position (all of them when `positions` is nil).
struct EventList: RandomAccessCollection {
    let events: [BookEvent]
    let positions: [Int32]?

    init(_ events: [BookEvent], _ positions: [Int32]?) {
        self.events = events
        self.positions = positions
    }

    var startIndex: Int { 0 }
    var endIndex: Int { positions?.count ?? events.count }
    subscript(i: Int) -> BookEvent { positions.map { events[Int($0[i])] } ?? events[i] }
}

/// What a paused session compares to know that nobody wrote the books meanwhile: the ledger file
/// (every writer replaces it last: a new inode, size and time), the two logs' sizes, and the
/// contact store's folder and manifest (a store commit replaces its manifest). A sharded store's
/// folders are not watched: its contact hashes are read again on each resume.
struct BooksStamp: Equatable {
    var ledger: FileStamp?
    var events: FileStamp?
    var suppression: FileStamp?
    var contacts: FileStamp?
    var manifest: FileStamp?
    var sharded: Bool

    init(_ dir: TenantDirectory) {
        ledger = FileStamp(path: dir.ledgerPath)
        events = FileStamp(path: dir.eventsPath)
        suppression = FileStamp(path: dir.suppressionPath)
        contacts = FileStamp(path: dir.contactsPath)
        manifest = FileStamp(path: "\(dir.contactsPath)/manifest.json")
        sharded = FileSystem.entryExists("\(dir.contactsPath)/\(StoreLayout.fileName)")
    }

    static func == (a: BooksStamp, b: BooksStamp) -> Bool {
        !a.sharded && !b.sharded && a.ledger == b.ledger && a.events == b.events && a.suppression == b.suppression
            && a.contacts == b.contacts && a.manifest == b.manifest
    }
}

/// A file's identity and its last change: device, inode, size, modification and status-change
/// times (nanoseconds). A file replaced by a rename is another inode or time; one appended to
/// another size.
struct FileStamp: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var changed: Int64

    init?(path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        modified = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        changed = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
    }
}
