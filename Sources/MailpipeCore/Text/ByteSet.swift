#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A set of byte strings (domains, local parts, tag texts) that answers membership — and each
/// member's number in insertion order — for a borrowed slice without allocating: the keys live
/// in one arena, the table (at most half full, open-addressed) holds (hash, offset, length,
/// number). Keys are compared as bytes: texts Swift finds equal as strings but spelt in other
/// bytes (canonically equivalent Unicode) are two members.
public struct ByteSet: Sendable {
    @usableFromInline var arena: [UInt8] = []
    @usableFromInline var slots: [Slot]
    @usableFromInline var mask: Int
    public private(set) var count = 0

    @usableFromInline struct Slot: Sendable {
        @usableFromInline var hash: UInt64 = 0
        @usableFromInline var offset: Int32 = -1
        @usableFromInline var length: Int32 = 0
        @usableFromInline var ordinal: Int32 = 0
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

    @inlinable
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

    @inlinable
    public func contains(_ bytes: UnsafeRawBufferPointer) -> Bool { ordinal(of: bytes) != nil }

    /// The member's number in insertion order (duplicates not counted), or nil.
    @inlinable
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
}
