import MailpipeCore
import MailpipeStore

/// What segment decides about one contact record before any counter moves: whether it is a
/// contact at all (an email string, the right tenant), its shard, its address hash, and why it
/// may not be mailed. It only reads shared state, so each thread judging records holds its own
/// (`copy()`: own slots and scratch buffers).
final class ContactJudge {
    enum Admission {
        case refused(RecordRefusal)
        /// `--shard` on records from standard input: another shard's contact, skipped.
        case otherShard
        /// A contact; `hash` is its address's `EmailKey.hash` when the run needs it, else 0.
        case admitted(hash: UInt64)
    }

    /// What the run asks of a contact's stored `engagement`: its score (a criterion reads
    /// `engagement.score`) and the sunset policy (held back unless `--include-sunset`).
    struct EngagementUse {
        var rules: EngagementRules
        var now: Timestamp
        var score: Bool
        var sunset: Bool
        static let none = EngagementUse(rules: EngagementRules(), now: Timestamp(seconds: 0), score: false, sunset: false)
    }

    let slots: FieldSlots
    private let engagementUse: EngagementUse
    private let engagementSlot: Int
    /// The engagement of the record last given to `readEngagement` (nil: none recorded or not asked).
    private var engagement: Engagement?
    private let emailSlot: Int
    private let statusSlot: Int
    private let tenantSlot: Int
    private let policy: MailPolicy
    private let tenantCheck: TenantCheck?
    private let needHash: Bool
    private let shard: Shard?
    /// The normalised address of the last record admitted (when the hash was needed).
    private(set) var key: [UInt8] = []
    private var scratch: [UInt8] = []

    init(slots: FieldSlots, policy: MailPolicy, tenantCheck: TenantCheck?, needHash: Bool, shard: Shard?, engagement: EngagementUse = .none) {
        self.slots = slots
        engagementUse = engagement
        engagementSlot = slots.slot("engagement")
        emailSlot = slots.slot("email")
        statusSlot = slots.slot("status")
        tenantSlot = slots.slot("tenant")
        self.policy = policy
        self.tenantCheck = tenantCheck
        self.needHash = needHash
        self.shard = shard
    }

    /// The same judge for another thread.
    func copy() -> ContactJudge {
        ContactJudge(slots: slots.copy(), policy: policy, tenantCheck: tenantCheck, needHash: needHash, shard: shard, engagement: engagementUse)
    }

    /// The judges of a parallel run: this one for the caller's thread (worker 0), a copy for each other.
    func team(threads: Int) -> [ContactJudge] {
        [self] + (1..<max(1, threads)).map { _ in copy() }
    }

    /// Resolves the record's slots (the criteria read them after; `slotsResolved`: the parse
    /// did, `JSONParser.parse(_:keeping:)`) and admits it or says why not.
    /// The store's records are the tenant's own and already of their shard.
    func admit(_ tape: Tape, fromStore: Bool, slotsResolved: Bool = false) -> Admission {
        if !slotsResolved { slots.resolve(tape) }
        let e = slots[emailSlot]
        guard e >= 0, tape.kind(e) == .string, tape.tokens[e].end - tape.tokens[e].start > 2 else {
            return .refused(RecordRefusal(.missingEmail, "a contact needs an email string"))
        }
        if !fromStore, let tenantCheck, let refusal = tenantCheck.refusal(tape, slots[tenantSlot], scratch: &scratch) {
            return .refused(refusal)
        }
        guard needHash else { return .admitted(hash: 0) }
        key.removeAll(keepingCapacity: true)
        tape.withString(e, scratch: &scratch) { EmailKey.normalize($0, into: &key) }
        let hash = key.withUnsafeBytes { EmailKey.hash($0) }
        if !fromStore, let shard, !shard.contains(hash: hash) { return .otherShard }
        return .admitted(hash: hash)
    }

    /// Reads the admitted record's stored engagement when the run needs it, and gives the
    /// criteria its score.
    func readEngagement(_ tape: Tape, into ctx: inout EvalContext) {
        engagement = nil
        guard engagementUse.score || engagementUse.sunset else { return }
        let g = slots[engagementSlot]
        guard g >= 0, tape.kind(g) == .object else { return }
        engagement = Engagement(json: tape.raw(g))
        ctx.engagementScore = engagement?.score(at: engagementUse.now, rules: engagementUse.rules)
    }

    /// Why the admitted record (its slots resolved by `admit`, its engagement read) may not be
    /// mailed, or nil.
    func refusal(_ tape: Tape, hash: UInt64) -> MailPolicy.Refusal? {
        let s = slots[statusSlot]
        let status = s >= 0 && tape.kind(s) == .string ? tape.withString(s, scratch: &scratch) { String(decoding: $0, as: UTF8.self) } : nil
        if case .refused(let why) = policy.decide(emailHash: hash, status: status, engagement: engagementUse.sunset ? engagement : nil) { return why }
        return nil
    }
}

