#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A growable byte buffer that JSON and lines are written into before one system call sends them.
///
/// Appends are a capacity check and a memcpy: no per-append uniqueness checks or reference
/// counting, which is what `[UInt8].append(contentsOf:)` cost here (about 75 instructions each).
/// Copies share storage; every owner in this code base writes to its own.
public struct ByteBuffer {
    @usableFromInline final class Storage {
        @usableFromInline var base: UnsafeMutablePointer<UInt8>
        @usableFromInline var count = 0
        @usableFromInline var capacity: Int

        init(capacity: Int) {
            self.capacity = max(16, capacity)
            base = .allocate(capacity: self.capacity)
        }

        deinit { base.deallocate() }

        @usableFromInline func grow(toAtLeast needed: Int) {
            var newCapacity = capacity * 2
            while newCapacity < needed { newCapacity *= 2 }
            let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            newBase.update(from: base, count: count)
            base.deallocate()
            base = newBase
            capacity = newCapacity
        }
    }

    @usableFromInline let storage: Storage

    public init(capacity: Int = 1 << 16) {
        storage = Storage(capacity: capacity)
    }

    @inlinable public var count: Int { storage.count }
    @inlinable public var isEmpty: Bool { storage.count == 0 }

    /// A copy of the contents.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: storage.base, count: storage.count)) }

    public func withUnsafeBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try body(UnsafeRawBufferPointer(start: storage.base, count: storage.count))
    }

    /// Whether the contents equal `other` byte for byte.
    public func equals(_ other: [UInt8]) -> Bool {
        other.count == storage.count && other.withUnsafeBytes { memcmp($0.baseAddress ?? UnsafeRawPointer(storage.base), storage.base, storage.count) == 0 }
    }

    @inlinable @inline(__always) public mutating func append(_ byte: UInt8) {
        let s = storage
        if s.count == s.capacity { s.grow(toAtLeast: s.count + 1) }
        s.base[s.count] = byte
        s.count &+= 1
    }

    @inlinable @inline(__always) public mutating func append(_ raw: UnsafeRawBufferPointer) {
        let n = raw.count
        guard n > 0 else { return }
        let s = storage
        if s.count + n > s.capacity { s.grow(toAtLeast: s.count + n) }
        memcpy(s.base + s.count, raw.baseAddress!, n)
        s.count &+= n
    }

    @inlinable @inline(__always) public mutating func append(_ other: [UInt8]) {
        other.withUnsafeBytes { append($0) }
    }

    @inlinable @inline(__always) public mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    public mutating func append(_ text: String) {
        var copy = text
        copy.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Makes room for up to `maxCount` more bytes once, then lets `body` write them at the end
    /// through a pointer and return how many it wrote: a writer of many small pieces pays one
    /// capacity check instead of one per piece.
    @inlinable @inline(__always) public mutating func appendWriting(atMost maxCount: Int, _ body: (UnsafeMutablePointer<UInt8>) throws -> Int) rethrows {
        let s = storage
        if s.count + maxCount > s.capacity { s.grow(toAtLeast: s.count + maxCount) }
        let written = try body(s.base + s.count)
        precondition(written >= 0 && written <= maxCount, "ByteBuffer: wrote past the room asked for")
        s.count &+= written
    }

    public mutating func removeLast(_ k: Int) { storage.count -= min(k, storage.count) }

    /// Drops everything from `count` on.
    @inlinable @inline(__always) public mutating func truncate(to count: Int) { storage.count = min(max(0, count), storage.count) }

    /// The bytes `range` of the contents, to change in place (the buffer must not grow meanwhile).
    @inlinable @inline(__always) public mutating func withUnsafeMutableBytes<T>(_ range: Range<Int>, _ body: (UnsafeMutableRawBufferPointer) throws -> T) rethrows -> T {
        precondition(range.lowerBound >= 0 && range.upperBound <= storage.count, "ByteBuffer: range out of bounds")
        return try body(UnsafeMutableRawBufferPointer(start: storage.base + range.lowerBound, count: range.count))
    }

    /// The bytes `range` of the contents (valid until the buffer next grows).
    @inlinable @inline(__always) public func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= storage.count, "ByteBuffer: range out of bounds")
        return UnsafeRawBufferPointer(start: storage.base + range.lowerBound, count: range.count)
    }

    public mutating func appendDecimal(_ value: Int) {
        if value < 0 { append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        Swift.withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[n] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                n += 1
            } while magnitude > 0
            while n > 0 { n -= 1; append(d[n]) }
        }
    }

    @inlinable public mutating func removeAll() { storage.count = 0 }

    // MARK: JSON

    /// Writes `text` as a JSON string: `"` `\` and control characters escaped, everything else
    /// (non-ASCII included) passed through as UTF-8.
    public mutating func appendJSONString(_ text: String) {
        var copy = text
        copy.withUTF8 { appendJSONString(utf8: UnsafeRawBufferPointer($0)) }
    }

    public mutating func appendJSONString(utf8: UnsafeRawBufferPointer) {
        append(UInt8(ascii: "\""))
        appendJSONEscaped(utf8: utf8)
        append(UInt8(ascii: "\""))
    }

    /// Writes the inside of a JSON string (no quotes): `utf8` (valid UTF-8) with `"` `\` and
    /// control characters escaped. Writers that fuse another escape into the same pass (render's
    /// HTML values) call `appendJSONEscape` for the bytes they do not handle.
    public mutating func appendJSONEscaped(utf8: UnsafeRawBufferPointer) {
        if !ByteScan.needsJSONEscape(utf8) {
            // The usual case: one copy.
            append(utf8)
            return
        }
        var runStart = 0
        for i in 0..<utf8.count {
            let b = utf8[i]
            if b >= 0x20 && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") { continue }
            if i > runStart { append(UnsafeRawBufferPointer(rebasing: utf8[runStart..<i])) }
            runStart = i + 1
            appendJSONEscape(b)
        }
        if utf8.count > runStart { append(UnsafeRawBufferPointer(rebasing: utf8[runStart..<utf8.count])) }
    }

    /// The escape of one byte that may not stand for itself inside a JSON string: `"`, `\` or a
    /// control character.
    @inlinable
    public mutating func appendJSONEscape(_ b: UInt8) {
        switch b {
        case UInt8(ascii: "\""): append("\\\"")
        case UInt8(ascii: "\\"): append("\\\\")
        case 0x0A: append("\\n")
        case 0x0D: append("\\r")
        case 0x09: append("\\t")
        case 0x08: append("\\b")
        case 0x0C: append("\\f")
        default:
            let hex: StaticString = "0123456789abcdef"
            append("\\u00")
            append(hex.utf8Start[Int(b >> 4)])
            append(hex.utf8Start[Int(b & 0xF)])
        }
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

    /// A member whose value is a string given as UTF-8 bytes.
    public mutating func member(_ key: String, utf8 value: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        separator(&buffer)
        buffer.appendJSONString(key)
        buffer.append(UInt8(ascii: ":"))
        buffer.appendJSONString(utf8: value)
    }

    /// The key of a member whose value the caller writes next, as raw JSON.
    public mutating func key(_ key: String, into buffer: inout ByteBuffer) {
        separator(&buffer)
        buffer.appendJSONString(key)
        buffer.append(UInt8(ascii: ":"))
    }

    public func finish(into buffer: inout ByteBuffer) {
        buffer.append(UInt8(ascii: "}"))
    }
}
