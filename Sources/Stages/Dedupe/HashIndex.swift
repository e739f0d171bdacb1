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
