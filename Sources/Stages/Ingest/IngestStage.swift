#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// Input formats `ingest` reads.
public enum IngestFormat: String, CaseIterable, Sendable {
    case auto, csv, tsv, ndjson, json
}

/// `ingest`: turns CSV / TSV / NDJSON / JSON exports into canonical contact records
/// (docs/design.md §2): columns mapped by header aliases, values normalised, tenant, source and
/// created_at attached. Bad rows go to the rejects with their line number; the run goes on.
public enum IngestStage {
    public struct Options {
        public var tenant: TenantSlug?
        public var state: StateRoot
        public var source: String?
        public var now: Timestamp
        public var format: IngestFormat
        public var delimiter: UInt8?
        public var encoding: TextEncoding
        /// `--map 'Col Name=field'`: header (compared case-insensitively, trimmed) → target.
        public var mappings: [(column: String, target: ColumnTarget)]
        /// Overrides the tenant's `fallback_language`.
        public var fallbackLanguage: String?
        public var maxField: Int
        /// Threads that turn CSV rows into contacts (nil: one per core, at most 4). The output is
        /// the same, byte for byte, whatever the count.
        public var threads: Int?
        public var stream: StreamOptions

        public init(tenant: TenantSlug?, state: StateRoot, source: String? = nil, now: Timestamp,
                    format: IngestFormat = .auto, delimiter: UInt8? = nil, encoding: TextEncoding = .utf8,
                    mappings: [(column: String, target: ColumnTarget)] = [], fallbackLanguage: String? = nil,
                    maxField: Int = 64 << 10, threads: Int? = nil, stream: StreamOptions) {
            self.tenant = tenant
            self.state = state
            self.source = source
            self.now = now
            self.format = format
            self.delimiter = delimiter
            self.encoding = encoding
            self.mappings = mappings
            self.fallbackLanguage = fallbackLanguage
            self.maxField = maxField
            self.threads = threads
            self.stream = stream
        }
    }

    /// Parses `Col Name=field` (the last `=` separates, so a column may contain `=`).
    public static func parseMapping(_ text: String) throws -> (column: String, target: ColumnTarget) {
        guard let eq = text.lastIndex(of: "=") else {
            throw StageError.usage("--map takes 'Column=field', got '\(text)'")
        }
        let column = String(text[..<eq]).trimmingSpaces
        let field = String(text[text.index(after: eq)...]).trimmingSpaces
        guard !column.isEmpty else { throw StageError.usage("--map '\(text)': the column name is empty") }
        return (column, try ColumnTarget(parsing: field))
    }

    /// Runs the stage over `options.stream.inputs` and writes contacts to `output`.
    public static func run(_ options: Options, output: inout OutputSink) throws -> (Summary, ExitStatus) {
        if let fallback = options.fallbackLanguage, !LanguageCodes.codes.contains(fallback) {
            throw StageError.usage("--fallback-language must be one of fr en es de pt ru zh hi ar, got '\(fallback)'")
        }
        let rejects = try RejectSink(stage: "ingest", path: options.stream.rejectsPath)
        var run = IngestRun(options: options, rejects: rejects)
        let inputs = options.stream.inputs.isEmpty ? ["-"] : options.stream.inputs
        for path in inputs where path != "-" {
            if !FileSystem.exists(path) { throw StageError.usage("\(path): no such file") }
        }
        for path in inputs {
            try run.ingest(path: path, output: &output)
        }
        try output.flush()
        rejects.flush()
        var summary = Summary(stage: "ingest")
        summary["in"] = run.rowsIn
        summary["out"] = run.contactsOut
        summary["rejected"] = rejects.count
        summary["header_rows"] = run.headerRows
        summary["blank_lines"] = run.blankLines
        summary["tags_unusable"] = run.unusableTags.values.reduce(0, +)
        summary.setGroup("reject_reasons", rejects.reasons)
        if !run.unusableTags.isEmpty { summary.setGroup("unusable_tags", run.unusableTags) }
        if !run.formats.isEmpty { summary.setGroup("formats", run.formats) }
        if options.stream.statsPath == nil && !run.unusableTags.isEmpty {
            let list = run.unusableTags.keys.sorted().prefix(10).map { "'\($0)'" }.joined(separator: ", ")
            try? FileDescriptor.standardError.writeAll(
                "ingest: warning: \(summary["tags_unusable"]) tag(s) slug to nothing and were left out: \(list)\n")
        }
        let status: ExitStatus = options.stream.strict && rejects.count > 0 ? .rejectsUnderStrict : .success
        return (summary, status)
    }
}

