#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// NDJSON, JSON arrays and the import envelope `{"tenant_id":…,"data_source_id":…,"contacts":[…]}`.
extension IngestRun {
    /// A batch of rows ready to convert with this run's settings.
    func rowBatch() -> RowBatch {
        var batch = RowBatch(threads: options.threads ?? Cores.workers, stage: rejects.stage)
        batch.configure(for: self)
        return batch
    }

    /// Converts rows that are JSON texts with `each`, given the thread's parser and key cache.
    static func convertJSON(maxDepth: Int, _ each: @escaping (inout IngestRun, UnsafeRawBufferPointer, Int, inout JSONParser,
                                                            inout KeyTargets, inout OutputSink) throws -> Void) -> RowBatch.Convert {
        { run, rows, all, out in
            var parser = JSONParser(maxDepth: maxDepth)
            defer { parser.deallocate() }
            var keyTargets = KeyTargets()
            for row in rows {
                try each(&run, UnsafeRawBufferPointer(rebasing: all[row.start..<row.end]), row.line, &parser, &keyTargets, &out)
            }
        }
    }

    /// One record a line. Lines are gathered (transcoded, blank ones counted) on this thread and
    /// converted on every core (`RowBatch`).
    mutating func ingestNDJSON(lines: inout LineReader, file: String?, source: String, output: inout OutputSink) throws {
        var firstLine = true
        var transcoded: [UInt8] = []
        var batch = rowBatch()
        defer { batch.release() }
        let convert = IngestRun.convertJSON(maxDepth: options.stream.maxDepth) { run, text, line, parser, keyTargets, out in
            try run.ingestJSONLine(text, number: line, file: file, source: source, parser: &parser, keyTargets: &keyTargets, output: &out)
        }
        while let event = try lines.next() {
            switch event {
            case .tooLong(let number, let length):
                // Rejects written here must follow those of the rows before them.
                if !batch.isEmpty { try batch.drain(into: &self, output: &output, convert: convert) }
                rowsIn += 1
                rejects.reject(reason: "line_too_long", detail: "line of \(length) bytes is over --max-line \(options.stream.maxLine)",
                               origin: .init(line: number, file: file), raw: nil)
            case .line(var bytes, let number):
                if firstLine { bytes = UnsafeRawBufferPointer(rebasing: bytes[IngestRun.bomLength(bytes)...]); firstLine = false }
                if IngestRun.isBlank(bytes) { blankLines += 1; continue }
                if options.encoding != .utf8 {
                    transcoded.removeAll(keepingCapacity: true)
                    options.encoding.transcode(bytes, into: &transcoded)
                    transcoded.withUnsafeBytes { batch.add($0, line: number) }
                } else {
                    batch.add(bytes, line: number)
                }
                if batch.isFull {
                    try batch.submit(into: &self, output: &output, convert: convert)
                } else if lines.inputMayWait && !lines.hasBufferedLine() {
                    // Nothing more buffered on a pipe: what is here goes out before we wait.
                    try batch.drain(into: &self, output: &output, convert: convert)
                }
            }
        }
        if !batch.isEmpty { try batch.drain(into: &self, output: &output, convert: convert) }
    }

    mutating func ingestJSONLine(_ bytes: UnsafeRawBufferPointer, number: Int, file: String?, source: String,
                                 parser: inout JSONParser, keyTargets: inout KeyTargets, output: inout OutputSink) throws {
        let document: JSONDocument
        do throws(JSONParseError) {
            document = try parser.parse(bytes)
        } catch {
            rowsIn += 1
            rejects.reject(reason: error.code, detail: error.description, origin: .init(line: number, file: file), raw: bytes)
            return
        }
        let root = document.root
        if root.kind == .object, let contacts = root["contacts"], contacts.kind == .array {
            // An envelope on one line: each contact is a row of this line.
            let tenant = root["tenant_id"]?.string
            let envelopeSource = root["data_source_id"]?.string
            for element in contacts.elements {
                rowsIn += 1
                try ingestObject(element, line: number, file: file, source: options.source ?? envelopeSource ?? source,
                                 envelopeTenant: tenant, keyTargets: &keyTargets, output: &output)
            }
            return
        }
        rowsIn += 1
        try ingestObject(root, line: number, file: file, source: source, envelopeTenant: nil, keyTargets: &keyTargets, output: &output)
    }

