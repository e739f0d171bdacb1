#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-word (8 bytes at a time) scans of byte strings for the few classes of bytes the hot
/// paths look for: a field that needs no JSON escaping, or a row that is plain printable ASCII,
/// is then recognised in an eighth of the steps.
public enum ByteScan {
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
    }

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// High bit set in each byte of `x` that is below `n` (n ≤ 0x80), exactly.
    @inline(__always) static func below(_ x: UInt64, _ n: UInt8) -> UInt64 {
        (x &- ones &* UInt64(n)) & ~x & highs
    }

    /// High bit set in each byte of `x` equal to `b`, exactly (no borrow across bytes).
    @inline(__always) static func equal(_ x: UInt64, _ b: UInt8) -> UInt64 {
        let y = x ^ (ones &* UInt64(b))
        return ~(((y & ~highs) &+ ~highs) | y) & highs
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
