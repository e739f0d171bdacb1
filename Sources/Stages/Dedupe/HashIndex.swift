#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// Membership of 64-bit email hashes in the tenant's store: the sorted hashes (8 bytes per
/// contact) plus a bucket table on their top bits, so a look-up reads one table entry and scans
/// a handful of neighbouring hashes (about four on average) — two cache misses instead of a
/// 23-step binary search over 10 M entries.
public struct StoreHashIndex {
    public let hashes: [UInt64]
    private let buckets: [UInt32]
    private let shift: UInt64

    /// `sorted` must be in ascending order (duplicates allowed).
    public init(sorted: [UInt64]) {
        hashes = sorted
        var bits = 1
        while bits < 26 && (1 << bits) * 4 < sorted.count { bits += 1 }
        shift = UInt64(64 - bits)
        let count = 1 << bits
        var table = [UInt32](repeating: 0, count: count + 1)
        // table[b] = index of the first hash whose top bits are ≥ b.
        var i = 0
        for b in 0...count {
            while i < sorted.count && Int(sorted[i] >> shift) < b { i += 1 }
            table[b] = UInt32(i)
        }
        buckets = table
    }

    public var count: Int { hashes.count }

    @inline(__always)
    public func contains(_ hash: UInt64) -> Bool {
        let b = Int(hash >> shift)
        return buckets.withUnsafeBufferPointer { t in
            hashes.withUnsafeBufferPointer { h in
                var i = Int(t[b])
                let end = Int(t[b + 1])
                while i < end {
                    let v = h[i]
                    if v >= hash { return v == hash }
                    i += 1
                }
                return false
            }
        }
    }

    /// `contains` for up to `StoreHashIndex.group` hashes at once: the table entries of all of
    /// them are read first, then their runs of hashes, so the cache misses of different
    /// addresses overlap instead of queuing one behind the other.
    public func contains(_ hashes: UnsafeBufferPointer<UInt64>, into found: UnsafeMutableBufferPointer<Bool>) {
        precondition(hashes.count <= StoreHashIndex.group && found.count >= hashes.count)
        withUnsafeTemporaryAllocation(of: (Int, Int).self, capacity: StoreHashIndex.group) { runs in
            buckets.withUnsafeBufferPointer { t in
                for (i, hash) in hashes.enumerated() {
                    let b = Int(hash >> shift)
                    runs[i] = (Int(t[b]), Int(t[b + 1]))
                }
            }
            self.hashes.withUnsafeBufferPointer { h in
                for (i, hash) in hashes.enumerated() {
                    var (j, end) = runs[i]
                    var hit = false
                    while j < end {
                        let v = h[j]
                        if v >= hash { hit = v == hash; break }
                        j += 1
                    }
                    found[i] = hit
                }
            }
        }
    }

    public static let group = 64

    /// Two ascending arrays as one.
    public static func merge(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        [UInt64](unsafeUninitializedCapacity: a.count + b.count) { out, initialized in
            var i = 0, j = 0, k = 0
            while i < a.count && j < b.count {
                if a[i] <= b[j] { out[k] = a[i]; i += 1 } else { out[k] = b[j]; j += 1 }
                k += 1
            }
            while i < a.count { out[k] = a[i]; i += 1; k += 1 }
            while j < b.count { out[k] = b[j]; j += 1; k += 1 }
            initialized = k
        }
    }
}

/// The addresses seen so far in the stream: open addressing on the 64-bit hash, the value being
/// where the first occurrence was (input index, line). 16 bytes a slot, key and value side by
/// side so a look-up misses the cache once; at most half full.
public struct SeenTable {
    private struct Slot {
        var key: UInt64
        var value: UInt64
    }
    private var slots: UnsafeMutablePointer<Slot>
    private var capacity: Int
    private var shift: UInt64
    public private(set) var count = 0

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
    @inline(__always)
    public func warm(_ hash: UInt64) -> UInt64 {
        let key = hash == 0 ? 1 : hash
        return slots[Int((key &* 0x9E37_79B9_7F4A_7C15) >> shift)].key
    }

    /// How many records ahead of its insert a hash is warmed: enough for several misses in flight.
    public static let warmLead = 8

    /// Inserts `hash` with `value`, or returns the value stored by its first occurrence.
    @inline(__always)
    public mutating func insertOrFind(_ hash: UInt64, value: UInt64) -> UInt64? {
        let key = hash == 0 ? 1 : hash
        var slot = Int((key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        let mask = capacity - 1
        while true {
            let k = slots[slot].key
            if k == key { return slots[slot].value }
            if k == 0 {
                slots[slot] = Slot(key: key, value: value)
                count += 1
                if count * 2 > capacity { grow() }
                return nil
            }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow() {
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
