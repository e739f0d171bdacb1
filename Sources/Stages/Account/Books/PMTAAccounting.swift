#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// PowerMTA accounting files (CSV, RFC 4180, header line first; gzip read transparently).
/// Columns are found by header name; a header line met again (concatenated rotations) re-maps
/// them. Record types: d delivered, b and rb bounced, t and tq deferred, f complained, rs by its
/// dsnAction; others (r) are counted as ignored.
enum PMTAAccounting {
    /// Reads one file; returns the number of data rows seen (each is emitted, rejected or ignored).
    /// Fields are read as byte ranges; repeated texts (campaigns, vmtas, statuses) become
    /// Strings once.
    ///
    /// A large file is read on two threads: the second half from the first line start past the
    /// middle, with the columns of the file's first header. The split is kept only when the first
    /// thread's records end exactly there with the same columns (a split inside a quoted field,
    /// or a header met again in the first half, is read again after the first thread); events,
    /// rejects and line numbers are then exactly those of one front-to-back pass.
    static func read(path: String, rejects: RejectSink, ignored: inout [String: Int], into batch: inout [BookEvent]) throws -> Int {
        let data = try readAll(path)
        // Room for one event per line (lines are counted at memchr speed).
        var lines = 0
        var split = -1
        data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var p = base
            let end = base + raw.count
            let middle = base + raw.count / 2
            while p < end, let nl = memchr(p, 0x0A, end - p) {
                lines += 1
                p = UnsafeRawPointer(nl) + 1
                if split < 0 && p > middle { split = base.distance(to: p) }
            }
        }
        batch.reserveCapacity(batch.count + lines + 1)
        var first = ChunkState()
        first.events = batch
        batch = []
        var parser = CSVParser(data: data)
        let minimumSplit = 1 << 22
        if data.count >= minimumSplit && split > 0 && split < data.count {
            // The file's first header (the columns the second half starts with).
            var probe = CSVParser(data: data)
            var head = ChunkState()
            parse(data, parser: &probe, limit: probe.position + 1, path: path, state: &head)
            if !head.columns.isEmpty && head.rows == 0 && probe.position <= split {
                var second = ChunkState()
                second.columns = head.columns
                second.col = head.col
                second.events.reserveCapacity(lines / 2 + 1)
                var secondParser = CSVParser(data: data, position: split)
                try WorkCrew.perform(workers: 2) { w in
                    if w == 0 {
                        parse(data, parser: &parser, limit: split, path: path, state: &first)
                    } else {
                        parse(data, parser: &secondParser, limit: data.count, path: path, state: &second)
                    }
                }
                if parser.position == split && first.columns == second.startColumns {
                    let offset = parser.line
                    parser = secondParser
                    parser.line += offset
                    first.columns = second.columns
                    first.col = second.col
                    first.rows += second.rows
                    for (k, n) in second.ignored { first.ignored[k, default: 0] += n }
                    for r in second.rejects { first.rejects.append((r.reason, r.detail, r.line + offset, r.raw)) }
                    first.events.append(contentsOf: second.events)
                } else {
                    Timing.mark("csv split discarded")
                }
            }
        }
        parse(data, parser: &parser, limit: data.count, path: path, state: &first)
        data.withUnsafeBytes { raw in
            for r in first.rejects {
                rejects.reject(r.reason, r.detail, origin: RejectSink.Origin(line: r.line, file: path),
                               raw: UnsafeRawBufferPointer(rebasing: raw[r.raw]))
            }
        }
        for (k, n) in first.ignored { ignored[k, default: 0] += n }
        batch = first.events
        return first.rows
    }

    /// What reading records gathers (per thread).
    struct ChunkState {
        var columns: [String: Int] = [:]
        var col = ColumnIndexes()
        var rows = 0
        var ignored: [String: Int] = [:]
        var events: [BookEvent] = []
        var rejects: [(reason: RejectReason, detail: String, line: Int, raw: Range<Int>)] = []
        /// The columns this state started with (set before reading).
        var startColumns: [String: Int] = [:]
    }

    /// Reads records from `parser`'s position until it reaches `limit` (or the end).
    static func parse(_ data: [UInt8], parser: inout CSVParser, limit: Int, path: String, state: inout ChunkState) {
        state.startColumns = state.columns
        var fields: [Range<Int>] = []
        var quoted: [Bool] = []
        var interner = Interner()
        var scratch: [UInt8] = []
        var emailBytes: [UInt8] = []
        var lastBounce: (String, String, String, String?)? = nil  // category, status → class, reason
        while parser.position < limit, let (line, rawRange) = parser.next(fields: &fields, quoted: &quoted) {
            func field(_ i: Int?) -> String {
                guard let i, i < fields.count else { return "" }
                return parser.text(fields[i], quoted: quoted[i])
            }
            /// The field's content bytes (quotes undone), interned as a String.
            func interned(_ i: Int) -> String {
                guard i >= 0, i < fields.count else { return "" }
                if !quoted[i] { return data.withUnsafeBytes { interner.string(UnsafeRawBufferPointer(rebasing: $0[fields[i]])) } }
                scratch.removeAll(keepingCapacity: true)
                parser.unquote(fields[i], into: &scratch)
                return scratch.withUnsafeBytes { interner.string($0) }
            }
            if fields.count == 1 && fields[0].isEmpty { continue }  // blank line
            let code = data.withUnsafeBytes { RecordCode(UnsafeRawBufferPointer(rebasing: $0[fields[0]])) }
            if code == .header || (quoted[0] && field(0) == "type") {
                state.columns = [:]
                for i in 0..<fields.count { state.columns[field(i)] = i }
                state.col = ColumnIndexes(state.columns)
                continue
            }
            state.rows += 1
            func reject(_ reason: RejectReason, _ detail: String) {
                state.rejects.append((reason, detail, line, rawRange))
            }
            guard !state.columns.isEmpty else { reject(.missingHeader, "no header line (type,…) before the first record"); continue }
            let type: String
            switch quoted[0] ? RecordCode.other : code {
            case .d: type = "delivered"
            case .b: type = "bounced"
            case .t: type = "deferred"
            case .f: type = "complained"
            default:
                let first = field(0)
                let dsnAction = field(state.columns["dsnAction"])
                switch first {
                case "d": type = "delivered"
                case "b", "rb": type = "bounced"
                case "t", "tq": type = "deferred"
                case "f": type = "complained"
                case "rs":
                    switch dsnAction.lowercased() {
                    case "failed": type = "bounced"
                    case "delayed": type = "deferred"
                    case "delivered", "relayed", "expanded": type = "delivered"
                    default: state.ignored["rs-" + (dsnAction.isEmpty ? "none" : dsnAction), default: 0] += 1; continue
                    }
                default:
                    state.ignored[first, default: 0] += 1
                    continue
                }
            }
            // rcpt, normalised, straight from the bytes.
            emailBytes.removeAll(keepingCapacity: true)
            if state.col.rcpt >= 0 && state.col.rcpt < fields.count {
                if quoted[state.col.rcpt] {
                    scratch.removeAll(keepingCapacity: true)
                    parser.unquote(fields[state.col.rcpt], into: &scratch)
                    scratch.withUnsafeBytes { EmailKey.normalize($0, into: &emailBytes) }
                } else {
                    data.withUnsafeBytes { EmailKey.normalize(UnsafeRawBufferPointer(rebasing: $0[fields[state.col.rcpt]]), into: &emailBytes) }
                }
            }
            guard state.col.rcpt >= 0 && state.col.rcpt < fields.count && !fields[state.col.rcpt].isEmpty else { reject(.missingEmail, "the record has no rcpt"); continue }
            let timeColumn = state.col.timeLogged >= 0 ? state.col.timeLogged : state.col.timeQueued
            var at: Timestamp? = nil
            if timeColumn >= 0 && timeColumn < fields.count && !quoted[timeColumn] {
                at = data.withUnsafeBytes { PMTAAccounting.fastTime(UnsafeRawBufferPointer(rebasing: $0[fields[timeColumn]])) }
            }
            if at == nil {
                let timeText = field(timeColumn >= 0 ? timeColumn : nil)
                guard let t = Timestamp(parsing: timeText) else {
                    reject(.invalidTime, "timeLogged '\(timeText)' is neither 'YYYY-MM-DD HH:MM:SS+hhmm' nor unix seconds")
                    continue
                }
                at = t
            }
            var bounceClass: String?
            var reason: String?
            if type == "bounced" {
                let category = interned(state.col.bounceCat)
                let dsnStatus = interned(state.col.dsnStatus)
                if let last = lastBounce, last.0 == category, last.1 == dsnStatus {
                    bounceClass = last.2
                    reason = last.3
                } else {
                    bounceClass = BounceClass.classify(category: category, dsnStatus: dsnStatus).rawValue
                    let parts = [category, dsnStatus].filter { !$0.isEmpty }
                    reason = parts.isEmpty ? nil : parts.joined(separator: " ")
                    lastBounce = (category, dsnStatus, bounceClass!, reason)
                }
            } else if type == "deferred" {
                let dsnStatus = interned(state.col.dsnStatus)
                if !dsnStatus.isEmpty { reason = dsnStatus }
            } else if type == "complained" {
                let feedback = interned(state.col.feedbackType)
                reason = feedback.isEmpty ? nil : feedback
            }
            var campaign = interned(state.col.campaign)
            if campaign.isEmpty { campaign = interned(state.col.jobId) }
            let vmta = interned(state.col.vmta)
            let id = data.withUnsafeBytes { EventID.hash(UnsafeRawBufferPointer(rebasing: $0[rawRange]), seed: 0x706D7461) }
            var event = BookEvent(id: id, email: String(decoding: emailBytes, as: UTF8.self), type: type, bounceClass: bounceClass, reason: reason,
                                  campaign: campaign.isEmpty ? nil : campaign, vmta: vmta.isEmpty ? nil : vmta, at: at!, source: "pmta")
            event.shared = true
            event.cachedEmailHash = emailBytes.withUnsafeBytes { EmailKey.hash($0) }
            state.events.append(event)
        }
    }

    /// `YYYY-MM-DD HH:MM:SS+hhmm` (the form PowerMTA writes) exactly as `Timestamp(parsing:)`
    /// reads it; nil for any other shape (which then goes the general way).
    @inline(__always)
    static func fastTime(_ b: UnsafeRawBufferPointer) -> Timestamp? {
        guard b.count == 24, b[4] == 45, b[7] == 45, b[10] == 32, b[13] == 58, b[16] == 58, b[19] == 43 || b[19] == 45 else { return nil }
        @inline(__always) func num(_ from: Int, _ count: Int) -> Int64 {
            var x: Int64 = 0
            for i in from..<(from + count) {
                let c = b[i]
                if c < 48 || c > 57 { return -1 }
                x = x * 10 + Int64(c - 48)
            }
            return x
        }
        let y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), s = num(17, 2)
        let zh = num(20, 2), zm = num(22, 2)
        guard y >= 0, mo >= 1, mo <= 12, d >= 1, d <= 31, h >= 0, h < 24, mi >= 0, mi < 60, s >= 0, s <= 60, zh >= 0, zm >= 0 else { return nil }
        let total = Timestamp.days(fromCivil: y, mo, d) * 86_400 + h * 3600 + mi * 60 + s
        let offset = zh * 3600 + zm * 60
        return Timestamp(seconds: b[19] == 43 ? total - offset : total + offset)
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        let reader = try InputReader(path: path)
        // A plain file is read straight into an array of its size; gzip grows it as it goes.
        var size = 0
        if let fd = try? FileDescriptor.openForReading(path) {
            size = (try? fd.size()) ?? 0
            fd.close()
        }
        let capacity = max(1 << 20, size + 1)
        var data = try [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            count = 0
            while count < buffer.count {
                let n = try reader.read(into: buffer.baseAddress! + count, count: buffer.count - count)
                if n == 0 { break }
                count += n
            }
        }
        guard data.count == capacity else { return data }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0.baseAddress!, count: $0.count) }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        return data
    }
}

