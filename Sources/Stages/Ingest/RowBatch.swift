import MailpipeCore

/// Rows gathered from the reader (CSV records, NDJSON lines), turned into contacts on a
/// `WorkCrew`, pipelined: the helper threads convert one batch while the reading thread gathers
/// the next and writes the one before.
///
/// A batch is cut into slices of rows; whichever thread takes a slice converts it with its own
/// copy of the run (`IngestRun.forAnotherThread`: builder, look-up caches) into the slice's own
/// output and reject buffers, and the slices are written in row order afterwards, so the output,
/// the rejects and the counts are those of one thread, byte for byte. Reading and record
/// assembly (CSV's quoted newlines) stay on the caller's thread.
struct RowBatch {
    typealias Row = (start: Int, end: Int, line: Int)
    /// Converts one slice of rows (their bytes are in the buffer given) with one thread's copy of
    /// the run, writing its contacts to the output given.
    typealias Convert = (inout IngestRun, ArraySlice<Row>, UnsafeRawBufferPointer, inout OutputSink) throws -> Void
    static let maxRows = 8192
    static let maxBytes = 4 << 20
    static let sliceRows = 256

    /// What one slice of a batch produced.
    struct SliceResult {
        var output = OutputSink.memory(capacity: 128 << 10)
        var rejects: RejectSink
        var rowsIn = 0
        var contactsOut = 0
        var readAsCP1252 = 0
        var unusableTags: [String: Int] = [:]
    }

    /// One batch: its rows' bytes, and per slice what came of them. A class with the slice
    /// results in raw memory, so the crew's threads each write their own slice while the caller
    /// fills the other batch.
    final class Buffer {
        static let maxSlices = (RowBatch.maxRows + RowBatch.sliceRows - 1) / RowBatch.sliceRows
        /// (A ByteBuffer: an append is a capacity check and a copy, no uniqueness check.)
        var bytes = ByteBuffer(capacity: 1 << 20)
        var rows: [Row] = []
        let slices: UnsafeMutablePointer<SliceResult>
        var sliceCount = 0

        init(stage: String) {
            slices = .allocate(capacity: Buffer.maxSlices)
            for s in 0..<Buffer.maxSlices { (slices + s).initialize(to: SliceResult(rejects: RejectSink(capturingFor: stage))) }
        }

        deinit {
            slices.deinitialize(count: Buffer.maxSlices)
            slices.deallocate()
        }
    }

    let threads: Int
    /// The stage named in the rejects of the worker threads.
    private let stage: String
    private var filling: Buffer
    private var spare: Buffer?
    private var inFlight: Buffer?
    private var crew: WorkCrew?
    /// The run's per-row state, one copy per thread of the crew (0: the caller's).
    private var workers: UnsafeMutablePointer<IngestRun>?

    init(threads: Int, stage: String) {
        self.threads = Cores.capped(threads)
        self.stage = stage
        filling = Buffer(stage: stage)
    }

    var isEmpty: Bool { filling.rows.isEmpty && inFlight == nil }
    var isFull: Bool { filling.rows.count >= RowBatch.maxRows || filling.bytes.count >= RowBatch.maxBytes }

    mutating func add(_ record: UnsafeRawBufferPointer, line: Int) {
        let start = filling.bytes.count
        filling.bytes.append(record)
        filling.rows.append((start, filling.bytes.count, line))
    }

    /// Takes the per-thread copies of the run (for CSV, once its header is read).
    mutating func configure(for run: IngestRun) throws {
        release()
        let crew = try WorkCrew(helpers: threads - 1)
        let copies = UnsafeMutablePointer<IngestRun>.allocate(capacity: crew.helpers + 1)
        for w in 0...crew.helpers {
            (copies + w).initialize(to: run.forAnotherThread())
        }
        self.crew = crew
        workers = copies
    }

    /// Stops the crew and frees the copies (the batch must be drained).
    mutating func release() {
        guard let crew, let workers else { return }
        crew.stop()
        workers.deinitialize(count: crew.helpers + 1)
        workers.deallocate()
        self.crew = nil
        self.workers = nil
    }

    /// Hands the gathered rows to the crew and writes the batch before it, if any, while they
    /// are converted. The output of the rows handed over now follows at the next `submit` or
    /// at `drain`.
    mutating func submit(into run: inout IngestRun, output: inout OutputSink, convert: @escaping Convert) throws {
        guard let crew, let workers, !filling.rows.isEmpty else { return }
        let previous = inFlight
        if previous != nil {
            crew.finish()
        }
        let batch = filling
        start(batch, crew: crew, workers: workers, convert: convert)
        inFlight = batch
        filling = spare ?? Buffer(stage: stage)
        spare = nil
        if let previous {
            try write(previous, into: &run, output: &output)
            spare = previous
        }
        filling.bytes.removeAll()
        filling.rows.removeAll(keepingCapacity: true)
    }

    /// Converts and writes everything gathered: rejects written after this follow those rows.
    mutating func drain(into run: inout IngestRun, output: inout OutputSink, convert: @escaping Convert) throws {
        try submit(into: &run, output: &output, convert: convert)
        guard let crew, let last = inFlight else { return }
        crew.finish()
        inFlight = nil
        try write(last, into: &run, output: &output)
        spare = last
    }

    private func start(_ batch: Buffer, crew: WorkCrew, workers: UnsafeMutablePointer<IngestRun>, convert: @escaping Convert) {
        let rows = batch.rows.count
        let slices = (rows + RowBatch.sliceRows - 1) / RowBatch.sliceRows
        precondition(slices <= Buffer.maxSlices, "a batch holds at most \(RowBatch.maxRows) rows")
        batch.sliceCount = slices
        let results = batch.slices
        crew.start(slices: slices) { s, w in
            let run = workers + w
            let lo = s * RowBatch.sliceRows
            let hi = min(rows, lo + RowBatch.sliceRows)
            run.pointee.rejects = results[s].rejects
            run.pointee.rowsIn = 0
            run.pointee.contactsOut = 0
            run.pointee.readAsCP1252 = 0
            do {
                try batch.bytes.withUnsafeBytes { all in
                    try convert(&run.pointee, batch.rows[lo..<hi], all, &results[s].output)
                }
            } catch {
                // Only a failing output throws here, and a memory sink never fails.
                preconditionFailure("ingest: converting rows failed: \(error)")
            }
            results[s].rowsIn = run.pointee.rowsIn
            results[s].contactsOut = run.pointee.contactsOut
            results[s].readAsCP1252 = run.pointee.readAsCP1252
            if !run.pointee.unusableTags.isEmpty {
                results[s].unusableTags = run.pointee.unusableTags
                run.pointee.unusableTags.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Writes a converted batch's slices in row order, with their rejects and counts.
    private func write(_ batch: Buffer, into run: inout IngestRun, output: inout OutputSink) throws {
        try output.write((0..<batch.sliceCount).map { batch.slices[$0].output.buffer })
        for s in 0..<batch.sliceCount {
            batch.slices[s].output.buffer.removeAll()
            batch.slices[s].rejects.forward(to: run.rejects)
            run.rowsIn += batch.slices[s].rowsIn
            run.contactsOut += batch.slices[s].contactsOut
            run.readAsCP1252 += batch.slices[s].readAsCP1252
            if !batch.slices[s].unusableTags.isEmpty {
                for (tag, count) in batch.slices[s].unusableTags { run.unusableTags[tag, default: 0] += count }
                batch.slices[s].unusableTags = [:]
            }
        }
    }
}
