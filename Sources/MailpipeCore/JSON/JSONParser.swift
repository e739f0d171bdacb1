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

/// Where a parse checks that its input is UTF-8.
private protocol UTF8Checking {
    /// False: one pass over the whole input before the grammar (the full parse, whose errors
    /// put invalid UTF-8 first). True: inside the string scan as the bytes go by, so the lazy
    /// scan reads each byte once (outside strings only ASCII is grammar).
    static var inStrings: Bool { get }
}

private enum CheckedUpFront: UTF8Checking { static var inStrings: Bool { false } }
private enum CheckedInStrings: UTF8Checking { static var inStrings: Bool { true } }

/// Why `JSONParser.stringEnd` stopped before a closing quote.
enum StringStop: Int {
    case unterminated = 1, controlCharacter, invalidEscape, invalidUTF8
}

/// A validating JSON reader that works on raw bytes and fills a reusable token tape.
///
/// It allocates nothing per document once its tape has grown to the longest line seen, never
/// copies strings, and checks UTF-8 (up front, or inside strings for the lazy member scan).
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
        let p = try prepare(bytes)
        let n = bytes.count
        // UTF-8 is checked once over the whole input, so the string scanner only has to find
        // quotes, backslashes and control bytes.
        try JSONParser.validateUTF8(p, n)
        var i = JSONParser.skipSpace(p, n, 0)
        if i == n { throw JSONParseError(.empty, at: i) }
        var t = 0
        try scanValue(p, n, &i, &t, depth: 0, CheckedUpFront.self)
        if i != n { throw JSONParseError(.trailingData, at: i) }
        return JSONDocument(base: p, count: n, tokens: tape, tokenCount: t)
    }

    /// Parses and validates like `parse`, but puts on the tape only the root object's members
    /// that `slots` name (the first of each, with everything inside it), and fills the slots as
    /// it goes: a stage that reads a few fields skips building tokens for the rest of the record.
    /// A document that is not an object is put on the tape whole. Refuses exactly what `parse`
    /// refuses, with the same error.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer, keeping slots: FieldSlots) throws(JSONParseError) -> JSONDocument {
        let p = try prepare(bytes)
        if let tokenCount = scanKeeping(p, bytes.count, slots) {
            return JSONDocument(base: p, count: bytes.count, tokens: tape, tokenCount: tokenCount)
        }
        // The lazy scan has no errors of its own: it gives up at the first thing it does not
        // expect, and the full parse says why (or takes a record that is not an object whole).
        let document = try parse(bytes)
        if document.root.kind == .object { slots.resolve(Tape(document)) } else { slots.reset() }
        return document
    }

    /// The input's first byte, once the tape can hold any value of it.
    private mutating func prepare(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> UnsafePointer<UInt8> {
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
        return base
    }

    @inline(__always)
    static func skipSpace(_ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int) -> Int {
        var i = start
        // Most records have none: one compare tells any other byte.
        while i < n && p[i] <= 0x20 && isSpace(p[i]) { i += 1 }
        return i
    }

    /// `skipSpace`, setting `spaced` when it skipped any.
    @inline(__always)
    static func skipSpace(_ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int, noting spaced: inout Bool) -> Int {
        let i = skipSpace(p, n, start)
        if i != start { spaced = true }
        return i
    }

    @inline(__always)
    private static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
    }

    /// Parses the value at `i` onto the tape from token `t`, leaving `i` past it and the white
    /// space after it. `depth`: the containers open around it.
    private func scanValue<U: UTF8Checking>(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ t: inout Int,
                                            depth base: Int, _ utf8: U.Type) throws(JSONParseError) {
        var depth = base
        let stack = self.stack
        let tape = self.tape

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
                    if isObject { try readKey(p, n, &i, &t, tape, U.self) }
                    continue valueLoop
                }
            case UInt8(ascii: "\""):
                try readString(p, n, &i, &t, tape, U.self)
            case UInt8(ascii: "t"):
                try readLiteral(p, n, &i, "true", .true, &t, tape)
            case UInt8(ascii: "f"):
                try readLiteral(p, n, &i, "false", .false, &t, tape)
            case UInt8(ascii: "n"):
                try readLiteral(p, n, &i, "null", .null, &t, tape)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try readNumber(p, n, &i, &t, tape)
            default:
                throw JSONParseError(.unexpectedByte(c), at: i)
            }

            // ---- after a value: a separator, a closer, or the end ----
            while true {
                i = JSONParser.skipSpace(p, n, i)
                if depth == base { return }
                if i >= n { throw JSONParseError(.unexpectedEnd, at: i) }
                let open = Int(stack[depth - 1])
                let isObject = tape[open].kind == .object
                let b = p[i]
                if b == UInt8(ascii: ",") {
                    i += 1
                    i = JSONParser.skipSpace(p, n, i)
                    if isObject { try readKey(p, n, &i, &t, tape, U.self) }
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

    /// The lazy member scan: the root object's members are read one by one; one whose key a
    /// slot names goes onto the tape (`scanValue`), any other is only validated (`skipValue`,
    /// no tokens), and UTF-8 is checked inside strings, so each byte is read once. Returns the
    /// token count, or nil when the document is not an object or something in it is wrong.
    private func scanKeeping(_ p: UnsafePointer<UInt8>, _ n: Int, _ slots: FieldSlots) -> Int? {
        slots.reset()
        // Whether white space was skipped at the root (`FieldSlots.rootIsCompact`): neither a
        // value nor a separator ends in a byte below 0x21, so a byte before `i` that is one is
        // white space skipped.
        var spaced = false
        var i = JSONParser.skipSpace(p, n, 0)
        spaced = i != 0
        guard i < n, p[i] == UInt8(ascii: "{") else { return nil }
        tape[0] = JSONToken(kind: .object, escaped: false, start: Int32(i), end: 0, next: 0)
        var t = 1
        i = JSONParser.skipSpace(p, n, i + 1)
        spaced = spaced || p[i &- 1] <= 0x20
        if i < n && p[i] != UInt8(ascii: "}") {
            // Each step tests for the byte a compact record has there first (`"key":value,`):
            // white space around it goes the long way.
            while true {
                guard i < n, p[i] == UInt8(ascii: "\"") else { return nil }
                var escaped = false
                let keyEnd = JSONParser.stringEnd(p, n, i + 1, &escaped, CheckedInStrings.self)
                guard keyEnd > 0 else { return nil }
                let keyStart = i
                i = keyEnd
                if i >= n || p[i] != UInt8(ascii: ":") {
                    i = JSONParser.skipSpace(p, n, i)
                    guard i < n, p[i] == UInt8(ascii: ":") else { return nil }
                    spaced = true
                }
                i = JSONParser.skipSpace(p, n, i + 1, noting: &spaced)
                // `prepare` keeps offsets below Int32.max.
                let claimed = escaped
                    ? slots.claim(UnsafeRawBufferPointer(start: p + keyStart + 1, count: keyEnd - keyStart - 2),
                                  escaped: true, value: t + 1)
                    : slots.claim(unescaped: p + keyStart + 1, count: keyEnd - keyStart - 2, readable: n - keyStart - 1,
                                  value: t + 1)
                if claimed {
                    tape[t] = JSONToken(kind: .string, escaped: escaped, start: Int32(truncatingIfNeeded: keyStart),
                                        end: Int32(truncatingIfNeeded: keyEnd), next: Int32(truncatingIfNeeded: t + 1))
                    t += 1
                    if i < n && p[i] == UInt8(ascii: "\"") {
                        // A string, what most kept members are: read here, without a call to
                        // `scanValue`, which would read it the same way.
                        var valueEscaped = false
                        let valueEnd = JSONParser.stringEnd(p, n, i + 1, &valueEscaped, CheckedInStrings.self)
                        guard valueEnd > 0 else { return nil }
                        tape[t] = JSONToken(kind: .string, escaped: valueEscaped, start: Int32(truncatingIfNeeded: i),
                                            end: Int32(truncatingIfNeeded: valueEnd), next: Int32(truncatingIfNeeded: t + 1))
                        t += 1
                        i = valueEnd
                    } else {
                        do throws(JSONParseError) { try scanValue(p, n, &i, &t, depth: 1, CheckedInStrings.self) } catch { return nil }
                    }
                } else if i < n && p[i] == UInt8(ascii: "\"") {
                    // Most members skipped are strings: no call to `skipValue`.
                    var valueEscaped = false
                    let valueEnd = JSONParser.stringEnd(p, n, i + 1, &valueEscaped, CheckedInStrings.self)
                    guard valueEnd > 0 else { return nil }
                    i = valueEnd
                } else {
                    guard skipValue(p, n, &i, depth: 1) else { return nil }
                }
                // A comma right after the value (`scanValue` and `skipValue` leave `i` past the
                // white space after it, so the byte before is checked), then the next key's quote.
                if i < n && p[i] == UInt8(ascii: ",") && p[i &- 1] > 0x20 && i + 1 < n && p[i + 1] == UInt8(ascii: "\"") {
                    i += 1
                    continue
                }
                i = JSONParser.skipSpace(p, n, i)
                guard i < n else { return nil }
                spaced = spaced || p[i &- 1] <= 0x20
                if p[i] == UInt8(ascii: "}") { break }
                guard p[i] == UInt8(ascii: ",") else { return nil }
                i = JSONParser.skipSpace(p, n, i + 1, noting: &spaced)
            }
        }
        guard i < n else { return nil }
        tape[0].end = Int32(i + 1)
        tape[0].next = Int32(t)
        guard JSONParser.skipSpace(p, n, i + 1) == n else { return nil }
        slots.rootIsCompact = !spaced && i + 1 == n
        return t
    }

    /// Checks the value at `i` by the grammar of `scanValue`, writing nothing, and leaves `i`
    /// past it and the white space after it; false where `scanValue` would throw (or nesting
    /// deeper than 64 levels, left to the full parse). `depth`: the containers open around it.
    @inline(__always)
    private func skipValue(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, depth: Int) -> Bool {
        // Bit k set: the container k levels up from the innermost open one is an object.
        var objects: UInt64 = 0
        var level = 0
        while true {
            // ---- a value at i ----
            guard i < n else { return false }
            let c = p[i]
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                guard depth + level < maxDepth, level < 64 else { return false }
                let isObject = c == UInt8(ascii: "{")
                objects = objects << 1 | (isObject ? 1 : 0)
                level += 1
                i = JSONParser.skipSpace(p, n, i + 1)
                guard i < n else { return false }
                if p[i] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    i += 1
                    level -= 1
                    objects >>= 1
                } else {
                    if isObject { guard skipKey(p, n, &i) else { return false } }
                    continue
                }
            } else {
                guard JSONParser.skipScalar(p, n, &i) else { return false }
            }
            // ---- after a value: separators and closers up to the next value, or the end ----
            while true {
                i = JSONParser.skipSpace(p, n, i)
                if level == 0 { return true }
                guard i < n else { return false }
                let isObject = objects & 1 != 0
                if p[i] == UInt8(ascii: ",") {
                    i = JSONParser.skipSpace(p, n, i + 1)
                    if isObject { guard skipKey(p, n, &i) else { return false } }
                    break
                }
                guard p[i] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else { return false }
                i += 1
                level -= 1
                objects >>= 1
            }
        }
    }

    /// `"key"` and the colon after it, leaving `i` on the member's value (nothing written).
    @inline(always)
    private func skipKey(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) -> Bool {
        guard i < n, p[i] == UInt8(ascii: "\"") else { return false }
        var escaped = false
        let end = JSONParser.stringEnd(p, n, i + 1, &escaped, CheckedInStrings.self)
        guard end > 0 else { return false }
        i = end
        if i >= n || p[i] != UInt8(ascii: ":") {
            i = JSONParser.skipSpace(p, n, i)
            guard i < n, p[i] == UInt8(ascii: ":") else { return false }
        }
        i = JSONParser.skipSpace(p, n, i + 1)
        return true
    }

    /// A string, number or literal at `i` (nothing written).
    @inline(always)
    private static func skipScalar(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) -> Bool {
        let word: StaticString
        switch p[i] {
        case UInt8(ascii: "\""):
            var escaped = false
            let end = stringEnd(p, n, i + 1, &escaped, CheckedInStrings.self)
            guard end > 0 else { return false }
            i = end
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let end = numberEnd(p, n, i)
            guard end > 0 else { return false }
            i = end
            return true
        case UInt8(ascii: "t"): word = "true"
        case UInt8(ascii: "f"): word = "false"
        case UInt8(ascii: "n"): word = "null"
        default: return false
        }
        let length = word.utf8CodeUnitCount
        guard i + length <= n else { return false }
        for k in 1..<length where p[i + k] != word.utf8Start[k] { return false }
        i += length
        return true
    }

    /// Reads `"key"` and the colon after it, leaving `i` on the member's value.
    @inline(__always)
    private func readKey<U: UTF8Checking>(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ t: inout Int,
                                          _ tape: UnsafeMutablePointer<JSONToken>, _ utf8: U.Type) throws(JSONParseError) {
        if i >= n { throw JSONParseError(.unexpectedEnd, at: i) }
        if p[i] != UInt8(ascii: "\"") { throw JSONParseError(.unexpectedByte(p[i]), at: i) }
        try readString(p, n, &i, &t, tape, U.self)
        i = JSONParser.skipSpace(p, n, i)
        if i >= n { throw JSONParseError(.unexpectedEnd, at: i) }
        if p[i] != UInt8(ascii: ":") { throw JSONParseError(.unexpectedByte(p[i]), at: i) }
        i = JSONParser.skipSpace(p, n, i + 1)
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
        let end = JSONParser.numberEnd(p, n, start)
        if end < 0 { throw JSONParseError(.invalidNumber, at: -end - 1) }
        i = end
        tape[t] = JSONToken(kind: .number, escaped: false, start: Int32(truncatingIfNeeded: start),
                            end: Int32(truncatingIfNeeded: i), next: Int32(truncatingIfNeeded: t + 1))
        t += 1
    }

    /// The offset just past the number at `from`, or `-(offset + 1)` of the byte that breaks it.
    @inline(__always)
    static func numberEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int) -> Int {
        var i = from
        @inline(__always) func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }
        if p[i] == UInt8(ascii: "-") { i += 1 }
        if i >= n { return -(i + 1) }
        if p[i] == UInt8(ascii: "0") {
            i += 1
        } else if isDigit(p[i]) {
            while i < n && isDigit(p[i]) { i += 1 }
        } else {
            return -(i + 1)
        }
        if i < n && p[i] == UInt8(ascii: ".") {
            i += 1
            if i >= n || !isDigit(p[i]) { return -(i + 1) }
            while i < n && isDigit(p[i]) { i += 1 }
        }
        if i < n && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-")) { i += 1 }
            if i >= n || !isDigit(p[i]) { return -(i + 1) }
            while i < n && isDigit(p[i]) { i += 1 }
        }
        return i
    }

    /// Scans a string from its opening quote and records its token.
    @inline(__always)
    private func readString<U: UTF8Checking>(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ t: inout Int,
                                             _ tape: UnsafeMutablePointer<JSONToken>, _ utf8: U.Type) throws(JSONParseError) {
        let start = i
        var escaped = false
        let end = JSONParser.stringEnd(p, n, start + 1, &escaped, U.self)
        if end < 0 {
            // Negative results encode where and why the scan stopped.
            let at = -end >> 3
            switch StringStop(rawValue: -end & 7)! {
            case .unterminated: throw JSONParseError(.unexpectedEnd, at: at)
            case .controlCharacter: throw JSONParseError(.controlCharacterInString, at: at)
            case .invalidEscape: throw JSONParseError(.invalidEscape, at: at)
            case .invalidUTF8: throw JSONParseError(.invalidUTF8, at: at)
            }
        }
        i = end
        tape[t] = JSONToken(kind: .string, escaped: escaped, start: Int32(truncatingIfNeeded: start),
                            end: Int32(truncatingIfNeeded: end), next: Int32(truncatingIfNeeded: t + 1))
        t += 1
    }

    /// The offset just past the closing quote of the string whose content starts at `from`, or
    /// `-(offset << 3 | StringStop)`. Not throwing, so it inlines into every caller.
    @inline(always)
    private static func stringEnd<U: UTF8Checking>(_ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int,
                                                   _ escaped: inout Bool, _ utf8: U.Type) -> Int {
        @inline(__always) func stop(_ at: Int, _ why: StringStop) -> Int { -(at << 3 | why.rawValue) }
        var i = from
        while true {
            // Skip ordinary bytes 16 at a time: stop at '"', '\\', a control byte (or, checking
            // UTF-8 here, a byte of a multi-byte sequence).
            i = ByteScan.jsonStringStop(p, from: i, count: n, nonASCII: U.inStrings)
            if i >= n { return stop(i, .unterminated) }
            let b = p[i]
            if b == UInt8(ascii: "\"") { return i &+ 1 }
            if b == UInt8(ascii: "\\") {
                escaped = true
                if i + 1 >= n { return stop(i + 1, .unterminated) }
                switch p[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i &+= 2
                case UInt8(ascii: "u"):
                    if i + 6 > n { return stop(i, .invalidEscape) }
                    if hexValue(p[i + 2]) < 0 || hexValue(p[i + 3]) < 0 || hexValue(p[i + 4]) < 0 || hexValue(p[i + 5]) < 0 {
                        return stop(i, .invalidEscape)
                    }
                    i &+= 6
                default:
                    return stop(i, .invalidEscape)
                }
            } else if b < 0x20 {
                return stop(i, .controlCharacter)
            } else if U.inStrings && b >= 0x80 {
                // A run of non-ASCII text (Cyrillic, Arabic, Chinese…): sequence by sequence.
                while i < n && p[i] >= 0x80 {
                    let end = utf8SequenceEnd(p, n, i)
                    if end < 0 { return stop(i, .invalidUTF8) }
                    i = end
                }
            } else {
                i &+= 1
            }
        }
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
        let end = utf8SequenceEnd(p, n, i)
        if end < 0 { throw JSONParseError(.invalidUTF8, at: i) }
        i = end
    }

    /// The offset past the multi-byte UTF-8 sequence at `i`, or -1 when it is not one.
    @inline(__always)
    static func utf8SequenceEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Int {
        let b0 = p[i]
        @inline(__always) func cont(_ k: Int) -> Bool { i + k < n && p[i + k] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2...0xDF:
            return cont(1) ? i + 2 : -1
        case 0xE0...0xEF:
            guard cont(1), cont(2) else { return -1 }
            let b1 = p[i + 1]
            if b0 == 0xE0 && b1 < 0xA0 { return -1 }
            if b0 == 0xED && b1 > 0x9F { return -1 }
            return i + 3
        case 0xF0...0xF4:
            guard cont(1), cont(2), cont(3) else { return -1 }
            let b1 = p[i + 1]
            if b0 == 0xF0 && b1 < 0x90 { return -1 }
            if b0 == 0xF4 && b1 > 0x8F { return -1 }
            return i + 4
        default:
            return -1
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