    /// A whole JSON document: an array of contacts, an envelope, or one contact object. Elements
    /// are found by a structural scan and parsed one at a time (the document may be large).
    mutating func ingestJSONDocument(lines: inout LineReader, file: String?, source: String, output: inout OutputSink) throws {
        var doc = try lines.readAll()
        if options.encoding != .utf8 {
            var t: [UInt8] = []
            doc.withUnsafeBytes { options.encoding.transcode($0, into: &t) }
            doc = t
        }
        var parser = JSONParser(maxDepth: options.stream.maxDepth)
        defer { parser.deallocate() }
        try doc.withUnsafeBytes { all in
            let bom = IngestRun.bomLength(all)
            var lineCounter = LineCounter(bytes: all)
            var i = JSONScan.skipSpace(all, bom)
            guard i < all.count else { return }
            if all[i] == UInt8(ascii: "[") {
                try ingestArray(all, from: i, tenant: nil, source: source, file: file, lineCounter: &lineCounter, output: &output)
                i = JSONScan.skipValue(all, i) ?? all.count
            } else if all[i] == UInt8(ascii: "{") {
                // Look for an envelope: a top-level "contacts" array.
                var members: [(key: String, start: Int, end: Int)] = []
                var ok = true
                var j = i + 1
                while true {
                    j = JSONScan.skipSpace(all, j)
                    if j < all.count && all[j] == UInt8(ascii: "}") { j += 1; break }
                    guard j < all.count, all[j] == 0x22, let keyEnd = JSONScan.skipValue(all, j) else { ok = false; break }
                    let key = (try? parser.parse(UnsafeRawBufferPointer(rebasing: all[j..<keyEnd])).root.string) ?? nil
                    j = JSONScan.skipSpace(all, keyEnd)
                    guard let key, j < all.count, all[j] == UInt8(ascii: ":") else { ok = false; break }
                    j = JSONScan.skipSpace(all, j + 1)
                    guard let valueEnd = JSONScan.skipValue(all, j) else { ok = false; break }
                    members.append((key, j, valueEnd))
                    j = JSONScan.skipSpace(all, valueEnd)
                    if j < all.count && all[j] == UInt8(ascii: ",") { j += 1; continue }
                    if j < all.count && all[j] == UInt8(ascii: "}") { j += 1; break }
                    ok = false
                    break
                }
                if ok, let contacts = members.first(where: { $0.key == "contacts" }), all[contacts.start] == UInt8(ascii: "[") {
                    func stringMember(_ name: String) -> String? {
                        guard let m = members.first(where: { $0.key == name }) else { return nil }
                        return (try? parser.parse(UnsafeRawBufferPointer(rebasing: all[m.start..<m.end])).root.string) ?? nil
                    }
                    let tenant = stringMember("tenant_id")
                    let envelopeSource = options.source ?? stringMember("data_source_id") ?? source
                    try ingestArray(all, from: contacts.start, tenant: tenant, source: envelopeSource, file: file, lineCounter: &lineCounter, output: &output)
                    i = j
                } else {
                    // A single contact object (or a broken document: the parser says where).
                    let end = ok ? j : all.count
                    let line = lineCounter.line(at: i)
                    if end - i > options.stream.maxLine {
                        rowsIn += 1
                        rejects.reject(reason: "line_too_long", detail: "element of \(end - i) bytes is over --max-line \(options.stream.maxLine)",
                                       origin: .init(line: line, file: file), raw: nil)
                    } else {
                        var keyTargets = KeyTargets()
                        try ingestElement(UnsafeRawBufferPointer(rebasing: all[i..<end]), line: line, tenant: nil, source: source, file: file,
                                          parser: &parser, keyTargets: &keyTargets, output: &output)
                    }
                    i = end
                }
            } else {
                rowsIn += 1
                let line = lineCounter.line(at: i)
                rejects.reject(reason: "not_json", detail: "a JSON document must start with [ or {",
                               origin: .init(line: line, file: file), raw: UnsafeRawBufferPointer(rebasing: all[i..<min(all.count, i + 200)]))
                return
            }
            let rest = JSONScan.skipSpace(all, i)
            if rest < all.count {
                rowsIn += 1
                rejects.reject(reason: "trailing_data", detail: "text after the end of the JSON document",
                               origin: .init(line: lineCounter.line(at: rest), file: file),
                               raw: UnsafeRawBufferPointer(rebasing: all[rest..<min(all.count, rest + 200)]))
            }
        }
    }

