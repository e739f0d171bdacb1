#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// Input formats `ingest` reads.
public enum IngestFormat: String, CaseIterable, Sendable {
    case auto, csv, tsv, ndjson, json, xlsx
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
        /// nil: found per input (UTF-16 and UTF-8 by their marks, UTF-8 by its validity, else Windows-1252).
        public var encoding: TextEncoding?
        /// The worksheet of an .xlsx to read (nil: the first).
        public var sheet: String?
        /// The country of national phone numbers in rows without one (nil: the tenant's `default_country`).
        public var defaultCountry: String?
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
                    format: IngestFormat = .auto, delimiter: UInt8? = nil, encoding: TextEncoding? = nil,
                    sheet: String? = nil, defaultCountry: String? = nil,
                    mappings: [(column: String, target: ColumnTarget)] = [], fallbackLanguage: String? = nil,
                    maxField: Int = 64 << 10, threads: Int? = nil, stream: StreamOptions) {
            self.tenant = tenant
            self.state = state
            self.source = source
            self.now = now
            self.format = format
            self.delimiter = delimiter
            self.encoding = encoding
            self.sheet = sheet
            self.defaultCountry = defaultCountry
            self.mappings = mappings
            self.fallbackLanguage = fallbackLanguage
            self.maxField = maxField
            self.threads = threads
            self.stream = stream
        }
    }

    /// Parses one mapping, either way round: `Col Name=field` (the last `=` separates, so a
    /// column may contain `=`) or `field=Col Name` (the first `=`). The side that names a field
    /// (`email`, `custom.NAME`, `ignore`) is the target; when both do, the column is on the left.
    /// A column with `.` or `[n]` is also a path into nested JSON (`contact.emails[0]`).
    public static func parseMapping(_ text: String) throws -> (column: String, target: ColumnTarget) {
        guard let last = text.lastIndex(of: "="), let first = text.firstIndex(of: "=") else {
            throw StageError.usage("--map takes 'field=Column' or 'Column=field', got '\(text)'")
        }
        let column = String(text[..<last]).trimmingSpaces
        if let target = try? ColumnTarget(parsing: String(text[text.index(after: last)...]).trimmingSpaces), !column.isEmpty {
            return (column, target)
        }
        let field = String(text[..<first]).trimmingSpaces
        let named = String(text[text.index(after: first)...]).trimmingSpaces
        guard !named.isEmpty else { throw StageError.usage("--map '\(text)': the column name is empty") }
        return (named, try ColumnTarget(parsing: field))
    }

    /// A `--map` value: mappings separated by commas (a piece without `=` belongs to the next:
    /// `Name, Last=last_name`), or `@FILE` (or a file's path) with one mapping a line (`#` comments).
    public static func parseMappings(_ text: String) throws -> [(column: String, target: ColumnTarget)] {
        var path: String?
        if text.hasPrefix("@") { path = String(text.dropFirst()) } else if !text.contains("="), FileSystem.exists(text) { path = text }
        if let path {
            let bytes: [UInt8]
            do { bytes = try FileSystem.readFile(path) } catch { throw StageError.usage("--map \(text): cannot read \(path): \(error)") }
            return try String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).compactMap { line in
                let mapping = String(line).trimmingSpaces
                return mapping.isEmpty || mapping.hasPrefix("#") ? nil : try parseMapping(mapping)
            }
        }
        var mappings: [(column: String, target: ColumnTarget)] = []
        var pending = ""
        for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
            pending += pending.isEmpty ? String(piece) : "," + piece
            if pending.contains("=") {
                mappings.append(try parseMapping(pending))
                pending = ""
            }
        }
        if !pending.trimmingSpaces.isEmpty { mappings.append(try parseMapping(pending)) }
        return mappings
    }

    /// Runs the stage over `options.stream.inputs` and writes contacts to `output`.
    public static func run(_ options: Options, output: inout OutputSink) throws -> (Summary, ExitStatus) {
        if let fallback = options.fallbackLanguage, !LanguageCodes.codes.contains(fallback) {
            throw StageError.usage("--fallback-language must be one of fr en es de pt ru zh hi ar, got '\(fallback)'")
        }
        if let country = options.defaultCountry, !CountryCodes.regions.contains(country) {
            throw StageError.usage("--default-country takes an ISO 3166 alpha-2 code (FR, US…), got '\(country)'")
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
        try rejects.finish()
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
        summary["preamble_lines"] = run.preambleLines
        summary["rows_read_as_cp1252"] = run.readAsCP1252
        summary.setDetail("detected", .array(run.layouts.map(\.json)))
        summary.notes = run.layouts.flatMap(\.notes)
        if run.readAsCP1252 > 0 {
            summary.notes.append("  \(run.readAsCP1252) row(s) were not UTF-8 and were read as Windows-1252 (--encoding utf-8 rejects them instead)")
        }
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
    var preambleLines = 0
    /// Rows of a UTF-8 input that were not UTF-8, read as Windows-1252 (the encoding was not given).
    var readAsCP1252 = 0
    /// What was found in each input, for the summary.
    var layouts: [InputLayout] = []
    /// The current input's encoding once found (transcoded on the reading thread unless UTF-8).
    var inputEncoding: TextEncoding = .utf8
    var unusableTags: [String: Int] = [:]
    var formats: [String: Int] = [:]
    /// Per-row state that owns buffers: each thread needs its own (`forAnotherThread`).
    var builder = ContactBuilder()
    var lookups = Lookups()
    var shared = SharedMembers()
    /// Whether `shared` holds the run's own tenant, source and clock for the current input.
    var sharedHoldsDefaults = false
    var fallbackByTenant: [String: String] = [:]
    var countryByTenant: [String: String] = [:]
    var lastCountry: (tenant: String, country: String?)?
    let nowText: String
    let mapByHeader: [String: ColumnTarget]
    /// `--map` targets given as paths into nested JSON.
    let jsonPaths: [(path: [JSONPath.Step], target: ColumnTarget)]

    init(options: IngestStage.Options, rejects: RejectSink) {
        self.options = options
        self.rejects = rejects
        nowText = options.now.rfc3339
        var m: [String: ColumnTarget] = [:]
        for (column, target) in options.mappings { m[column.lowercased()] = target }
        mapByHeader = m
        jsonPaths = options.mappings.compactMap { mapping in JSONPath.parse(mapping.column).map { ($0, mapping.target) } }
    }

    /// A copy of the run for another thread: the same settings, its own per-row buffers.
    func forAnotherThread() -> IngestRun {
        var copy = self
        copy.builder = ContactBuilder()
        copy.lookups = Lookups()
        copy.shared = SharedMembers()
        copy.sharedHoldsDefaults = false
        copy.unusableTags = [:]
        copy.layouts = []
        // Arrays read on every row get buffers of their own: a buffer two threads share has its
        // reference count bounced between their caches.
        copy.csvActions = csvActions.map { $0 }
        return copy
    }

    /// What a header or JSON key maps to.
    func target(forHeader header: String) -> ColumnTarget {
        let trimmed = header.trimmingSpaces
        if let t = mapByHeader[trimmed.lowercased()] { return t }
        if let t = HeaderAliases.target(forHeader: trimmed) { return t }
        return .custom(trimmed)
    }

    /// Whether a header is one we map (an alias or a --map), for finding the header row.
    func knows(header: String) -> Bool {
        if case .custom = target(forHeader: header) { return false }
        return true
    }

    var lastFallback: (tenant: String, language: String)?
    /// What each column of the current CSV header does with a row's value (nil: a custom, status
    /// flag or ignored column, read from the header's targets), planned once for every row.
    var csvActions: [ColumnAction?] = []

    mutating func fallbackLanguage(for tenant: String) throws -> String {
        if let f = options.fallbackLanguage { return f }
        if let last = lastFallback, last.tenant == tenant { return last.language }
        var fallback = fallbackByTenant[tenant] ?? "en"
        if fallbackByTenant[tenant] == nil, let config = try tenantConfig(tenant), LanguageCodes.codes.contains(config.fallbackLanguage) {
            fallback = config.fallbackLanguage
        }
        fallbackByTenant[tenant] = fallback
        lastFallback = (tenant, fallback)
        return fallback
    }

    /// The country of national phone numbers in a row without a country: --default-country,
    /// else the tenant's `default_country`.
    mutating func defaultCountry(for tenant: String?) throws -> String? {
        if let c = options.defaultCountry { return c }
        guard let tenant = tenant ?? options.tenant?.value else { return nil }
        if let last = lastCountry, last.tenant == tenant { return last.country }
        let country = try countryByTenant[tenant] ?? tenantConfig(tenant)?.defaultCountry
        if let country { countryByTenant[tenant] = country }
        lastCountry = (tenant, country)
        return country
    }

    /// The tenant's tenant.json, when it has state (a broken one is an error, never ignored).
    func tenantConfig(_ tenant: String) throws -> TenantConfig? {
        guard let slug = try? TenantSlug(tenant) else { return nil }
        let dir = options.state.tenant(slug)
        guard FileSystem.exists(dir.configPath) else { return nil }
        return try dir.loadConfig()
    }

    // MARK: one input

    mutating func ingest(path: String, output: inout OutputSink) throws {
        let input = try InputReader(path: path)
        switch options.encoding {
        case nil: input.utf16 = .detect
        case .utf16le?: input.utf16 = .decode(.littleEndian)
        case .utf16be?: input.utf16 = .decode(.bigEndian)
        default: break
        }
        var lines = LineReader(input: input, maxLine: options.stream.maxLine)
        defer { lines.deallocate() }
        let file: String? = path == "-" ? nil : path
        sharedHoldsDefaults = false
        // Settings every thread reads, found here once.
        _ = try defaultCountry(for: nil)
        if let tenant = options.tenant?.value { _ = try fallbackLanguage(for: tenant) }
        let defaultSource = options.source ?? IngestRun.sourceName(path)
        var layout = InputLayout(file: file ?? "stdin")
        let format = try resolveFormat(lines: &lines, path: path)
        layout.format = format
        formats[format.rawValue, default: 0] += 1
        if format == .xlsx {
            layout.encoding = "xlsx"
            layout.encodingFrom = "zip of XML parts"
            try ingestXLSX(lines: &lines, file: file, source: defaultSource, layout: &layout, output: &output)
            layouts.append(layout)
            return
        }
        try resolveEncoding(lines: &lines, input: input, file: file ?? "stdin", layout: &layout)
        switch format {
        case .csv, .tsv:
            try ingestCSV(lines: &lines, file: file, tab: format == .tsv, source: defaultSource, layout: &layout, output: &output)
        case .ndjson:
            try ingestNDJSON(lines: &lines, file: file, source: defaultSource, output: &output)
        case .json, .auto, .xlsx:
            try ingestJSONDocument(lines: &lines, file: file, source: defaultSource, output: &output)
        }
        layouts.append(layout)
    }

    /// The input's encoding: given, else UTF-16 by its byte-order mark (decoded by the reader),
    /// else UTF-8 when its head is UTF-8, else Windows-1252 — with a notice naming the file.
    mutating func resolveEncoding(lines: inout LineReader, input: InputReader, file: String, layout: inout InputLayout) throws {
        let head = try lines.peekReady(64 << 10)   // (reading is what finds UTF-16)
        if let found = input.utf16Found {
            inputEncoding = .utf8   // the reader hands over UTF-8
            layout.encoding = found.order == .littleEndian ? "utf-16le" : "utf-16be"
            layout.encodingFrom = options.encoding != nil ? "given" : found.marked ? "byte-order mark" : "detected"
            return
        }
        if let given = options.encoding {
            inputEncoding = given
            layout.encoding = given.rawValue
            layout.encodingFrom = "given"
            return
        }
        if IngestRun.bomLength(head) > 0 {
            inputEncoding = .utf8
            layout.encodingFrom = "byte-order mark"
            return
        }
        // The head is the first 64 KiB (a sequence cut by its end is not a fault).
        var end = min(head.count, 64 << 10)
        if end < head.count {
            var back = 0
            while back < 3 && end > 0 && head[end - 1] & 0xC0 == 0x80 { end -= 1; back += 1 }
            if end > 0 && head[end - 1] >= 0xC0 { end -= 1 }
        }
        if JSONParser.isValidUTF8(UnsafeRawBufferPointer(rebasing: head[0..<end])) {
            inputEncoding = .utf8
            layout.encodingFrom = ByteScan.isASCII(UnsafeRawBufferPointer(rebasing: head[0..<end])) ? "ASCII so far" : "detected"
            return
        }
        inputEncoding = .cp1252
        layout.encoding = "cp1252"
        layout.encodingFrom = "not UTF-8: read as Windows-1252"
        try? FileDescriptor.standardError.writeAll(
            "ingest: notice: \(file) is not UTF-8 and has no byte-order mark: read as Windows-1252 (--encoding to choose another)\n")
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
        if name.hasSuffix(".xlsx") { return .xlsx }
        var head = try lines.peekReady(64 << 10)
        // A zip (an .xlsx under another name).
        if head.count >= 4 && head[0] == 0x50 && head[1] == 0x4B && head[2] == 0x03 && head[3] == 0x04 { return .xlsx }
        var i = IngestRun.bomLength(head)
        while i < head.count && Normalize.isSpace(head[i]) { i += 1 }
        guard i < head.count else { return .csv }
        if head[i] == UInt8(ascii: "[") { return .json }
        if head[i] == UInt8(ascii: "{") {
            // One object per line when the first line is a whole JSON value. A first line longer
            // than --max-line is a line of NDJSON too (rejected as too long, the rest read):
            // taking it for the start of one document would load all of it.
            var end = i
            while end < head.count && head[end] != 0x0A { end += 1 }
            if end == head.count {
                let longer = try lines.peekReady(options.stream.maxLine + i + 2)
                if longer.count > options.stream.maxLine + i && memchr(longer.baseAddress! + i, 0x0A, options.stream.maxLine + 1) == nil {
                    return .ndjson
                }
                head = longer
                while end < head.count && head[end] != 0x0A { end += 1 }
            }
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

    /// What `scanUnquoted` found of a row's bytes besides its fields.
    struct RowBytes {
        /// A control byte (tab included) or `\`: values made from the row may need JSON escapes.
        var needsEscape: Bool
        var ascii: Bool
    }

    /// A row without `"` (most rows) in one pass, sixteen bytes at a time: its fields, as `scan`
    /// splits them, written to `fields[0..<count]` (made long enough: no append per field), and
    /// what `ByteScan.needsJSONEscape` and `ByteScan.isASCII` would say of it. Nil when the row
    /// holds a `"`: then `scan`.
    static func scanUnquoted(_ p: UnsafeRawBufferPointer, delimiter: UInt8, into fields: inout [Span], count: inout Int) -> RowBytes? {
        let empty = Span(start: 0, end: 0, kind: 0, close: 0)
        if fields.count <= p.count { fields = [Span](repeating: empty, count: max(64, p.count + 1)) }   // (at most a field a byte, and one)
        guard let base = p.baseAddress else {
            fields[0] = empty
            count = 1
            return RowBytes(needsEscape: false, ascii: true)
        }
        // (Offsets are Int32: a longer row is `scan`'s.)
        guard p.count < Int(Int32.max) else { return nil }
        let (bytes, found) = fields.withUnsafeMutableBufferPointer { f -> (RowBytes?, Int) in
            p.count < RowBlocks.width ? scanShortUnquoted(p, delimiter: delimiter, into: f) : RowBlocks.scan(base, p.count, delimiter: delimiter, into: f)
        }
        count = found
        return bytes
    }

    /// `scanUnquoted` of a row shorter than a block, a byte at a time.
    private static func scanShortUnquoted(_ p: UnsafeRawBufferPointer, delimiter: UInt8, into f: UnsafeMutableBufferPointer<Span>) -> (RowBytes?, Int) {
        var k = 0
        var start = 0
        var escapes = false
        var high: UInt8 = 0
        for i in 0..<p.count {
            let b = p[i]
            if b == 0x22 { return (nil, 0) }
            if b < 0x20 || b == 0x5C { escapes = true }
            high |= b
            if b == delimiter {
                f[k] = Span(start: Int32(truncatingIfNeeded: start), end: Int32(truncatingIfNeeded: i), kind: 0, close: 0)
                k += 1
                start = i + 1
            }
        }
        f[k] = Span(start: Int32(truncatingIfNeeded: start), end: Int32(truncatingIfNeeded: p.count), kind: 0, close: 0)
        return (RowBytes(needsEscape: escapes, ascii: high < 0x80), k + 1)
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

    mutating func ingestCSV(lines: inout LineReader, file: String?, tab: Bool, source: String, layout: inout InputLayout,
                            output: inout OutputSink) throws {
        // The head: a `sep=` line, the delimiter, the header row after any preamble.
        var head = Array(try lines.peekReady(64 << 10))
        if inputEncoding != .utf8 {
            var t: [UInt8] = []
            head.withUnsafeBytes { inputEncoding.transcode($0, into: &t) }
            head = t
        }
        let given = options.delimiter ?? (tab ? 0x09 : nil)
        let found = head.withUnsafeBytes { CSVHead.sniff($0, delimiter: given, knows: { self.knows(header: $0) }) }
        layout.delimiterFrom = options.delimiter != nil ? "given" : tab ? "tsv" : found.sepLine ? "sep= line" : "sniffed"
        layout.headerLine = found.headerLine
        let skipBefore = found.headerLine
        var table = CSVTable(delimiter: found.delimiter ?? 0, file: file, source: source,
                             batch: RowBatch(threads: options.threads ?? Cores.workers, stage: rejects.stage))
        defer { table.batch.release() }
        var fields: [Span] = []
        fields.reserveCapacity(64)
        var record: [UInt8] = []       // a record spanning lines, or a transcoded one
        var assembling = false
        var recordLine = 0
        var firstLine = true
        var transcoded: [UInt8] = []
        let utf8 = inputEncoding == .utf8
        func take(_ p: UnsafeRawBufferPointer, line: Int) throws {
            // Nothing more buffered on a pipe: what is here goes out before we wait.
            let waiting = lines.inputMayWait && !lines.hasBufferedLine()
            try table.take(p, line: line, run: &self, layout: &layout, output: &output, flush: waiting)
        }

        while let event = try lines.next() {
            switch event {
            case .tooLong(let number, let length):
                try table.drain(run: &self, output: &output)
                if assembling {
                    record.withUnsafeBytes { reject("unterminated_quote", "a quoted field opened here runs past --max-line", line: recordLine, file: file, raw: $0) }
                    assembling = false
                }
                rowsIn += 1
                rejects.reject(reason: "line_too_long", detail: "line of \(length) bytes is over --max-line \(options.stream.maxLine)",
                               origin: .init(line: number, file: file), raw: nil)
                firstLine = false
            case .line(var bytes, let number):
                if number < skipBefore {
                    // Excel's `sep=` line and a preamble before the header row.
                    preambleLines += 1
                    layout.preambleLines += 1
                    firstLine = false
                    continue
                }
                if firstLine {
                    let bom = IngestRun.bomLength(bytes)
                    if bom > 0 && utf8 { bytes = UnsafeRawBufferPointer(rebasing: bytes[bom...]) }
                    firstLine = false
                }
                if !utf8 {
                    transcoded.removeAll(keepingCapacity: true)
                    inputEncoding.transcode(bytes, into: &transcoded)
                }
                if !assembling {
                    if IngestRun.isBlank(bytes) { blankLines += 1; continue }
                    recordLine = number
                    if table.delimiter == 0 { table.delimiter = IngestRun.sniffDelimiter(bytes) }
                    let complete: Bool
                    if utf8 {
                        // A data row without a quote is one record; its fields are split by whichever
                        // thread converts it.
                        complete = (bytes.isEmpty || memchr(bytes.baseAddress!, 0x22, bytes.count) == nil)
                            || IngestRun.scan(bytes, delimiter: table.delimiter, into: &fields)
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
                let complete = record.withUnsafeBytes { IngestRun.scan($0, delimiter: table.delimiter, into: &fields) }
                if complete {
                    assembling = false
                    let r = record
                    try r.withUnsafeBytes { raw in try take(raw, line: recordLine) }
                } else if record.count > options.stream.maxLine {
                    try table.drain(run: &self, output: &output)
                    rowsIn += 1
                    record.withUnsafeBytes { reject("unterminated_quote", "a quoted field opened here runs past --max-line", line: recordLine, file: file, raw: UnsafeRawBufferPointer(rebasing: $0.prefix(4096))) }
                    assembling = false
                } else {
                    assembling = true
                }
            }
        }
        try table.drain(run: &self, output: &output)
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
        var unquoted: [Span] = []   // (scanUnquoted's, kept long)
        var scratch: [UInt8] = []
        // Copies of this thread's own (see `IngestRun.forAnotherThread`).
        var header: [ColumnTarget]? = header.map { $0 }
        var names = headerNames.map { $0 }
        var tenantColumn = false
        for row in rows {
            let record = UnsafeRawBufferPointer(rebasing: all[row.start..<row.end])
            var count = 0
            let bytes = scanUnquoted(record, delimiter: delimiter, into: &unquoted, count: &count)
            if bytes == nil { _ = scan(record, delimiter: delimiter, into: &fields) }
            try run.processCSVRecord(record, fields: bytes == nil ? fields[...] : unquoted[0..<count], bytes: bytes, line: row.line, file: file, header: &header, headerNames: &names,
                                     tenantColumn: &tenantColumn, source: source, scratch: &scratch, delimiter: delimiter, output: &output)
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

    /// `bytes`: what `scanUnquoted` found, nil when not scanned so (then found here).
    mutating func processCSVRecord(_ p: UnsafeRawBufferPointer, fields: ArraySlice<Span>, bytes: RowBytes? = nil, line: Int, file: String?,
                                   header: inout [ColumnTarget]?, headerNames: inout [String], tenantColumn: inout Bool,
                                   source: String, scratch: inout [UInt8], delimiter: UInt8, output: inout OutputSink) throws {
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
                let t = target(forHeader: name)
                if case .field(let field) = t {
                    // Several columns for one field: the first non-empty value of a row is the
                    // field's, a different one later is kept under custom (or other_emails/phones).
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
            csvActions = targets.map { if case .field(let f) = $0 { return ColumnAction(f) } else { return nil } }
            return
        }
        rowsIn += 1
        // A row without `"`, `\` or control bytes (most rows) is printable as it stands: the
        // values made from it need no JSON escaping either.
        let plain = !(bytes?.needsEscape ?? ByteScan.needsJSONEscape(p))
        if !plain, let b = ByteScan.firstControlByte(p) {
            reject("binary_data", IngestRun.controlByteDetail(b), line: line, file: file, raw: p)
            return
        }
        // UTF-8 is checked, and NFC judged for the whole row, in one pass (ASCII is both).
        let text = bytes?.ascii == true ? .surelyNFC : Normalize.checkRow(p)
        if text == .invalidUTF8 {
            if options.encoding == nil {
                // The file looked like UTF-8 but this row is not: Excel's Windows-1252 most likely.
                var decoded: [UInt8] = []
                TextEncoding.cp1252.transcode(p, into: &decoded)
                readAsCP1252 += 1
                var spans: [Span] = []
                try decoded.withUnsafeBytes { q in
                    _ = IngestRun.scan(q, delimiter: delimiter, into: &spans)
                    try processCSVRecord(q, fields: spans[...], line: line, file: file, header: &header, headerNames: &headerNames,
                                         tenantColumn: &tenantColumn, source: source, scratch: &scratch, delimiter: delimiter, output: &output)
                }
                return
            }
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
            if let action = csvActions[i] {
                let outcome = IngestRun.withValue(span, in: p, scratch: &scratch) { builder.take(action, $0, lookups: &lookups) }
                if outcome == .overflow {
                    IngestRun.withValue(span, in: p, scratch: &scratch) { builder.addCustom(headerNames[i], string: $0) }
                }
                continue
            }
            switch columns[i] {
            case .ignore, .field:
                continue
            case .custom(let name):
                IngestRun.withValue(span, in: p, scratch: &scratch) { value in
                    if !takeJSONCell(name, value) { builder.addCustom(name, string: value) }
                }
            case .status(let status, let signal):
                IngestRun.withValue(span, in: p, scratch: &scratch) { builder.setStatusFlag(status, signal, $0) }
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
        // The record's tenant's settings, read here so that a broken tenant.json is this
        // record's reject (the --tenant's were read, and any error raised, before the rows).
        do {
            _ = try fallbackLanguage(for: tenant)
            _ = try defaultCountry(for: tenant)
        } catch {
            refuse("tenant_config", "\(error)")
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
        // (The default country is asked only when a phone number may need it; the run's and each
        // record's tenant were read, and their errors raised, before.)
        let region = builder.phonesNeedDefaultRegion ? try defaultCountry(for: tenant) : nil
        builder.finish(phones: &lookups.phones, defaultRegion: region)
        let fallback = builder.languageRaw == nil ? "" : try fallbackLanguage(for: tenant ?? options.tenant!.value)
        builder.write(into: &output.buffer, shared: shared, fallbackLanguage: fallback)
        output.buffer.append(0x0A)
        contactsOut += 1
        try output.flushIfNeeded()
    }
}

/// `IngestRun.scanUnquoted` of a row of at least 16 bytes, a block of 16 at a time (SIMD
/// compares): the last block ends at the row's end, overlapping the one before, its lanes already
/// seen left out of the delimiters (seeing a byte twice changes none of the other verdicts).
enum RowBlocks {
    typealias Block = ByteScan.Block
    typealias Mask = ByteScan.BlockMask
    static let width = 16

    /// (Element and mask types spelt out: left to inference, some vector operators resolve to
    /// the generic per-lane loop.)
    static func scan(_ base: UnsafeRawPointer, _ n: Int, delimiter: UInt8,
                     into f: UnsafeMutableBufferPointer<IngestRun.Span>) -> (IngestRun.RowBytes?, Int) {
        let quote = Block(repeating: 0x22), backslash = Block(repeating: 0x5C), control = Block(repeating: 0x20)
        let separator = Block(repeating: delimiter)
        var quotes = Mask(repeating: false)
        var escapes = Mask(repeating: false)
        var high = Block(repeating: 0)
        var k = 0
        var start = 0
        var i = 0
        while true {
            let at = min(i, n - width)
            let v = ByteScan.block(base, at)
            let isQuote: Mask = v .== quote
            let isControl: Mask = v .< control
            let isBackslash: Mask = v .== backslash
            quotes .|= isQuote
            escapes .|= isControl .| isBackslash
            high |= v
            var isDelimiter: Mask = v .== separator
            if at < i { isDelimiter .&= ByteScan.lanes(from: i - at) }
            let halves = unsafeBitCast(isDelimiter, to: SIMD2<UInt64>.self)
            split(halves[0], at: at, f, &k, &start)
            split(halves[1], at: at + 8, f, &k, &start)
            i = at + width
            if i >= n { break }
        }
        if any(quotes) { return (nil, 0) }
        f[k] = IngestRun.Span(start: Int32(truncatingIfNeeded: start), end: Int32(truncatingIfNeeded: n), kind: 0, close: 0)
        let highs = unsafeBitCast(high, to: SIMD2<UInt64>.self)
        return (IngestRun.RowBytes(needsEscape: any(escapes), ascii: (highs[0] | highs[1]) & 0x8080_8080_8080_8080 == 0), k + 1)
    }

    /// A field ends at each lane of the eight (0x00 or 0xFF each) set in `word`.
    @inline(__always)
    private static func split(_ word: UInt64, at: Int, _ f: UnsafeMutableBufferPointer<IngestRun.Span>, _ k: inout Int, _ start: inout Int) {
        var bits = word & 0x8080_8080_8080_8080
        while bits != 0 {
            let end = at &+ bits.trailingZeroBitCount &>> 3
            f[k] = IngestRun.Span(start: Int32(truncatingIfNeeded: start), end: Int32(truncatingIfNeeded: end), kind: 0, close: 0)
            k &+= 1
            start = end &+ 1
            bits &= bits &- 1
        }
    }

    @inline(__always)
    private static func any(_ mask: Mask) -> Bool {
        let halves = unsafeBitCast(mask, to: SIMD2<UInt64>.self)
        return halves[0] | halves[1] != 0
    }
}