/// The state of one run across its inputs.
struct IngestRun {
    let options: IngestStage.Options
    var rejects: RejectSink
    var rowsIn = 0
    var contactsOut = 0
    var headerRows = 0
    var blankLines = 0
    var unusableTags: [String: Int] = [:]
    var formats: [String: Int] = [:]
    /// Per-row state that owns buffers: each thread needs its own (`forAnotherThread`).
    var builder = ContactBuilder()
    var lookups = Lookups()
    var shared = SharedMembers()
    /// Whether `shared` holds the run's own tenant, source and clock for the current input.
    var sharedHoldsDefaults = false
    var fallbackByTenant: [String: String] = [:]
    let nowText: String
    let mapByHeader: [String: ColumnTarget]

    init(options: IngestStage.Options, rejects: RejectSink) {
        self.options = options
        self.rejects = rejects
        nowText = options.now.rfc3339
        var m: [String: ColumnTarget] = [:]
        for (column, target) in options.mappings { m[column.lowercased()] = target }
        mapByHeader = m
    }

    /// A copy of the run for another thread: the same settings, its own per-row buffers.
    func forAnotherThread() -> IngestRun {
        var copy = self
        copy.builder = ContactBuilder()
        copy.lookups = Lookups()
        copy.shared = SharedMembers()
        copy.sharedHoldsDefaults = false
        copy.unusableTags = [:]
        // Arrays read on every row get buffers of their own: a buffer two threads share has its
        // reference count bounced between their caches.
        copy.csvFields = csvFields.map { $0 }
        return copy
    }

    /// What a header or JSON key maps to.
    func target(forHeader header: String) -> ColumnTarget {
        let trimmed = header.trimmingSpaces
        if let t = mapByHeader[trimmed.lowercased()] { return t }
        if let f = HeaderAliases.field(forHeader: trimmed) { return .field(f) }
        return .custom(trimmed)
    }

    var lastFallback: (tenant: String, language: String)?
    /// The current CSV header's fields by column (nil: custom or ignored), read per row.
    var csvFields: [ContactField?] = []

    mutating func fallbackLanguage(for tenant: String) -> String {
        if let f = options.fallbackLanguage { return f }
        if let last = lastFallback, last.tenant == tenant { return last.language }
        defer { lastFallback = (tenant, fallbackByTenant[tenant]!) }
        if let f = fallbackByTenant[tenant] { return f }
        var fallback = "en"
        if let slug = try? TenantSlug(tenant) {
            let dir = options.state.tenant(slug)
            if FileSystem.exists(dir.configPath), let config = try? dir.loadConfig(),
               LanguageCodes.codes.contains(config.fallbackLanguage) {
                fallback = config.fallbackLanguage
            }
        }
        fallbackByTenant[tenant] = fallback
        return fallback
    }

    // MARK: one input

    mutating func ingest(path: String, output: inout OutputSink) throws {
        var lines = LineReader(input: try InputReader(path: path), maxLine: options.stream.maxLine)
        defer { lines.deallocate() }
        let file: String? = path == "-" ? nil : path
        sharedHoldsDefaults = false
        let defaultSource = options.source ?? IngestRun.sourceName(path)
        let format = try resolveFormat(lines: &lines, path: path)
        formats[format.rawValue, default: 0] += 1
        switch format {
        case .csv, .tsv:
            try ingestCSV(lines: &lines, file: file, tab: format == .tsv, source: defaultSource, output: &output)
        case .ndjson:
            try ingestNDJSON(lines: &lines, file: file, source: defaultSource, output: &output)
        case .json, .auto:
            try ingestJSONDocument(lines: &lines, file: file, source: defaultSource, output: &output)
        }
    }

