/// A growable byte buffer that JSON and lines are written into before one system call sends them.
public struct ByteBuffer {
    public var bytes: [UInt8]

    public init(capacity: Int = 1 << 16) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }
    public var isEmpty: Bool { bytes.isEmpty }

    @inline(__always) public mutating func append(_ byte: UInt8) { bytes.append(byte) }

    @inline(__always) public mutating func append(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }

    @inline(__always) public mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }

    @inline(__always) public mutating func append(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    public mutating func append(_ text: String) {
        var copy = text
        copy.withUTF8 { bytes.append(contentsOf: $0) }
    }

    public mutating func appendDecimal(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[n] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                n += 1
            } while magnitude > 0
            while n > 0 { n -= 1; bytes.append(d[n]) }
        }
    }

    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    // MARK: JSON

    /// Writes `text` as a JSON string: `"` `\` and control characters escaped, everything else
    /// (non-ASCII included) passed through as UTF-8.
    public mutating func appendJSONString(_ text: String) {
        var copy = text
        copy.withUTF8 { appendJSONString(utf8: UnsafeRawBufferPointer($0)) }
    }

    public mutating func appendJSONString(utf8: UnsafeRawBufferPointer) {
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        let p = utf8.bindMemory(to: UInt8.self)
        for i in 0..<p.count {
            let b = p[i]
            if b >= 0x20 && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") { continue }
            if i > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<i])) }
            runStart = i + 1
            switch b {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 0x0A: append("\\n")
            case 0x0D: append("\\r")
            case 0x09: append("\\t")
            case 0x08: append("\\b")
            case 0x0C: append("\\f")
            default:
                append("\\u00")
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(hex[Int(b >> 4)])
                bytes.append(hex[Int(b & 0xF)])
            }
        }
        if p.count > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<p.count])) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Writes arbitrary bytes as a JSON string, replacing invalid UTF-8 with U+FFFD (for `raw`
    /// fields of rejects, where the input was not valid).
    public mutating func appendJSONStringLossy(_ raw: UnsafeRawBufferPointer) {
        if JSONParser.isValidUTF8(raw) {
            appendJSONString(utf8: raw)
        } else {
            appendJSONString(String(decoding: raw, as: UTF8.self))
        }
    }
}

/// Writes one JSON object member by member, choosing the separators itself.
///
/// Values can be raw source bytes (already valid JSON, copied as they are) or new values.
public struct JSONObjectWriter {
    private var first = true

    public init(into buffer: inout ByteBuffer) {
        buffer.append(UInt8(ascii: "{"))
    }

    @inline(__always) mutating func separator(_ buffer: inout ByteBuffer) {
        if first { first = false } else { buffer.append(UInt8(ascii: ",")) }
    }

    /// A member whose key and value are copied from source bytes (the key with its quotes).
    public mutating func rawMember(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        separator(&buffer)
        buffer.append(key)
        buffer.append(UInt8(ascii: ":"))
        buffer.append(value)
    }

    public mutating func member(_ key: String, raw value: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        separator(&buffer)
        buffer.appendJSONString(key)
        buffer.append(UInt8(ascii: ":"))
        buffer.append(value)
    }

    public mutating func member(_ key: String, _ value: JSONValue, into buffer: inout ByteBuffer) {
        separator(&buffer)
        buffer.appendJSONString(key)
        buffer.append(UInt8(ascii: ":"))
        value.write(into: &buffer)
    }

    public mutating func member(_ key: String, string value: String, into buffer: inout ByteBuffer) {
        separator(&buffer)
        buffer.appendJSONString(key)
        buffer.append(UInt8(ascii: ":"))
        buffer.appendJSONString(value)
    }

    public func finish(into buffer: inout ByteBuffer) {
        buffer.append(UInt8(ascii: "}"))
    }
}
