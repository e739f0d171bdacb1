import MailpipeCore
import MailpipeStore

/// A store line judged, or why it does not parse.
typealias StoreOutcome = Swift.Result<ParallelVerdict, JSONParseError>

/// The store's contact lines judged on several threads, as `streamInParallel` judges standard
/// input's: the store hands its lines one at a time (valid during the call), so they are copied
/// into a batch; while the crew parses (lazily, keeping the judges' slots) and judges one batch,
/// the caller's thread reads the store into the other, then counts and emits the first in order.
struct StoreJudging {
    /// Store lines gathered for the crew, and what became of each.
    final class Batch {
        static let capacity = 4096
        var bytes: [UInt8] = []
        /// Where each line ends in `bytes` (it starts where the one before ends).
        var ends: [Int] = []
        /// The store's line number of the first line.
        var firstNumber = 0
        let outcomes: UnsafeMutablePointer<StoreOutcome?>

        init() {
            outcomes = .allocate(capacity: Self.capacity)
            outcomes.initialize(repeating: nil, count: Self.capacity)
        }

        deinit {
            outcomes.deinitialize(count: Self.capacity)
            outcomes.deallocate()
        }

        var count: Int { ends.count }
        var isFull: Bool { ends.count >= Self.capacity }

        func append(_ line: UnsafeRawBufferPointer, number: Int) {
            if ends.isEmpty { firstNumber = number }
            bytes.append(contentsOf: line)
            ends.append(bytes.count)
        }

        func line(_ i: Int, in all: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: all[(i == 0 ? 0 : ends[i - 1])..<ends[i]])
        }

        func reset() {
            bytes.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
        }
    }

    /// Records per slice a thread claims at a time.
    static let sliceRecords = 64

    private let judges: [ContactJudge]
    private let criteria: [CompiledCriterion]
    private let holdBack: Bool
    private let crew: WorkCrew
    private let parsers: UnsafeMutablePointer<JSONParser>
    private var gathering = Batch()
    /// The batch the crew is judging, if any.
    private var judging: Batch?

    init(judges: [ContactJudge], criteria: [CompiledCriterion], holdBack: Bool, maxDepth: Int) throws {
        self.judges = judges
        self.criteria = criteria
        self.holdBack = holdBack
        crew = try WorkCrew(helpers: judges.count - 1)
        parsers = .allocate(capacity: judges.count)
        for w in 0..<judges.count { (parsers + w).initialize(to: JSONParser(maxDepth: maxDepth)) }
    }

    /// Frees the parsers and stops the crew; unusable after.
    func close() {
        crew.stop()
        for w in 0..<judges.count { parsers[w].deallocate() }
        parsers.deinitialize(count: judges.count)
        parsers.deallocate()
    }

    /// Takes the store's line `number`; `deliver` gets judged lines, in order, as batches fill.
    mutating func add(_ line: UnsafeRawBufferPointer, number: Int,
                      deliver: (UnsafeRawBufferPointer, Int, StoreOutcome) throws -> Void) throws {
        gathering.append(line, number: number)
        if gathering.isFull { try cycle(deliver) }
    }

    /// Judges and delivers every line still held.
    mutating func finish(_ deliver: (UnsafeRawBufferPointer, Int, StoreOutcome) throws -> Void) throws {
        while gathering.count > 0 || judging != nil { try cycle(deliver) }
    }

    /// Waits for the batch being judged, starts the gathered one, then delivers the first and
    /// gathers into it next. (On an error the run ends: `close` stops the crew.)
    private mutating func cycle(_ deliver: (UnsafeRawBufferPointer, Int, StoreOutcome) throws -> Void) throws {
        let done = judging
        if done != nil { crew.finish() }
        judging = nil
        var next: Batch?
        if gathering.count > 0 {
            start(gathering)
            judging = gathering
            next = done ?? Batch()
        }
        if let done {
            try done.bytes.withUnsafeBytes { all in
                for i in 0..<done.count {
                    try deliver(done.line(i, in: all), done.firstNumber + i, done.outcomes[i].take()!)
                }
            }
            done.reset()
        }
        if let next { gathering = next }
    }

    private func start(_ batch: Batch) {
        let judges = self.judges, criteria = self.criteria, holdBack = self.holdBack, parsers = self.parsers
        let count = batch.count
        let slice = Self.sliceRecords
        crew.start(slices: (count + slice - 1) / slice) { s, worker in
            let judge = judges[worker]
            batch.bytes.withUnsafeBytes { all in
                for i in (s * slice)..<min(count, (s + 1) * slice) {
                    do throws(JSONParseError) {
                        let document = try parsers[worker].parse(batch.line(i, in: all), keeping: judge.slots)
                        guard document.root.kind == .object else { throw JSONParseError(.notAnObject, at: 0) }
                        batch.outcomes[i] = .success(judge.verdict(Tape(document), fromStore: true, criteria: criteria, holdBack: holdBack))
                    } catch {
                        batch.outcomes[i] = .failure(error)
                    }
                }
            }
        }
    }
}

extension SegmentStage {
    /// `--contacts store` judged on `judges.count` threads (one: all on the caller's) and counted
    /// and emitted in the store's order — the same output, rejects and counts as the one-record-
    /// at-a-time path. Only when `judgesInParallel`. Returns the store's lines read.
    static func storeInParallel(_ options: Options, store: TenantContacts, runners: [SegmentRunner], judges: [ContactJudge],
                                rejects: RejectSink, output: inout OutputSink, progress: inout Progress) throws -> Int {
        var judging = try StoreJudging(judges: judges, criteria: runners.map(\.whole), holdBack: !options.includeSuppressed,
                                       maxDepth: options.stream.maxDepth)
        defer { judging.close() }
        func deliver(_ line: UnsafeRawBufferPointer, _ number: Int, _ outcome: StoreOutcome) throws {
            let origin = RejectSink.Origin(line: number, file: "store")
            switch outcome {
            case .success(let verdict):
                try take(verdict, bytes: line, origin: origin, runners: runners, rejects: rejects, output: &output)
            case .failure(let error):
                rejects.reject(error.rejectReason, error.description, origin: origin, raw: line)
            }
        }
        var number = 0
        try store.forEach(shard: options.shard) { line in
            number += 1
            progress.tick(records: number)
            try judging.add(line, number: number, deliver: deliver)
        }
        try judging.finish(deliver)
        return number
    }
}
