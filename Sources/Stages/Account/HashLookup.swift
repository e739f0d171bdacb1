/// Membership in a sorted array of 64-bit hashes (contact email hashes, event ids) through a
/// directory on the top bits: a query touches the directory and one short stretch of the array
/// (two cache misses) instead of the twenty-odd of a binary search over megabytes.
struct SortedHashLookup {
    let hashes: [UInt64]
    private let directory: [UInt32]
    private let shift: UInt64

    /// `sorted` must be in ascending order (duplicates allowed).
    init(sorted: [UInt64]) {
        hashes = sorted
        var bits = 1
        while (1 << bits) < sorted.count / 2 && bits < 28 { bits += 1 }
        shift = UInt64(64 - bits)
        let buckets = 1 << bits
        var dir = [UInt32](repeating: 0, count: buckets + 1)
        let s = shift
        sorted.withUnsafeBufferPointer { h in
            dir.withUnsafeMutableBufferPointer { d in
                // d[b] = index of the first hash whose bucket is ≥ b.
                var j = 0
                for b in 0..<buckets {
                    while j < h.count && Int(truncatingIfNeeded: h[j] >> s) < b { j += 1 }
                    d[b] = UInt32(truncatingIfNeeded: j)
                }
                d[buckets] = UInt32(truncatingIfNeeded: h.count)
            }
        }
        directory = dir
    }

    @inline(__always)
    func contains(_ x: UInt64) -> Bool {
        let b = Int(truncatingIfNeeded: x >> shift)
        return hashes.withUnsafeBufferPointer { h in
            directory.withUnsafeBufferPointer { d in
                var lo = Int(d[b])
                var hi = Int(d[b + 1])
                while hi - lo > 8 {
                    let mid = (lo + hi) >> 1
                    if h[mid] < x { lo = mid + 1 } else { hi = mid + 1 }
                }
                while lo < hi {
                    let v = h[lo]
                    if v == x { return true }
                    if v > x { return false }
                    lo += 1
                }
                return false
            }
        }
    }
}
