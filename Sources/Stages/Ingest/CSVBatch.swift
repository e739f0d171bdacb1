#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import MailpipeCore

/// CSV data rows gathered from the reader, then turned into contacts on `threads` threads.
///
/// Each thread takes a contiguous share of the rows with its own copy of the run's per-row state
/// (builder, look-up caches) and writes into its own output and reject buffers; the shares are
/// appended in row order afterwards, so the output, the rejects and the counts are those of one
/// thread, byte for byte. Reading and record assembly (quoted newlines) stay on the caller's thread.
struct CSVBatch {
    typealias Row = (start: Int, end: Int, line: Int)
    static let maxRows = 8192
    static let maxBytes = 4 << 20
    /// Below this many rows a batch is not worth the hand-over.
    static let minParallelRows = 512

    let threads: Int
    private var bytes: [UInt8] = []
    private var rows: [Row] = []
    private var workers: [IngestRun] = []
    private var sinks: [OutputSink] = []

    init(threads: Int) { self.threads = max(1, threads) }

    var isEmpty: Bool { rows.isEmpty }
    var isFull: Bool { rows.count >= CSVBatch.maxRows || bytes.count >= CSVBatch.maxBytes }

    mutating func add(_ record: UnsafeRawBufferPointer, line: Int) {
        let start = bytes.count
        bytes.append(contentsOf: record)
        rows.append((start, bytes.count, line))
    }

    /// Takes the workers' copies of the run once its header is read.
    mutating func configure(for run: IngestRun) {
        guard threads > 1 else { return }
        workers = (0..<threads).map { _ in
            var w = run
            w.rejects = RejectSink(capturingFor: run.rejects.stage)
            w.rowsIn = 0
            w.contactsOut = 0
            w.unusableTags = [:]
            return w
        }
        sinks = (0..<threads).map { _ in .memory() }
    }

    /// Turns the gathered rows into contacts written to `output`, then empties the batch.
    mutating func run(into run: inout IngestRun, delimiter: UInt8, file: String?, header: [ColumnTarget],
                      headerNames: [String], source: String, output: inout OutputSink) throws {
        defer {
            bytes.removeAll(keepingCapacity: true)
            rows.removeAll(keepingCapacity: true)
        }
        let n = workers.count
        if n < 2 || rows.count < CSVBatch.minParallelRows {
            try bytes.withUnsafeBytes { all in
                try CSVBatch.process(&run, rows: rows[...], in: all, delimiter: delimiter, file: file, header: header,
                                     headerNames: headerNames, source: source, output: &output)
            }
            return
        }
        let shares = self.rows
        var errors = [Error?](repeating: nil, count: n)
        bytes.withUnsafeBytes { all in
            workers.withUnsafeMutableBufferPointer { ws in
                sinks.withUnsafeMutableBufferPointer { ss in
                    errors.withUnsafeMutableBufferPointer { es in
                        DispatchQueue.concurrentPerform(iterations: n) { w in
                            let lo = shares.count * w / n
                            let hi = shares.count * (w + 1) / n
                            do {
                                try CSVBatch.process(&ws[w], rows: shares[lo..<hi], in: all, delimiter: delimiter, file: file,
                                                     header: header, headerNames: headerNames, source: source, output: &ss[w])
                            } catch {
                                es[w] = error
                            }
                        }
                    }
                }
            }
        }
        for w in 0..<n {
            if let error = errors[w] { throw error }
            sinks[w].buffer.withUnsafeBytes { output.buffer.append($0) }
            sinks[w].buffer.removeAll()
            workers[w].rejects.forward(to: run.rejects)
            run.rowsIn += workers[w].rowsIn
            run.contactsOut += workers[w].contactsOut
            for (tag, count) in workers[w].unusableTags { run.unusableTags[tag, default: 0] += count }
            workers[w].rowsIn = 0
            workers[w].contactsOut = 0
            workers[w].unusableTags.removeAll(keepingCapacity: true)
            try output.flushIfNeeded()
        }
    }

    private static func process(_ run: inout IngestRun, rows: ArraySlice<Row>, in all: UnsafeRawBufferPointer, delimiter: UInt8,
                                file: String?, header: [ColumnTarget], headerNames: [String], source: String,
                                output: inout OutputSink) throws {
        var fields: [IngestRun.Span] = []
        fields.reserveCapacity(64)
        var scratch: [UInt8] = []
        var header: [ColumnTarget]? = header
        var names = headerNames
        var tenantColumn = false
        for row in rows {
            let record = UnsafeRawBufferPointer(rebasing: all[row.start..<row.end])
            _ = IngestRun.scan(record, delimiter: delimiter, into: &fields)
            try run.processCSVRecord(record, fields: fields, line: row.line, file: file, header: &header, headerNames: &names,
                                     tenantColumn: &tenantColumn, source: source, scratch: &scratch, output: &output)
        }
    }
}
