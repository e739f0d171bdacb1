import InjectStage
import MailpipeCore
import XCTest

/// `inject --window`: when a message outside the window may leave, in the zone it is judged in.
final class SendScheduleTests: XCTestCase {
    func t(_ s: String) -> Timestamp { Timestamp(parsing: s)! }

    func next(_ window: String, _ at: String, _ zone: String) throws -> String? {
        try SendWindow(parsing: window).nextOpening(after: t(at), zone: ZoneInfo.load(zone))?.rfc3339
    }

    func testOfficeHoursInParis() throws {
        // 2026-12-07 is a Monday; Paris is UTC+1 in winter.
        XCTAssertNil(try next("09:00-18:00", "2026-12-07T10:00:00Z", "Europe/Paris"))
        XCTAssertNil(try next("09:00-18:00", "2026-12-07T08:00:00Z", "Europe/Paris"), "the opening minute is inside")
        XCTAssertEqual(try next("09:00-18:00", "2026-12-07T07:30:00Z", "Europe/Paris"), "2026-12-07T08:00:00Z")
        XCTAssertEqual(try next("09:00-18:00", "2026-12-07T17:00:00Z", "Europe/Paris"), "2026-12-08T08:00:00Z", "the closing minute is outside")
        XCTAssertEqual(try next("09:00-18:00", "2026-12-07T23:30:00Z", "Europe/Paris"), "2026-12-08T08:00:00Z", "local Tuesday already")
        // The same instant in New York (UTC−5) is inside.
        XCTAssertNil(try next("09:00-18:00", "2026-12-07T17:00:00Z", "America/New_York"))
        XCTAssertEqual(try next("09:00-18:00", "2026-12-07T12:00:00Z", "Asia/Tokyo"), "2026-12-08T00:00:00Z")
    }

    func testWeekdaysSkipTheWeekend() throws {
        // Friday 18:30 in Paris → Monday 09:00.
        XCTAssertEqual(try next("mon-fri 09:00-18:00", "2026-12-11T17:30:00Z", "Europe/Paris"), "2026-12-14T08:00:00Z")
        XCTAssertEqual(try next("mon-fri 09:00-18:00", "2026-12-12T10:00:00Z", "Europe/Paris"), "2026-12-14T08:00:00Z")
        XCTAssertEqual(try next("sat,sun 10:00-12:30", "2026-12-07T10:00:00Z", "UTC"), "2026-12-12T10:00:00Z")
        XCTAssertNil(try next("sat,sun 10:00-12:30", "2026-12-13T12:29:00Z", "UTC"))
        // A range that wraps round the week.
        XCTAssertNil(try next("fri-mon 09:00-18:00", "2026-12-13T10:00:00Z", "UTC"))
        XCTAssertEqual(try next("fri-mon 09:00-18:00", "2026-12-08T10:00:00Z", "UTC"), "2026-12-11T09:00:00Z")
    }

    func testAWindowOverMidnightBelongsToTheDayItOpens() throws {
        XCTAssertNil(try next("22:00-06:00", "2026-12-07T23:00:00Z", "UTC"))
        XCTAssertNil(try next("22:00-06:00", "2026-12-08T05:59:00Z", "UTC"))
        XCTAssertEqual(try next("22:00-06:00", "2026-12-08T06:00:00Z", "UTC"), "2026-12-08T22:00:00Z")
        // Friday night's window reaches into Saturday morning, and no further.
        XCTAssertNil(try next("fri 22:00-06:00", "2026-12-12T03:00:00Z", "UTC"))
        XCTAssertEqual(try next("fri 22:00-06:00", "2026-12-12T23:00:00Z", "UTC"), "2026-12-18T22:00:00Z")
        XCTAssertEqual(try next("fri 22:00-06:00", "2026-12-11T03:00:00Z", "UTC"), "2026-12-11T22:00:00Z", "Friday morning is Thursday's")
    }

    func testTheOpeningAcrossAChangeOfOffset() throws {
        // Paris moves to UTC+2 at 01:00Z on Sunday 2027-03-28: Sunday's 09:00 is 07:00Z.
        XCTAssertEqual(try next("09:00-18:00", "2027-03-27T18:00:00Z", "Europe/Paris"), "2027-03-28T07:00:00Z")
        // …and back to UTC+1 on 2027-10-31.
        XCTAssertEqual(try next("09:00-18:00", "2027-10-30T18:00:00Z", "Europe/Paris"), "2027-10-31T08:00:00Z")
    }

    func testBadWindowsAreUsageErrors() {
        for bad in ["9-18", "09:00-09:00", "xyz 09:00-18:00", "25:00-26:00", "09:00", "mon-fri", "mon fri 09:00-18:00", "09:60-10:00"] {
            XCTAssertThrowsError(try SendWindow(parsing: bad), bad)
        }
        XCTAssertNoThrow(try SendWindow(parsing: "00:00-24:00"))
    }

    func testCountriesHaveTheirPrincipalZone() {
        XCTAssertEqual(CountryZones.zoneName(country: "FR"), "Europe/Paris")
        XCTAssertEqual(CountryZones.zoneName(country: "us"), "America/New_York")
        XCTAssertEqual(CountryZones.zoneName(country: "AU"), "Australia/Sydney")
        XCTAssertEqual(CountryZones.zoneName(country: "JP"), "Asia/Tokyo")
        XCTAssertNil(CountryZones.zoneName(country: "ZZ"))
        XCTAssertNil(CountryZones.zoneName(country: "FRA"))
        // Every zone a country maps to loads.
        for code in ["FR", "US", "BR", "RU", "CA", "IN", "CN", "MX", "DE", "UA"] {
            XCTAssertNoThrow(try ZoneInfo.load(CountryZones.zoneName(country: code)!), code)
        }
    }
}
