#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MailpipeCore
import XCTest

/// ZoneInfo against glibc's own reading of the same tz database, across zones with daylight
/// time in either hemisphere, half-hour and 45-minute offsets, and zones that changed rules;
/// instants from 1900 to 2100 (past the files' last transition, where the POSIX footer rule
/// decides).
final class ZoneInfoTests: XCTestCase {
    static let zones = ["Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/Sao_Paulo",
                        "Pacific/Chatham", "Africa/Casablanca", "America/St_Johns", "Europe/London", "Asia/Tokyo",
                        "Pacific/Apia", "Antarctica/Troll", "America/Santiago"]

    func glibcOffset(_ zone: String, _ t: Int64) -> Int64 {
        var time = time_t(t)
        var tm = tm()
        localtime_r(&time, &tm)
        return Int64(tm.tm_gmtoff)
    }

    func testOffsetsMatchGlibc() throws {
        let saved = getenv("TZ").map { String(cString: $0) }
        defer {
            if let saved { setenv("TZ", saved, 1) } else { unsetenv("TZ") }
            tzset()
        }
        for name in ZoneInfoTests.zones {
            guard FileManager.default.fileExists(atPath: "/usr/share/zoneinfo/\(name)") else {
                print("SKIP: \(name) is not in /usr/share/zoneinfo"); continue
            }
            let zone = try ZoneInfo.load(name)
            setenv("TZ", ":" + name, 1)
            tzset()
            var mismatches = 0
            // Every ~2.3 days from 1900 to 2100, and the hours around each transition glibc reports.
            var t: Int64 = -2_208_988_800
            while t < 4_102_444_800 {
                let want = glibcOffset(name, t)
                let got = zone.offset(at: Timestamp(seconds: t))
                if want != got {
                    mismatches += 1
                    if mismatches < 5 { XCTFail("\(name) at \(Timestamp(seconds: t)): glibc \(want), ZoneInfo \(got)") }
                }
                t += 200_003
            }
            XCTAssertEqual(mismatches, 0, name)
            // Around the 2031 and 2067 daylight-time switches (past most files' transitions), hour by hour.
            for year in [2031, 2067] {
                let start = Timestamp(parsing: "\(year)-01-01T00:00:00Z")!.seconds
                var h = start
                while h < start + 366 * 86_400 {
                    XCTAssertEqual(zone.offset(at: Timestamp(seconds: h)), glibcOffset(name, h), "\(name) \(Timestamp(seconds: h))")
                    h += 3600 * 7 + 1
                }
            }
        }
    }

    func testLocalDates() throws {
        let paris = try ZoneInfo.load("Europe/Paris")
        XCTAssertEqual(paris.date(Timestamp(parsing: "2026-11-23T22:59:59Z")!), "2026-11-23")
        XCTAssertEqual(paris.date(Timestamp(parsing: "2026-11-23T23:00:00Z")!), "2026-11-24")
        XCTAssertEqual(paris.date(Timestamp(parsing: "2026-07-01T21:59:59Z")!), "2026-07-01")
        XCTAssertEqual(paris.date(Timestamp(parsing: "2026-07-01T22:00:00Z")!), "2026-07-02")
        let la = try ZoneInfo.load("America/Los_Angeles")
        XCTAssertEqual(la.date(Timestamp(parsing: "2026-11-24T07:59:59Z")!), "2026-11-23")
        XCTAssertEqual(ZoneInfo.utc.date(Timestamp(parsing: "2026-11-23T23:59:59Z")!), "2026-11-23")
    }

    func testBadNames() {
        for name in ["../etc/passwd", "/etc/localtime", "", "Europe/Pariss", "Europe", "Europe/Paris\u{0}x"] {
            XCTAssertThrowsError(try ZoneInfo.load(name), name)
        }
        XCTAssertNoThrow(try ZoneInfo.load("UTC"))
    }

    func testPosixRules() throws {
        // A footer-only zone: offsets come from the rule alone.
        func header(types: Int) -> [UInt8] {
            var h = Array("TZif2".utf8) + [UInt8](repeating: 0, count: 15)
            for c in [0, 0, 0, 0, types, 4] { h += [0, 0, 0, UInt8(c)] }
            return h
        }
        var bytes = header(types: 1) + [0, 0, 0, 0, 0, 0] + Array("UTC\u{0}".utf8)
        bytes += header(types: 1) + [0, 0, 0, 0, 0, 0] + Array("UTC\u{0}".utf8)
        bytes += Array("\nCET-1CEST,M3.5.0,M10.5.0/3\n".utf8)
        let zone = try XCTUnwrap(ZoneInfo(name: "test", tzif: bytes))
        XCTAssertEqual(zone.offset(at: Timestamp(parsing: "2026-03-29T00:59:59Z")!), 3600)
        XCTAssertEqual(zone.offset(at: Timestamp(parsing: "2026-03-29T01:00:00Z")!), 7200)
        XCTAssertEqual(zone.offset(at: Timestamp(parsing: "2026-10-25T00:59:59Z")!), 7200)
        XCTAssertEqual(zone.offset(at: Timestamp(parsing: "2026-10-25T01:00:00Z")!), 3600)
        XCTAssertNil(ZoneInfo(name: "bad", tzif: Array("TZif".utf8)))
    }
}
