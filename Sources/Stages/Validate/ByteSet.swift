#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A set of byte strings (domains, local parts) that answers membership for a borrowed slice
/// without allocating: the keys live in one arena, the table holds (hash, offset, length, the
/// member's number in insertion order). Built once, read per record.
public struct ByteSet: Sendable {
    private var arena: [UInt8] = []
    private var slots: [Slot]
    private var mask: Int
    public private(set) var count = 0

    struct Slot: Sendable {
        var hash: UInt64 = 0
        var offset: Int32 = -1
        var length: Int32 = 0
        var ordinal: Int32 = 0
    }

    public init(minimumCapacity: Int = 64) {
        var size = 16
        while size < minimumCapacity * 2 { size <<= 1 }
        slots = [Slot](repeating: Slot(), count: size)
        mask = size - 1
    }

    public init<S: Sequence>(_ items: S) where S.Element == String {
        let list = Array(items)
        self.init(minimumCapacity: list.count)
        for item in list { insert(item) }
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h ^ (h >> 29)
    }

    public mutating func insert(_ text: String) {
        var copy = text
        copy.withUTF8 { insert(UnsafeRawBufferPointer($0)) }
    }

    public mutating func insert(_ bytes: UnsafeRawBufferPointer) {
        if contains(bytes) { return }
        if (count + 1) * 2 > slots.count { grow() }
        let offset = arena.count
        arena.append(contentsOf: bytes)
        put(Slot(hash: ByteSet.hash(bytes), offset: Int32(offset), length: Int32(bytes.count), ordinal: Int32(count)))
        count += 1
    }

    private mutating func put(_ slot: Slot) {
        var i = Int(truncatingIfNeeded: slot.hash) & mask
        while slots[i].offset >= 0 { i = (i + 1) & mask }
        slots[i] = slot
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(), count: old.count * 2)
        mask = slots.count - 1
        for s in old where s.offset >= 0 { put(s) }
    }

    public func contains(_ text: String) -> Bool {
        var copy = text
        return copy.withUTF8 { contains(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    public func contains(_ bytes: UnsafeRawBufferPointer) -> Bool { ordinal(of: bytes) != nil }

    /// The member's number in insertion order (duplicates not counted), or nil.
    @inline(__always)
    public func ordinal(of bytes: UnsafeRawBufferPointer) -> Int? {
        if count == 0 { return nil }
        let h = ByteSet.hash(bytes)
        var i = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { table in
            arena.withUnsafeBytes { keys in
                while true {
                    let s = table[i]
                    if s.offset < 0 { return nil }
                    if s.hash == h && Int(s.length) == bytes.count
                        && (bytes.count == 0 || memcmp(keys.baseAddress! + Int(s.offset), bytes.baseAddress!, bytes.count) == 0) {
                        return Int(s.ordinal)
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }

    /// Whether `domain` or any of its parent domains (not the bare top-level label) is in the set:
    /// `a.b.mailinator.com` matches an entry `mailinator.com`.
    @inline(__always)
    public func containsDomainOrParent(_ domain: UnsafeRawBufferPointer) -> Bool {
        if count == 0 { return false }
        var start = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: domain[start...])
            guard let dot = rest.firstOffset(of: UInt8(ascii: ".")) else { return false }  // a bare TLD
            if contains(rest) { return true }
            start += dot + 1
        }
    }
}

extension UnsafeRawBufferPointer {
    /// The offset of the first `byte`, or nil. Addresses and domains are short: a loop inline,
    /// where the generic `firstIndex(of:)` cost about a hundred instructions a call.
    @inline(__always)
    func firstOffset(of byte: UInt8) -> Int? {
        guard let base = baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var i = 0
        while i < count {
            if base[i] == byte { return i }
            i &+= 1
        }
        return nil
    }

    /// The offset of the last `byte`, or nil.
    @inline(__always)
    func lastOffset(of byte: UInt8) -> Int? {
        guard let base = baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var i = count
        while i > 0 {
            i &-= 1
            if base[i] == byte { return i }
        }
        return nil
    }
}
