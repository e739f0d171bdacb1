/// A parsed JSON value over borrowed bytes and a borrowed token tape.
///
/// Valid only until the parser that made it parses again; nothing here owns memory.
public struct JSONDocument {
    public let base: UnsafePointer<UInt8>
    public let count: Int
    public let tokens: UnsafePointer<JSONToken>
    public let tokenCount: Int

    public init(base: UnsafePointer<UInt8>, count: Int, tokens: UnsafePointer<JSONToken>, tokenCount: Int) {
        self.base = base
        self.count = count
        self.tokens = tokens
        self.tokenCount = tokenCount
    }

    public var root: JSONNode { JSONNode(document: self, index: 0) }

    /// The whole input, as given.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// One value in a `JSONDocument`.
public struct JSONNode {
    public let document: JSONDocument
    public let index: Int

    @usableFromInline init(document: JSONDocument, index: Int) {
        self.document = document
        self.index = index
    }

    @inline(__always) var token: JSONToken { document.tokens[index] }

    public var kind: JSONKind { token.kind }

    /// The value's source bytes (for a string, including its quotes).
    public var raw: UnsafeRawBufferPointer {
        let t = token
        return UnsafeRawBufferPointer(start: document.base + Int(t.start), count: Int(t.end - t.start))
    }

    /// For a string: its content between the quotes, escapes not decoded.
    public var rawContent: UnsafeRawBufferPointer {
        let t = token
        return UnsafeRawBufferPointer(start: document.base + Int(t.start) + 1, count: Int(t.end - t.start) - 2)
    }

    public var isEscaped: Bool { token.escaped }

    /// Null, "", [] or {}: what a merge treats as "no value given".
    public var isEmpty: Bool {
        let t = token
        switch t.kind {
        case .null: return true
        case .string: return t.end - t.start == 2
        case .array, .object: return t.next == Int32(index + 1)
        default: return false
        }
    }

