/// 64-bit hashes seen so far, each with a value: open addressing (Fibonacci hashing, linear
/// probing), 16 bytes a slot, key and value side by side so a look-up misses the cache once; at
/// most half full. dedupe keeps the addresses of its stream (the value: where the first
/// occurrence was), account commit those of a chunk. The hashes 0 and 1 are one key (0 marks an
/// empty slot): a 64-bit hash collision either way. The owner calls `deallocate()`.
public struct SeenTable {
    @usableFromInline struct Slot {
        @usableFromInline var key: UInt64
        @usableFromInline var value: UInt64
        @inlinable init(key: UInt64, value: UInt64) { self.key = key; self.value = value }
    }
    @usableFromInline var slots: UnsafeMutablePointer<Slot>
    @usableFromInline var capacity: Int
    @usableFromInline var shift: UInt64
    /// How many hashes are in.
    public var count: Int { stored }
    @usableFromInline var stored = 0

    public init(initialCapacity: Int = 1 << 16) {
        var c = 1 << 4
        while c < initialCapacity { c <<= 1 }
        capacity = c
        shift = UInt64(64 - c.trailingZeroBitCount)
        slots = .allocate(capacity: c)
        slots.initialize(repeating: Slot(key: 0, value: 0), count: c)
    }

    public func deallocate() {
        slots.deallocate()
    }

    /// Reads the slot where `hash` would go, so that inserting it soon after finds it in the
    /// cache: called a few records ahead of their inserts, the loads overlap (one insert at a
    /// time would wait for each). The result only keeps the load from being optimised away.
    @inlinable @inline(__always)
    public func warm(_ hash: UInt64) -> UInt64 {
        let key = hash == 0 ? 1 : hash
        return slots[Int((key &* 0x9E37_79B9_7F4A_7C15) >> shift)].key
    }

    /// How many records ahead of its insert a hash is warmed: enough for several misses in flight.
    public static let warmLead = 8

    /// Inserts `hash` with `value`, or returns the value stored by its first occurrence.
    @inlinable @inline(__always)
    public mutating func insertOrFind(_ hash: UInt64, value: UInt64) -> UInt64? {
        let key = hash == 0 ? 1 : hash
        var slot = Int((key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        let mask = capacity - 1
        while true {
            let k = slots[slot].key
            if k == key { return slots[slot].value }
            if k == 0 {
                slots[slot] = Slot(key: key, value: value)
                stored += 1
                if stored * 2 > capacity { grow() }
                return nil
            }
            slot = (slot + 1) & mask
        }
    }

    /// Inserts `hash` (with the value 0); true when it was not there before.
    @inlinable @inline(__always)
    public mutating func insert(_ hash: UInt64) -> Bool { insertOrFind(hash, value: 0) == nil }

    /// Forgets every hash, keeping the table's size.
    public mutating func removeAll() {
        slots.update(repeating: Slot(key: 0, value: 0), count: capacity)
        stored = 0
    }

    @usableFromInline mutating func grow() {
        let old = slots, oldCapacity = capacity
        capacity <<= 1
        shift -= 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Slot(key: 0, value: 0), count: capacity)
        let mask = capacity - 1
        for i in 0..<oldCapacity where old[i].key != 0 {
            var slot = Int((old[i].key &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while slots[slot].key != 0 { slot = (slot + 1) & mask }
            slots[slot] = old[i]
        }
        old.deallocate()
    }
}
