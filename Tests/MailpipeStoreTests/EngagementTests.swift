import MailpipeCore
import MailpipeStore
import XCTest

/// The engagement kept on contacts: events in any order, the score's formula, the sunset rules.
final class EngagementTests: XCTestCase {
    func at(_ text: String) -> Timestamp { Timestamp(parsing: text)! }

    func testALateOpenAnswersOnlyTheSendsBeforeIt() {
        var e = Engagement()
        XCTAssertTrue(e.apply([(.sent, at("2026-11-01T09:00:00Z")), (.sent, at("2026-11-08T09:00:00Z")),
                               (.sent, at("2026-11-15T09:00:00Z"))], log: 100))
        XCTAssertEqual(e.unengagedSends, 3)
        // Imported after the third send: opened the first mail only.
        XCTAssertTrue(e.apply([(.opened, at("2026-11-02T10:00:00Z"))], log: 200))
        XCTAssertEqual(e.unengagedSends, 2)
        XCTAssertEqual(e.unansweredSends.count, 2)
        // The same batch again (an interrupted run replayed) changes nothing.
        XCTAssertFalse(e.apply([(.opened, at("2026-11-02T10:00:00Z"))], log: 200))
        XCTAssertEqual(e.opened, 1)
        // A send older than the last open is answered by it.
        e.record(.clicked, at: at("2026-11-16T10:00:00Z"))
        e.record(.sent, at: at("2026-11-16T09:00:00Z"))
        XCTAssertEqual(e.unengagedSends, 0)
        XCTAssertEqual(e.sent, 4)
        XCTAssertEqual(e.lastSentAt, at("2026-11-16T09:00:00Z"))
    }

    func testManyUnansweredSendsKeepTheirCountAndTheLatestTimes() {
        var e = Engagement()
        for d in 1...20 { e.record(.sent, at: Timestamp(seconds: Int64(d) * 86_400)) }
        XCTAssertEqual(e.unengagedSends, 20)
        XCTAssertEqual(e.unansweredSends.count, Engagement.keptSends)
        // Older than every kept send: how many of the forgotten ones it answered is unknown.
        e.record(.opened, at: Timestamp(seconds: 86_400 + 10))
        XCTAssertEqual(e.unengagedSends, 20)
        // After the 15th send: the five after it stay unanswered.
        e.record(.opened, at: Timestamp(seconds: 15 * 86_400 + 10))
        XCTAssertEqual(e.unengagedSends, 5)
        // The member round-trips.
        XCTAssertEqual(Engagement(e.json), e)
    }

    func testScoreFollowsTheDocumentedFormula() {
        let rules = EngagementRules(halfLifeDays: 30)
        var e = Engagement()
        XCTAssertNil(e.score(at: at("2026-11-20T00:00:00Z"), rules: rules), "nothing recorded: no score")
        e.record(.sent, at: at("2026-11-01T00:00:00Z"))
        e.record(.sent, at: at("2026-11-02T00:00:00Z"))
        XCTAssertEqual(e.score(at: at("2026-11-20T00:00:00Z"), rules: rules), 0, "sent, never engaged")
        e.record(.opened, at: at("2026-11-02T00:00:00Z"))
        // 30 days after the open: recency 0.5; frequency 1/2: 100 × (0.3 + 0.2).
        XCTAssertEqual(e.score(at: at("2026-12-02T00:00:00Z"), rules: rules), 50)
        e.record(.clicked, at: at("2026-12-02T00:00:00Z"))
        // Recency 1, frequency min(1, (1 + 2) / 2).
        XCTAssertEqual(e.score(at: at("2026-12-02T00:00:00Z"), rules: rules), 100)
        XCTAssertEqual(e.score(at: at("2026-12-02T00:00:00Z"), rules: EngagementRules(halfLifeDays: 1)), 100)
        XCTAssertEqual(e.score(at: at("2026-12-03T00:00:00Z"), rules: EngagementRules(halfLifeDays: 1)), 70)
    }

    func testSunsetRules() {
        let rules = EngagementRules(sunsetAfterSends: 3, sunsetAfterDays: 90)
        var e = Engagement()
        XCTAssertNil(e.sunset(at: at("2027-01-01T00:00:00Z"), rules: rules), "never sent: never sunset")
        for d in ["2026-11-01", "2026-11-08"] { e.record(.sent, at: at(d)) }
        XCTAssertNil(e.sunset(at: at("2026-11-09T00:00:00Z"), rules: rules))
        XCTAssertEqual(e.sunset(at: at("2026-11-09T00:00:00Z"), rules: EngagementRules(sunsetAfterSends: 2)), .sends(2))
        XCTAssertEqual(e.sunset(at: at("2027-01-30T00:00:00Z"), rules: rules), .days(90), "90 days after the first send")
        e.record(.opened, at: at("2026-11-09T00:00:00Z"))
        XCTAssertNil(e.sunset(at: at("2027-01-30T00:00:00Z"), rules: rules), "82 days after the open")
        XCTAssertNil(e.sunset(at: at("2030-01-01T00:00:00Z"), rules: EngagementRules()), "no rule set")
    }

    func testTenantConfigReadsTheSection() throws {
        let config = try TenantConfig.parse(Array(#"{"engagement":{"half_life_days":14,"sunset_after_sends":5}}"#.utf8), file: "t.json")
        XCTAssertEqual(config.engagement, EngagementRules(halfLifeDays: 14, sunsetAfterSends: 5))
        XCTAssertThrowsError(try TenantConfig.parse(Array(#"{"engagement":{"sunset_after_days":0}}"#.utf8), file: "t.json"))
        XCTAssertThrowsError(try TenantConfig.parse(Array(#"{"engagement":{"half_life":3}}"#.utf8), file: "t.json")) { error in
            XCTAssertTrue("\(error)".contains("half_life_days"), "\(error)")
        }
    }
}
