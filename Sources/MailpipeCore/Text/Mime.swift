/// Builds RFC 5322 / MIME messages as bytes with CRLF line ends: UTF-8 header values encoded per
/// RFC 2047, `multipart/alternative` text + HTML, each part quoted-printable or base64 (whichever
/// is smaller for its content), every line at most 998 bytes (76 in encoded bodies).
public enum Mime {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case invalidHeaderName(String)
        case headerTooLong(String)
        case noBody

        public var description: String {
            switch self {
            case .invalidHeaderName(let n): return "invalid header name '\(n)'"
            case .headerTooLong(let n): return "header '\(n)' has a word longer than 998 bytes"
            case .noBody: return "a message needs html or text"
            }
        }
    }

    public struct Message {
        public var from: String
        public var to: String
        public var replyTo: String?
        public var subject: String
        public var date: Timestamp
        public var messageID: String
        public var headers: [(String, String)]
        public var text: String?
        public var html: String?
        /// Seeds the boundary, so the same message gives the same bytes.
        public var boundarySeed: UInt64

        public init(from: String, to: String, replyTo: String? = nil, subject: String, date: Timestamp,
                    messageID: String, headers: [(String, String)] = [], text: String?, html: String?, boundarySeed: UInt64 = 0) {
            self.from = from; self.to = to; self.replyTo = replyTo; self.subject = subject; self.date = date
            self.messageID = messageID; self.headers = headers; self.text = text; self.html = html
            self.boundarySeed = boundarySeed
        }
    }

    /// Headers the builder writes itself; the same names in `headers` are ignored.
    static let reserved: Set<String> = ["from", "to", "reply-to", "subject", "date", "message-id", "mime-version",
                                        "content-type", "content-transfer-encoding", "bcc", "cc", "return-path"]

    public static func build(_ m: Message) throws -> [UInt8] {
        var out: [UInt8] = []
        var text = m.text ?? "", html = m.html ?? ""
        try text.withUTF8 { t in
            try html.withUTF8 { h in
                try build(m, text: UnsafeRawBufferPointer(t), html: UnsafeRawBufferPointer(h), fromHeader: nil, into: &out)
            }
        }
        return out
    }

    /// `build` from bytes, for the per-message path: `text`/`html` are the parts' UTF-8 (empty =
    /// absent; the Message's own `text`/`html` are not read), `fromHeader` the From line as
    /// `addressHeader` writes it (nil: built here). Appends to `out`.
    public static func build(_ m: Message, text: UnsafeRawBufferPointer, html: UnsafeRawBufferPointer,
                      fromHeader: [UInt8]?, into out: inout [UInt8]) throws {
        out.reserveCapacity(out.count + text.count * 11 / 10 + html.count * 11 / 10 + 1024)
        try header("Date", rfc5322Date(m.date), into: &out)
        if let fromHeader { out.append(contentsOf: fromHeader) } else { try addressHeader("From", m.from, into: &out) }
        try addressHeader("To", m.to, into: &out)
        if let r = m.replyTo, !r.isEmpty { try addressHeader("Reply-To", r, into: &out) }
        try header("Subject", m.subject, into: &out)
        try header("Message-ID", m.messageID, into: &out)
        for (name, value) in m.headers where !reserved.contains(name.lowercased()) {
            guard isHeaderName(name) else { throw Failure.invalidHeaderName(name) }
            try header(name, value, into: &out)
        }
        append("MIME-Version: 1.0\r\n", to: &out)
        switch (text.isEmpty, html.isEmpty) {
        case (true, true):
            throw Failure.noBody
        case (false, true):
            part(type: "text/plain", body: text, into: &out)
        case (true, false):
            part(type: "text/html", body: html, into: &out)
        case (false, false):
            let boundary = "=_mailpipe_" + hex(m.boundarySeed) + "_alt"
            append("Content-Type: multipart/alternative;\r\n boundary=\"\(boundary)\"\r\n\r\n", to: &out)
            append("This is a multi-part message in MIME format.\r\n", to: &out)
            append("--\(boundary)\r\n", to: &out)
            part(type: "text/plain", body: text, into: &out)
            append("\r\n--\(boundary)\r\n", to: &out)
            part(type: "text/html", body: html, into: &out)
            append("\r\n--\(boundary)--\r\n", to: &out)
        }
    }

    /// Content-Type, Content-Transfer-Encoding, blank line, encoded body (no final CRLF for QP
    /// unless the content had one; base64 always ends lines with CRLF).
    static func part(type: String, body: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let bytes = body.bindMemory(to: UInt8.self)
        var high = 0
        for b in bytes { high &+= (b >= 0x80 || b == UInt8(ascii: "=")) ? 1 : 0 }
        // QP triples each such byte; base64 costs 4/3 of everything.
        let useBase64 = high * 3 + (bytes.count - high) > bytes.count * 4 / 3 + bytes.count / 38
        append("Content-Type: \(type); charset=UTF-8\r\n", to: &out)
        if useBase64 {
            append("Content-Transfer-Encoding: base64\r\n\r\n", to: &out)
            base64(Array(bytes), lineLength: 76, into: &out)
        } else {
            append("Content-Transfer-Encoding: quoted-printable\r\n\r\n", to: &out)
            quotedPrintable(bytes, into: &out)
            // No line end of our own: the CRLF before the next boundary belongs to the boundary,
            // so the decoded part is exactly the content.
        }
    }

    // MARK: headers

    static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 76 && name.utf8.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }
    }

    static func clean(_ value: String) -> String {
        // No header injection: line breaks and other controls become spaces.
        if !value.utf8.contains(where: { $0 < 32 || $0 == 127 }) { return value }
        return String(decoding: value.utf8.map { ($0 < 32 || $0 == 127) ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }

    /// An unstructured header: ASCII values are folded at spaces; others become RFC 2047
    /// encoded-words (UTF-8, base64), each at most 75 characters, on folded lines.
    public static func header(_ name: String, _ rawValue: String, into out: inout [UInt8]) throws {
        let value = clean(rawValue)
        append(name, to: &out)
        append(":", to: &out)
        if isPlainASCII(value) {
            try foldASCII(name: name, value, startColumn: name.utf8.count + 1, into: &out)
        } else {
            encodedWords(Array(value.utf8), startColumn: name.utf8.count + 1, into: &out)
        }
        out.append(contentsOf: [13, 10])
    }

    /// ASCII without "=?" (which a reader could take for an encoded-word).
    static func isPlainASCII(_ value: String) -> Bool {
        var previous: UInt8 = 0
        for b in value.utf8 {
            if b >= 0x80 || (b == UInt8(ascii: "?") && previous == UInt8(ascii: "=")) { return false }
            previous = b
        }
        return true
    }

    /// From/To/Reply-To: "Display Name <addr>" with the display name encoded when needed.
    public static func addressHeader(_ name: String, _ raw: String, into out: inout [UInt8]) throws {
        let (display, address) = splitAddress(clean(raw))
        append(name, to: &out)
        append(":", to: &out)
        var column = name.utf8.count + 1
        if let display, !display.isEmpty {
            if isPlainASCII(display) {
                var quoted = " \""
                for c in display.unicodeScalars {
                    if c == "\"" || c == "\\" { quoted.append("\\") }
                    quoted.unicodeScalars.append(c)
                }
                quoted += "\""
                append(quoted, to: &out)
                column += quoted.utf8.count
            } else {
                column = encodedWords(Array(display.utf8), startColumn: column, into: &out)
            }
        }
        let addr = " <\(address)>"
        if column + addr.utf8.count > 78 && column > name.utf8.count + 1 { out.append(contentsOf: [13, 10]) }
        append(addr, to: &out)
        out.append(contentsOf: [13, 10])
    }

    /// Splits `Name <a@b>` (or a bare address) into display name and address.
    public static func splitAddress(_ text: String) -> (display: String?, address: String) {
        let t = text.trimmingBlanks
        if let lt = t.lastIndex(of: "<"), let gt = t.lastIndex(of: ">"), lt < gt {
            var display = String(t[..<lt]).trimmingBlanks
            if display.hasPrefix("\"") && display.hasSuffix("\"") && display.count >= 2 {
                display = String(display.dropFirst().dropLast()).replacingBackslashes
            }
            return (display.isEmpty ? nil : display, String(t[t.index(after: lt)..<gt]).trimmingBlanks)
        }
        return (nil, t)
    }

    static func foldASCII(name: String, _ value: String, startColumn: Int, into out: inout [UInt8]) throws {
        var column = startColumn
        var first = true
        var v = value
        try v.withUTF8 { b in
            var i = 0
            let n = b.count
            while i < n {
                while i < n && b[i] == UInt8(ascii: " ") { i += 1 }
                if i == n { break }
                var j = i
                while j < n && b[j] != UInt8(ascii: " ") { j += 1 }
                let w = j - i
                if w > 990 { throw Failure.headerTooLong(name) }
                if !first && column + 1 + w > 78 {
                    out.append(contentsOf: [13, 10])
                    column = 0
                }
                first = false
                out.append(UInt8(ascii: " "))
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<j]))
                column += 1 + w
                i = j
            }
        }
    }

    /// Writes ` =?UTF-8?B?…?=` words (folded), never splitting a UTF-8 sequence; returns the column.
    @discardableResult
    static func encodedWords(_ bytes: [UInt8], startColumn: Int, into out: inout [UInt8]) -> Int {
        var column = startColumn
        var i = 0
        let maxRaw = 45  // 60 base64 characters + 12 of wrapping = 72 ≤ 75
        repeat {
            // Fill what is left of the line, at most 45 bytes (a 72-character word) per word.
            var room = (78 - column - 1 - 12) / 4 * 3
            if room < 9 && column > 1 {
                out.append(contentsOf: [13, 10])
                column = 0
                room = (78 - 1 - 12) / 4 * 3
            }
            var end = min(bytes.count, i + min(maxRaw, max(3, room)))
            while end < bytes.count && end > i + 1 && (bytes[end] & 0xC0) == 0x80 { end -= 1 }
            let chunk = Array(bytes[i..<end])
            let wordLength = 12 + (chunk.count + 2) / 3 * 4
            append(" =?UTF-8?B?", to: &out)
            base64(chunk, lineLength: 0, into: &out)
            append("?=", to: &out)
            column += 1 + wordLength
            i = end
        } while i < bytes.count
        return column
    }

    /// Decodes `=?charset?B?…?=` / `?Q?` words, dropping white space between adjacent words
    /// (for tests and tools; assumes UTF-8 payloads).
    public static func decodeHeaderValue(_ value: String) -> String {
        let b = Array(value.replacingOccurrencesOfFolding.utf8)
        var out: [UInt8] = []
        var pendingSpace: [UInt8] = []
        var lastWasWord = false
        var i = 0
        func word(at start: Int) -> ([UInt8], Int)? {
            guard start + 1 < b.count, b[start] == UInt8(ascii: "="), b[start + 1] == UInt8(ascii: "?") else { return nil }
            var j = start + 2
            while j < b.count && b[j] != UInt8(ascii: "?") { j += 1 }
            guard j + 2 < b.count, b[j + 2] == UInt8(ascii: "?") else { return nil }
            let enc = b[j + 1]
            var k = j + 3
            while k + 1 < b.count && !(b[k] == UInt8(ascii: "?") && b[k + 1] == UInt8(ascii: "=")) { k += 1 }
            guard k + 1 < b.count else { return nil }
            let payload = Array(b[(j + 3)..<k])
            let decoded = (enc == UInt8(ascii: "B") || enc == UInt8(ascii: "b")) ? decodeBase64(payload) : decodeQ(payload)
            guard let decoded else { return nil }
            return (decoded, k + 2)
        }
        while i < b.count {
            if let (decoded, end) = word(at: i) {
                if !lastWasWord { out += pendingSpace }
                pendingSpace = []
                out += decoded
                i = end
                lastWasWord = true
                continue
            }
            if b[i] == 32 || b[i] == 9 { pendingSpace.append(b[i]); i += 1; continue }
            out += pendingSpace; pendingSpace = []
            out.append(b[i]); lastWasWord = false; i += 1
        }
        out += pendingSpace
        return String(decoding: out, as: UTF8.self)
    }

    static func decodeQ(_ p: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0
        while i < p.count {
            if p[i] == UInt8(ascii: "_") { out.append(32) }
            else if p[i] == UInt8(ascii: "="), i + 2 < p.count, let h = hexValue(p[i + 1]), let l = hexValue(p[i + 2]) {
                out.append(h << 4 | l); i += 2
            } else { out.append(p[i]) }
            i += 1
        }
        return out
    }

    // MARK: body encodings

    /// Quoted-printable (RFC 2045 §6.7): lines of at most 76 characters, soft breaks `=`, input line
    /// ends (LF or CRLF) become CRLF, trailing spaces and a "." starting a line encoded.
    public static func quotedPrintable(_ bytes: [UInt8], into out: inout [UInt8]) {
        bytes.withUnsafeBufferPointer { quotedPrintable($0, into: &out) }
    }

    /// Per byte: 0 printed as is, 1 encoded (=XX), 2 space or tab (encoded only at a line end),
    /// 3 CR, 4 LF, 5 "." (encoded at the start of a line).
    static let qpClass: [UInt8] = (0..<256).map { b -> UInt8 in
        if b == 0x2E { return 5 }
        if b == 0x0A { return 4 }
        if b == 0x0D { return 3 }
        if b == 0x20 || b == 0x09 { return 2 }
        return (b >= 33 && b <= 126 && b != Int(UInt8(ascii: "="))) ? 0 : 1
    }

    static func quotedPrintable(_ src: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        // At most 3 bytes per input byte, plus a soft break ("=" CRLF) per 24 of those.
        let n = src.count
        qpClass.withUnsafeBufferPointer { cls in
            let written = [UInt8](unsafeUninitializedCapacity: n * 3 + n / 8 + 8) { o, count in
                let hexDigits: StaticString = "0123456789ABCDEF"
                let hex = hexDigits.utf8Start
                var k = 0
                var column = 0
                var i = 0
                while i < n {
                    let b = src[i]
                    let c = cls[Int(b)]
                    if c == 0 || (c == 5 && column != 0 && column != 75) {
                        if column == 75 { o[k] = UInt8(ascii: "="); o[k + 1] = 13; o[k + 2] = 10; k += 3; column = 0 }
                        o[k] = b; k += 1; column += 1; i += 1
                        continue
                    }
                    if c == 4 { o[k] = 13; o[k + 1] = 10; k += 2; column = 0; i += 1; continue }
                    if c == 3 && i + 1 < n && src[i + 1] == 0x0A { i += 1; continue }
                    // A "." starting a line is written =2E: no line of a message starts with a dot,
                    // so SMTP never has to stuff one. Other classes 1, 2 (at a line end), 5.
                    var literal = false
                    if c == 2 {
                        literal = !(i + 1 == n || src[i + 1] == 0x0A || (src[i + 1] == 0x0D && i + 2 < n && src[i + 2] == 0x0A))
                    }
                    let width = literal ? 1 : 3
                    if column + width > 75 {
                        o[k] = UInt8(ascii: "="); o[k + 1] = 13; o[k + 2] = 10; k += 3; column = 0
                    }
                    if literal { o[k] = b; k += 1 }
                    else { o[k] = UInt8(ascii: "="); o[k + 1] = hex[Int(b >> 4)]; o[k + 2] = hex[Int(b & 15)]; k += 3 }
                    column += width
                    i += 1
                }
                count = k
            }
            out.append(contentsOf: written)
        }
    }

    static let base64Alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Base64; with `lineLength` > 0, CRLF after every `lineLength` characters and at the end.
    public static func base64(_ bytes: [UInt8], lineLength: Int, into out: inout [UInt8]) {
        let a = base64Alphabet
        var column = 0
        var i = 0
        func put(_ c: UInt8) {
            if lineLength > 0 && column == lineLength { out.append(contentsOf: [13, 10]); column = 0 }
            out.append(c); column += 1
        }
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            put(a[Int(v >> 18 & 63)]); put(a[Int(v >> 12 & 63)]); put(a[Int(v >> 6 & 63)]); put(a[Int(v & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            put(a[Int(v >> 18 & 63)]); put(a[Int(v >> 12 & 63)]); put(UInt8(ascii: "=")); put(UInt8(ascii: "="))
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            put(a[Int(v >> 18 & 63)]); put(a[Int(v >> 12 & 63)]); put(a[Int(v >> 6 & 63)]); put(UInt8(ascii: "="))
        }
        if lineLength > 0 && column > 0 { out.append(contentsOf: [13, 10]) }
    }

    public static func decodeBase64(_ p: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for c in p {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - 97 + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - 48 + 52)
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="), 13, 10, 32: continue
            default: return nil
            }
            acc = acc << 6 | v; bits += 6
            if bits >= 8 { bits -= 8; out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits))) }
        }
        return out
    }

    public static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - 48
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - 55
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - 87
        default: return nil
        }
    }

    // MARK: small helpers

    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Mon, 23 Nov 2026 09:00:00 +0000`
    public static func rfc5322Date(_ t: Timestamp) -> String {
        let days = t.days
        let (y, m, d) = Timestamp.civil(fromDays: days)
        let secs = t.seconds - days * 86_400
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][Int(((days % 7) + 7) % 7)]
        let month = monthNames[Int(m) - 1]
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(weekday), \(d) \(month) \(y) \(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60)) +0000"
    }

    /// Reads an RFC 5322 date, `[Mon, ]23 Nov 2026 09:00[:00] +0100` (a two-digit year as RFC 5322
    /// §4.3 says; obsolete zone names and a missing zone read as +0000); nil when it is not one.
    public static func parseDate(_ text: String) -> Timestamp? {
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if let first = words.first, first.hasSuffix(",") { words.removeFirst() }
        guard words.count >= 4, let day = Int64(words[0]), (1...31).contains(day),
              let m = monthNames.firstIndex(where: { $0.lowercased() == words[1].lowercased() }),
              var year = Int64(words[2]) else { return nil }
        if year < 100 { year += year < 50 ? 2000 : 1900 }
        let clock = words[3].split(separator: ":").map { Int64($0) }
        guard clock.count == 2 || clock.count == 3, let h = clock[0], let mi = clock[1], h < 24, mi < 60 else { return nil }
        var seconds = Timestamp.days(fromCivil: year, Int64(m + 1), day) * 86_400 + h * 3600 + mi * 60
        if clock.count == 3 {
            guard let s = clock[2], s < 61 else { return nil }
            seconds += s
        }
        if words.count > 4, words[4].utf8.count == 5, let zone = Int64(words[4]) {
            let offset = (abs(zone) / 100) * 3600 + (abs(zone) % 100) * 60
            seconds -= zone < 0 ? -offset : offset
        }
        return Timestamp(seconds: seconds)
    }

    public static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 16 - s.count)) + s
    }

    @inline(__always)
    static func append(_ s: String, to out: inout [UInt8]) { out.append(contentsOf: s.utf8) }
}

extension String {
    /// Without the spaces and tabs at both ends.
    public var trimmingBlanks: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return String(scalars[first...last])
    }

    var replacingBackslashes: String {
        var out = ""
        var escape = false
        for c in unicodeScalars {
            if escape { out.unicodeScalars.append(c); escape = false }
            else if c == "\\" { escape = true }
            else { out.unicodeScalars.append(c) }
        }
        return out
    }

    /// Unfolds a header value: CRLF + white space becomes the white space.
    var replacingOccurrencesOfFolding: String {
        var out: [UInt8] = []
        let b = Array(utf8)
        var i = 0
        while i < b.count {
            if b[i] == 13 || b[i] == 10 { i += 1; continue }
            out.append(b[i]); i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
