
/// Reads records like `RecordStream`, but parses them on several threads: lines are gathered in
/// batches (up to `batchLines`, or fewer when the input has nothing more buffered, so a trickling
/// pipe is never held back), each thread parses a contiguous share of a batch and runs `extract`
/// on its records, and the caller's thread then gets every record's bytes with what `extract`
/// made of it — in input order, with the rejects for bad lines written at their place in it.
///
/// `extract` runs concurrently on several threads: it must only read shared state (the form
/// that is also given the worker, 0..<threads, may use per-worker scratch state). So does
/// `finishSlice`, which gets each slice's items once they are all extracted: work that misses
/// the cache (a look-up in a large table) goes faster there, its loads issued side by side for a
/// slice rather than one per record between parses. `forEach`'s `willDeliver` gets each batch's
/// items on the caller's thread before they are delivered, for the same reason.
///
/// A stage whose output line is a function of the record alone writes it on the parsing thread
/// too (`writing:`): each worker appends to a buffer of its own for the batch, and the caller's
/// thread finds the record's bytes in `Line.written`, to copy out in input order.
///
/// `StreamOptions.tenant` is honoured as `RecordStream` does: a record whose `tenant` is another
/// string is rejected (`tenant_mismatch`) and never reaches `extract`.
///
///     var stream = try ParallelRecordStream(options: o, rejects: r, threads: 2) { record in
///         record["email"]?.string
///     }
///     try stream.forEach { line, email in … }
public struct ParallelRecordStream<Item> {
    /// One valid record as the caller's thread sees it.
    public typealias Line = ParallelRecordLine

    private typealias Kind = ParallelStreamEntry.Kind
    private typealias Entry = ParallelStreamEntry

    /// One gathered batch: per line where it is, what it is and what `extract` made of it. The
    /// lines are where the reader read them (it `holdsLines`): the batch holds the reader's
    /// buffers it moved off while the batch was gathered, until the batch is gathered again —
    /// by then it and the batch before it, whose last lines may be in those buffers, are
    /// delivered. Kept in raw memory so the parsing threads and the caller's thread can hold
    /// pointers to one batch while the caller fills the other.
    private final class Batch {
        var blocks: [LineBlock] = []
        let entries: UnsafeMutablePointer<Entry>
        var count = 0
        let items: UnsafeMutablePointer<Item?>
        let capacity: Int
        /// Per worker, what the `writing:` form's `extract` wrote for this batch's records.
        let written: UnsafeMutablePointer<ByteBuffer>
        let workers: Int

        init(capacity: Int, workers: Int) {
            self.capacity = capacity
            self.workers = workers
            entries = .allocate(capacity: capacity)
            items = .allocate(capacity: capacity)
            items.initialize(repeating: nil, count: capacity)
            written = .allocate(capacity: workers)
            for w in 0..<workers { (written + w).initialize(to: ByteBuffer(capacity: 1 << 12)) }
        }

        deinit {
            entries.deinitialize(count: count)
            entries.deallocate()
            items.deinitialize(count: capacity)
            items.deallocate()
            written.deinitialize(count: workers)
            written.deallocate()
        }

        var isFull: Bool { count >= capacity }

        /// Empties the batch; its reader's buffers go back to `reader`.
        func reset(_ reader: inout LineReader) {
            reader.recycle(blocks)
            blocks.removeAll(keepingCapacity: true)
            entries.deinitialize(count: count)   // a refusal's text
            count = 0
            for w in 0..<workers { written[w].removeAll() }
        }

        func append(_ entry: Entry) {
            (entries + count).initialize(to: entry)
            count += 1
        }

