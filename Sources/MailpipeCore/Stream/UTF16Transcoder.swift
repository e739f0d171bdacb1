/// UTF-16 (either byte order) to UTF-8, a block at a time: an odd byte or a high surrogate at a
/// block's end waits for the next block. Unpaired surrogates become U+FFFD, as every decoder of
/// text does.
public struct UTF16Transcoder {
    public enum ByteOrder: Sendable { case littleEndian, bigEndian }
    public let order: ByteOrder
    private var pendingByte: UInt8?
    private var highSurrogate: UInt32?

    public init(order: ByteOrder) { self.order = order }

    /// The most UTF-8 bytes `count` input bytes can make (3 per unit; a pending one may add 3).
    public static func maxOutput(forInput count: Int) -> Int { (count / 2 + 2) * 3 }

    /// Converts `input` and writes to `out` (room for `maxOutput(forInput:)` bytes); returns the
    /// bytes written.
    public mutating func transcode(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) -> Int {
        var o = 0
        var i = 0
        let n = input.count
        @inline(__always) func put(_ b: UInt8) { out.storeBytes(of: b, toByteOffset: o, as: UInt8.self); o += 1 }
        func emit(_ v: UInt32) {
            if v < 0x80 {
                put(UInt8(v))
            } else if v < 0x800 {
                put(UInt8(0xC0 | (v >> 6))); put(UInt8(0x80 | (v & 0x3F)))
            } else if v < 0x10000 {
                put(UInt8(0xE0 | (v >> 12))); put(UInt8(0x80 | ((v >> 6) & 0x3F))); put(UInt8(0x80 | (v & 0x3F)))
            } else {
                put(UInt8(0xF0 | (v >> 18))); put(UInt8(0x80 | ((v >> 12) & 0x3F)))
                put(UInt8(0x80 | ((v >> 6) & 0x3F))); put(UInt8(0x80 | (v & 0x3F)))
            }
        }
        func unit(_ u: UInt32) {
            if let high = highSurrogate {
                highSurrogate = nil
                if u >= 0xDC00 && u <= 0xDFFF {
                    emit(0x10000 + ((high - 0xD800) << 10) + (u - 0xDC00))
                    return
                }
                emit(0xFFFD)
            }
            if u >= 0xD800 && u <= 0xDBFF { highSurrogate = u; return }
            emit(u >= 0xDC00 && u <= 0xDFFF ? 0xFFFD : u)
        }
        @inline(__always) func combine(_ a: UInt8, _ b: UInt8) -> UInt32 {
            order == .littleEndian ? UInt32(a) | UInt32(b) << 8 : UInt32(a) << 8 | UInt32(b)
        }
        if let first = pendingByte, n > 0 {
            pendingByte = nil
            unit(combine(first, input[0]))
            i = 1
        }
        while i + 1 < n {
            let u = combine(input[i], input[i + 1])
            if u < 0x80 && highSurrogate == nil {
                put(UInt8(u))
            } else {
                unit(u)
            }
            i += 2
        }
        if i < n { pendingByte = input[i] }
        return o
    }

    /// What is left at the end of the input: a lone byte or high surrogate is U+FFFD.
    public mutating func finish(into out: UnsafeMutableRawPointer) -> Int {
        guard pendingByte != nil || highSurrogate != nil else { return 0 }
        pendingByte = nil
        highSurrogate = nil
        out.storeBytes(of: 0xEF, toByteOffset: 0, as: UInt8.self)
        out.storeBytes(of: 0xBF, toByteOffset: 1, as: UInt8.self)
        out.storeBytes(of: 0xBD, toByteOffset: 2, as: UInt8.self)
        return 3
    }

    /// The byte order announced by a byte-order mark at the start of `head`, and the mark's length.
    public static func byteOrderMark(_ head: UnsafeRawBufferPointer) -> ByteOrder? {
        guard head.count >= 2 else { return nil }
        if head[0] == 0xFF && head[1] == 0xFE { return .littleEndian }
        if head[0] == 0xFE && head[1] == 0xFF { return .bigEndian }
        return nil
    }

    /// UTF-16 without a mark, told by its zero bytes: text in Latin script has a zero in every
    /// other byte, which UTF-8 text never has.
    public static func unmarkedOrder(_ head: UnsafeRawBufferPointer) -> ByteOrder? {
        let n = min(head.count, 512) & ~1
        guard n >= 4 else { return nil }
        var zeroEven = 0, zeroOdd = 0
        for i in stride(from: 0, to: n, by: 2) {
            if head[i] == 0 { zeroEven += 1 }
            if head[i + 1] == 0 { zeroOdd += 1 }
        }
        let units = n / 2
        if zeroOdd * 10 >= units * 7 && zeroEven * 10 < units { return .littleEndian }
        if zeroEven * 10 >= units * 7 && zeroOdd * 10 < units { return .bigEndian }
        return nil
    }
}
