#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// NDJSON, JSON arrays and the import envelope `{"tenant_id":…,"data_source_id":…,"contacts":[…]}`.
extension IngestRun {
    /// A batch of rows ready to convert with this run's settings.
    func rowBatch() throws -> RowBatch {
        var batch = RowBatch(threads: options.threads ?? Cores.workers, stage: rejects.stage)
        try batch.configure(for: self)
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
        var batch = try rowBatch()
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
                if inputEncoding != .utf8 {
                    transcoded.removeAll(keepingCapacity: true)
                    inputEncoding.transcode(bytes, into: &transcoded)
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
        if inputEncoding != .utf8 {
            var t: [UInt8] = []
            doc.withUnsafeBytes { inputEncoding.transcode($0, into: &t) }
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
        var batch = try rowBatch()
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
        // 1. Paths given with --map (`email=contact.emails[0]`) win over everything found.
        for mapping in jsonPaths {
            guard let value = JSONPath.resolve(mapping.path, in: node), case .field(let field) = mapping.target else { continue }
            take(value, as: field, depth: 1, keyTargets: &keyTargets, text: &text)
        }
        // 2. The record's own members, scalars first: a value at the top wins over one found
        //    deeper (`email` over `company.email`).
        for (keyNode, value) in node.members where keyNode.kind == .string && !value.kind.isContainer {
            let target = keyTargets.target(rawKey: keyNode.raw) { self.target(forHeader: keyNode.string ?? "") }
            switch target {
            case .ignore:
                continue
            case .custom(let name):
                addCustomJSON(name, value)
            case .field(.custom):
                addCustomJSON(keyNode.string ?? "", value)
            case .field(.email) where value.hasLoneSurrogate:
                // Decoded, the unpaired surrogate would become U+FFFD: distinct addresses would meet.
                builder.refuseEmail(value.string ?? "")
            case .field(let field):
                text.removeAll(keepingCapacity: true)
                if IngestRun.scalarText(value, into: &text) {
                    let outcome = text.withUnsafeBytes { builder.set(field, $0, lookups: &lookups) }
                    if outcome == .overflow { addCustomJSON(keyNode.string ?? "", value) }
                }
            case .status(let status, let signal):
                text.removeAll(keepingCapacity: true)
                if IngestRun.scalarText(value, into: &text) { text.withUnsafeBytes { builder.setStatusFlag(status, signal, $0) } }
            }
        }
        // 3. Objects and arrays, walked for fields at any depth (docs/ingest-dedupe.md, "Nested
        //    JSON"); each is also kept under custom unless it held only addresses, phones or tags.
        for (keyNode, value) in node.members where keyNode.kind == .string && value.kind.isContainer {
            let target = keyTargets.target(rawKey: keyNode.raw) { self.target(forHeader: keyNode.string ?? "") }
            switch target {
            case .ignore:
                continue
            case .field(.custom):
                if value.kind == .object {
                    for (k, v) in value.members { if let ks = k.string { addCustomJSON(ks, v) } }
                } else {
                    addCustomJSON(keyNode.string ?? "", value)
                }
            case .field(let field):
                take(value, as: field, depth: 1, keyTargets: &keyTargets, text: &text)
                if field != .email && field != .phone && field != .tags { addCustomJSON(keyNode.string ?? "", value) }
            case .custom(let name):
                walk(value, depth: 1, keyTargets: &keyTargets, text: &text)
                addCustomJSON(name, value)
            case .status:
                addCustomJSON(keyNode.string ?? "", value)
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

    /// A value found for a field: a scalar is set; in an array each element is (the first is the
    /// contact's, the others `other_emails` / `other_phones`, or overflow); in an object the
    /// member named `name`, `value`, `address`, `number` or `text` is the field's value
    /// (`company: {"name": …}`), the others are walked by their own names.
    mutating func take(_ value: JSONNode, as field: ContactField, depth: Int, keyTargets: inout KeyTargets, text: inout [UInt8]) {
        guard depth <= options.stream.maxDepth else { return }
        switch value.kind {
        case .object:
            for (keyNode, member) in value.members where keyNode.kind == .string {
                if JSONPath.isValueKey(keyNode.raw) {
                    take(member, as: field, depth: depth + 1, keyTargets: &keyTargets, text: &text)
                } else {
                    walkMember(keyNode, member, depth: depth + 1, keyTargets: &keyTargets, text: &text)
                }
            }
        case .array:
            for element in value.elements { take(element, as: field, depth: depth + 1, keyTargets: &keyTargets, text: &text) }
        default:
            if field == .email && value.hasLoneSurrogate { builder.refuseEmail(value.string ?? ""); return }
            text.removeAll(keepingCapacity: true)
            if IngestRun.scalarText(value, into: &text) { text.withUnsafeBytes { _ = builder.set(field, $0, lookups: &lookups) } }
        }
    }

    /// An object or array whose key means nothing to us (`contact`, `profile`, `location`):
    /// its members are mapped by their own names, at any depth.
    mutating func walk(_ value: JSONNode, depth: Int, keyTargets: inout KeyTargets, text: inout [UInt8]) {
        guard depth <= options.stream.maxDepth else { return }
        switch value.kind {
        case .object:
            for (keyNode, member) in value.members where keyNode.kind == .string {
                walkMember(keyNode, member, depth: depth + 1, keyTargets: &keyTargets, text: &text)
            }
        case .array:
            for element in value.elements where element.kind.isContainer {
                walk(element, depth: depth + 1, keyTargets: &keyTargets, text: &text)
            }
        default:
            break
        }
    }

    private mutating func walkMember(_ keyNode: JSONNode, _ member: JSONNode, depth: Int, keyTargets: inout KeyTargets, text: inout [UInt8]) {
        let target = keyTargets.target(rawKey: keyNode.raw) { self.target(forHeader: keyNode.string ?? "") }
        switch target {
        case .field(.custom), .field(.tenant), .field(.source), .field(.createdAt), .ignore:
            return
        case .field(let field):
            take(member, as: field, depth: depth, keyTargets: &keyTargets, text: &text)
        case .status(let status, let signal):
            text.removeAll(keepingCapacity: true)
            if IngestRun.scalarText(member, into: &text) { text.withUnsafeBytes { builder.setStatusFlag(status, signal, $0) } }
        case .custom:
            if member.kind.isContainer { walk(member, depth: depth, keyTargets: &keyTargets, text: &text) }
        }
    }

    /// A CSV cell holding a JSON object (listmonk's `attributes`): kept under custom as JSON,
    /// and walked for fields as a nested record is. False when the cell is not an object.
    mutating func takeJSONCell(_ name: String, _ value: UnsafeRawBufferPointer) -> Bool {
        let t = Normalize.trimmed(value)
        guard t.count >= 2, t[0] == UInt8(ascii: "{"), t[t.count - 1] == UInt8(ascii: "}") else { return false }
        var parser = JSONParser(maxDepth: options.stream.maxDepth)
        defer { parser.deallocate() }
        guard let document = try? parser.parse(t), document.root.kind == .object else { return false }
        var keyTargets = KeyTargets()
        var text: [UInt8] = []
        walk(document.root, depth: 1, keyTargets: &keyTargets, text: &text)
        builder.addCustom(name, raw: IngestRun.compactBytes(document.root))
        return true
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

extension JSONKind {
    var isContainer: Bool { self == .object || self == .array }
}

/// Paths into nested JSON, as `--map` takes them: keys separated by `.`, array elements as
/// `[n]` (`contact.emails[0]`, `profile.names[0].given`).
enum JSONPath {
    enum Step: Equatable, Sendable { case key(String), index(Int) }

    /// The steps of `text`, or nil when it is a plain key (no `.`, no `[`).
    static func parse(_ text: String) -> [Step]? {
        guard text.contains(".") || text.contains("[") else { return nil }
        var steps: [Step] = []
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            var rest = Substring(part)
            if let open = rest.firstIndex(of: "[") {
                let key = rest[..<open]
                if !key.isEmpty { steps.append(.key(String(key))) }
                rest = rest[open...]
                while rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                    guard let n = Int(rest[rest.index(after: rest.startIndex)..<close]), n >= 0 else { return nil }
                    steps.append(.index(n))
                    rest = rest[rest.index(after: close)...]
                }
                if !rest.isEmpty { return nil }
            } else {
                guard !rest.isEmpty else { return nil }
                steps.append(.key(String(rest)))
            }
        }
        return steps.isEmpty ? nil : steps
    }

    /// The node at `path` (keys matched exactly, else without regard to case).
    static func resolve(_ path: [Step], in root: JSONNode) -> JSONNode? {
        var node = root
        for step in path {
            switch step {
            case .key(let key):
                guard node.kind == .object else { return nil }
                if let exact = node[key] { node = exact; continue }
                let lower = key.lowercased()
                guard let found = node.members.first(where: { $0.0.string?.lowercased() == lower })?.1 else { return nil }
                node = found
            case .index(let i):
                guard node.kind == .array, let element = node.elements.dropFirst(i).first(where: { _ in true }) else { return nil }
                node = element
            }
        }
        return node
    }

    /// `"name"`, `"value"`, `"address"`, `"number"`, `"text"` (raw key bytes, quotes included):
    /// inside an object found for a field, the member that holds the field's value.
    static func isValueKey(_ raw: UnsafeRawBufferPointer) -> Bool {
        switch raw.count {
        case 6: return matches(raw, "\"name\"") || matches(raw, "\"text\"")
        case 7: return matches(raw, "\"value\"")
        case 8: return matches(raw, "\"number\"")
        case 9: return matches(raw, "\"address\"")
        default: return false
        }
    }

    private static func matches(_ raw: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        guard raw.count == word.utf8CodeUnitCount else { return false }
        for i in 0..<raw.count where raw[i] != word.utf8Start[i] { return false }
        return true
    }
}
