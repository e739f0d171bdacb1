import MailpipeCore

/// What ingest found out about one input before reading its rows: its encoding and, for CSV,
/// Excel's `sep=` line, the delimiter and which row is the header. Reported in the summary
/// (`detected` in `--stats`), so a person can see why a column went where it went.
struct InputLayout {
    var file: String
    var format: IngestFormat = .auto
    /// `utf-8`, `utf-16le`, `cp1252`…
    var encoding = "utf-8"
    /// How the encoding was chosen: `given`, `byte-order mark`, `detected`, `not UTF-8: Windows-1252`.
    var encodingFrom = "detected"
    var delimiter: UInt8?
    var delimiterFrom = "sniffed"
    /// The physical line the header starts on (CSV), the lines skipped before it.
    var headerLine = 0
    var preambleLines = 0
    var sheet: String?
    /// Header or key → field (or `custom.NAME`, `ignore`, `status:unsubscribed`), in column order.
    var mapped: [(column: String, target: String)] = []
    var unmapped: [String] = []

    static func delimiterName(_ d: UInt8) -> String {
        switch d {
        case 0x09: return "tab"
        case 0x2C: return ","
        case 0x3B: return ";"
        case 0x7C: return "|"
        default: return String(UnicodeScalar(d))
        }
    }

    var json: JSONValue {
        var o = JSONObject()
        o.append("file", .string(file))
        o.append("format", .string(format.rawValue))
        o.append("encoding", .string(encoding))
        o.append("encoding_from", .string(encodingFrom))
        if let sheet { o.append("sheet", .string(sheet)) }
        if let delimiter {
            o.append("delimiter", .string(InputLayout.delimiterName(delimiter)))
            o.append("delimiter_from", .string(delimiterFrom))
        }
        if headerLine > 0 { o.append("header_line", .int(headerLine)) }
        if preambleLines > 0 { o.append("preamble_lines", .int(preambleLines)) }
        var m = JSONObject()
        for (column, target) in mapped { m.append(column, .string(target)) }
        o.append("mapped", .object(m))
        o.append("unmapped", .array(unmapped.map { .string($0) }))
        return .object(o)
    }

    /// Lines for a person, under the summary line.
    var notes: [String] {
        var head = "  \(file): \(format.rawValue), \(encoding) (\(encodingFrom))"
        if let sheet { head += ", sheet '\(sheet)'" }
        if let delimiter { head += ", delimiter '\(InputLayout.delimiterName(delimiter))' (\(delimiterFrom))" }
        if headerLine > 0 {
            head += ", header on line \(headerLine)"
            if preambleLines > 0 { head += " after \(preambleLines) line(s) skipped" }
        }
        var lines = [head]
        if !mapped.isEmpty {
            lines.append("    mapped: " + mapped.map { "\($0.column) → \($0.target)" }.joined(separator: ", "))
        }
        if !unmapped.isEmpty {
            lines.append("    kept under custom: " + unmapped.joined(separator: ", "))
        }
        return lines
    }
}

/// The head of a CSV input: an Excel `sep=` line, the delimiter, and the header row — the first
/// row with a column we know when the first rows are a preamble (LinkedIn's `Notes:` block).
enum CSVHead {
    struct Found {
        var sepLine = false
        var delimiter: UInt8?
        /// Physical line number (1-based) where the header record starts.
        var headerLine = 1
    }

