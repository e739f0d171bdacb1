#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// `segment`: selects a campaign's audience from the tenant's store or from contact records,
/// streaming, in constant memory (a sample holds its N records; a breakdown its distinct values).
public enum SegmentStage {
    public enum Source: String, Sendable { case store, stdin }

    public enum BreakdownField: String, CaseIterable, Sendable {
        case language, country, category, tag, status
        var key: String { self == .tag ? "tags" : rawValue }
    }

    public enum Mode: Equatable {
        case records
        case count
        case breakdown(BreakdownField)
    }


    public struct Options {
        public var tenant: TenantSlug?
        public var state: StateRoot
        public var source: Source
        public var stream: StreamOptions
        /// Criteria every segment must meet (the flags and `--segment FILE`).
        public var criteria: [SegmentCriteria]
        /// `--segments FILE`: evaluated together in one pass; nil means one unnamed segment.
        public var segments: [SegmentDefinition]?
        public var outDir: String?
        public var gzip: Bool
        public var mode: Mode
        public var sample: Int?
        public var seed: UInt64
        public var shard: Shard?
        public var includeSuppressed: Bool
        public var explain: Bool
        /// `--split`: each emitted contact gets the `variant` of its campaign's A/B split.
        public var split: VariantSplit?
        /// Threads that parse and judge `--contacts stdin` records (1: all on the caller's).
        public var threads: Int
        /// `--include-sunset`: the tenant's sunset policy holds nobody back (a re-engagement campaign).
        public var includeSunset = false
        /// The time engagement scores and the sunset policy are judged at (`--now`; nil: the clock).
        public var now: Timestamp?
        /// Judge one record at a time on the caller's thread after a full parse, as runs that
        /// need more than a record's bytes do (--explain, --split, --sample…): the reference that
        /// tests compare the batched, lazily parsed path with. Same output either way.
        public var oneRecordAtATime = false

        public init(tenant: TenantSlug? = nil, state: StateRoot = StateRoot(explicit: nil), source: Source = .stdin,
                    stream: StreamOptions = StreamOptions(stage: "segment"), criteria: [SegmentCriteria] = [],
                    segments: [SegmentDefinition]? = nil, outDir: String? = nil, gzip: Bool = false, mode: Mode = .records,
                    sample: Int? = nil, seed: UInt64 = 1, shard: Shard? = nil, includeSuppressed: Bool = false, explain: Bool = false,
                    threads: Int? = nil) {
            self.tenant = tenant
            self.state = state
            self.source = source
            self.stream = stream
            self.criteria = criteria
            self.segments = segments
            self.outDir = outDir
            self.gzip = gzip
            self.mode = mode
            self.sample = sample
            self.seed = seed
            self.shard = shard
            self.includeSuppressed = includeSuppressed
            self.explain = explain
            self.split = nil
            self.threads = Cores.capped(threads ?? Cores.workers)
        }
    }

    public struct Result {
        public var summary: Summary
        public var status: ExitStatus
        /// Extra lines for standard error (held-back reasons, `--explain`).
        public var notes: [String]
        /// How many threads parsed and judged the records (1 unless `streamInParallel` ran).
        public var threads: Int
    }

    struct Stop: Error {}

