/// What a token is. Numbers keep their source text; strings point into the input.
public enum JSONKind: UInt8, Sendable {
    case object, array, string, number, `true`, `false`, null
}

/// One entry of the flat token tape. A container's children follow it; `next` skips past them.
/// Object members are a key token (kind `.string`) followed by the value's tokens.
public struct JSONToken: Sendable {
    public var kind: JSONKind
    /// A string holding backslash escapes must be decoded; one without can be used as it is.
    public var escaped: Bool
    /// First byte of the value (the opening quote of a string).
    public var start: Int32
    /// One past the last byte of the value (past the closing quote of a string).
    public var end: Int32
    /// Index of the token after this value and all its children.
    public var next: Int32
}

/// Why a line is not acceptable JSON, with the byte offset where the reader gave up.
public struct JSONParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        case empty
        case unexpectedByte(UInt8)
        case unexpectedEnd
        case invalidUTF8
        case controlCharacterInString
        case invalidEscape
        case invalidNumber
        case tooDeep(Int)
        case trailingData
        case notAnObject
    }

    public let reason: Reason
    public let offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    /// The reject reason of a line that is not a JSON record.
    public var rejectReason: RejectReason { RejectReason(rawValue: code)! }

    /// A short, stable reason code for reject records.
    public var code: String {
        switch reason {
        case .invalidUTF8: return "invalid_utf8"
        case .tooDeep: return "too_deep"
        case .notAnObject: return "not_an_object"
        case .empty: return "empty_line"
        default: return "invalid_json"
        }
    }

    public var description: String {
        let column = offset + 1
        switch reason {
        case .empty: return "empty line"
        case .unexpectedByte(let b):
            if b >= 0x20 && b < 0x7F { return "unexpected '\(Character(Unicode.Scalar(b)))' at column \(column)" }
            return "unexpected byte 0x\(String(b, radix: 16)) at column \(column)"
        case .unexpectedEnd: return "unexpected end of line at column \(column)"
        case .invalidUTF8: return "invalid UTF-8 at byte \(column)"
        case .controlCharacterInString: return "unescaped control character in a string at column \(column)"
        case .invalidEscape: return "invalid escape sequence at column \(column)"
        case .invalidNumber: return "invalid number at column \(column)"
        case .tooDeep(let limit): return "nesting deeper than \(limit) levels at column \(column)"
        case .trailingData: return "unexpected data after the JSON value at column \(column)"
        case .notAnObject: return "a record must be a JSON object"
        }
    }
}

/// Which members of the root object a parse puts on the tape.
private protocol RootMembers {
    /// False for the plain parse: every member kept, nothing below called.
    static var selective: Bool { get }
    func begin()
    /// Whether the member with this key (a string's content, escapes not decoded), whose value
    /// will be token `value`, stays on the tape.
    func keep(_ key: UnsafeRawBufferPointer, escaped: Bool, value: Int) -> Bool
}

private struct EveryMember: RootMembers {
    static var selective: Bool { false }
    func begin() {}
    func keep(_ key: UnsafeRawBufferPointer, escaped: Bool, value: Int) -> Bool { true }
}

private struct SlotMembers: RootMembers {
    let slots: FieldSlots
    static var selective: Bool { true }
    @inline(__always) func begin() { slots.reset() }
    @inline(__always) func keep(_ key: UnsafeRawBufferPointer, escaped: Bool, value: Int) -> Bool {
        slots.claim(key, escaped: escaped, value: value)
    }
}

/// A validating JSON reader that works on raw bytes and fills a reusable token tape.
///
/// It allocates nothing per document once its tape has grown to the longest line seen, never
/// copies strings, and checks UTF-8 inside strings as it scans them (8 bytes at a time).
public struct JSONParser {
    public let maxDepth: Int
    @usableFromInline var tape: UnsafeMutablePointer<JSONToken>
    @usableFromInline var tapeCapacity: Int
    /// Open containers (token indexes), at most `maxDepth` deep.
    private let stack: UnsafeMutablePointer<Int32>

    public init(maxDepth: Int = 128) {
        self.maxDepth = max(1, maxDepth)
        tapeCapacity = 1024
        tape = .allocate(capacity: tapeCapacity)
        stack = .allocate(capacity: self.maxDepth + 1)
    }

    /// Frees the tape. Parsers live for a whole run; call this when done with one.
    public func deallocate() {
        tape.deallocate()
        stack.deallocate()
    }

