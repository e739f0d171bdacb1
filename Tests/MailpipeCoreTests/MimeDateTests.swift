import MailpipeCore
import XCTest

/// RFC 5322 dates read back: what mailpipe writes, other zones, a two-digit year, and text that is
/// no date.
final class MimeDateTests: XCTestCase {
    func testDatesReadBack() {
        let t = Timestamp(parsing: "2026-11-23T09:05:07Z")!
        XCTAssertEqual(Mime.parseDate(Mime.rfc5322Date(t)), t)
        XCTAssertEqual(Mime.parseDate("Mon, 23 Nov 2026 11:05:07 +0200"), t)
        XCTAssertEqual(Mime.parseDate("23 nov 2026 04:05:07 -0500"), t)
        XCTAssertEqual(Mime.parseDate("Mon, 23 Nov 26 09:05:07 GMT"), t)
        XCTAssertEqual(Mime.parseDate("Mon, 23 Nov 2026 09:05 +0000"), Timestamp(parsing: "2026-11-23T09:05:00Z"))
        for bad in ["", "yesterday", "Mon, 32 Nov 2026 09:05:07 +0000", "23 Foo 2026 09:05:07", "23 Nov 2026 25:00:00", "23 Nov 2026 9"] {
            XCTAssertNil(Mime.parseDate(bad), bad)
        }
    }
}