    /// Looks at the complete lines of `head` (decoded text). `knows` tells a header we map.
    static func sniff(_ head: UnsafeRawBufferPointer, delimiter given: UInt8?, knows: (String) -> Bool) -> Found {
        var found = Found()
        var lines: [(number: Int, bytes: UnsafeRawBufferPointer)] = []
        var start = IngestRun.bomLength(head)
        var number = 0
        while start < head.count, lines.count < 200 {
            guard let nl = Normalize.firstIndex(of: 0x0A, in: UnsafeRawBufferPointer(rebasing: head[start...])) else {
                // A last line without its newline may be cut: it counts only when it is the
                // only one (a one-line input, or a pipe that gave one line so far).
                if lines.isEmpty {
                    number += 1
                    lines.append((number, UnsafeRawBufferPointer(rebasing: head[start...])))
                }
                break
            }
            var end = start + nl
            if end > start && head[end - 1] == 0x0D { end -= 1 }
            number += 1
            lines.append((number, UnsafeRawBufferPointer(rebasing: head[start..<end])))
            start = start + nl + 1
        }
        var delimiter = given
        var first = 0
        if let line = lines.first, let sep = sepDirective(line.bytes) {
            found.sepLine = true
            if delimiter == nil { delimiter = sep }
            first = 1
        }
        // Records (quoted fields may hold line breaks) among the first lines.
        var records: [(line: Int, fields: [String])] = []
        var i = first
        var spans: [IngestRun.Span] = []
        var scratch: [UInt8] = []
        while i < lines.count && records.count < 30 {
            let line = lines[i]
            if IngestRun.isBlank(line.bytes) { i += 1; continue }
            var record = Array(line.bytes)
            let d = delimiter ?? IngestRun.sniffDelimiter(line.bytes)
            var j = i
            while !record.withUnsafeBytes({ IngestRun.scan($0, delimiter: d, into: &spans) }) {
                j += 1
                guard j < lines.count else { break }
                record.append(0x0A)
                record.append(contentsOf: lines[j].bytes)
            }
            if j >= lines.count { break }
            let fields = record.withUnsafeBytes { p in
                spans.map { span in IngestRun.withValue(span, in: p, scratch: &scratch) { String(decoding: $0, as: UTF8.self) } }
            }
            records.append((line.number, fields))
            i = j + 1
        }
        found.delimiter = delimiter
        guard !records.isEmpty else { return found }
        found.headerLine = records[headerIndex(records.map(\.fields), knows: knows)].line
        return found
    }

    /// Which of the first records is the header: the first, unless it has no column we know and
    /// a later one has (with as many fields as the record after it, or two known columns).
    static func headerIndex(_ records: [[String]], knows: (String) -> Bool) -> Int {
        guard let first = records.first, !first.contains(where: knows) else { return 0 }
        for (k, fields) in records.enumerated() where fields.contains(where: knows) {
            let next = k + 1 < records.count ? records[k + 1].count : fields.count
            if next == fields.count || fields.filter(knows).count >= 2 { return k }
        }
        return 0
    }

    /// `sep=;` (Excel's first line naming the delimiter), possibly quoted or followed by delimiters.
    static func sepDirective(_ line: UnsafeRawBufferPointer) -> UInt8? {
        var t = Array(line)
        while let last = t.last, last == 0x2C || last == 0x3B || last == 0x09 || last == 0x20, t.count > 5 { t.removeLast() }
        if t.count >= 2 && t.first == 0x22 && t.last == 0x22 { t = Array(t.dropFirst().dropLast()) }
        guard t.count == 5 || (t.count == 6 && t[4] == 0x5C),
              (t[0] | 0x20) == 0x73, (t[1] | 0x20) == 0x65, (t[2] | 0x20) == 0x70, t[3] == 0x3D else { return nil }
        let d = t[4] == 0x5C && t.count == 6 ? (t[5] == 0x74 ? 0x09 : t[5]) : t[4]
        return d == 0x22 || d == 0x0A ? nil : d
    }
}

extension InputLayout {
    /// Notes how each header was mapped.
    mutating func report(headers: [String], targets: [ColumnTarget]) {
        for (name, target) in zip(headers, targets) {
            switch target {
            case .field(let f): mapped.append((name, f.rawValue))
            case .custom(let key): if key == name { unmapped.append(name) } else { mapped.append((name, "custom.\(key)")) }
            case .ignore: mapped.append((name, "ignore"))
            case .status(let s, _): mapped.append((name, "status \(s.rawValue)"))
            }
        }
    }
}
