import MailpipeCore

/// Sorting without a merge, on several threads: the values are dealt into buckets by the top 16
/// bits of a 64-bit key, then each bucket is sorted on its own, the buckets shared among the
/// workers (bucket b on worker b mod workers, so neighbouring buckets of skewed keys are spread).
/// `precedes` must order by that key first (a value whose key's top bits are smaller comes
/// first): the result is then the plain sort's. On one worker the dealing still pays: it is one
/// pass of a radix sort, and the buckets left are small.
public enum BucketSort {
    static let bucketBits = 16
    /// Below this many values one thread sorts them all (dealing would cost more than it saves).
    static let threshold = 1 << 14

    public static func sorted<T>(_ values: [T], bucket key: (T) -> UInt64, workers: Int, by precedes: (T, T) -> Bool) throws -> [T] {
        let count = values.count, workers = max(1, workers)
        guard count >= threshold else { return values.sorted(by: precedes) }
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

    /// A 64-bit key and where it stood in its input.
    public struct Keyed: Equatable {
        public var key: UInt64
        public var position: Int32

        public init(key: UInt64, position: Int32) {
            self.key = key
            self.position = position
        }

        @inline(__always)
        static func precedes(_ a: Keyed, _ b: Keyed) -> Bool {
            a.key != b.key ? a.key < b.key : a.position < b.position
        }
    }

    /// Keys in order, equal keys by position: a stable sort when the positions rise in input
    /// order. Lets a batch be matched against a sorted hash list by one sequential merge instead
    /// of a cache miss per value.
    public static func sortedStably(_ values: [Keyed], workers: Int) throws -> [Keyed] {
        try sorted(values, bucket: { $0.key }, workers: workers, by: Keyed.precedes)
    }
}