    /// `contacts-2026.csv.gz` → `contacts-2026`; standard input → `stdin`.
    static func sourceName(_ path: String) -> String {
        if path == "-" { return "stdin" }
        var name = Substring(path.split(separator: "/").last ?? Substring(path))
        if name.hasSuffix(".gz") { name = name.dropLast(3) }
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { name = name[..<dot] }
        return String(name)
    }

    func resolveFormat(lines: inout LineReader, path: String) throws -> IngestFormat {
        if options.format != .auto { return options.format }
        var name = path.lowercased()
        if name.hasSuffix(".gz") { name.removeLast(3) }
        if name.hasSuffix(".csv") { return .csv }
        if name.hasSuffix(".tsv") || name.hasSuffix(".tab") { return .tsv }
        if name.hasSuffix(".ndjson") || name.hasSuffix(".jsonl") { return .ndjson }
        if name.hasSuffix(".json") { return .json }
        let head = try lines.peek(64 << 10)
        var i = IngestRun.bomLength(head)
        while i < head.count && Normalize.isSpace(head[i]) { i += 1 }
        guard i < head.count else { return .csv }
        if head[i] == UInt8(ascii: "[") { return .json }
        if head[i] == UInt8(ascii: "{") {
            // One object per line when the first line is a whole JSON value.
            var end = i
            while end < head.count && head[end] != 0x0A { end += 1 }
            var parser = JSONParser(maxDepth: options.stream.maxDepth)
            defer { parser.deallocate() }
            if (try? parser.parse(UnsafeRawBufferPointer(rebasing: head[i..<end]))) != nil { return .ndjson }
            return .json
        }
        return .csv
    }

    static func bomLength(_ b: UnsafeRawBufferPointer) -> Int {
        b.count >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF ? 3 : 0
    }

    // MARK: CSV

    struct Span {
        var start: Int32
        var end: Int32
        /// 0 plain, 1 quoted (content between the quotes), 2 quoted with doubled quotes or text after the closing quote.
        var kind: UInt8
        var close: Int32
    }

    /// Splits one logical record into fields. False when a quoted field is still open at the end
    /// (its newline belongs to the field: the caller appends the next line and scans again).
    static func scan(_ p: UnsafeRawBufferPointer, delimiter: UInt8, into fields: inout [Span]) -> Bool {
        fields.removeAll(keepingCapacity: true)
        let n = p.count
        guard let base = p.baseAddress else { fields.append(Span(start: 0, end: 0, kind: 0, close: 0)); return true }
        var i = 0
        while true {
            if i < n && p[i] == 0x22 {
                var j = i + 1
                var escaped = false
                while true {
                    guard j < n, let hit = memchr(base + j, 0x22, n - j) else { return false }
                    let q = base.distance(to: UnsafeRawPointer(hit))
                    if q + 1 < n && p[q + 1] == 0x22 { escaped = true; j = q + 2; continue }
                    var k = q + 1
                    if k < n && p[k] != delimiter {
                        // Text after the closing quote (`"a"b`): kept, as spreadsheets do.
                        if let d = memchr(base + k, Int32(delimiter), n - k) { k = base.distance(to: UnsafeRawPointer(d)) } else { k = n }
                        fields.append(Span(start: Int32(i + 1), end: Int32(k), kind: 2, close: Int32(q)))
                    } else {
                        fields.append(Span(start: Int32(i + 1), end: Int32(q), kind: escaped ? 2 : 1, close: Int32(q)))
                    }
                    i = k
                    break
                }
            } else {
                var k = n
                if i < n, let d = memchr(base + i, Int32(delimiter), n - i) { k = base.distance(to: UnsafeRawPointer(d)) }
                fields.append(Span(start: Int32(i), end: Int32(k), kind: 0, close: 0))
                i = k
            }
            if i >= n { return true }
            i += 1  // the delimiter
            if i == n { fields.append(Span(start: Int32(n), end: Int32(n), kind: 0, close: 0)); return true }
        }
    }