/// A record of `--contacts stdin` as a parsing thread judged it: everything but what depends on
/// the records before it (a segment's limit, the counts, the output), done on the caller's thread.
enum ParallelVerdict {
    /// The segments a mask holds.
    static let mostSegments = 64

    case refused(RecordRefusal)
    case otherShard
    /// Bit r of `matches`: segment r's criteria hold. `refusal`: why the contact may not be
    /// mailed (asked only when some segment matches and suppressed contacts are held back).
    case judged(matches: UInt64, hash: UInt64, refusal: MailPolicy.Refusal?)
}

extension ContactJudge {
    /// Everything segment decides about a record whose slots the lazy parse resolved
    /// (`JSONParser.parse(_:keeping: slots)`), apart from what depends on the records before it:
    /// its admission, which of `criteria` hold, and (`holdBack`, some segment matching) why it
    /// may not be mailed. The one way a contact is judged, whichever thread or source it comes from.
    func verdict(_ tape: Tape, fromStore: Bool, criteria: [CompiledCriterion], holdBack: Bool) -> ParallelVerdict {
        switch admit(tape, fromStore: fromStore, slotsResolved: true) {
        case .refused(let refusal): return .refused(refusal)
        case .otherShard: return .otherShard
        case .admitted(let hash):
            var ctx = EvalContext(tape: tape, slots: slots)
            readEngagement(tape, into: &ctx)
            var matches: UInt64 = 0
            for (r, c) in criteria.enumerated() where c.matches(&ctx) { matches |= 1 << UInt64(r) }
            let refusal = holdBack && matches != 0 ? self.refusal(tape, hash: hash) : nil
            return .judged(matches: matches, hash: hash, refusal: refusal)
        }
    }
}

extension SegmentStage {
    /// Whether the run's output needs no more of a record than its bytes and address hash
    /// (records or counts, no --split, no --explain, no early stop): then records are judged on
    /// `threads` workers and counted here in order (`streamInParallel`, `storeInParallel`).
    static func judgesInParallel(_ options: Options, runners: [SegmentRunner], canStopEarly: Bool) -> Bool {
        !options.oneRecordAtATime && !options.explain && options.split == nil && !canStopEarly && (options.mode == .records || options.mode == .count)
            && runners.count <= ParallelVerdict.mostSegments
    }

    /// Counts and emits one judged record, in input order, on the caller's thread.
    static func take(_ verdict: ParallelVerdict, bytes: UnsafeRawBufferPointer, origin: @autoclosure () -> RejectSink.Origin,
                     runners: [SegmentRunner], rejects: RejectSink, output: inout OutputSink) throws {
        switch verdict {
        case .refused(let refusal):
            rejects.reject(refusal, origin: origin(), record: bytes)
        case .otherShard:
            break
        case .judged(let matches, let hash, let refusal):
            guard matches != 0 else { return }
            for (r, runner) in runners.enumerated() where !runner.full && matches & (1 << UInt64(r)) != 0 {
                runner.matched += 1
                if let refusal {
                    runner.held[refusal.label, default: 0] += 1
                    continue
                }
                try runner.accept(bytes, tape: nil, hash: hash, breakdownIndex: -1, output: &output)
            }
        }
    }

    /// `--contacts stdin` parsed and judged on `judges.count` threads (one: all on the caller's),
    /// counted and emitted here in input order — the same output, rejects and counts whatever
    /// the count. Only when `judgesInParallel`. Returns the stream's lines in and blank lines.
    static func streamInParallel(_ options: Options, runners: [SegmentRunner], judges: [ContactJudge],
                                 rejects: RejectSink, output: inout OutputSink) throws -> (linesIn: Int, blank: Int) {
        let criteria = runners.map(\.whole)
        let holdBack = !options.includeSuppressed
        // Each worker's parse keeps only the members its judge's slots name (every field a
        // criterion, the admission or the policy reads) and resolves them.
        var stream = try ParallelRecordStream<ParallelVerdict>(options: options.stream, rejects: rejects, threads: judges.count,
                                                               keeping: judges.map(\.slots)) { record, worker in
            judges[worker].verdict(Tape(record.document), fromStore: false, criteria: criteria, holdBack: holdBack)
        }
        defer { stream.close() }
        try stream.forEach { line, verdict in
            try take(verdict, bytes: line.bytes, origin: line.origin, runners: runners, rejects: rejects, output: &output)
        }
        return (stream.linesIn, stream.blankLines)
    }
}
