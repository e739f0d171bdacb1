import MailpipeCore

/// `validate`: gives every contact a `validation` verdict and a `status`.
///
/// Records are parsed and assessed on several threads (`ParallelRecordStream`) and come out in
/// input order. Without `--mx` the parsing threads also write each record's output line. With
/// `--mx` records are held in chunks: the chunk's new domains are looked up together
/// (concurrently, each domain once per run), then the chunk is written in input order.
public enum Validate {
    public struct Options {
        public var stream: StreamOptions
        /// Verdicts to write; the others are counted as `filtered` (nil: all).
        public var only: Set<Verdict>?
        public var fixTypos: Bool
        public var strictDisposable: Bool
        public var disposableLists: [String]
        public var allowLists: [String]
        public var mx: Bool
        public var dnsServer: String?
        public var dnsTimeoutMs: Int
        public var dnsTries: Int
        public var dnsConcurrency: Int
        /// Records held per chunk in `--mx` mode.
        public var chunkRecords: Int
        /// Threads parsing and checking records (one per core, at most 4, by default); the
        /// output does not depend on it.
        public var threads: Int

        public init(stream: StreamOptions, only: Set<Verdict>? = nil, fixTypos: Bool = false,
                    strictDisposable: Bool = false, disposableLists: [String] = [], allowLists: [String] = [],
                    mx: Bool = false, dnsServer: String? = nil, dnsTimeoutMs: Int = 2000, dnsTries: Int = 2,
                    dnsConcurrency: Int = 64, chunkRecords: Int = 50_000, threads: Int? = nil) {
            self.threads = threads ?? Cores.workers
            self.stream = stream
            self.only = only
            self.fixTypos = fixTypos
            self.strictDisposable = strictDisposable
            self.disposableLists = disposableLists
            self.allowLists = allowLists
            self.mx = mx
            self.dnsServer = dnsServer
            self.dnsTimeoutMs = dnsTimeoutMs
            self.dnsTries = dnsTries
            self.dnsConcurrency = dnsConcurrency
            self.chunkRecords = chunkRecords
        }
    }

    /// Statuses `validate` never overwrites: suppression outlives re-validation (docs/design.md §4),
    /// and a contact already sent to stays `injected`.
    static let keptStatuses: [StaticString] = ["bounced", "unsubscribed", "complained", "blacklisted", "injected"]

    /// Parses `--verdict valid,risky`.
    public static func parseVerdicts(_ text: String) throws -> Set<Verdict> {
        var set = Set<Verdict>()
        for part in text.split(separator: ",") {
            let name = part.trimmingSpaces
            guard let v = Verdict(rawValue: name) else {
                throw StageError.usage("--verdict takes verdicts among valid,risky,invalid, got '\(name)'")
            }
            set.insert(v)
        }
        guard !set.isEmpty else { throw StageError.usage("--verdict needs at least one verdict") }
        return set
    }