    /// Calls `body` with a field's value: plain and simple quoted fields point into the record;
    /// the rest are decoded into `scratch` first.
    @inline(__always)
    static func withValue<R>(_ s: Span, in p: UnsafeRawBufferPointer, scratch: inout [UInt8],
                             _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if s.kind < 2 { return try body(UnsafeRawBufferPointer(rebasing: p[Int(s.start)..<Int(s.end)])) }
        scratch.removeAll(keepingCapacity: true)
        var i = Int(s.start)
        let close = Int(s.close)
        while i < close {
            let b = p[i]
            scratch.append(b)
            i += (b == 0x22 && i + 1 < close && p[i + 1] == 0x22) ? 2 : 1
        }
        if Int(s.end) > close + 1 { scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[(close + 1)..<Int(s.end)])) }
        return try scratch.withUnsafeBytes { try body($0) }
    }

    /// Counts each candidate delimiter outside quotes on the header line.
    static func sniffDelimiter(_ line: UnsafeRawBufferPointer) -> UInt8 {
        var counts = [0, 0, 0]  // , ; tab
        var inQuotes = false
        for b in line {
            if b == 0x22 { inQuotes.toggle(); continue }
            if inQuotes { continue }
            if b == 0x2C { counts[0] += 1 } else if b == 0x3B { counts[1] += 1 } else if b == 0x09 { counts[2] += 1 }
        }
        if counts[1] > counts[0] && counts[1] >= counts[2] { return 0x3B }
        if counts[2] > counts[0] && counts[2] > counts[1] { return 0x09 }
        return 0x2C
    }

    mutating func ingestCSV(lines: inout LineReader, file: String?, tab: Bool, source: String, output: inout OutputSink) throws {
        var delimiter: UInt8 = options.delimiter ?? (tab ? 0x09 : 0)
        var header: [ColumnTarget]? = nil
        var headerNames: [String] = []
        var tenantColumn = false
        var fields: [Span] = []
        fields.reserveCapacity(64)
        var record: [UInt8] = []       // a record spanning lines, or a transcoded one
        var assembling = false
        var recordLine = 0
        var firstLine = true
        var scratch: [UInt8] = []
        var transcoded: [UInt8] = []
        let utf8 = options.encoding == .utf8
        var batch = RowBatch(threads: options.threads ?? Cores.workers, stage: rejects.stage)
        /// How the batch's rows are converted, with the delimiter and header known by then.
        func convert(_ columns: [ColumnTarget]) -> RowBatch.Convert {
            { [delimiter, headerNames] run, rows, all, out in
                try IngestRun.convertCSVRows(&run, rows: rows, in: all, delimiter: delimiter, file: file, header: columns,
                                             headerNames: headerNames, source: source, output: &out)
            }
        }

        /// A complete record: the header is read here; data rows go to the batch.
        func take(_ p: UnsafeRawBufferPointer, line: Int) throws {
            if header == nil {
                try processCSVRecord(p, fields: fields, line: line, file: file, header: &header,
                                     headerNames: &headerNames, tenantColumn: &tenantColumn, source: source,
                                     scratch: &scratch, output: &output)
                batch.configure(for: self)
                return
            }
            batch.add(p, line: line)
            if batch.isFull {
                try batch.submit(into: &self, output: &output, convert: convert(header!))
            } else if lines.inputMayWait && !lines.hasBufferedLine() {
                // Nothing more buffered on a pipe: what is here goes out before we wait.
                try drainBatch()
            }
        }
        /// Rejects written here must follow those of the rows before them.
        func drainBatch() throws {
            if let columns = header, !batch.isEmpty {
                try batch.drain(into: &self, output: &output, convert: convert(columns))
            }
        }
        defer { batch.release() }

        while let event = try lines.next() {
            switch event {
            case .tooLong(let number, let length):
                try drainBatch()
                if assembling {
                    record.withUnsafeBytes { reject("unterminated_quote", "a quoted field opened here runs past --max-line", line: recordLine, file: file, raw: $0) }
                    assembling = false
                }
                rowsIn += 1
                rejects.reject(reason: "line_too_long", detail: "line of \(length) bytes is over --max-line \(options.stream.maxLine)",
                               origin: .init(line: number, file: file), raw: nil)
                firstLine = false
            case .line(var bytes, let number):
                if firstLine {
                    let bom = IngestRun.bomLength(bytes)
                    if bom > 0 && utf8 { bytes = UnsafeRawBufferPointer(rebasing: bytes[bom...]) }
                    firstLine = false
                }
                if !utf8 {
                    transcoded.removeAll(keepingCapacity: true)
                    options.encoding.transcode(bytes, into: &transcoded)
                }
                if !assembling {
                    if IngestRun.isBlank(bytes) { blankLines += 1; continue }
                    recordLine = number
                    if delimiter == 0 { delimiter = IngestRun.sniffDelimiter(bytes) }
                    let complete: Bool
                    if utf8 {
                        // A data row without a quote is one record; its fields are split by whichever
                        // thread converts it. The header's fields are needed here.
                        complete = (header != nil && (bytes.isEmpty || memchr(bytes.baseAddress!, 0x22, bytes.count) == nil))
                            || IngestRun.scan(bytes, delimiter: delimiter, into: &fields)
                        if complete {
                            try take(bytes, line: number)
                            continue
                        }
                        record.removeAll(keepingCapacity: true)
                        record.append(contentsOf: bytes)
                    } else {
                        record.removeAll(keepingCapacity: true)
                        record.append(contentsOf: transcoded)
                    }
                } else {
                    record.append(0x0A)
                    if utf8 { record.append(contentsOf: bytes) } else { record.append(contentsOf: transcoded) }
                }
                let complete = record.withUnsafeBytes { IngestRun.scan($0, delimiter: delimiter, into: &fields) }
                if complete {
                    assembling = false
                    let r = record
                    try r.withUnsafeBytes { raw in try take(raw, line: recordLine) }
                } else if record.count > options.stream.maxLine {
                    try drainBatch()
                    rowsIn += 1
                    record.withUnsafeBytes { reject("unterminated_quote", "a quoted field opened here runs past --max-line", line: recordLine, file: file, raw: UnsafeRawBufferPointer(rebasing: $0.prefix(4096))) }
                    assembling = false
                } else {
                    assembling = true
                }
            }
        }
        try drainBatch()
        if assembling {
            rowsIn += 1
            record.withUnsafeBytes { reject("unterminated_quote", "a quoted field opened here is never closed", line: recordLine, file: file, raw: $0) }
        }
    }

    /// Converts a slice of data rows with one thread's copy of the run (see `RowBatch`).
    static func convertCSVRows(_ run: inout IngestRun, rows: ArraySlice<RowBatch.Row>, in all: UnsafeRawBufferPointer,
                               delimiter: UInt8, file: String?, header: [ColumnTarget], headerNames: [String],
                               source: String, output: inout OutputSink) throws {
        var fields: [Span] = []
        fields.reserveCapacity(64)
        var scratch: [UInt8] = []
        // Copies of this thread's own (see `IngestRun.forAnotherThread`).
        var header: [ColumnTarget]? = header.map { $0 }
        var names = headerNames.map { $0 }
        var tenantColumn = false
        for row in rows {
            let record = UnsafeRawBufferPointer(rebasing: all[row.start..<row.end])
            _ = scan(record, delimiter: delimiter, into: &fields)
            try run.processCSVRecord(record, fields: fields, line: row.line, file: file, header: &header, headerNames: &names,
                                     tenantColumn: &tenantColumn, source: source, scratch: &scratch, output: &output)
        }
    }

    static func isBlank(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for b in bytes where !(b == 0x20 || b == 0x09) { return false }
        return true
    }

    func reject(_ reason: String, _ detail: String, line: Int, file: String?, raw: UnsafeRawBufferPointer) {
        rejects.reject(reason: reason, detail: detail, origin: .init(line: line, file: file), raw: raw)
    }

    /// Control bytes (other than tab and line ends) mean binary data; then UTF-8 is checked.
    static func checkBytes(_ p: UnsafeRawBufferPointer) -> (reason: String, detail: String)? {
        if let b = ByteScan.firstControlByte(p) { return ("binary_data", controlByteDetail(b)) }
        if !JSONParser.isValidUTF8(p) { return ("invalid_utf8", invalidUTF8Detail) }
        return nil
    }

    static func controlByteDetail(_ b: UInt8) -> String { "control byte 0x\(String(b, radix: 16)) in the row" }
    static let invalidUTF8Detail = "not valid UTF-8 (for an Excel export try --encoding cp1252)"

    mutating func processCSVRecord(_ p: UnsafeRawBufferPointer, fields: [Span], line: Int, file: String?,
                                   header: inout [ColumnTarget]?, headerNames: inout [String], tenantColumn: inout Bool,
                                   source: String, scratch: inout [UInt8], output: inout OutputSink) throws {
        guard let columns = header else {
            headerRows += 1
            if let problem = IngestRun.checkBytes(p) {
                throw StageError.runtime("\(file ?? "stdin"): line \(line): the header row is unreadable: \(problem.detail)")
            }
            var targets: [ColumnTarget] = []
            var claimed = Set<String>()
            for f in fields {
                let name = Normalize.text(IngestRun.withValue(f, in: p, scratch: &scratch) { String(decoding: $0, as: UTF8.self) })
                headerNames.append(name)
                var t = target(forHeader: name)
                if case .field(let field) = t {
                    // Two columns for one field: the first keeps it, the next is kept under custom.
                    if field != .tags && field != .custom && claimed.contains(field.rawValue) { t = .custom(name) }
                    claimed.insert(field.rawValue)
                    if field == .tenant { tenantColumn = true }
                }
                targets.append(t)
            }
            if !claimed.contains("email") {
                try? FileDescriptor.standardError.writeAll(
                    "ingest: warning: \(file ?? "stdin"): no column maps to email (header: \(headerNames.joined(separator: ", "))); use --map 'Column=email'\n")
            }
            if options.tenant == nil && !tenantColumn {
                throw StageError.usage("--tenant is required for CSV input without a tenant column")
            }
            header = targets
            csvFields = targets.map { if case .field(let f) = $0 { return f } else { return nil } }
            return
        }
        rowsIn += 1
        // A row without `"`, `\` or control bytes (most rows) is printable as it stands: the
        // values made from it need no JSON escaping either.
        let plain = !ByteScan.needsJSONEscape(p)
        if !plain, let b = ByteScan.firstControlByte(p) {
            reject("binary_data", IngestRun.controlByteDetail(b), line: line, file: file, raw: p)
            return
        }
        // UTF-8 is checked, and NFC judged for the whole row, in one pass.
        let text = Normalize.checkRow(p)
        if text == .invalidUTF8 {
            reject("invalid_utf8", IngestRun.invalidUTF8Detail, line: line, file: file, raw: p)
            return
        }
        if fields.count != columns.count {
            reject("ragged_row", "\(fields.count) fields where the header has \(columns.count)", line: line, file: file, raw: p)
            return
        }
        builder.reset()
        builder.valuesArePlain = plain
        // A value joined from pieces (`"a""b"`, `"a"b`) is not a run of the row: judged alone.
        builder.valuesAreNFC = text == .surelyNFC && (plain || !fields.contains { $0.kind == 2 })
        for (i, span) in fields.enumerated() {
            if Int(span.end - span.start) > options.maxField {
                reject("field_too_long", "column '\(headerNames[i])' holds \(span.end - span.start) bytes, over --max-field \(options.maxField)",
                       line: line, file: file, raw: UnsafeRawBufferPointer(rebasing: p.prefix(4096)))
                return
            }
            if let field = csvFields[i] {
                IngestRun.withValue(span, in: p, scratch: &scratch) { builder.set(field, $0, lookups: &lookups) }
                continue
            }
            switch columns[i] {
            case .ignore, .field:
                continue
            case .custom(let name):
                IngestRun.withValue(span, in: p, scratch: &scratch) { builder.addCustom(name, string: $0) }
            }
        }
        try emit(line: line, file: file, source: source, envelopeTenant: nil, rejectRaw: p, rejectRecord: nil, output: &output)
    }

    /// Checks the gathered contact and writes it, or rejects it.
    mutating func emit(line: Int, file: String?, source: String, envelopeTenant: String?,
                       rejectRaw: UnsafeRawBufferPointer?, rejectRecord: UnsafeRawBufferPointer?, output: inout OutputSink) throws {
        func refuse(_ reason: String, _ detail: String) {
            if let rejectRecord {
                rejects.reject(reason: reason, detail: detail, origin: .init(line: line, file: file), record: rejectRecord)
            } else {
                rejects.reject(reason: reason, detail: detail, origin: .init(line: line, file: file), raw: rejectRaw)
            }
        }
        if !builder.unusableTags.isEmpty {
            for tag in builder.unusableTags { unusableTags[tag, default: 0] += 1 }
        }
        // Most records take tenant, source and clock from the run: then the members serialised
        // for the first such record serve, and no String is touched (their reference counts are
        // shared by every thread).
        if options.tenant != nil && envelopeTenant == nil && builder.tenant == nil && builder.source == nil
            && builder.createdAt == nil && builder.emailInvalid == nil && builder.has(.email) {
            if !sharedHoldsDefaults {
                shared.update(tenant: options.tenant!.value, source: options.source ?? source, createdAt: nowText)
                sharedHoldsDefaults = true
            }
            try write(tenant: nil, output: &output)
            return
        }
        // The tenant: --tenant, else the envelope's tenant_id, else the record's own.
        let tenant: String
        if let flag = options.tenant?.value {
            if let e = envelopeTenant, e != flag {
                refuse("tenant_mismatch", "record of tenant '\(e)' given to --tenant \(flag)")
                return
            }
            if let b = builder.tenant, b != flag {
                refuse("tenant_mismatch", "record of tenant '\(b)' given to --tenant \(flag)")
                return
            }
            tenant = flag
        } else if let t = envelopeTenant ?? builder.tenant {
            if let e = envelopeTenant, let b = builder.tenant, e != b {
                refuse("tenant_mismatch", "record of tenant '\(b)' inside an envelope of tenant '\(e)'")
                return
            }
            guard (try? TenantSlug(t)) != nil else {
                refuse("invalid_tenant", "'\(t)' is not a tenant slug")
                return
            }
            tenant = t
        } else {
            refuse("missing_tenant", "no --tenant, no envelope tenant_id and no tenant in the record")
            return
        }
        if let bad = builder.emailInvalid, !builder.has(.email) {
            refuse("invalid_email", "not a usable address: '\(bad)'")
            return
        }
        guard builder.has(.email) else {
            refuse("missing_email", "the row has no email")
            return
        }
        shared.update(tenant: tenant, source: options.source ?? builder.source ?? source, createdAt: builder.createdAt ?? nowText)
        sharedHoldsDefaults = false
        try write(tenant: tenant, output: &output)
    }

    /// Writes the gathered contact (`shared` holds its tenant, source and clock; `tenant` nil:
    /// the --tenant one, not read unless needed).
    private mutating func write(tenant: String?, output: inout OutputSink) throws {
        builder.applyFullName()
        let fallback = builder.languageRaw == nil ? "" : fallbackLanguage(for: tenant ?? options.tenant!.value)
        builder.write(into: &output.buffer, shared: shared, fallbackLanguage: fallback)
        output.buffer.append(0x0A)
        contactsOut += 1
        try output.flushIfNeeded()
    }
}
