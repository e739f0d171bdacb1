import MailpipeCore
import MailpipeStore

/// PowerMTA accounting files (CSV, RFC 4180, header line first; gzip read transparently).
/// Columns are found by header name; a header line met again (concatenated rotations) re-maps
/// them. Record types: d delivered, b and rb bounced, t and tq deferred, f complained, rs by its
/// dsnAction; others (r) are counted as ignored.
enum PMTAAccounting {
    /// Bounce categories (external-systems.md §2): hard ones suppress at once, soft ones count
    /// toward the soft-bounce rule, the rest (policy, reputation, content) neither.
    static let hardCategories: Set<String> = ["bad-mailbox", "bad-domain", "inactive-mailbox"]
    static let softCategories: Set<String> = ["quota-issues", "no-answer-from-host", "relaying-issues", "bad-connection",
                                              "message-expired", "routing-errors"]
    static let policyCategories: Set<String> = ["spam-related", "policy-related", "content-related", "virus-related",
                                                "invalid-sender", "bad-configuration", "protocol-errors"]

    /// hard, soft or policy: by bounce category, else (empty, `other`, unknown) by DSN status —
    /// 5.1.x and 5.2.1 mean the mailbox or domain does not exist (hard); other 5.x.x policy; 4.x.x soft.
    static func bounceClass(category: String, dsnStatus: String) -> String {
        if hardCategories.contains(category) { return "hard" }
        if softCategories.contains(category) { return "soft" }
        if policyCategories.contains(category) { return "policy" }
        let status = dsnStatus.split(separator: " ").first.map(String.init) ?? ""
        if status.hasPrefix("5.1.") || status == "5.2.1" { return "hard" }
        if status.hasPrefix("5.") { return "policy" }
        return "soft"
    }

    /// Reads one file; returns the number of data rows seen (each is emitted, rejected or ignored).
    static func read(path: String, rejects: RejectSink, ignored: inout [String: Int], _ emit: (BookEvent) -> Void) throws -> Int {
        let data = try readAll(path)
        var parser = CSVParser(data: data)
        var columns: [String: Int] = [:]
        var rows = 0
        var fields: [Range<Int>] = []
        var quoted: [Bool] = []
        while let (line, rawRange) = parser.next(fields: &fields, quoted: &quoted) {
            func field(_ i: Int?) -> String {
                guard let i, i < fields.count else { return "" }
                return parser.text(fields[i], quoted: quoted[i])
            }
            if fields.count == 1 && fields[0].isEmpty { continue }  // blank line
            let first = field(0)
            if first == "type" {
                columns = [:]
                for i in 0..<fields.count { columns[field(i)] = i }
                continue
            }
            rows += 1
            let origin = RejectSink.Origin(line: line, file: path)
            func reject(_ reason: String, _ detail: String) {
                data.withUnsafeBytes { rejects.reject(reason: reason, detail: detail, origin: origin, raw: UnsafeRawBufferPointer(rebasing: $0[rawRange])) }
            }
            guard !columns.isEmpty else { reject("missing_header", "no header line (type,…) before the first record"); continue }
            let type: String
            let dsnAction = field(columns["dsnAction"])
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
                default: ignored["rs-" + (dsnAction.isEmpty ? "none" : dsnAction), default: 0] += 1; continue
                }
            default:
                ignored[first, default: 0] += 1
                continue
            }
            let rcpt = field(columns["rcpt"])
            guard !rcpt.isEmpty else { reject("missing_email", "the record has no rcpt"); continue }
            let timeText = field(columns["timeLogged"] ?? columns["timeQueued"])
            guard let at = Timestamp(parsing: timeText) else {
                reject("invalid_time", "timeLogged '\(timeText)' is neither 'YYYY-MM-DD HH:MM:SS+hhmm' nor unix seconds")
                continue
            }
            var bounceClass: String?
            var reason: String?
            let category = field(columns["bounceCat"])
            let dsnStatus = field(columns["dsnStatus"])
            if type == "bounced" {
                bounceClass = PMTAAccounting.bounceClass(category: category, dsnStatus: dsnStatus)
                let parts = [category, dsnStatus].filter { !$0.isEmpty }
                reason = parts.isEmpty ? nil : parts.joined(separator: " ")
            } else if type == "deferred" && !dsnStatus.isEmpty {
                reason = dsnStatus
            } else if type == "complained" {
                let feedback = field(columns["feedbackType"])
                reason = feedback.isEmpty ? nil : feedback
            }
            var campaign = field(columns["header_X-Campaign"])
            if campaign.isEmpty { campaign = field(columns["jobId"]) }
            let vmta = field(columns["vmta"])
            let id = data.withUnsafeBytes { EventID.hash(UnsafeRawBufferPointer(rebasing: $0[rawRange]), seed: 0x706D7461) }
            emit(BookEvent(id: id, email: EmailKey.normalize(rcpt), type: type, bounceClass: bounceClass, reason: reason,
                           campaign: campaign.isEmpty ? nil : campaign, vmta: vmta.isEmpty ? nil : vmta, at: at, source: "pmta"))
        }
        return rows
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        let reader = try InputReader(path: path)
        var data: [UInt8] = []
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