    public static func run(_ options: Options, output: inout OutputSink) throws -> Result {
        let stage = options.stream.stage
        if options.source == .store && options.tenant == nil {
            throw StageError.usage("reading the store needs --tenant (or give records on standard input with --contacts stdin)")
        }
        if options.segments != nil && options.mode == .records && options.outDir == nil {
            throw StageError.usage("--segments writes one file per segment: give --out-dir DIR (or --count / --breakdown)")
        }
        if options.outDir != nil && options.segments == nil {
            throw StageError.usage("--out-dir goes with --segments FILE")
        }
        if let n = options.sample, n < 0 { throw StageError.usage("--sample takes a number ≥ 0") }
        if options.split != nil, case .breakdown = options.mode {
            throw StageError.usage("--split does not go with --breakdown (--count gives one count per variant)")
        }

        // Tenant state: who may be mailed (and, for --contacts store, the contacts).
        var policy = MailPolicy()
        var tenantDir: TenantDirectory?
        var engagementRules = EngagementRules()
        if let tenant = options.tenant {
            let dir = options.state.tenant(tenant)
            if options.source == .store || dir.exists {
                engagementRules = try dir.loadConfig().engagement   // a tenant.json that does not read stops the run (exit 2)
                tenantDir = dir
                if !options.includeSuppressed {
                    policy = try MailPolicy.load(dir, maxLine: options.stream.maxLine)
                }
            }
        }
        policy.now = options.now ?? .current()

        // Compile every segment against one set of field slots, resolved once per record.
        let slots = FieldSlots()
        var global: [NamedCriterion] = []
        var globalLimit: Int?
        for c in options.criteria {
            global += try c.compile()
            if let l = c.limit { globalLimit = min(globalLimit ?? l, l) }
        }
        let definitions = options.segments ?? [SegmentDefinition(name: "", criteria: SegmentCriteria())]
        var runners: [SegmentRunner] = []
        for def in definitions {
            let parts = global + (try def.criteria.compile())
            var limit = globalLimit
            if let l = def.criteria.limit { limit = min(limit ?? l, l) }
            runners.append(try SegmentRunner(name: def.name, parts: parts, slots: slots, limit: limit, options: options))
        }
        var breakdownSlot = -1
        if case .breakdown(let field) = options.mode { breakdownSlot = slots.slot(field.key) }
        let needHash = !policy.listsNobody || options.sample != nil || (options.shard != nil && options.source == .stdin)
            || options.split != nil
        let tenantCheck = options.tenant.map { TenantCheck(expected: $0.value) }
        let canStopEarly = options.mode == .records && options.sample == nil && runners.allSatisfy { $0.limit != nil }

        let rejects = try RejectSink(stage: stage, path: options.stream.rejectsPath)
        var summary = Summary(stage: stage, headline: ["in", "matched", "held_back", "out", "rejected"])
        var seen = 0
        let needsScore = runners.contains { $0.parts.contains { $0.criterion.reads(Predicate.scoreField) } }
        let engagement = ContactJudge.EngagementUse(rules: engagementRules, now: policy.now, score: needsScore,
                                                    sunset: policy.sunsets && !options.includeSunset && !options.includeSuppressed)
        let judge = ContactJudge(slots: slots, policy: policy, tenantCheck: tenantCheck, needHash: needHash,
                                 shard: options.source == .stdin ? options.shard : nil, engagement: engagement)
        var held: [String: Int] = [:]
        // --split: the record with its variant, made once per record that some segment emits.
        let variantValues = options.split?.jsonNames ?? []
        var variantPatch = RecordPatch()
        var variantLine = ByteBuffer(capacity: 4096)
        var splitScratch: [UInt8] = []

        // The per-record work, shared by both sources.
        func handle(_ document: JSONDocument, _ origin: RejectSink.Origin, fromStore: Bool) throws {
            seen += 1
            let tape = Tape(document)
            let hash: UInt64
            switch judge.admit(tape, fromStore: fromStore) {
            case .refused(let refusal):
                rejects.reject(refusal, origin: origin, record: document.bytes)
                return
            case .otherShard:
                return
            case .admitted(let h):
                hash = h
            }
            // Why this contact may not be mailed (decided once, only if some segment matches).
            var refusal: MailPolicy.Refusal?
            var decided = false
            var variant = -1
            var ctx = EvalContext(tape: tape, slots: slots)
            judge.readEngagement(tape, into: &ctx)
            for runner in runners where !runner.full {
                guard runner.evaluate(&ctx) else { continue }
                runner.matched += 1
                if !options.includeSuppressed {
                    if !decided {
                        decided = true
                        refusal = judge.refusal(tape, hash: hash)
                    }
                    if let refusal {
                        runner.held[refusal.label, default: 0] += 1
                        continue
                    }
                }
                let breakdownIndex = breakdownSlot >= 0 ? slots[breakdownSlot] : -1
                if let split = options.split {
                    if variant < 0 {
                        variant = split.variant(normalizedEmail: judge.key, scratch: &splitScratch)
                        variantLine.removeAll()
                        if options.mode == .records {
                            variantPatch.set("variant", rawJSON: variantValues[variant])
                            variantPatch.write(document, into: &variantLine)
                        }
                    }
                    try variantLine.withUnsafeBytes { line in
                        try runner.accept(line, tape: tape, hash: hash, breakdownIndex: breakdownIndex, variant: variant, output: &output)
                    }
                } else {
                    try runner.accept(document.bytes, tape: tape, hash: hash, breakdownIndex: breakdownIndex, output: &output)
                }
            }
            if canStopEarly && runners.allSatisfy({ $0.full }) { throw Stop() }
        }

        var linesIn = 0
        var blank = 0
        var threads = 1
        let parallel = judgesInParallel(options, runners: runners, canStopEarly: canStopEarly)
        switch options.source {
        case .stdin where parallel:
            // What is emitted needs only a record's bytes and address hash: judged on every thread.
            let judges = judge.team(threads: options.threads)
            threads = judges.count
            (linesIn, blank) = try streamInParallel(options, runners: runners, judges: judges, rejects: rejects, output: &output)
        case .stdin:
            var stream = try RecordStream(options: options.stream, rejects: rejects)
            defer { stream.close() }
            do {
                while let record = try stream.next() {
                    try handle(record.document, record.origin, fromStore: false)
                }
            } catch is Stop {}
            linesIn = stream.linesIn
            blank = stream.blankLines
        case .store:
            let store = try TenantContacts.open(tenantDir!)
            var parser = JSONParser(maxDepth: options.stream.maxDepth)
            defer { parser.deallocate() }
            ProgressLine.configure(stage: stage, requested: options.stream.progress, readsFiles: true)
            var progress = Progress()
            defer { progress.finish() }
            if parallel {
                let judges = judge.team(threads: options.threads)
                threads = judges.count
                linesIn = try storeInParallel(options, store: store, runners: runners, judges: judges, rejects: rejects,
                                              output: &output, progress: &progress)
                break
            }
            var number = 0
            do {
                try store.forEach(shard: options.shard) { line in
                    number += 1
                    progress.tick(records: number)
                    do {
                        let document = try parser.parse(line)
                        guard document.root.kind == .object else { throw JSONParseError(.notAnObject, at: 0) }
                        try handle(document, .init(line: number, file: "store"), fromStore: true)
                    } catch let error as JSONParseError {
                        rejects.reject(error.rejectReason, error.description, origin: .init(line: number, file: "store"), raw: line)
                    }
                }
            } catch is Stop {}
            linesIn = number
        }

        var notes: [String] = []
        for runner in runners {
            try runner.finish(output: &output, segmentKey: options.segments != nil, split: options.split)
        }
        try output.flush()

        // The account of the run.
        var totalHeld = 0
        for runner in runners {
            for (label, n) in runner.held where n > 0 {
                held[label, default: 0] += n
                totalHeld += n
            }
        }
        summary["in"] = linesIn
        summary["matched"] = runners.reduce(0) { $0 + $1.matched }
        summary["held_back"] = totalHeld
        summary["out"] = runners.reduce(0) { $0 + $1.emitted }
        summary["rejected"] = rejects.count
        summary["blank_lines"] = blank
        summary["suppression_list_size"] = policy.suppression.count
        summary.setGroup("reject_reasons", rejects.reasons)
        summary.setGroup("held_back_reasons", held)
        if totalHeld > 0 {
            let sorted = held.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            notes.append("\(stage): held back: " + sorted.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if let split = options.split {
            var perVariant: [String: Int] = [:]
            for (i, v) in split.variants.enumerated() { perVariant[v.name] = runners.reduce(0) { $0 + $1.variantCounts[i] } }
            summary.setGroup("variants", perVariant)
            summary.remark("split_campaign", split.campaign, text: "split for \(split.campaign): "
                + split.variants.enumerated().map { i, v in "\(v.name) \(perVariant[v.name] ?? 0)" }.joined(separator: ", "))
        }
        if options.segments != nil {
            var perSegment: [String: Int] = [:]
            for r in runners { perSegment[r.name] = r.emitted }
            summary.setGroup("segments", perSegment)
        }
        if options.explain {
            var explained: [String: Int] = [:]
            for runner in runners {
                let prefix = runner.name.isEmpty ? "" : "[\(runner.name)] "
                if runner.parts.isEmpty { notes.append("\(stage): explain: \(prefix)no criteria: every contact matches") }
                for (k, part) in runner.parts.enumerated() {
                    notes.append("\(stage): explain: \(prefix)\(part.label): \(runner.passed[k]) of \(runner.evaluated) pass, \(runner.evaluated - runner.passed[k]) fail")
                    explained[prefix + part.label] = runner.passed[k]
                }
                notes.append("\(stage): explain: \(prefix)all criteria: \(runner.matched) match")
                for (label, n) in runner.held.sorted(by: { $0.key < $1.key }) {
                    notes.append("\(stage): explain: \(prefix)held back by \(label): \(n)")
                }
                notes.append("\(stage): explain: \(prefix)out: \(runner.emitted)" + (runner.limit.map { " (limit \($0))" } ?? ""))
            }
            summary.setGroup("explain_passed", explained)
            _ = seen
        }
        try rejects.finish()
        let status: ExitStatus = options.stream.strict && rejects.count > 0 ? .rejectsUnderStrict : .success
        return Result(summary: summary, status: status, notes: notes, threads: threads)
    }
}

/// One segment's criteria, counters and output.
final class SegmentRunner {
    let name: String
    let parts: [NamedCriterion]
    let compiledParts: [CompiledCriterion]
    let whole: CompiledCriterion
    let limit: Int?
    let explain: Bool
    let mode: SegmentStage.Mode
    var sampleSize: Int?
    let seed: UInt64
    var evaluated = 0
    var passed: [Int]
    var matched = 0
    var emitted = 0
    /// Contacts held back, by `MailPolicy.Refusal.label`.
    var held: [String: Int] = [:]
    var full = false
    // Outputs.
    var file: SegmentFileWriter?
    var counts: [[UInt8]: Int] = [:]
    var nullCount = 0
    var reservoir: [(priority: UInt64, seq: Int, variant: Int, bytes: [UInt8])] = []
    /// Contacts emitted per variant of `--split`.
    var variantCounts: [Int]
    var seq = 0
    var scratch: [UInt8] = []

    init(name: String, parts: [NamedCriterion], slots: FieldSlots, limit: Int?, options: SegmentStage.Options) throws {
        self.name = name
        self.parts = parts
        compiledParts = parts.map { CompiledCriterion($0.criterion, slots: slots) }
        whole = CompiledCriterion(.and(parts.map(\.criterion)), slots: slots)
        self.limit = limit
        explain = options.explain
        mode = options.mode
        sampleSize = options.sample
        seed = options.seed
        passed = [Int](repeating: 0, count: parts.count)
        variantCounts = [Int](repeating: 0, count: options.split?.variants.count ?? 0)
        if let dir = options.outDir, options.mode == .records {
            file = try SegmentFileWriter(directory: dir, name: name, gzip: options.gzip)
        }
        if limit == 0 { full = true }
    }

    @inline(__always)
    func evaluate(_ ctx: inout EvalContext) -> Bool {
        if !explain { return whole.matches(&ctx) }
        evaluated += 1
        var all = true
        for (k, c) in compiledParts.enumerated() {
            if c.matches(&ctx) { passed[k] += 1 } else { all = false }
        }
        return all
    }

    @inline(__always)
    /// `tape` (the record's, for a breakdown) is nil on the parallel path, which takes no breakdown.
    func accept(_ bytes: UnsafeRawBufferPointer, tape: Tape?, hash: UInt64, breakdownIndex: Int, variant: Int = -1,
                output: inout OutputSink) throws {
        if let k = sampleSize {
            // Bottom-k by a seeded hash of the address: a uniform sample that depends only on
            // the seed and the set of contacts — not on their order, the source or the shard.
            seq += 1
            let priority = SegmentRunner.mix(hash ^ SegmentRunner.mix(seed))
            if reservoir.count < k {
                reservoir.append((priority, seq, variant, Array(bytes)))
                siftUp(reservoir.count - 1)
            } else if k > 0 && priority < reservoir[0].priority {
                reservoir[0] = (priority, seq, variant, Array(bytes))
                siftDown(0)
            }
            return
        }
        emitted += 1
        if variant >= 0 { variantCounts[variant] += 1 }
        if let limit, emitted >= limit { full = true }
        switch mode {
        case .records:
            if let file {
                try file.write(bytes)
            } else {
                output.buffer.append(bytes)
                output.buffer.append(0x0A)
                try output.flushIfNeeded()
            }
        case .count:
            break
        case .breakdown:
            let i = breakdownIndex
            guard let tape, i >= 0 else { nullCount += 1; return }
            switch tape.kind(i) {
            case .array:
                var j = i + 1
                let end = tape.next(i)
                if j == end { nullCount += 1 }
                while j < end {
                    countValue(tape, j)
                    j = tape.next(j)
                }
            case .null: nullCount += 1
            default: countValue(tape, i)
            }
        }
    }

    @inline(__always)
    func countValue(_ tape: Tape, _ i: Int) {
        if tape.kind(i) == .string {
            if !tape.isEscaped(i) {
                let c = tape.content(i)
                // Look up without allocating when the value is already known.
                let k = [UInt8](c)
                counts[k, default: 0] += 1
            } else {
                let k = tape.withString(i, scratch: &scratch) { [UInt8]($0) }
                counts[k, default: 0] += 1
            }
        } else {
            counts[[UInt8](tape.raw(i)), default: 0] += 1
        }
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    // A max-heap on (priority, seq): the root is the entry to evict first.
    func above(_ a: Int, _ b: Int) -> Bool {
        reservoir[a].priority != reservoir[b].priority ? reservoir[a].priority > reservoir[b].priority : reservoir[a].seq > reservoir[b].seq
    }

    func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            if above(i, parent) { reservoir.swapAt(i, parent); i = parent } else { break }
        }
    }

    func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var top = i
            if l < reservoir.count && above(l, top) { top = l }
            if r < reservoir.count && above(r, top) { top = r }
            if top == i { return }
            reservoir.swapAt(i, top)
            i = top
        }
    }

    func finish(output: inout OutputSink, segmentKey: Bool, split: VariantSplit?) throws {
        if sampleSize != nil {
            // The sample is written in input order.
            reservoir.sort { $0.seq < $1.seq }
            sampleSize = nil
            let kept = reservoir
            reservoir = []
            for entry in kept {
                try entry.bytes.withUnsafeBytes { raw in
                    if mode == .records {
                        emitted += 1
                        if entry.variant >= 0 { variantCounts[entry.variant] += 1 }
                        if let file { try file.write(raw) } else {
                            output.buffer.append(raw)
                            output.buffer.append(0x0A)
                            try output.flushIfNeeded()
                        }
                    } else {
                        // Counting a sample: re-parse the kept record.
                        var parser = JSONParser(maxDepth: 64)
                        defer { parser.deallocate() }
                        let doc = try parser.parse(raw)
                        var index = -1
                        if case .breakdown(let f) = mode {
                            let slots = FieldSlots()
                            let s = slots.slot(f.key)
                            slots.resolve(Tape(doc))
                            index = slots[s]
                        }
                        try accept(raw, tape: Tape(doc), hash: 0, breakdownIndex: index, variant: entry.variant, output: &output)
                    }
                }
            }
        }
        func prefix(_ b: inout ByteBuffer) {
            b.append("{")
            if segmentKey {
                b.append("\"segment\":")
                b.appendJSONString(name)
                b.append(",")
            }
        }
        switch mode {
        case .records:
            try file?.finish()
        case .count:
            if let split {
                // One line per variant.
                for (i, v) in split.variants.enumerated() {
                    prefix(&output.buffer)
                    output.buffer.append("\"variant\":")
                    output.buffer.appendJSONString(v.name)
                    output.buffer.append(",\"count\":")
                    output.buffer.appendDecimal(variantCounts[i])
                    output.buffer.append("}\n")
                }
            } else {
                prefix(&output.buffer)
                output.buffer.append("\"count\":")
                output.buffer.appendDecimal(emitted)
                output.buffer.append("}\n")
            }
        case .breakdown(let field):
            var rows: [([UInt8]?, Int)] = counts.map { ($0.key, $0.value) }
            if nullCount > 0 { rows.append((nil, nullCount)) }
            rows.sort { a, b in
                if a.1 != b.1 { return a.1 > b.1 }
                guard let x = a.0 else { return false }
                guard let y = b.0 else { return true }
                return x.lexicographicallyPrecedes(y)
            }
            for (value, n) in rows {
                prefix(&output.buffer)
                output.buffer.appendJSONString(field.rawValue)
                output.buffer.append(":")
                if let value { value.withUnsafeBytes { output.buffer.appendJSONString(utf8: $0) } } else { output.buffer.append("null") }
                output.buffer.append(",\"count\":")
                output.buffer.appendDecimal(n)
                output.buffer.append("}\n")
                try output.flushIfNeeded()
            }
        }
    }
}