    /// The elements of an array are found on this thread and converted on every core
    /// (`RowBatch`), in order; structural faults are rejected where they are met.
    private mutating func ingestArray(_ all: UnsafeRawBufferPointer, from start: Int, tenant: String?, source: String, file: String?,
                                      lineCounter: inout LineCounter, output: inout OutputSink) throws {
        var batch = rowBatch()
        defer { batch.release() }
        let convert = IngestRun.convertJSON(maxDepth: options.stream.maxDepth) { run, text, line, parser, keyTargets, out in
            try run.ingestElement(text, line: line, tenant: tenant, source: source, file: file, parser: &parser,
                                  keyTargets: &keyTargets, output: &out)
        }
        /// Rejects written here must follow those of the elements before them.
        func reject(_ reason: String, _ detail: String, at position: Int, raw: UnsafeRawBufferPointer?) throws {
            if !batch.isEmpty { try batch.drain(into: &self, output: &output, convert: convert) }
            rowsIn += 1
            rejects.reject(reason: reason, detail: detail, origin: .init(line: lineCounter.line(at: position), file: file), raw: raw)
        }
        var j = start + 1
        while true {
            j = JSONScan.skipSpace(all, j)
            guard j < all.count else {
                try reject("truncated_json", "the array is never closed", at: start, raw: nil)
                return
            }
            if all[j] == UInt8(ascii: "]") { break }
            guard let end = JSONScan.skipValue(all, j) else {
                try reject("truncated_json", "an element is never closed", at: j, raw: UnsafeRawBufferPointer(rebasing: all[j..<min(all.count, j + 200)]))
                return
            }
            if end - j > options.stream.maxLine {
                try reject("line_too_long", "element of \(end - j) bytes is over --max-line \(options.stream.maxLine)", at: j, raw: nil)
            } else {
                batch.add(UnsafeRawBufferPointer(rebasing: all[j..<end]), line: lineCounter.line(at: j))
                if batch.isFull { try batch.submit(into: &self, output: &output, convert: convert) }
            }
            j = JSONScan.skipSpace(all, end)
            if j < all.count && all[j] == UInt8(ascii: ",") { j += 1; continue }
            if j < all.count && all[j] == UInt8(ascii: "]") { break }
            try reject("invalid_json", "expected , or ] between array elements", at: j,
                       raw: UnsafeRawBufferPointer(rebasing: all[j..<min(all.count, j + 200)]))
            return
        }
        if !batch.isEmpty { try batch.drain(into: &self, output: &output, convert: convert) }
    }

    /// One element of a document (a contact object, or something to reject).
    mutating func ingestElement(_ bytes: UnsafeRawBufferPointer, line: Int, tenant: String?, source: String, file: String?,
                                parser: inout JSONParser, keyTargets: inout KeyTargets, output: inout OutputSink) throws {
        rowsIn += 1
        let document: JSONDocument
        do throws(JSONParseError) {
            document = try parser.parse(bytes)
        } catch {
            rejects.reject(reason: error.code, detail: error.description, origin: .init(line: line, file: file), raw: bytes)
            return
        }
        try ingestObject(document.root, line: line, file: file, source: source, envelopeTenant: tenant, keyTargets: &keyTargets, output: &output)
    }

    /// One contact object: keys mapped like CSV headers, values normalised.
    mutating func ingestObject(_ node: JSONNode, line: Int, file: String?, source: String, envelopeTenant: String?,
                               keyTargets: inout KeyTargets, output: inout OutputSink) throws {
        guard node.kind == .object else {
            let oneLine = IngestRun.compactBytes(node)
            oneLine.withUnsafeBytes { rejects.reject(reason: "not_an_object", detail: "a contact must be a JSON object", origin: .init(line: line, file: file), record: $0) }
            return
        }
        builder.reset()
        var text: [UInt8] = []
        for (keyNode, value) in node.members {
            guard keyNode.kind == .string else { continue }
            let target = keyTargets.target(rawKey: keyNode.raw) { self.target(forHeader: keyNode.string ?? "") }
            switch target {
            case .ignore:
                continue
            case .custom(let name):
                addCustomJSON(name, value)
            case .field(.custom):
                if value.kind == .object {
                    for (k, v) in value.members { if let ks = k.string { addCustomJSON(ks, v) } }
                } else {
                    addCustomJSON(keyNode.string ?? "", value)
                }
            case .field(.tags) where value.kind == .array:
                for element in value.elements {
                    text.removeAll(keepingCapacity: true)
                    if IngestRun.scalarText(element, into: &text) {
                        text.withUnsafeBytes { builder.set(.tags, $0, lookups: &lookups) }
                    }
                }
            case .field(let field):
                text.removeAll(keepingCapacity: true)
                if IngestRun.scalarText(value, into: &text) {
                    text.withUnsafeBytes { builder.set(field, $0, lookups: &lookups) }
                } else if value.kind == .array || value.kind == .object {
                    addCustomJSON(keyNode.string ?? "", value)
                }
            }
        }
        // Rejects carry the record on one line: a pretty-printed element is re-serialised.
        var multiline = false
        for b in node.raw where b == 0x0A || b == 0x0D { multiline = true; break }
        if multiline {
            let oneLine = IngestRun.compactBytes(node)
            try oneLine.withUnsafeBytes {
                try emit(line: line, file: file, source: source, envelopeTenant: envelopeTenant, rejectRaw: nil, rejectRecord: $0, output: &output)
            }
        } else {
            try emit(line: line, file: file, source: source, envelopeTenant: envelopeTenant, rejectRaw: nil, rejectRecord: node.raw, output: &output)
        }
    }