/// RFC 4180 records: `,` separated, `"` quoted (with `""` inside), CRLF or LF line ends,
/// quoted fields may hold separators and line breaks.
struct CSVParser {
    let data: [UInt8]
    var position = 0
    var line = 0

    init(data: [UInt8]) {
        self.data = data
        // A UTF-8 byte order mark is skipped.
        if data.count >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF { position = 3 }
    }

    /// A parser starting at a record start inside the data (line numbers counted from there).
    init(data: [UInt8], position: Int) {
        self.data = data
        self.position = position
    }

    /// The next record's fields (byte ranges, content only) and the line it starts on, and the
    /// record's whole byte range (for ids and rejects).
    mutating func next(fields: inout [Range<Int>], quoted: inout [Bool]) -> (Int, Range<Int>)? {
        guard position < data.count else { return nil }
        fields.removeAll(keepingCapacity: true)
        quoted.removeAll(keepingCapacity: true)
        line += 1
        let startLine = line
        let recordStart = position
        var recordEnd = position
        let n = data.count
        return data.withUnsafeBufferPointer { d in
            var i = position
            while true {
                if i < n && d[i] == UInt8(ascii: "\"") {
                    i += 1
                    let start = i
                    while i < n {
                        if d[i] == UInt8(ascii: "\"") {
                            if i + 1 < n && d[i + 1] == UInt8(ascii: "\"") { i += 2; continue }
                            break
                        }
                        if d[i] == 0x0A { line += 1 }
                        i += 1
                    }
                    fields.append(start..<min(i, n))
                    quoted.append(true)
                    if i < n { i += 1 }  // closing quote
                    while i < n && d[i] != UInt8(ascii: ",") && d[i] != 0x0A && d[i] != 0x0D { i += 1 }  // junk after the quote
                } else {
                    let start = i
                    while i < n && d[i] != UInt8(ascii: ",") && d[i] != 0x0A && d[i] != 0x0D { i += 1 }
                    fields.append(start..<i)
                    quoted.append(false)
                }
                if i < n && d[i] == UInt8(ascii: ",") { i += 1; continue }
                recordEnd = i
                if i < n && d[i] == 0x0D { i += 1 }
                if i < n && d[i] == 0x0A { i += 1 }
                break
            }
            position = i
            return (startLine, recordStart..<recordEnd)
        }
    }