/// One segment's output file: written beside its final name and renamed when the run succeeds.
final class SegmentFileWriter {
    let path: String
    let temporary: String
    let descriptor: FileDescriptor
    var buffer: [UInt8] = []
    let encoder: GzipEncoder?
    var compressed: [UInt8] = []

    init(directory: String, name: String, gzip: Bool) throws {
        try FileSystem.createDirectory(directory, mode: 0o755)
        path = "\(directory)/\(name).ndjson" + (gzip ? ".gz" : "")
        temporary = "\(path).tmp-\(getpid())"
        descriptor = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .truncate], permissions: 0o644)
        encoder = gzip ? try GzipEncoder(level: 6) : nil
        buffer.reserveCapacity(1 << 20 + 4096)
    }

    deinit {
        descriptor.close()
        try? FileSystem.remove(temporary)
    }

    @inline(__always)
    func write(_ line: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: line)
        buffer.append(0x0A)
        if buffer.count >= 1 << 20 { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        if let encoder {
            compressed.removeAll(keepingCapacity: true)
            try buffer.withUnsafeBytes { try encoder.compressMember($0, appendingTo: &compressed) }
            try descriptor.writeAll(compressed)
        } else {
            try descriptor.writeAll(buffer)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    func finish() throws {
        try flush()
        if encoder != nil && FileSystem.exists(temporary) {
            // An empty segment still gets a valid (empty) gzip file.
            if try FileSystem.fileSize(temporary) == 0 {
                compressed.removeAll()
                try encoder!.compressMember(UnsafeRawBufferPointer(start: nil, count: 0), appendingTo: &compressed)
                try descriptor.writeAll(compressed)
            }
        }
        try descriptor.sync()
        try FileSystem.rename(temporary, to: path)
    }
}