    /// Reads a domain list: one domain per line, `#` comments and blank lines ignored,
    /// internationalised names converted to ASCII.
    public static func loadDomainList(_ path: String) throws -> [String] {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path) } catch {
            throw StageError.configuration("cannot read \(path): \(error)")
        }
        var result: [String] = []
        for (n, rawLine) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            guard var line = BuiltinLists.domainListEntry(String(decoding: rawLine, as: UTF8.self)) else { continue }
            if line.utf8.contains(where: { $0 >= 0x80 }) {
                guard let ascii = EmailValidator.idnaToASCII(line) else {
                    throw StageError.configuration("\(path):\(n + 1): '\(line)' is not a valid domain name")
                }
                line = ascii
            }
            guard EmailValidator.domainProblem(Array(line.utf8)) == nil else {
                throw StageError.configuration("\(path):\(n + 1): '\(line)' is not a valid domain name")
            }
            result.append(line)
        }
        return result
    }

    public static func run(_ options: Options, output: inout OutputSink) throws -> (Summary, ExitStatus) {
        var extra: [String] = []
        for path in options.disposableLists { extra += try loadDomainList(path) }
        var allowed: [String] = []
        for path in options.allowLists { allowed += try loadDomainList(path) }
        var validator = EmailValidator(extraDisposable: extra, allowed: allowed, strictDisposable: options.strictDisposable)
        validator.wantsLookupDomain = options.mx
        let resolver = options.mx
            ? try MXResolver(server: options.dnsServer, timeoutMs: options.dnsTimeoutMs, tries: options.dnsTries,
                             concurrency: options.dnsConcurrency)
            : nil

        let rejects = try RejectSink(stage: "validate", path: options.stream.rejectsPath)
        // Without --mx a record's output depends on nothing but the record: the parsing threads
        // write it too. With --mx it waits for its chunk's DNS round, on this thread.
        let judges = (0..<Cores.capped(options.threads)).map { _ in
            Judge(validator: validator, fixTypos: options.fixTypos, writing: resolver == nil ? options.only ?? Set(Verdict.allCases) : [],
                  maxDepth: options.stream.maxDepth)
        }
        var stream = try ParallelRecordStream<Judgement>(options: options.stream, rejects: rejects, threads: judges.count,
                                                         keeping: judges.map(\.members)) { record, worker, written in
            judges[worker].judge(record, into: &written)
        }
        defer { stream.close() }
        var state = RunState(options: options)
        var chunk = Chunk()
        var reparser = JSONParser(maxDepth: options.stream.maxDepth)
        defer { reparser.deallocate() }

        try stream.forEach { line, judgement in
            switch judgement {
            case .refused(let refusal):
                rejects.reject(refusal, origin: line.origin, record: line.bytes)
            case .assessed(let assessment, let fixed):
                if let resolver {
                    chunk.add(line.bytes, assessment: assessment, fixed: fixed)
                    if chunk.entries.count >= options.chunkRecords {
                        try state.flush(&chunk, resolver, &reparser, &output)
                    }
                } else if state.count(assessment) {
                    output.buffer.append(line.written)
                    state.written += 1
                    try output.flushIfNeeded()
                }
            }
        }
        if let resolver { try state.flush(&chunk, resolver, &reparser, &output) }
        try output.flush()
        try rejects.finish()

        var summary = Summary(stage: "validate", headline: ["in", "out", "valid", "risky", "invalid"])
        summary["in"] = stream.linesIn
        if options.stream.shard != nil { summary["other_shards"] = stream.otherShards }
        summary["out"] = state.written
        for v in Verdict.allCases { summary[v.rawValue] = state.verdicts[v.rawValue, default: 0] }
        for r in Reason.allCases where state.reasons[r.rawValue, default: 0] > 0 {
            summary.headline.append(r.rawValue)
            summary[r.rawValue] = state.reasons[r.rawValue]!
        }
        if options.only != nil { summary.headline.append("filtered"); summary["filtered"] = state.filtered }
        summary.headline.append("rejected")
        summary["rejected"] = rejects.count
        summary["blank_lines"] = stream.blankLines
        if let resolver {
            summary["dns_domains"] = state.cache.count
            summary["dns_queries"] = resolver.queriesSent
        }
        summary.setGroup("verdicts", state.verdicts)
        summary.setGroup("reasons", state.reasons)
        summary.setGroup("reject_reasons", rejects.reasons)
        let status: ExitStatus = options.stream.strict && rejects.count > 0 ? .rejectsUnderStrict : .success
        return (summary, status)
    }

    /// What a parsing thread made of one record.
    enum Judgement {
        case refused(RecordRefusal)
        /// `fixed`: the suggestion `--fix-typos` applied.
        case assessed(Assessment, fixed: String?)
    }

    /// One parsing thread's checks of a record, with its own scratch space: the address assessed
    /// (and, with --fix-typos, its suggestion), and the output line written when the verdict is
    /// among `writing` (empty: the caller writes, after DNS).
    ///
    /// Its records are parsed keeping only the members validate reads or sets (`members`); one
    /// whose layout `RecordPatch` cannot splice is parsed whole again (`fullParser`) to be written.
    final class Judge {
        let validator: EmailValidator
        let fixTypos: Bool
        let writing: Set<Verdict>
        /// `writing` by verdict, looked up per record without hashing the verdict's name.
        private let writesValid: Bool, writesRisky: Bool, writesInvalid: Bool
        let members = ValidationOutput.memberSlots()
        private var emailBytes: [UInt8] = []
        private var output = ValidationOutput()
        private var fullParser: JSONParser

        init(validator: EmailValidator, fixTypos: Bool, writing: Set<Verdict>, maxDepth: Int) {
            self.validator = validator
            self.fixTypos = fixTypos
            self.writing = writing
            writesValid = writing.contains(.valid)
            writesRisky = writing.contains(.risky)
            writesInvalid = writing.contains(.invalid)
            fullParser = JSONParser(maxDepth: maxDepth)
        }

        deinit { fullParser.deallocate() }

        private func writes(_ verdict: Verdict) -> Bool {
            switch verdict {
            case .valid: return writesValid
            case .risky: return writesRisky
            case .invalid: return writesInvalid
            }
        }

        func judge(_ record: Record, into written: inout ByteBuffer) -> Judgement {
            guard let email = record["email"] else { return .refused(RecordRefusal(.missingEmail, "a contact needs an email")) }
            guard email.kind == .string else { return .refused(RecordRefusal(.invalidEmail, "email must be a string")) }
            emailBytes.removeAll(keepingCapacity: true)
            email.appendDecodedString(to: &emailBytes)
            var assessment = emailBytes.withUnsafeBytes { validator.assess($0) }
            var fixed: String?
            if fixTypos, let suggestion = assessment.suggestion {
                var again = validator.assess(suggestion)
                if again.fatal.isEmpty {
                    again.add(.typoFixed)
                    assessment = again
                    fixed = suggestion
                }
            }
            if writes(assessment.verdict) {
                output.set(record, assessment, fixed: fixed)
                if let refusal = output.patch.write(record, keeping: members, reparser: &fullParser, into: &written) {
                    return .refused(refusal)
                }
                written.append(0x0A)
            }
            return .assessed(assessment, fixed: fixed)
        }
    }

    /// Records held for a DNS round (their bytes copied out of the stream's batch).
    struct Chunk {
        var arena: [UInt8] = []
        var entries: [(start: Int, count: Int, assessment: Assessment, fixed: String?)] = []

        mutating func add(_ bytes: UnsafeRawBufferPointer, assessment: Assessment, fixed: String?) {
            let start = arena.count
            arena.append(contentsOf: bytes)
            entries.append((start, bytes.count, assessment, fixed))
        }
    }

    struct RunState {
        let options: Options
        var written = 0
        var filtered = 0
        /// Counts by `Verdict.allCases` and `Reason.allCases` position.
        var verdictCounts = [Int](repeating: 0, count: Verdict.allCases.count)
        var reasonCounts = [Int](repeating: 0, count: Reason.allCases.count)
        var cache: [String: MXResolver.Outcome] = [:]
        var output = ValidationOutput()

        init(options: Options) { self.options = options }

        var verdicts: [String: Int] {
            var d: [String: Int] = [:]
            for (i, v) in Verdict.allCases.enumerated() where verdictCounts[i] > 0 { d[v.rawValue] = verdictCounts[i] }
            return d
        }

        var reasons: [String: Int] {
            var d: [String: Int] = [:]
            for (i, r) in Reason.allCases.enumerated() where reasonCounts[i] > 0 { d[r.rawValue] = reasonCounts[i] }
            return d
        }

        /// Counts a final verdict and its reasons; whether the record is to be written (else it
        /// is counted as filtered).
        mutating func count(_ a: Assessment) -> Bool {
            let verdict = a.verdict
            switch verdict {
            case .valid: verdictCounts[0] += 1
            case .risky: verdictCounts[1] += 1
            case .invalid: verdictCounts[2] += 1
            }
            for r in a.reasons { reasonCounts[Reason.allCases.firstIndex(of: r)!] += 1 }
            if let only = options.only, !only.contains(verdict) {
                filtered += 1
                return false
            }
            return true
        }

        mutating func flush(_ chunk: inout Chunk, _ resolver: MXResolver, _ parser: inout JSONParser,
                            _ sink: inout OutputSink) throws {
            var wanted: [String] = []
            var seen = Set<String>()
            for e in chunk.entries {
                if let d = e.assessment.lookupDomain, cache[d] == nil, seen.insert(d).inserted { wanted.append(d) }
            }
            if !wanted.isEmpty {
                for (d, outcome) in zip(wanted, resolver.resolve(wanted)) { cache[d] = outcome }
            }
            let arena = chunk.arena
            for e in chunk.entries {
                var a = e.assessment
                if let d = a.lookupDomain {
                    switch cache[d]! {
                    case .acceptsMail: a.mailConfirmed = true
                    case .noMail: a.add(.noMX, fatal: true)
                    case .mxHostsWithoutAddress: a.add(.noMXAddress, fatal: true)
                    case .unknown: a.add(.dnsUnknown)
                    }
                }
                guard count(a) else { continue }
                try arena.withUnsafeBytes { raw in
                    let bytes = UnsafeRawBufferPointer(rebasing: raw[e.start..<(e.start + e.count)])
                    let document = try parser.parse(bytes)   // parsed once already: cannot fail
                    let record = Record(document: document, line: 0, file: nil)
                    output.set(record, a, fixed: e.fixed)
                    output.patch.write(record, into: &sink.buffer)
                }
                sink.buffer.append(0x0A)
                written += 1
                try sink.flushIfNeeded()
            }
            chunk.arena.removeAll(keepingCapacity: true)
            chunk.entries.removeAll(keepingCapacity: true)
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        let scalars = unicodeScalars.drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" })
        var s = String(String.UnicodeScalarView(scalars))
        while let last = s.last, last == " " || last == "\t" || last == "\r" { s.removeLast() }
        return s
    }
}
