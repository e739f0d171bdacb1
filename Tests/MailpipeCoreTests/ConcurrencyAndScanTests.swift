import MailpipeCore
import XCTest

/// The word-at-a-time byte scans against plain byte loops, and the work crew's hand-out.
final class ConcurrencyAndScanTests: XCTestCase {
    func testByteScansAgreeWithByteLoops() {
        // Bytes near every boundary the scans test, at every offset and length around a word.
        let interesting: [UInt8] = [0x00, 0x08, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D,
                                    0x7E, 0x7F, 0x80, 0xA0, 0xC3, 0xDF, 0xE0, 0xFF, 0x41, 0x61]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...40, using: &generator)
            var bytes = [UInt8](repeating: 0x61, count: count)
            // Mostly plain letters with a few interesting bytes, so both outcomes are common.
            for _ in 0..<Int.random(in: 0...2, using: &generator) where count > 0 {
                bytes[Int.random(in: 0..<count, using: &generator)] = interesting.randomElement(using: &generator)!
            }
            bytes.withUnsafeBytes { p in
                let escape = p.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
                XCTAssertEqual(ByteScan.needsJSONEscape(p), escape, "\(bytes)")
                XCTAssertEqual(ByteScan.isASCII(p), p.allSatisfy { $0 < 0x80 }, "\(bytes)")
                let control = p.first { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
                XCTAssertEqual(ByteScan.firstControlByte(p), control, "\(bytes)")
            }
        }
    }

    /// `ByteScan.lowercaseASCII` (a word at a time, the last word overlapping) and
    /// `EmailKey.normalize` against a byte loop: every length 0–40, at every offset into a larger
    /// buffer, of upper- and lower-case letters, the bytes beside `A`–`Z` and `a`–`z`, white
    /// space, and non-ASCII bytes whose low seven bits are letters (0xC1, 0xDA…) — the bytes
    /// outside the range must be left exactly as they were.
    func testLowercaseASCIIAgreesWithAByteLoop() {
        let alphabet: [UInt8] = [0x40, 0x41, 0x42, 0x4D, 0x5A, 0x5B, 0x60, 0x61, 0x7A, 0x7B, 0x7F, 0x20, 0x09, 0x0A, 0x0D,
                                 0x2E, 0x30, 0x00, 0x80, 0xC1, 0xC3, 0xDA, 0xE1, 0xFA, 0xFF, 0xA9]
        func lowered(_ bytes: ArraySlice<UInt8>) -> [UInt8] { bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 } }
        func trimmed(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
            let space: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
            guard let first = bytes.firstIndex(where: { !space.contains($0) }) else { return [] }
            return bytes[first...bytes.lastIndex { !space.contains($0) }!]
        }
        var generator = SystemRandomNumberGenerator()
        var checked = 0
        for count in 0...40 {
            for offset in 0..<8 {
                for round in 0..<60 {
                    // Round 0: every alphabet byte in turn; then random mixes.
                    let bytes = (0..<count).map { i in
                        round == 0 ? alphabet[i % alphabet.count] : alphabet.randomElement(using: &generator)!
                    }
                    var buffer = [UInt8](repeating: 0x5A, count: offset) + bytes + [0x41, 0x5A]
                    buffer.withUnsafeMutableBytes { ByteScan.lowercaseASCII(UnsafeMutableRawBufferPointer(rebasing: $0[offset..<(offset + count)])) }
                    let expected = [UInt8](repeating: 0x5A, count: offset) + lowered(bytes[...]) + [0x41, 0x5A]
                    if buffer != expected { XCTFail("lowercaseASCII \(bytes) at \(offset): \(buffer)") }
                    var key = [UInt8](repeating: 0x42, count: offset)
                    bytes.withUnsafeBytes { EmailKey.normalize($0, into: &key) }
                    let expectedKey = [UInt8](repeating: 0x42, count: offset) + lowered(trimmed(bytes))
                    if key != expectedKey { XCTFail("normalize \(bytes) after \(offset): \(key)") }
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 41 * 8 * 60)
    }

    /// `ByteScan.jsonStringStop` (16 bytes at a time, the last block loaded ending at the input's
    /// end) against a byte loop: one or two stopping bytes at every position of inputs of every
    /// length up to three blocks, scanned from every offset, with and without stopping at
    /// non-ASCII bytes.
    func testJSONStringStopAgreesWithAByteLoopAtEveryPosition() {
        let stopping: [UInt8] = [0x22, 0x5C, 0x00, 0x09, 0x0A, 0x1F, 0x80, 0xBF, 0xC3, 0xE2, 0xF0, 0xFF]
        let plain: [UInt8] = [0x20, 0x21, 0x23, 0x5B, 0x5D, 0x7E, 0x7F, 0x41]
        func reference(_ bytes: [UInt8], _ from: Int, _ nonASCII: Bool) -> Int {
            var i = from
            while i < bytes.count {
                let b = bytes[i]
                if b == 0x22 || b == 0x5C || b < 0x20 || (nonASCII && b >= 0x80) { return i }
                i += 1
            }
            return bytes.count
        }
        func check(_ bytes: [UInt8]) {
            bytes.withUnsafeBufferPointer { buffer in
                // An empty array may have no address: scan a byte that is never read instead.
                var none: UInt8 = 0
                let p = buffer.baseAddress ?? withUnsafePointer(to: &none) { $0 }
                for nonASCII in [false, true] {
                    for from in 0...bytes.count {
                        let got = ByteScan.jsonStringStop(p, from: from, count: bytes.count, nonASCII: nonASCII)
                        let expected = reference(bytes, from, nonASCII)
                        if got != expected { XCTFail("\(bytes) from \(from) nonASCII \(nonASCII): \(got), not \(expected)") }
                    }
                }
            }
        }
        var checked = 0
        for count in 0...50 {
            for (k, filler) in plain.enumerated() {
                let bytes = [UInt8](repeating: filler, count: count)
                if k == 0 { check(bytes) }
                for at in 0..<count {
                    for b in stopping where (at + Int(b)) % plain.count == k {
                        var one = bytes
                        one[at] = b
                        check(one)
                        // A second stop later in the input: the first one must win.
                        if at + 5 < count {
                            one[at + 5] = stopping[(at + k) % stopping.count]
                            check(one)
                        }
                        checked += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 5_000)
        if testRun?.failureCount ?? 0 > 0 { return }
        var generator = SeededGenerator(seed: 0x5CA7)
        for _ in 0..<3_000 {
            let count = Int.random(in: 0...100, using: &generator)
            var bytes = (0..<count).map { _ in plain.randomElement(using: &generator)! }
            for _ in 0..<Int.random(in: 0...3, using: &generator) where count > 0 {
                bytes[Int.random(in: 0..<count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            check(bytes)
            if testRun?.failureCount ?? 0 > 5 { return }
        }
    }

    func testFirstOfAgreesWithAByteLoopAtEveryPosition() {
        // Three or four stop bytes (the fourth left out repeats the third), every input length
        // around the 16-byte blocks, every start, stops anywhere (one, two, or in the lanes a
        // last overlapping block sees again).
        let stopSets: [(UInt8, UInt8, UInt8, UInt8?)] = [(0x2F, 0x3F, 0x23, nil), (0x2C, 0x3B, 0x7C, 0x3A), (0x00, 0xFF, 0x80, nil)]
        var generator = SeededGenerator(seed: 0xF1257)
        var checked = 0
        for (a, b, c, d) in stopSets {
            let stops = [a, b, c, d ?? c]
            for count in 0...50 {
                for _ in 0..<12 {
                    var bytes = (0..<count).map { _ in UInt8.random(in: 0x41...0x5A, using: &generator) }
                    for _ in 0..<Int.random(in: 0...2, using: &generator) where count > 0 {
                        bytes[Int.random(in: 0..<count, using: &generator)] = stops.randomElement(using: &generator)!
                    }
                    bytes.withUnsafeBytes { t in
                        for from in 0...count {
                            let expected = (from..<count).first { stops.contains(bytes[$0]) } ?? count
                            let got = ByteScan.firstOf(a, b, c, d, in: t, from: from)
                            if got != expected { XCTFail("\(bytes) from \(from) stops \(stops): \(got), not \(expected)") }
                            checked += 1
                        }
                    }
                    if testRun?.failureCount ?? 0 > 5 { return }
                }
            }
        }
        XCTAssertGreaterThan(checked, 20_000)
    }

    func testWorkCrewDoesEverySliceOnceAcrossJobs() throws {
        for helpers in [0, 1, 3] {
            let crew = try WorkCrew(helpers: helpers)
            let slices = 257
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: slices)
            let workers = UnsafeMutablePointer<Int>.allocate(capacity: slices)
            defer { counts.deallocate(); workers.deallocate() }
            for job in 0..<5 {
                counts.initialize(repeating: 0, count: slices)
                crew.start(slices: slices) { s, w in
                    counts[s] += 1
                    workers[s] = w
                }
                if job % 2 == 0 { usleep(1000) }   // helpers may take every slice before the caller comes
                crew.finish()
                for s in 0..<slices {
                    XCTAssertEqual(counts[s], 1, "helpers \(helpers), job \(job), slice \(s)")
                    XCTAssertTrue((0...helpers).contains(workers[s]), "worker index \(workers[s])")
                }
            }
            crew.stop()
        }
    }

    func testPerformRunsEachWorkerOnceAndReturnsAfterAll() throws {
        for workers in [1, 2, 5] {
            var seen = [Int](repeating: 0, count: workers)
            try seen.withUnsafeMutableBufferPointer { counts in
                try WorkCrew.perform(workers: workers) { w in
                    usleep(UInt32(200 * (workers - w)))
                    counts[w] += 1
                }
            }
            XCTAssertEqual(seen, [Int](repeating: 1, count: workers))
        }
    }

    func testGuardedTimedWaitSaysWhetherTheValueBecameReady() throws {
        let box = Guarded(0)
        // Nobody changes it: the wait ends at its deadline, not ready, and the value is untouched.
        XCTAssertEqual(box.wait(until: { $0 > 0 }, atMost: 0.01) { v, ready in ready ? -1 : v }, 0)
        // Ready already: no sleep.
        box.withLock { $0 = 2 }
        XCTAssertTrue(box.wait(until: { $0 > 1 }, atMost: 0.0) { _, ready in ready })
        // Another thread makes it ready and signals: the wait ends ready, long before its deadline
        // (a deadline the test would otherwise wait out: 60 s).
        let setter = try SideThread {
            usleep(2000)
            box.withLock(signal: true) { $0 = 7 }
        }
        let seen = box.wait(until: { $0 == 7 }, atMost: 60) { v, ready in ready ? v : -1 }
        setter.wait()
        XCTAssertEqual(seen, 7)
    }
}