    /// Parses one JSON value that must fill `bytes` (surrounding white space allowed).
    /// The returned document borrows both `bytes` and this parser's tape until the next parse.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONDocument {
        try parse(bytes, EveryMember())
    }

    /// Parses and validates like `parse`, but puts on the tape only the root object's members
    /// that `slots` name (the first of each, with everything inside it), and fills the slots as
    /// it goes: a stage that reads a few fields skips building tokens for the rest of the record.
    /// A document that is not an object is put on the tape whole. Refuses exactly what `parse`
    /// refuses, with the same error.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer, keeping slots: FieldSlots) throws(JSONParseError) -> JSONDocument {
        try parse(bytes, SlotMembers(slots: slots))
    }

    @inline(__always)
    private mutating func parse<M: RootMembers>(_ bytes: UnsafeRawBufferPointer, _ members: M) throws(JSONParseError) -> JSONDocument {
        let count = bytes.count
        // No value needs more tokens than it has bytes.
        if count + 1 > tapeCapacity {
            tape.deallocate()
            tapeCapacity = max(count + 1, tapeCapacity * 2)
            tape = .allocate(capacity: tapeCapacity)
        }
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count > 0 else {
            throw JSONParseError(.empty, at: 0)
        }
        // Offsets live in 32 bits on the tape.
        if count >= Int(Int32.max) { throw JSONParseError(.tooDeep(0), at: 0) }
        let tokenCount = try scan(base, count, members)
        return JSONDocument(base: base, count: count, tokens: tape, tokenCount: tokenCount)
    }

    @inline(__always)
    static func skipSpace(_ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int) -> Int {
        var i = start
        while i < n && isSpace(p[i]) { i += 1 }
        return i
    }

    @inline(__always)
    private static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
    }

    private mutating func scan<M: RootMembers>(_ p: UnsafePointer<UInt8>, _ n: Int, _ members: M) throws(JSONParseError) -> Int {
        // UTF-8 is checked once over the whole input, so the string scanner only has to find
        // quotes, backslashes and control bytes.
        try JSONParser.validateUTF8(p, n)
        var i = 0
        var t = 0
        var depth = 0
        let stack = self.stack
        let tape = self.tape
        // A selective parse reads every member like the plain one, then drops the tokens of one
        // it does not keep (from its key on) once its value is read: the grammar is checked by
        // the same code either way.
        var member = RootMember()
        if M.selective { members.begin() }

        i = JSONParser.skipSpace(p, n, i)
        if i == n { throw JSONParseError(.empty, at: i) }

        // The loop alternates between reading a value and reading what follows it.
        valueLoop: while true {
            // ---- read a value at i ----
            if i >= n { throw JSONParseError(.unexpectedEnd, at: i) }
            let c = p[i]
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                if depth >= maxDepth { throw JSONParseError(.tooDeep(maxDepth), at: i) }
                let isObject = c == UInt8(ascii: "{")
                tape[t] = JSONToken(kind: isObject ? .object : .array, escaped: false,
                                    start: Int32(i), end: 0, next: 0)
                stack[depth] = Int32(t)
                depth += 1
                t += 1
                i += 1
                i = JSONParser.skipSpace(p, n, i)
                if i >= n { throw JSONParseError(.unexpectedEnd, at: i) }
                let closer = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if p[i] == closer {
                    depth -= 1
                    let open = Int(stack[depth])
                    tape[open].end = Int32(i + 1)
                    tape[open].next = Int32(t)
                    i += 1
                } else {
                    if isObject { try readKey(p, n, &i, &t, tape, depth: depth, members, &member) }
                    continue valueLoop
                }
            case UInt8(ascii: "\""):
                try readString(p, n, &i, &t, tape)
            case UInt8(ascii: "t"):
                try readLiteral(p, n, &i, "true", .true, &t, tape)
            case UInt8(ascii: "f"):
                try readLiteral(p, n, &i, "false", .false, &t, tape)
            case UInt8(ascii: "n"):
                try readLiteral(p, n, &i, "null", .null, &t, tape)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try readNumber(p, n, &i, &t, tape)
            default:
                if c >= 0x80 { throw JSONParseError(.unexpectedByte(c), at: i) }
                throw JSONParseError(.unexpectedByte(c), at: i)
            }

            // ---- after a value: a separator, a closer, or the end ----
            while true {
                if M.selective && depth == 1 && !member.keep { t = member.start }
                i = JSONParser.skipSpace(p, n, i)
                if depth == 0 {
                    if i != n { throw JSONParseError(.trailingData, at: i) }
                    return t
                }
                if i >= n { throw JSONParseError(.unexpectedEnd, at: i) }
                let open = Int(stack[depth - 1])
                let isObject = tape[open].kind == .object
                let b = p[i]
                if b == UInt8(ascii: ",") {
                    i += 1
                    i = JSONParser.skipSpace(p, n, i)
                    if isObject { try readKey(p, n, &i, &t, tape, depth: depth, members, &member) }
                    continue valueLoop
                }
                if b == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    tape[open].end = Int32(i + 1)
                    tape[open].next = Int32(t)
                    depth -= 1
                    i += 1
                    continue
                }
                throw JSONParseError(.unexpectedByte(b), at: i)
            }
        }
    }

    /// Where the root member being read starts on the tape, and whether it stays there.
    private struct RootMember {
        var start = 0
        var keep = true
    }

    /// Reads a member's key; in a selective parse, a root member's key also says whether the member stays.
    @inline(__always)
    private func readKey<M: RootMembers>(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ t: inout Int,
                                         _ tape: UnsafeMutablePointer<JSONToken>, depth: Int, _ members: M,
                                         _ member: inout RootMember) throws(JSONParseError) {
        guard M.selective && depth == 1 else { return try readKey(p, n, &i, &t, tape) }
        member.start = t
        try readKey(p, n, &i, &t, tape)
        let key = tape[member.start]
        member.keep = members.keep(UnsafeRawBufferPointer(start: p + Int(key.start) + 1, count: Int(key.end - key.start) - 2),
                                   escaped: key.escaped, value: t)
    }

    /// Reads `"key"` and the colon after it, leaving `i` on the member's value.
    @inline(__always)
    private func readKey(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ t: inout Int,
                         _ tape: UnsafeMutablePointer<JSONToken>) throws(JSONParseError) {
        if i >= n { throw JSONParseError(.unexpectedEnd, at: i) }
        if p[i] != UInt8(ascii: "\"") { throw JSONParseError(.unexpectedByte(p[i]), at: i) }
        try readString(p, n, &i, &t, tape)
        while i < n && JSONParser.isSpace(p[i]) { i += 1 }
        if i >= n { throw JSONParseError(.unexpectedEnd, at: i) }
        if p[i] != UInt8(ascii: ":") { throw JSONParseError(.unexpectedByte(p[i]), at: i) }
        i += 1
        while i < n && JSONParser.isSpace(p[i]) { i += 1 }
    }

    @inline(__always)
    private func readLiteral(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ word: StaticString,
                             _ kind: JSONKind, _ t: inout Int,
                             _ tape: UnsafeMutablePointer<JSONToken>) throws(JSONParseError) {
        let length = word.utf8CodeUnitCount
        let w = word.utf8Start
        for k in 0..<length {
            if i + k >= n { throw JSONParseError(.unexpectedEnd, at: i + k) }
            if p[i + k] != w[k] { throw JSONParseError(.unexpectedByte(p[i + k]), at: i + k) }
        }
        tape[t] = JSONToken(kind: kind, escaped: false, start: Int32(truncatingIfNeeded: i),
                            end: Int32(truncatingIfNeeded: i + length), next: Int32(truncatingIfNeeded: t + 1))
        t += 1
        i += length
    }

    @inline(__always)
    private func readNumber(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ t: inout Int,
                            _ tape: UnsafeMutablePointer<JSONToken>) throws(JSONParseError) {
        let start = i
        @inline(__always) func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }
        if p[i] == UInt8(ascii: "-") { i += 1 }
        if i >= n { throw JSONParseError(.invalidNumber, at: i) }
        if p[i] == UInt8(ascii: "0") {
            i += 1
        } else if isDigit(p[i]) {
            while i < n && isDigit(p[i]) { i += 1 }
        } else {
            throw JSONParseError(.invalidNumber, at: i)
        }
        if i < n && p[i] == UInt8(ascii: ".") {
            i += 1
            if i >= n || !isDigit(p[i]) { throw JSONParseError(.invalidNumber, at: i) }
            while i < n && isDigit(p[i]) { i += 1 }
        }
        if i < n && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-")) { i += 1 }
            if i >= n || !isDigit(p[i]) { throw JSONParseError(.invalidNumber, at: i) }
            while i < n && isDigit(p[i]) { i += 1 }
        }
        tape[t] = JSONToken(kind: .number, escaped: false, start: Int32(truncatingIfNeeded: start),
                            end: Int32(truncatingIfNeeded: i), next: Int32(truncatingIfNeeded: t + 1))
        t += 1
    }

    /// Scans a string from its opening quote and records its token.
    @inline(__always)
    private func readString(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ t: inout Int,
                            _ tape: UnsafeMutablePointer<JSONToken>) throws(JSONParseError) {
        let start = i
        var escaped = false
        let end = JSONParser.stringEnd(p, n, start + 1, &escaped)
        if end < 0 {
            // Negative results encode where and why the scan stopped.
            let at = -end >> 2
            switch -end & 3 {
            case 1: throw JSONParseError(.unexpectedEnd, at: at)
            case 2: throw JSONParseError(.controlCharacterInString, at: at)
            default: throw JSONParseError(.invalidEscape, at: at)
            }
        }
        i = end
        tape[t] = JSONToken(kind: .string, escaped: escaped, start: Int32(truncatingIfNeeded: start),
                            end: Int32(truncatingIfNeeded: end), next: Int32(truncatingIfNeeded: t + 1))
        t += 1
    }

    /// The offset just past the closing quote of the string whose content starts at `from`, or
    /// `-(offset << 2 | why)` with why 1 = no closing quote, 2 = control byte, 3 = bad escape.
    /// Not throwing, so it inlines into every caller.
    @inline(__always)
    static func stringEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int, _ escaped: inout Bool) -> Int {
        var i = from
        while true {
            // Skip ordinary bytes 8 at a time: stop at '"', '\\' or a control byte.
            while i + 8 <= n {
                let mask = specialByteMask(UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
                if mask != 0 {
                    i &+= mask.trailingZeroBitCount &>> 3
                    break
                }
                i &+= 8
            }
            if i >= n { return -(i << 2 | 1) }
            let b = p[i]
            if b == UInt8(ascii: "\"") { return i &+ 1 }
            if b == UInt8(ascii: "\\") {
                escaped = true
                if i + 1 >= n { return -((i + 1) << 2 | 1) }
                switch p[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i &+= 2
                case UInt8(ascii: "u"):
                    if i + 6 > n { return -(i << 2 | 3) }
                    if hexValue(p[i + 2]) < 0 || hexValue(p[i + 3]) < 0 || hexValue(p[i + 4]) < 0 || hexValue(p[i + 5]) < 0 {
                        return -(i << 2 | 3)
                    }
                    i &+= 6
                default:
                    return -(i << 2 | 3)
                }
            } else if b < 0x20 {
                return -(i << 2 | 2)
            } else {
                i &+= 1  // UTF-8 was validated up front
            }
        }
    }

    /// Bytes of `word` that are '"', '\\' or below 0x20 have their high bit set in the result.
    /// Only the lowest flagged byte is exact (borrows can flag later ones), which is all the
    /// caller uses.
    @inline(__always)
    static func specialByteMask(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let hasQuote = (quote &- ones) & ~quote
        let hasBackslash = (backslash &- ones) & ~backslash
        let isControl = (word &- (ones &* 0x20)) & ~word
        return (hasQuote | hasBackslash | isControl) & high
    }

    @inline(__always)
    static func hexValue(_ b: UInt8) -> Int {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(b - UInt8(ascii: "A") + 10)
        default: return -1
        }
    }

    /// Checks one multi-byte UTF-8 sequence at `i` (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF).
    @inline(__always)
    public static func validateUTF8Sequence(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) throws(JSONParseError) {
        let b0 = p[i]
        @inline(__always) func cont(_ k: Int) -> Bool { i + k < n && p[i + k] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2...0xDF:
            guard cont(1) else { throw JSONParseError(.invalidUTF8, at: i) }
            i += 2
        case 0xE0...0xEF:
            guard cont(1), cont(2) else { throw JSONParseError(.invalidUTF8, at: i) }
            let b1 = p[i + 1]
            if b0 == 0xE0 && b1 < 0xA0 { throw JSONParseError(.invalidUTF8, at: i) }
            if b0 == 0xED && b1 > 0x9F { throw JSONParseError(.invalidUTF8, at: i) }
            i += 3
        case 0xF0...0xF4:
            guard cont(1), cont(2), cont(3) else { throw JSONParseError(.invalidUTF8, at: i) }
            let b1 = p[i + 1]
            if b0 == 0xF0 && b1 < 0x90 { throw JSONParseError(.invalidUTF8, at: i) }
            if b0 == 0xF4 && b1 > 0x8F { throw JSONParseError(.invalidUTF8, at: i) }
            i += 4
        default:
            throw JSONParseError(.invalidUTF8, at: i)
        }
    }

    /// Checks a whole input: ASCII runs are skipped 16 bytes at a time, multi-byte sequences
    /// checked one by one.
    @inline(__always)
    static func validateUTF8(_ p: UnsafePointer<UInt8>, _ n: Int) throws(JSONParseError) {
        var i = 0
        let high: UInt64 = 0x8080_8080_8080_8080
        while true {
            while i + 16 <= n {
                let a = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                let b = UnsafeRawPointer(p + i + 8).loadUnaligned(as: UInt64.self)
                if (a | b) & high != 0 { break }
                i += 16
            }
            while i < n && p[i] < 0x80 { i += 1 }
            if i >= n { return }
            // A run of non-ASCII text (Cyrillic, Arabic, Chinese…): validate sequence by sequence.
            while i < n && p[i] >= 0x80 { try validateUTF8Sequence(p, n, &i) }
        }
    }

    /// Whether `bytes` are entirely valid UTF-8 (used for raw input that is not JSON).
    public static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return true }
        do { try validateUTF8(base, bytes.count) } catch { return false }
        return true
    }
}