    /// A quoted field's content with `""` made `"`.
    func unquote(_ range: Range<Int>, into bytes: inout [UInt8]) {
        var i = range.lowerBound
        while i < range.upperBound {
            bytes.append(data[i])
            if data[i] == UInt8(ascii: "\"") && i + 1 < range.upperBound && data[i + 1] == UInt8(ascii: "\"") { i += 2 } else { i += 1 }
        }
    }

    func text(_ range: Range<Int>, quoted: Bool) -> String {
        if !quoted { return String(decoding: data[range], as: UTF8.self) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(range.count)
        var i = range.lowerBound
        while i < range.upperBound {
            bytes.append(data[i])
            if data[i] == UInt8(ascii: "\"") && i + 1 < range.upperBound && data[i + 1] == UInt8(ascii: "\"") { i += 2 } else { i += 1 }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The first field of an accounting row, read from its bytes.
enum RecordCode {
    case d, b, t, f, header, other

    @inline(__always) init(_ b: UnsafeRawBufferPointer) {
        if b.count == 1 {
            switch b[0] {
            case UInt8(ascii: "d"): self = .d
            case UInt8(ascii: "b"): self = .b
            case UInt8(ascii: "t"): self = .t
            case UInt8(ascii: "f"): self = .f
            default: self = .other
            }
        } else if b.count == 4 && b[0] == UInt8(ascii: "t") && b[1] == UInt8(ascii: "y") && b[2] == UInt8(ascii: "p") && b[3] == UInt8(ascii: "e") {
            self = .header
        } else {
            self = .other
        }
    }
}

/// Column positions by header name (-1: absent).
struct ColumnIndexes {
    var rcpt = -1, timeLogged = -1, timeQueued = -1, bounceCat = -1, dsnStatus = -1, feedbackType = -1
    var campaign = -1, jobId = -1, vmta = -1

    init() {}

    init(_ columns: [String: Int]) {
        rcpt = columns["rcpt"] ?? -1
        timeLogged = columns["timeLogged"] ?? -1
        timeQueued = columns["timeQueued"] ?? -1
        bounceCat = columns["bounceCat"] ?? -1
        dsnStatus = columns["dsnStatus"] ?? -1
        feedbackType = columns["feedbackType"] ?? -1
        campaign = columns["header_X-Campaign"] ?? -1
        jobId = columns["jobId"] ?? -1
        vmta = columns["vmta"] ?? -1
    }
}

/// Strings for repeated byte texts: made once, then shared.
struct Interner {
    private var table: [UInt64: [([UInt8], String)]] = [:]
    private var size = 0
    static let limit = 1 << 16

    /// The last texts met (few distinct ones repeat on every row): compared before hashing.
    private var recent: [([UInt8], String)] = []
    private var recentNext = 0

    mutating func string(_ bytes: UnsafeRawBufferPointer) -> String {
        if bytes.isEmpty { return "" }
        for (b, s) in recent where b.count == bytes.count
            && b.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) {
            return s
        }
        let s = lookup(bytes)
        if recent.count < 16 { recent.append((Array(bytes), s)) } else {
            recent[recentNext] = (Array(bytes), s)
            recentNext = (recentNext + 1) & 15
        }
        return s
    }

    private mutating func lookup(_ bytes: UnsafeRawBufferPointer) -> String {
        let h = EventID.hash(bytes)
        if let list = table[h] {
            for (b, s) in list where b.count == bytes.count && b.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) {
                return s
            }
        }
        let s = String(decoding: bytes, as: UTF8.self)
        if size < Interner.limit {
            table[h, default: []].append((Array(bytes), s))
            size += 1
        }
        return s
    }
}
