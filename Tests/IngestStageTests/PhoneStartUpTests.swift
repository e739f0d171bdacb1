import IngestStage
import MailpipeCore
import XCTest

/// `PhoneNumbers.prepare()` — libphonenumber's one-time start-up, which ingest runs on a side
/// thread as it starts — against numbers arriving meanwhile on other threads. (The start-up is
/// once per process: the race is real when this suite runs first, as in
/// `swift test --filter PhoneStartUpTests`; Tests/Shell/ingest-start-up.test.sh races it in
/// fresh processes.)
final class PhoneStartUpTests: XCTestCase {
    /// National, international, `00`, letters and impossible numbers, in regions with plain and
    /// pattern prefixes.
    static let numbers: [(String, String?)] = [
        ("06 12 34 56 78", "FR"), ("+33 6 12 34 56 78", nil), ("0033612345678", nil), ("(212) 555-0123", "US"),
        ("030 1234567", "DE"), ("+52 1 55 1234 5678", nil), ("044 55 1234 5678", "MX"), ("011 15 2345-6789", "AR"),
        ("050-123-4567", "IL"), ("1-800-FLOWERS", "US"), ("12", "FR"), ("not a number", "GB"), ("+7 495 123-45-67", nil),
    ]

    func testNumbersWhileTheStartUpRunsGetTheAnswersOfAfter() throws {
        let answers = Guarded([[String]]())
        var threads: [SideThread] = []
        threads.append(try SideThread { PhoneNumbers.prepare() })
        for _ in 0..<3 {
            threads.append(try SideThread {
                var phones = PhoneNumbers()
                let got = PhoneStartUpTests.numbers.map { phones.format($0.0, region: $0.1) }
                    + PhoneStartUpTests.numbers.map { PhoneNumbers.fullParse($0.0, region: $0.1) ?? "-" }
                answers.withLock { $0.append(got) }
            })
        }
        threads.append(try SideThread { PhoneNumbers.prepare() })
        threads.forEach { $0.wait() }

        PhoneNumbers.prepare()   // again, when done: nothing changes
        var phones = PhoneNumbers()
        let after = PhoneStartUpTests.numbers.map { phones.format($0.0, region: $0.1) }
            + PhoneStartUpTests.numbers.map { PhoneNumbers.fullParse($0.0, region: $0.1) ?? "-" }
        XCTAssertEqual(Array(after.prefix(4)), ["+33612345678", "+33612345678", "+33612345678", "+12125550123"])
        let got = answers.withLock { $0 }
        XCTAssertEqual(got.count, 3)
        for answer in got { XCTAssertEqual(answer, after) }
    }
}