    mutating func addCustomJSON(_ key: String, _ value: JSONNode) {
        if value.kind == .null { return }
        if value.kind == .string {
            var text: [UInt8] = []
            value.appendDecodedString(to: &text)
            text.withUnsafeBytes { builder.addCustom(key, string: $0) }
            return
        }
        builder.addCustom(key, raw: IngestRun.compactBytes(value))
    }

    /// A value as text: strings decoded, numbers and booleans as written; false for the rest.
    static func scalarText(_ node: JSONNode, into out: inout [UInt8]) -> Bool {
        switch node.kind {
        case .string: node.appendDecodedString(to: &out); return true
        case .number, .true, .false: out.append(contentsOf: node.raw); return true
        default: return false
        }
    }

    /// One-line JSON of a node (a pretty-printed document's element must not break the output line).
    static func compactBytes(_ node: JSONNode) -> [UInt8] {
        switch node.kind {
        case .object, .array: return JSONValue(node).serialized
        default: return Array(node.raw)
        }
    }
}

/// JSON keys → what they map to, cached by the key's raw bytes: a known key costs a hash and a
/// compare, no String. (A key written with escapes gets its own entry; it maps the same.)
struct KeyTargets {
    /// Past this many keys new ones are mapped each time they come (the cache stops growing).
    static let limit = 10_000
    private var slots = BytesCache(limit: KeyTargets.limit)
    private var targets: [ColumnTarget] = []

    mutating func target(rawKey: UnsafeRawBufferPointer, make: () -> ColumnTarget) -> ColumnTarget {
        var made: ColumnTarget?
        // The cached value is the target's place in `targets`, as 4 bytes.
        let place = slots.value(for: rawKey, make: { _ in
            made = make()
            return withUnsafeBytes(of: UInt32(targets.count).littleEndian) { Array($0) }
        }) { $0!.loadUnaligned(as: UInt32.self).littleEndian }
        if let made {
            if Int(place) == targets.count && targets.count < KeyTargets.limit { targets.append(made) }
            return made
        }
        return targets[Int(place)]
    }
}

/// Line numbers of byte offsets, counted forward as a document is walked.
struct LineCounter {
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    var line = 1

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func line(at position: Int) -> Int {
        if position < offset { offset = 0; line = 1 }
        var i = offset
        while i < position, let hit = memchr(bytes.baseAddress! + i, 0x0A, position - i) {
            line += 1
            i = bytes.baseAddress!.distance(to: UnsafeRawPointer(hit)) + 1
        }
        offset = position
        return line
    }
}

/// Structural JSON scanning: where values end, without building anything (validation is the
/// parser's job, element by element).
enum JSONScan {
    static func skipSpace(_ p: UnsafeRawBufferPointer, _ from: Int) -> Int {
        var i = from
        while i < p.count && (p[i] == 0x20 || p[i] == 0x0A || p[i] == 0x0D || p[i] == 0x09) { i += 1 }
        return i
    }

    /// The end (exclusive) of the value starting at `start`, or nil when it is never closed.
    static func skipValue(_ p: UnsafeRawBufferPointer, _ start: Int) -> Int? {
        guard start < p.count else { return nil }
        var i = start
        var depth = 0
        while i < p.count {
            let b = p[i]
            switch b {
            case 0x22:
                i += 1
                while i < p.count && p[i] != 0x22 { i += p[i] == 0x5C ? 2 : 1 }
                if i >= p.count { return nil }
                i += 1
                if depth == 0 { return i }
                continue
            case 0x5B, 0x7B:
                depth += 1
            case 0x5D, 0x7D:
                depth -= 1
                if depth == 0 { return i + 1 }
                if depth < 0 { return i }
            case 0x2C, 0x20, 0x0A, 0x0D, 0x09, 0x3A:
                if depth == 0 { return i }
            default:
                break
            }
            i += 1
        }
        return depth == 0 ? i : nil
    }
}
