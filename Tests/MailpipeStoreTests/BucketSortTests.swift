import MailpipeStore
import XCTest

/// BucketSort against a reference that is stable by construction (positions gathered per key in
/// input order, keys then sorted): what Books relies on when it matches a batch's ids — the first
/// of equal ids is the event, the later ones duplicates.
final class BucketSortTests: XCTestCase {
    /// Positions per key in input order, keys ascending.
    private func reference(_ keys: [UInt64]) -> [BucketSort.Keyed] {
        var positions: [UInt64: [Int32]] = [:]
        for (i, k) in keys.enumerated() { positions[k, default: []].append(Int32(i)) }
        return positions.keys.sorted().flatMap { k in positions[k]!.map { BucketSort.Keyed(key: k, position: $0) } }
    }

    private func keyed(_ keys: [UInt64]) -> [BucketSort.Keyed] {
        keys.enumerated().map { BucketSort.Keyed(key: $0.element, position: Int32($0.offset)) }
    }

    /// Key sets: few distinct keys (many equal), all in one bucket (same top 16 bits), the extremes,
    /// uniform; counts around the size where dealing starts; one to three workers.
    func testStableSortMatchesReference() throws {
        var rng = SystemRandomNumberGenerator()
        let pool = (0..<37).map { _ in UInt64.random(in: .min ... .max, using: &rng) }
        let makers: [(String, () -> UInt64)] = [
            ("few distinct", { pool.randomElement(using: &rng)! }),
            ("one bucket", { 0xABCD_0000_0000_0000 | UInt64.random(in: 0..<50, using: &rng) }),
            ("extremes", { [0, 1, .max, .max - 1, 1 << 48, (1 << 48) - 1].randomElement(using: &rng)! }),
            ("uniform", { UInt64.random(in: .min ... .max, using: &rng) }),
            ("uniform with repeats", { UInt64.random(in: 0..<4096, using: &rng) &* 0x9E37_79B9_7F4A_7C15 }),
        ]
        for (name, make) in makers {
            for count in [0, 1, 2, 17, (1 << 14) - 1, 1 << 14, 70_001] {
                let keys = (0..<count).map { _ in make() }
                let expected = reference(keys)
                for workers in [0, 1, 2, 3] {
                    let sorted = try BucketSort.sortedStably(keyed(keys), workers: workers)
                    XCTAssertEqual(sorted, expected, "\(name), \(count) keys, \(workers) workers")
                }
            }
        }
    }

    /// The generic sort, given a stable order of its own (key, then input position): as above.
    func testGenericSortMatchesReference() throws {
        var rng = SystemRandomNumberGenerator()
        let keys = (0..<50_000).map { _ in UInt64.random(in: 0..<300, using: &rng) << 52 | UInt64.random(in: 0..<3, using: &rng) }
        let values = keys.enumerated().map { (key: $0.element, position: $0.offset) }
        for workers in [1, 2, 4] {
            let sorted = try BucketSort.sorted(values, bucket: { $0.key }, workers: workers) {
                $0.key != $1.key ? $0.key < $1.key : $0.position < $1.position
            }
            XCTAssertEqual(sorted.map { BucketSort.Keyed(key: $0.key, position: Int32($0.position)) }, reference(keys))
        }
    }
}
