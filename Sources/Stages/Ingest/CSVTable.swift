import MailpipeCore

/// The records of one table — a CSV input or a worksheet — once assembled: the header is read
/// on the calling thread, data rows are gathered into a `RowBatch` and converted on every core.
struct CSVTable {
    var delimiter: UInt8
    let file: String?
    let source: String
    var batch: RowBatch
    private(set) var header: [ColumnTarget]?
    private var headerNames: [String] = []
    private var tenantColumn = false
    private var fields: [IngestRun.Span] = []
    private var scratch: [UInt8] = []

    init(delimiter: UInt8, file: String?, source: String, batch: RowBatch) {
        self.delimiter = delimiter
        self.file = file
        self.source = source
        self.batch = batch
    }

    /// A complete record (UTF-8): the first is the header, the rest go to the batch. `flush`:
    /// hand over what is gathered now (the input may wait).
    mutating func take(_ p: UnsafeRawBufferPointer, line: Int, run: inout IngestRun, layout: inout InputLayout,
                       output: inout OutputSink, flush: Bool) throws {
        guard let columns = header else {
            _ = IngestRun.scan(p, delimiter: delimiter, into: &fields)
            try run.processCSVRecord(p, fields: fields[...], line: line, file: file, header: &header, headerNames: &headerNames,
                                     tenantColumn: &tenantColumn, source: source, scratch: &scratch, delimiter: delimiter,
                                     output: &output)
            layout.delimiter = delimiter
            layout.headerLine = line
            if let targets = header { layout.report(headers: headerNames, targets: targets) }
            try batch.configure(for: run)
            return
        }
        batch.add(p, line: line)
        if batch.isFull {
            try batch.submit(into: &run, output: &output, convert: convert(columns))
        } else if flush {
            try drain(run: &run, output: &output)
        }
    }

    /// Converts and writes what is gathered (rejects written after this follow those rows).
    mutating func drain(run: inout IngestRun, output: inout OutputSink) throws {
        if let columns = header, !batch.isEmpty {
            try batch.drain(into: &run, output: &output, convert: convert(columns))
        }
    }

    /// How the batch's rows are converted, with the delimiter and header known by then.
    private func convert(_ columns: [ColumnTarget]) -> RowBatch.Convert {
        { [delimiter, headerNames, file, source] run, rows, all, out in
            try IngestRun.convertCSVRows(&run, rows: rows, in: all, delimiter: delimiter, file: file, header: columns,
                                         headerNames: headerNames, source: source, output: &out)
        }
    }
}