        func line(_ e: Entry) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: e.bytes, count: e.count)
        }

        func writtenBytes(_ e: Entry) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: written[e.writer].storage.base + e.writtenStart, count: e.writtenEnd - e.writtenStart)
        }
    }

    /// Records per slice a thread claims at a time.
    static var sliceRecords: Int { 64 }

    public let options: StreamOptions
    public let rejects: RejectSink
    public let threads: Int
    public let batchLines: Int
    private let extract: (Record, _ worker: Int, _ written: inout ByteBuffer) -> Item
    /// Per worker, the root members its records keep (nil: every member).
    private let keeping: [FieldSlots]?
    private let finishSlice: ((UnsafeMutableBufferPointer<Item?>) -> Void)?
    private var inputs: [String]
    private var files: [String?] = []
    private let parsers: UnsafeMutablePointer<JSONParser>
    private let crew: WorkCrew
    private let tenantCheck: TenantCheck?
    private var batches: (Batch, Batch)
    public private(set) var linesRead = 0
    public private(set) var blankLines = 0
    public private(set) var recordsRead = 0
    /// Records skipped because they belong to another shard (`StreamOptions.shard`).
    public private(set) var otherShards = 0
    /// Every line that was not blank: records plus the lines rejected here. A stage's "in".
    public var linesIn: Int { linesRead - blankLines }
    public var progress: Progress

    public init(options: StreamOptions, rejects: RejectSink, threads: Int, batchLines: Int = 4096,
                extract: @escaping (Record) -> Item,
                finishSlice: ((UnsafeMutableBufferPointer<Item?>) -> Void)? = nil) throws {
        try self.init(options: options, rejects: rejects, threads: threads, batchLines: batchLines,
                      writing: { record, _, _ in extract(record) }, finishSlice: finishSlice)
    }

    /// The same, with `extract` told which worker (0..<threads) it runs as.
    ///
    /// `keeping` (one `FieldSlots` per worker, the same keys in each): worker w parses with
    /// `JSONParser.parse(_:keeping: keeping[w])`, so a record's document holds only the root
    /// members those slots name, already resolved into them — what `extract` reads must be
    /// among them. Validation, rejects and the order of records are those of a full parse.
    public init(options: StreamOptions, rejects: RejectSink, threads: Int, batchLines: Int = 4096,
                keeping: [FieldSlots]? = nil,
                extractOnWorker extract: @escaping (Record, _ worker: Int) -> Item,
                finishSlice: ((UnsafeMutableBufferPointer<Item?>) -> Void)? = nil) throws {
        try self.init(options: options, rejects: rejects, threads: threads, batchLines: batchLines, keeping: keeping,
                      writing: { record, worker, _ in extract(record, worker) }, finishSlice: finishSlice)
    }

    /// The same, with `extract` also writing the record's output to `written` (a buffer of the
    /// worker's; each record's share comes back as `Line.written`).
    public init(options: StreamOptions, rejects: RejectSink, threads: Int, batchLines: Int = 4096,
                keeping: [FieldSlots]? = nil,
                writing extract: @escaping (Record, _ worker: Int, _ written: inout ByteBuffer) -> Item,
                finishSlice: ((UnsafeMutableBufferPointer<Item?>) -> Void)? = nil) throws {
        self.options = options
        self.rejects = rejects
        self.threads = Cores.capped(threads)
        if let keeping {
            precondition(keeping.count >= self.threads, "one FieldSlots per worker")
            // The shard of a record from standard input is read from its email.
            if options.shard != nil { for slots in keeping { _ = slots.slot("email") } }
            // So is its tenant, when the stream checks it.
            if options.tenant != nil { for slots in keeping { _ = slots.slot("tenant") } }
        }
        self.keeping = keeping
        self.batchLines = max(1, batchLines)
        self.extract = extract
        self.finishSlice = finishSlice
        inputs = options.inputs.isEmpty ? ["-"] : options.inputs
        parsers = .allocate(capacity: self.threads)
        for i in 0..<self.threads { (parsers + i).initialize(to: JSONParser(maxDepth: options.maxDepth)) }
        crew = try WorkCrew(helpers: self.threads - 1)
        tenantCheck = options.tenant.map { TenantCheck(expected: $0) }
        batches = (Batch(capacity: self.batchLines, workers: self.threads), Batch(capacity: self.batchLines, workers: self.threads))
        progress = Progress()
        for path in inputs where path != "-" {
            if !FileSystem.exists(path) { throw StageError.usage("\(path): no such file") }
        }
    }

    /// Frees buffers; the stream is unusable after.
    public func close() {
        crew.stop()
        for i in 0..<threads { parsers[i].deallocate() }
        parsers.deinitialize(count: threads)
        parsers.deallocate()
        progress.finish()
    }

    /// Every valid record of every input, in order, with what `extract` made of it.
    ///
    /// Pipelined: while the helper threads parse one batch, this thread gathers the next from
    /// what the input has buffered and then delivers the previous one; then it helps parse.
    public mutating func forEach(willDeliver: ((UnsafeBufferPointer<Item?>) -> Void)? = nil,
                                 _ body: (Line, Item) throws -> Void) throws {
        let crew = self.crew
        for path in inputs {
            var reader = LineReader(input: try InputReader(path: path), maxLine: options.maxLine, holdsLines: true)
            defer { reader.deallocate() }
            files.append(path == "-" ? nil : path)
            let file = files.count - 1
            var more = true
            var parsing: Batch? = nil
            // Whatever happens to the caller's body, no thread may still be writing a batch.
            defer { if parsing != nil { crew.finish() } }
            while true {
                let next = parsing === batches.0 ? batches.1 : batches.0
                next.reset(&reader)
                // With a batch in flight, only what can be read without waiting is taken: a pipe
                // that trickles must not hold back records already read.
                if more, try parsing == nil || !reader.inputMayWait || reader.hasReadyLine() {
                    more = try gather(into: next, from: &reader, file: file)
                }
                if let done = parsing {
                    crew.finish()
                    parsing = nil
                    if next.count > 0 { startParsing(next); parsing = next }
                    willDeliver?(UnsafeBufferPointer(start: done.items, count: done.count))
                    try deliver(done, body)
                } else if next.count > 0 {
                    startParsing(next)
                    parsing = next
                }
                if parsing == nil && !more { break }
            }
        }
    }

    /// Reads lines into `batch` until it is full or nothing more is buffered; false at the end
    /// of the input.
    private mutating func gather(into batch: Batch, from reader: inout LineReader, file: Int) throws -> Bool {
        defer { batch.blocks += reader.takeRetired() }
        repeat {
            guard let event = try reader.next() else { return false }
            linesRead += 1
            switch event {
            case .tooLong(let number, let length):
                batch.append(Entry(bytes: nil, count: length, line: number, file: file, kind: .tooLong))
            case .line(let line, let number):
                if RecordStream.isBlank(line) { blankLines += 1; continue }
                batch.append(Entry(bytes: line.baseAddress, count: line.count, line: number, file: file, kind: .record))
            }
        } while try !batch.isFull && (!reader.inputMayWait || reader.hasReadyLine())
        return true
    }

    /// Hands `batch` to the crew: slices of records parsed, filtered by shard, and extracted.
    private func startParsing(_ batch: Batch) {
        let count = batch.count
        let slice = Self.sliceRecords
        let shard = options.shard
        let extract = self.extract
        let finishSlice = self.finishSlice
        let parsers = self.parsers
        let keeping = self.keeping
        let tenantCheck = self.tenantCheck
        crew.start(slices: (count + slice - 1) / slice) { s, worker in
            var email: [UInt8] = []
            var key: [UInt8] = []
            let es = batch.entries
            let slots = keeping?[worker]
            let written = batch.written + worker
            for i in (s * slice)..<min(count, (s + 1) * slice) where es[i].kind == .record {
                do throws(JSONParseError) {
                    let line = batch.line(es[i])
                    let document = if let slots { try parsers[worker].parse(line, keeping: slots) } else { try parsers[worker].parse(line) }
                    guard document.root.kind == .object else { throw JSONParseError(.notAnObject, at: 0) }
                    if let shard, !RecordStream.inShard(document.root, shard, email: &email, key: &key) {
                        es[i].kind = .otherShard
                        continue
                    }
                    // As RecordStream: only a tenant that is another string is refused here.
                    if let tenantCheck, let named = document.root["tenant"], named.kind == .string,
                       let refusal = tenantCheck.refusal(named) {
                        es[i].kind = .refused
                        es[i].refusal = refusal
                        continue
                    }
                    let start = written.pointee.count
                    batch.items[i] = extract(Record(document: document, line: es[i].line, file: nil), worker, &written.pointee)
                    es[i].writer = worker
                    es[i].writtenStart = start
                    es[i].writtenEnd = written.pointee.count
                } catch {
                    es[i].kind = .invalid
                    es[i].error = error
                }
            }
            if let finishSlice {
                let lo = s * slice
                finishSlice(UnsafeMutableBufferPointer(start: batch.items + lo, count: min(count, lo + slice) - lo))
            }
        }
    }

    private mutating func deliver(_ batch: Batch, _ body: (Line, Item) throws -> Void) throws {
        for i in 0..<batch.count {
            let e = batch.entries[i]
            let file = files[e.file]
            switch e.kind {
            case .record:
                recordsRead += 1
                progress.tick(records: recordsRead)
                let item = batch.items[i].take()!
                try body(Line(bytes: batch.line(e), written: batch.writtenBytes(e), line: e.line, file: file, input: e.file), item)
            case .otherShard:
                otherShards += 1
            case .refused:
                rejects.reject(e.refusal!, origin: .init(line: e.line, file: file), record: batch.line(e))
            case .tooLong:
                RecordStream.rejectTooLong(length: e.count, maxLine: options.maxLine, origin: .init(line: e.line, file: file), rejects: rejects)
            case .invalid:
                RecordStream.rejectUnparsable(batch.line(e), error: e.error!, origin: .init(line: e.line, file: file), rejects: rejects)
            }
        }
    }
}

