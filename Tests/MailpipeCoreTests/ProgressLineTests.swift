import XCTest
import MailpipeCore

/// The progress line's text for given states (the drawing itself is tested on a terminal by
/// Tests/Shell/progress.test.sh).
final class ProgressLineTests: XCTestCase {
    func testAKnownSizeShowsPercentageBarRateAndETA() {
        let line = ProgressLine.render(stage: "ingest", phase: nil, elapsed: 2, bytesRead: 50 << 20,
                                       totalBytes: 200 << 20, records: 100_000, width: 100)
        XCTAssertTrue(line.hasPrefix("ingest  25% ["), line)
        XCTAssertTrue(line.hasSuffix("50.0MiB/200.0MiB  25.0MiB/s  50.0k rec/s  ETA 0:00:06"), line)
        XCTAssertEqual(line.count, 99, "one column short of the width, so the cursor never wraps")
    }

    func testAnUnknownSizeShowsWhatWasReadAndTheClock() {
        let line = ProgressLine.render(stage: "dedupe", phase: nil, elapsed: 61, bytesRead: 1536,
                                       totalBytes: nil, records: 0, width: 80)
        XCTAssertEqual(line, "dedupe  1.5KiB  25B/s  0:01:01")
    }

    func testAPhaseNamesItself() {
        let line = ProgressLine.render(stage: "account commit", phase: "merging 4 runs", elapsed: 3725,
                                       bytesRead: 0, totalBytes: 10, records: 0, width: 80)
        XCTAssertEqual(line, "account commit: merging 4 runs… 1:02:05")
    }

    func testANarrowTerminalDropsTheBar() {
        let line = ProgressLine.render(stage: "ingest", phase: nil, elapsed: 1, bytesRead: 1, totalBytes: 2,
                                       records: 0, width: 30)
        XCTAssertFalse(line.contains("["), line)
        XCTAssertTrue(line.hasPrefix("ingest  50%  1B/2B"), line)
    }

    func testTheFirstLineWaitsTheDelayFromTheEnvironment() {
        XCTAssertEqual(ProgressLine.firstAfter(environment: nil), ProgressLine.defaultFirstAfter)
        XCTAssertEqual(ProgressLine.firstAfter(environment: "0"), 0)
        XCTAssertEqual(ProgressLine.firstAfter(environment: "1.5"), 1.5)
        for malformed in ["", "-1", "soon", "nan", "1e9"] {
            XCTAssertEqual(ProgressLine.firstAfter(environment: malformed), ProgressLine.defaultFirstAfter, malformed)
        }
    }
}
