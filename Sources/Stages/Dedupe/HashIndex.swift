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
/// where the first occurrence was (input index, line). 16 bytes a slot, at most half full.
public struct SeenTable {
    private var keys: UnsafeMutablePointer<UInt64>
    private var values: UnsafeMutablePointer<UInt64>
    private var capacity: Int
    private var shift: UInt64
    public private(set) var count = 0

    public init(initialCapacity: Int = 1 << 16) {
        var c = 1 << 4
        while c < initialCapacity { c <<= 1 }
        capacity = c
        shift = UInt64(64 - c.trailingZeroBitCount)
        keys = .allocate(capacity: c)
        keys.initialize(repeating: 0, count: c)
        values = .allocate(capacity: c)
        values.initialize(repeating: 0, count: c)
    }

    public func deallocate() {
        keys.deallocate()
        values.deallocate()
    }

    /// Reads the slot where `hash` would go, so that inserting it soon after finds it in the
    /// cache: called for a batch of hashes ahead of their inserts, the loads overlap (one insert
    /// at a time would wait for each). The result only keeps the load from being optimised away.
    @inline(__always)
    public func warm(_ hash: UInt64) -> UInt64 {
        let key = hash == 0 ? 1 : hash
        let slot = Int((key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        return keys[slot] &+ values[slot]
    }

    /// Inserts `hash` with `value`, or returns the value stored by its first occurrence.
    @inline(__always)
    public mutating func insertOrFind(_ hash: UInt64, value: UInt64) -> UInt64? {
        let key = hash == 0 ? 1 : hash
        var slot = Int((key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        let mask = capacity - 1
        while true {
            let k = keys[slot]
            if k == key { return values[slot] }
            if k == 0 {
                keys[slot] = key
                values[slot] = value
                count += 1
                if count * 2 > capacity { grow() }
                return nil
            }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values, oldCapacity = capacity
        capacity <<= 1
        shift -= 1
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: 0, count: capacity)
        values = .allocate(capacity: capacity)
        values.initialize(repeating: 0, count: capacity)
        let mask = capacity - 1
        for i in 0..<oldCapacity where oldKeys[i] != 0 {
            var slot = Int((oldKeys[i] &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while keys[slot] != 0 { slot = (slot + 1) & mask }
            keys[slot] = oldKeys[i]
            values[slot] = oldValues[i]
        }
        oldKeys.deallocate()
        oldValues.deallocate()
    }
}
