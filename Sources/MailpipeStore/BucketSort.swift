import MailpipeCore

/// Sorting on several threads without a merge: the values are dealt into buckets by the top 16
/// bits of a 64-bit key, then each bucket is sorted on its own, the buckets shared among the
/// workers (bucket b on worker b mod workers, so neighbouring buckets of skewed keys are spread).
/// `precedes` must order by that key first (a value whose key's top bits are smaller comes
/// first): the result is then the plain sort's.
enum BucketSort {
    static let bucketBits = 16
    /// Below this many values one thread sorts them all (dealing would cost more than it saves).
    static let threshold = 1 << 14

    static func sorted<T>(_ values: [T], bucket key: (T) -> UInt64, workers: Int, by precedes: (T, T) -> Bool) throws -> [T] {
        let count = values.count
        guard workers > 1, count >= threshold else { return values.sorted(by: precedes) }
        let buckets = 1 << bucketBits, shift = UInt64(64 - bucketBits)
        // starts[b]: where bucket b begins; starts[buckets]: the end.
        var starts = [Int](repeating: 0, count: buckets + 1)
        for v in values { starts[Int(key(v) >> shift) + 1] += 1 }
        for b in 0..<buckets { starts[b + 1] += starts[b] }
        var dealt = [T](unsafeUninitializedCapacity: count) { out, initialized in
            var next = starts
            for v in values {
                let b = Int(key(v) >> shift)
                (out.baseAddress! + next[b]).initialize(to: v)
                next[b] += 1
            }
            initialized = count
        }
        try dealt.withUnsafeMutableBufferPointer { all in
            try WorkCrew.perform(workers: workers) { w in
                for b in stride(from: w, to: buckets, by: workers) where starts[b + 1] - starts[b] > 1 {
                    var bucket = UnsafeMutableBufferPointer(rebasing: all[starts[b]..<starts[b + 1]])
                    bucket.sort(by: precedes)
                }
            }
        }
        return dealt
    }
}