/// Where one gathered line is and what it turned out to be. Outside the generic stream, so that
/// using one needs no generic metadata at run time.
private struct ParallelStreamEntry {
    enum Kind: UInt8 { case record, tooLong, invalid, otherShard, refused }
    /// The line in the reader's buffer (nil for a line too long, which is not loaded).
    var bytes: UnsafeRawPointer?
    /// The line's length.
    var count: Int
    var line: Int
    var file: Int
    var kind: Kind
    var error: JSONParseError? = nil
    var refusal: RecordRefusal? = nil
    /// Where the worker that extracted the record wrote its output (`Batch.written`).
    var writer = 0
    var writtenStart = 0
    var writtenEnd = 0
}

/// One valid record as `ParallelRecordStream`'s caller sees it. Outside the generic stream, so
/// that handing one to the caller needs no generic metadata look-up per record.
public struct ParallelRecordLine {
    /// The record's original bytes (valid during the call).
    public let bytes: UnsafeRawBufferPointer
    /// What the `writing:` form's `extract` wrote for this record (empty otherwise; valid
    /// during the call).
    public let written: UnsafeRawBufferPointer
    public let line: Int
    public let file: String?
    /// Which input the record came from (0 for the first operand), cheaper to compare than `file`.
    public let input: Int
    public var origin: RejectSink.Origin { RejectSink.Origin(line: line, file: file) }
}
