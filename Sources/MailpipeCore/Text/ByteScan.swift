#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-word (8 bytes at a time) scans of byte strings for the few classes of bytes the hot
/// paths look for: a field that needs no JSON escaping, or a row that is plain printable ASCII,
/// is then recognised in an eighth of the steps.
public enum ByteScan {
    // (Public and inlinable for the stages' own word-at-a-time scans; literals, not the
    // constants below, so that they inline across modules.)
    @inlinable @inline(__always) public static func load(_ p: UnsafeRawPointer, _ i: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
    }

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// High bit set in each byte of `x` that is below `n` (n ≤ 0x80): exact for the lowest such
    /// byte (a borrow may flag the byte above it), so exact as "any byte below `n`".
    @inlinable @inline(__always) public static func below(_ x: UInt64, _ n: UInt8) -> UInt64 {
        (x &- 0x0101_0101_0101_0101 &* UInt64(n)) & ~x & 0x8080_8080_8080_8080
    }

    /// High bit set in each byte of `x` equal to `b`, exactly (no borrow across bytes).
    @inlinable @inline(__always) public static func equal(_ x: UInt64, _ b: UInt8) -> UInt64 {
        let y = x ^ (0x0101_0101_0101_0101 &* UInt64(b))
        return ~(((y & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | y) & 0x8080_8080_8080_8080
    }

    /// `A`–`Z` lower-cased in every byte of `x`; every other byte (non-ASCII too) as it is.
    @inlinable @inline(__always) public static func lowercasedASCII(_ x: UInt64) -> UInt64 {
        // On the low seven bits of each byte the sums carry into no other byte: high bit of
        // (b + 0x3F) is b ≥ `A`, of (b + 0x25) is b ≥ `[`; `& ~x` leaves bytes ≥ 0x80 alone.
        let low = x & 0x7F7F_7F7F_7F7F_7F7F
        let upper = ((low &+ 0x3F3F_3F3F_3F3F_3F3F) ^ (low &+ 0x2525_2525_2525_2525)) & ~x & 0x8080_8080_8080_8080
        return x | (upper >> 2)
    }

    /// Lower-cases `A`–`Z` in place, eight bytes at a time (the last word overlaps the one
    /// before it: lower-casing twice changes nothing); other bytes are left as they are.
    @inlinable public static func lowercaseASCII(_ bytes: UnsafeMutableRawBufferPointer) {
        guard let p = bytes.baseAddress else { return }
        let n = bytes.count
        if n < 8 {
            for i in 0..<n where p.load(fromByteOffset: i, as: UInt8.self) &- 65 < 26 {
                p.storeBytes(of: p.load(fromByteOffset: i, as: UInt8.self) | 0x20, toByteOffset: i, as: UInt8.self)
            }
            return
        }
        var i = 0
        while true {
            let x = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            p.storeBytes(of: lowercasedASCII(x).littleEndian, toByteOffset: i, as: UInt64.self)
            if i == n - 8 { return }
            i = min(i + 8, n - 8)
        }
    }

    /// Whether any byte is a control byte (< 0x20), `"` or `\` — what a JSON string must escape.
    public static func needsJSONEscape(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let p = bytes.baseAddress else { return false }
        let n = bytes.count
        var i = 0
        while i + 8 <= n {
            let x = load(p, i)
            if (below(x, 0x20) | equal(x, 0x22) | equal(x, 0x5C)) != 0 { return true }
            i += 8
        }
        while i < n {
            let b = bytes[i]
            if b < 0x20 || b == 0x22 || b == 0x5C { return true }
            i += 1
        }
        return false
    }

    /// Whether every byte is below 0x80.
    public static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let p = bytes.baseAddress else { return true }
        let n = bytes.count
        var i = 0
        var any: UInt64 = 0
        while i + 8 <= n { any |= load(p, i); i += 8 }
        if any & highs != 0 { return false }
        while i < n { if bytes[i] >= 0x80 { return false }; i += 1 }
        return true
    }

    /// The first control byte (< 0x20) other than tab, CR and LF, or nil.
    public static func firstControlByte(_ bytes: UnsafeRawBufferPointer) -> UInt8? {
        guard let p = bytes.baseAddress else { return nil }
        let n = bytes.count
        var i = 0
        while i < n {
            if i + 8 <= n && below(load(p, i), 0x20) == 0 { i += 8; continue }
            // A word with a byte below 0x20 (perhaps only a tab): look at its bytes.
            let end = min(i + 8, n)
            while i < end {
                let b = bytes[i]
                if b < 0x20 && b != 0x09 && b != 0x0A && b != 0x0D { return b }
                i += 1
            }
        }
        return nil
    }

    // MARK: 16 bytes at a time (SIMD)
    //
    // The element and mask types are spelt out on every vector expression: left to inference,
    // some of these operators resolve to the generic per-lane loop instead of one instruction.

    public typealias Block = SIMD16<UInt8>
    public typealias SignedBlock = SIMD16<Int8>
    public typealias BlockMask = SIMDMask<SIMD16<Int8>>

    /// The lanes at and after `skip` (0…16): a last block loaded ending at an input's end
    /// overlaps bytes already seen, which these leave out.
    @inlinable @inline(__always)
    public static func lanes(from skip: Int) -> BlockMask {
        let numbers = Block(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let from: BlockMask = numbers .>= Block(repeating: UInt8(truncatingIfNeeded: skip))
        return from
    }

    @inlinable @inline(__always)
    public static func block(_ p: UnsafeRawPointer, _ i: Int) -> Block {
        (p + i).loadUnaligned(as: Block.self)
    }

    /// Lanes of `v` that end a run of plain JSON string content: '"', '\\', a control byte, and
    /// with `nonASCII` a byte of a multi-byte UTF-8 sequence (a signed compare takes both ranges).
    @inline(__always)
    static func jsonStringStops(_ v: Block, nonASCII: Bool) -> BlockMask {
        let quote: BlockMask = v .== Block(repeating: 0x22)
        let backslash: BlockMask = v .== Block(repeating: 0x5C)
        let low: BlockMask
        if nonASCII {
            let signed: SignedBlock = unsafeBitCast(v, to: SignedBlock.self)
            low = signed .< SignedBlock(repeating: 0x20)
        } else {
            low = v .< Block(repeating: 0x20)
        }
        let stops: BlockMask = quote .| backslash
        return stops .| low
    }

    /// The offset of the first set lane of `mask` counted from `at`, or nil when none is set.
    @inlinable @inline(__always)
    public static func firstLane(_ mask: BlockMask, _ at: Int) -> Int? {
        // Each lane of a mask is 0x00 or 0xFF: its two halves as words find the first one.
        let halves = unsafeBitCast(mask, to: SIMD2<UInt64>.self)
        let low = halves[0]
        if low != 0 { return at &+ low.trailingZeroBitCount &>> 3 }
        let high = halves[1]
        if high != 0 { return at &+ 8 &+ high.trailingZeroBitCount &>> 3 }
        return nil
    }

    /// The offset of the first byte from `from` on (below `count`) that a JSON string scan must
    /// look at: '"', '\\', a control byte (< 0x20), and with `nonASCII` also a byte ≥ 0x80; `count`
    /// when there is none. 16 bytes at a time; the last block of an input of 16 bytes or more
    /// is loaded ending at its end, its lanes before `from` cleared, so nothing past `count` is read.
    @inline(__always)
    public static func jsonStringStop(_ p: UnsafePointer<UInt8>, from: Int, count: Int, nonASCII: Bool) -> Int {
        var i = from
        while i &+ 16 <= count {
            if let stop = firstLane(jsonStringStops(block(UnsafeRawPointer(p), i), nonASCII: nonASCII), i) { return stop }
            i &+= 16
        }
        if i >= count { return count }
        if count >= 16 {
            let last = count &- 16
            let stops: BlockMask = jsonStringStops(block(UnsafeRawPointer(p), last), nonASCII: nonASCII) .& lanes(from: i &- last)
            return firstLane(stops, last) ?? count
        }
        while i < count {
            let b = p[i]
            if b == 0x22 || b == 0x5C || b < 0x20 || (nonASCII && b >= 0x80) { return i }
            i &+= 1
        }
        return count
    }

    /// The index of the first byte at or after `from` that is `a`, `b`, `c` or `d` (a URL's host
    /// end, a list separator); `t.count` when there is none. 16 bytes at a time; the last block of
    /// an input of 16 bytes or more is loaded ending at its end (nothing past it is read), a
    /// shorter input a byte at a time.
    @inlinable @inline(__always)
    public static func firstOf(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8? = nil, in t: UnsafeRawBufferPointer, from: Int) -> Int {
        let n = t.count
        guard let base = t.baseAddress, from < n else { return n }
        let d = d ?? c
        if n < 16 {
            for i in from..<n {
                let x = t[i]
                if x == a || x == b || x == c || x == d { return i }
            }
            return n
        }
        let va = Block(repeating: a), vb = Block(repeating: b), vc = Block(repeating: c), vd = Block(repeating: d)
        var i = from
        while true {
            let at = min(i, n &- 16)
            let v = block(base, at)
            let ab: BlockMask = (v .== va) .| (v .== vb)
            let cd: BlockMask = (v .== vc) .| (v .== vd)
            var hits: BlockMask = ab .| cd
            if at < i { hits .&= lanes(from: i &- at) }
            if let hit = firstLane(hits, at) { return hit }
            i = at &+ 16
            if i >= n { return n }
        }
    }

    /// Whether `needle` occurs in `haystack` (memchr for its first byte, then a compare).
    public static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: UnsafeRawBufferPointer) -> Bool {
        guard let h = haystack.baseAddress, let n = needle.baseAddress, needle.count > 0 else { return needle.count == 0 }
        let first = Int32(needle[0])
        var start = 0
        let last = haystack.count - needle.count
        while start <= last, let hit = memchr(h + start, first, last - start + 1) {
            let at = h.distance(to: UnsafeRawPointer(hit))
            if memcmp(h + at, n, needle.count) == 0 { return true }
            start = at + 1
        }
        return false
    }
}