    /// The decoded string, or nil when this is not a string.
    public var string: String? {
        guard kind == .string else { return nil }
        if !isEscaped {
            return String(decoding: rawContent, as: UTF8.self)
        }
        var bytes: [UInt8] = []
        JSONNode.unescape(rawContent, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether this string holds a `\u` escape of a lone UTF-16 surrogate (`"\uD800"`): it
    /// names no character, and decoding turns it into U+FFFD, so two different strings would
    /// read the same. Fields that identify a contact refuse it.
    public var hasLoneSurrogate: Bool {
        guard kind == .string, isEscaped else { return false }
        let p = rawContent
        var i = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= p.count else { return nil }
            var v: UInt32 = 0
            for k in 0..<4 {
                let h = JSONParser.hexValue(p[at + k])
                if h < 0 { return nil }
                v = v << 4 | UInt32(h)
            }
            return v
        }
        while i + 1 < p.count {
            guard p[i] == UInt8(ascii: "\\") else { i += 1; continue }
            guard p[i + 1] == UInt8(ascii: "u"), let unit = hex4(i + 2) else { i += 2; continue }
            i += 6
            if unit >= 0xDC00 && unit < 0xE000 { return true }
            if unit >= 0xD800 && unit < 0xDC00 {
                guard i + 1 < p.count, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u"),
                      let low = hex4(i + 2), low >= 0xDC00 && low < 0xE000 else { return true }
                i += 6
            }
        }
        return false
    }

    /// Decoded string bytes appended to `out` (no allocation when the caller reuses `out`).
    public func appendDecodedString(to out: inout [UInt8]) {
        if isEscaped { JSONNode.unescape(rawContent, into: &out) } else { out.append(contentsOf: rawContent) }
    }

    public var bool: Bool? {
        switch kind {
        case .true: return true
        case .false: return false
        default: return nil
        }
    }

    /// The number's source text (exactly as written).
    public var numberText: String? {
        kind == .number ? String(decoding: raw, as: UTF8.self) : nil
    }

    public var int: Int? {
        guard kind == .number else { return nil }
        return Int(String(decoding: raw, as: UTF8.self))
    }

    public var double: Double? {
        guard kind == .number else { return nil }
        return Double(String(decoding: raw, as: UTF8.self))
    }

    /// Whether this string equals `text` once decoded.
    public func stringEquals(_ text: StaticString) -> Bool {
        guard kind == .string else { return false }
        let content = rawContent
        if !isEscaped {
            return content.count == text.utf8CodeUnitCount
                && memcmp(content.baseAddress!, text.utf8Start, content.count) == 0
        }
        return string == text.description
    }

    // MARK: containers

    /// Members of an object, in source order, as (key, value).
    public var members: MemberSequence { MemberSequence(node: self) }

    /// Elements of an array, in order.
    public var elements: ElementSequence { ElementSequence(node: self) }

    /// The value for `key` in an object (first match), or nil.
    public subscript(key: StaticString) -> JSONNode? {
        guard kind == .object else { return nil }
        for (k, v) in members where k.stringEquals(key) { return v }
        return nil
    }

    public subscript(key: String) -> JSONNode? {
        guard kind == .object else { return nil }
        var want = key
        return want.withUTF8 { w -> JSONNode? in
            for (k, v) in members {
                if !k.isEscaped {
                    let c = k.rawContent
                    if c.count == w.count && (c.count == 0 || memcmp(c.baseAddress!, w.baseAddress!, c.count) == 0) { return v }
                } else if k.string == key {
                    return v
                }
            }
            return nil
        }
    }

    // The iterators are inlinable: record loops in other modules walk members of every line.

    public struct MemberSequence: Sequence {
        @usableFromInline let node: JSONNode
        @usableFromInline init(node: JSONNode) { self.node = node }
        @inlinable public func makeIterator() -> Iterator { Iterator(keys: Children(of: node, span: 2)) }

        public struct Iterator: IteratorProtocol {
            @usableFromInline var keys: Children
            @usableFromInline init(keys: Children) { self.keys = keys }
            @inlinable public mutating func next() -> (key: JSONNode, value: JSONNode)? {
                guard let key = keys.next() else { return nil }
                return (key, JSONNode(document: key.document, index: key.index + 1))
            }
        }
    }

    public struct ElementSequence: Sequence {
        @usableFromInline let node: JSONNode
        @usableFromInline init(node: JSONNode) { self.node = node }
        @inlinable public func makeIterator() -> Children { Children(of: node, span: 1) }
    }

    /// The nodes directly inside an object or an array, in order: each element, or each member's
    /// key (`span` 2: its value follows it, and the next member starts after the value).
    public struct Children: IteratorProtocol {
        @usableFromInline let document: JSONDocument
        @usableFromInline var cursor: Int
        @usableFromInline let end: Int
        @usableFromInline let span: Int

        @inlinable init(of container: JSONNode, span: Int) {
            document = container.document
            cursor = container.index + 1
            end = Int(document.tokens[container.index].next)
            self.span = span
        }

        @inlinable public mutating func next() -> JSONNode? {
            guard cursor < end else { return nil }
            let child = JSONNode(document: document, index: cursor)
            cursor = Int(document.tokens[cursor + span - 1].next)
            return child
        }
    }

    // MARK: decoding

    /// Decodes JSON string escapes; a lone surrogate becomes U+FFFD.
    public static func unescape(_ content: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let p = content.bindMemory(to: UInt8.self)
        let n = p.count
        var i = 0
        func hex4(_ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for k in 0..<4 { v = v << 4 | UInt32(max(0, JSONParser.hexValue(p[at + k]))) }
            return v
        }
        while i < n {
            let b = p[i]
            if b != UInt8(ascii: "\\") { out.append(b); i += 1; continue }
            guard i + 1 < n else { break }
            let e = p[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard i + 4 <= n else { i = n; break }
                var scalar = hex4(i)
                i += 4
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    // A high surrogate needs a following \uDC00–\uDFFF.
                    if i + 6 <= n && p[i] == UInt8(ascii: "\\") && p[i + 1] == UInt8(ascii: "u") {
                        let low = hex4(i + 2)
                        if low >= 0xDC00 && low < 0xE000 {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            i += 6
                        } else {
                            scalar = 0xFFFD
                        }
                    } else {
                        scalar = 0xFFFD
                    }
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    scalar = 0xFFFD
                }
                appendUTF8(scalar, to: &out)
            default: out.append(e)
            }
        }
    }

    public static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80: out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (scalar >> 6)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (scalar >> 12)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (scalar >> 18)))
            out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
