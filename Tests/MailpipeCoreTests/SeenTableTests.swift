import MailpipeCore
import XCTest

/// SeenTable against `Set`/`Dictionary`, and ByteBuffer's one-check writer against plain appends.
final class SeenTableTests: XCTestCase {
    /// Random hashes with repeats, 0, 1 and the extremes, through growth and `removeAll` cycles:
    /// every answer is the dictionary's (0 and 1 being one key, as documented).
    func testAgreesWithADictionaryThroughGrowthAndRemoveAll() {
        var rng = SystemRandomNumberGenerator()
        var table = SeenTable(initialCapacity: 4)
        defer { table.deallocate() }
        for round in 0..<4 {
            var reference: [UInt64: UInt64] = [:]
            var drawn: [UInt64] = [0, 1, UInt64.max, 1 << 63]
            for _ in 0..<(5_000 * (round + 1)) {
                let h: UInt64 = rng.next()
                drawn.append(round % 2 == 0 ? h : h & 0xFFFF)   // small hashes: long probe runs
                if Bool.random(using: &rng), let again = drawn.randomElement(using: &rng) { drawn.append(again) }
            }
            for (i, h) in drawn.enumerated() {
                let key = h == 0 ? 1 : h
                let value = UInt64(i)
                if i % 3 == 0 {
                    XCTAssertEqual(table.insert(h), reference[key] == nil, "hash \(h), round \(round)")
                    if reference[key] == nil { reference[key] = 0 }
                } else {
                    XCTAssertEqual(table.insertOrFind(h, value: value), reference[key], "hash \(h), round \(round)")
                    if reference[key] == nil { reference[key] = value }
                }
            }
            XCTAssertEqual(table.count, reference.count)
            table.removeAll()
            XCTAssertEqual(table.count, 0)
            XCTAssertTrue(table.insert(drawn[5]), "forgotten after removeAll")
            table.removeAll()
        }
    }

    /// `appendWriting(atMost:)` grows the buffer when asked for more room than it has, keeps what
    /// was there, and counts only the bytes written.
    func testAppendWritingEqualsAppends() {
        var rng = SystemRandomNumberGenerator()
        var written = ByteBuffer(capacity: 1)
        var expected: [UInt8] = []
        for _ in 0..<2_000 {
            let room = Int.random(in: 0...300, using: &rng)
            let used = Int.random(in: 0...room, using: &rng)
            let piece = (0..<used).map { _ in UInt8.random(in: 0...255, using: &rng) }
            written.appendWriting(atMost: room) { p in
                for (i, b) in piece.enumerated() { p[i] = b }
                return used
            }
            expected += piece
            XCTAssertEqual(written.count, expected.count)
        }
        XCTAssertEqual(written.bytes, expected)
    }
}
