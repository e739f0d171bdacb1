import AccountStage
import MailpipeCore
import MailpipeStore
import MailpipeTestSupport
import XCTest

/// The health score: each check's level and points at its thresholds, the score and status
/// they make, "no data" without a score, and the figures taken from the report's books.
final class AccountHealthTests: AccountTestCase {
    typealias H = AccountHealth

    /// A tenant that sent 1,000 mails in the window, all delivered, nothing wrong.
    func healthy() -> H.Figures {
        var w = H.Window(first: "2026-11-17", last: "2026-11-23")
        (w.sends, w.delivered) = (1_000, 1_000)
        (w.bounceRate, w.complaintRate, w.unsubscribeRate) = (0, 0, 0.001)
        var p = H.Window(first: "2026-11-10", last: "2026-11-16")
        (p.sends, p.delivered, p.unsubscribeRate) = (1_000, 1_000, 0.001)
        var f = H.Figures(window: w, previous: p)
        (f.everSent, f.contacts, f.suppressed) = (5_000, 2_000, 20)
        return f
    }

    func reason(_ r: H.Result, _ check: H.Check) -> H.Reason { r.reasons.first { $0.check == check }! }

    func testHealthyScoresHundredWithEveryCheckListed() {
        let r = H.assess(healthy(), rules: .init())
        XCTAssertEqual(r.level, .ok)
        XCTAssertEqual(r.score, 100)
        XCTAssertEqual(r.reasons.map(\.check), H.Check.allCases)
        XCTAssertTrue(r.reasons.allSatisfy { $0.points == 0 && $0.level == .ok })
        XCTAssertEqual(r.level.exitCode, 0)
    }

    func testNothingSentIsOkWithoutScore() {
        var f = healthy()
        f.everSent = 0
        let r = H.assess(f, rules: .init())
        XCTAssertEqual(r.level, .ok)
        XCTAssertNil(r.score)
        XCTAssertTrue(r.noData)
        XCTAssertTrue(r.text.contains("no data"), r.text)
    }

    /// Bounce rate against a 1 % ceiling: up to 0.75 % ok, up to 1 % warn (15), over critical (40).
    func testBounceRateLevels() {
        for (rate, level, points) in [(0.0075, H.Level.ok, 0), (0.0076, .warn, 15), (0.01, .warn, 15), (0.0101, .critical, 40)] {
            var f = healthy()
            f.bounceCeiling = 0.01
            f.window.bounceRate = rate
            let r = H.assess(f, rules: .init())
            XCTAssertEqual(reason(r, .bounceRate).level, level, "\(rate)")
            XCTAssertEqual(reason(r, .bounceRate).points, points, "\(rate)")
            XCTAssertEqual(reason(r, .bounceRate).threshold, 0.01)
            XCTAssertEqual(r.score, 100 - points)
            XCTAssertEqual(r.level, level)
        }
    }

    /// Complaints: the tenant's ceiling (0.1 %) and Gmail's 0.3 % line, both taken.
    func testComplaintRateAndGmailLine() {
        var f = healthy()
        f.window.complaintRate = 0.002
        var r = H.assess(f, rules: .init())
        XCTAssertEqual(reason(r, .complaintRate).level, .critical)
        XCTAssertEqual(reason(r, .gmailSpamRate).level, .ok)
        XCTAssertEqual(r.score, 60)
        XCTAssertEqual(r.level.exitCode, 2)
        f.window.complaintRate = 0.003
        r = H.assess(f, rules: .init())
        XCTAssertEqual(reason(r, .gmailSpamRate).level, .critical)
        XCTAssertEqual(reason(r, .gmailSpamRate).points, 50)
        XCTAssertEqual(r.score, 10)
        // A tenant whose own ceiling is above Gmail's line is still held to Gmail's.
        f.complaintCeiling = 0.005
        r = H.assess(f, rules: .init())
        XCTAssertEqual(reason(r, .complaintRate).level, .ok)
        XCTAssertEqual(reason(r, .gmailSpamRate).level, .critical)
        XCTAssertEqual(r.level, .critical)
    }

    func testNoSendsInWindowIsNotScoredAsARate() {
        var f = healthy()
        f.window = H.Window(first: "2026-11-17", last: "2026-11-23")
        let r = H.assess(f, rules: .init())
        XCTAssertNil(reason(r, .bounceRate).figure)
        XCTAssertEqual(reason(r, .bounceRate).level, .ok)
        XCTAssertTrue(reason(r, .bounceRate).detail.contains("no sends"))
        XCTAssertEqual(r.score, 100)
    }

    func vmta(_ name: String, week: Int = 2, quota: Int = 200, ceiling: Double = 0.02, sentToday: Int = 10,
              yesterdaySent: Int = 100, yesterdayBounced: Int = 0) -> WarmupBook.VmtaDay {
        WarmupBook.VmtaDay(vmta: name, week: week, quota: quota, ceiling: ceiling, sentToday: sentToday, remaining: max(0, quota - sentToday),
                           started: "2026-11-01", yesterdaySent: yesterdaySent, yesterdayBounced: yesterdayBounced,
                           yesterdayRate: yesterdaySent > 0 ? Double(yesterdayBounced) / Double(yesterdaySent) : nil, action: nil)
    }

    /// The worst vmta decides: twice the week's ceiling critical, over it warn, over quota or
    /// stepped back warn.
    func testWarmupTakesTheWorstVmta() {
        var f = healthy()
        f.vmtas = [vmta("a", yesterdayBounced: 1), vmta("b", yesterdayBounced: 3)]
        var r = H.assess(f, rules: .init())
        XCTAssertEqual(reason(r, .warmup).level, .warn)
        XCTAssertEqual(reason(r, .warmup).vmta, "b")
        XCTAssertEqual(reason(r, .warmup).points, 10)
        f.vmtas.append(vmta("c", yesterdayBounced: 4))
        r = H.assess(f, rules: .init())
        XCTAssertEqual(reason(r, .warmup).level, .critical)
        XCTAssertEqual(reason(r, .warmup).vmta, "c")
        XCTAssertEqual(reason(r, .warmup).points, 25)
        f.vmtas = [vmta("a", quota: 50, sentToday: 60)]
        XCTAssertEqual(reason(H.assess(f, rules: .init()), .warmup).level, .warn)
        f.vmtas = [vmta("a")]
        XCTAssertEqual(reason(H.assess(f, rules: .init()), .warmup).level, .ok)
        f.steppedBack = ["a"]
        XCTAssertEqual(reason(H.assess(f, rules: .init()), .warmup).level, .warn)
        f.vmtas = []
        XCTAssertEqual(reason(H.assess(f, rules: .init()), .warmup).detail, "no vmta in the ledger")
    }

    func testHygieneShares() {
        var f = healthy()
        (f.contacts, f.bouncedContacts, f.unvalidatedContacts, f.suppressed) = (100, 6, 11, 26)
        var rules = TenantConfig.HealthRules()
        let r = H.assess(f, rules: rules)
        for check in [H.Check.bouncedShare, .unvalidatedShare, .suppressedShare] {
            XCTAssertEqual(reason(r, check).level, .warn, check.rawValue)
            XCTAssertEqual(reason(r, check).points, 5)
        }
        XCTAssertEqual(reason(r, .bouncedShare).figure, 0.06)
        XCTAssertEqual(r.score, 85)
        XCTAssertEqual(r.level, .warn)
        rules.bouncedShare = 0.1
        XCTAssertEqual(reason(H.assess(f, rules: rules), .bouncedShare).level, .ok)
    }

    /// Unsubscribes warn when over the floor and at least `unsubscribe_rise` times the previous window's.
    func testUnsubscribeTrend() {
        var f = healthy()
        f.window.unsubscribeRate = 0.008
        f.previous.unsubscribeRate = 0.005
        XCTAssertEqual(reason(H.assess(f, rules: .init()), .unsubscribeTrend).level, .ok, "over the floor, not doubled")
        f.previous.unsubscribeRate = 0.004
        XCTAssertEqual(reason(H.assess(f, rules: .init()), .unsubscribeTrend).level, .warn, "doubled")
        XCTAssertEqual(reason(H.assess(f, rules: .init()), .unsubscribeTrend).points, 10)
        f.previous.unsubscribeRate = nil
        XCTAssertEqual(reason(H.assess(f, rules: .init()), .unsubscribeTrend).level, .warn, "none before")
        f.window.unsubscribeRate = 0.004
        XCTAssertEqual(reason(H.assess(f, rules: .init()), .unsubscribeTrend).level, .ok, "under the floor")
    }

    func testScoreNeverBelowZero() {
        var f = healthy()
        f.window.bounceRate = 0.5
        f.window.complaintRate = 0.05
        f.vmtas = [vmta("a", yesterdayBounced: 50)]
        (f.contacts, f.bouncedContacts, f.unvalidatedContacts, f.suppressed) = (10, 5, 5, 5)
        f.window.unsubscribeRate = 0.1
        XCTAssertEqual(H.assess(f, rules: .init()).score, 0)
    }

    /// In-process on real books: the window's figures are the report's day rows, the no-data
    /// state before any send, and a torn event log is StateDamage, not a score.
    func testFiguresFromTheBooks() throws {
        try initTenant("h", #"{"timezone":"UTC","ceilings":{"complaint_rate":0.01}}"#)
        let s = slug("h")
        let none = try H.run(.init(tenant: s, state: state, now: now))
        XCTAssertTrue(none.noData)
        var lines: [String] = []
        for i in 0..<20 {
            lines.append(#"{"email":"c\#(i)@h.test","type":"sent","campaign":"w","at":"2026-11-20T08:00:00Z"}"#)
            lines.append(#"{"email":"c\#(i)@h.test","type":"delivered","campaign":"w","at":"2026-11-20T08:01:00Z"}"#)
        }
        lines.append(#"{"email":"c1@h.test","type":"complained","campaign":"w","at":"2026-11-21T08:00:00Z"}"#)
        // Outside the 7-day window (2026-11-17 … 23): counted by the report, not by the window.
        lines.append(#"{"email":"old@h.test","type":"sent","campaign":"v","at":"2026-11-01T08:00:00Z"}"#)
        lines.append(#"{"email":"old@h.test","type":"bounced","bounce_class":"hard","campaign":"v","at":"2026-11-01T08:01:00Z"}"#)
        _ = try AccountEvents.run(.init(tenant: s, state: state, now: now, stream: stream("account events", "ev.ndjson", lines)))
        let r = try H.run(.init(tenant: s, state: state, now: now))
        XCTAssertEqual(r.figures.window.first, "2026-11-17")
        XCTAssertEqual(r.figures.window.sends, 20)
        XCTAssertEqual(r.figures.window.bounced, 0)
        XCTAssertEqual(r.figures.window.complaintRate, 0.05)
        XCTAssertEqual(r.figures.everSent, 21)
        XCTAssertEqual(reason(r, .complaintRate).level, .critical)
        XCTAssertEqual(reason(r, .complaintRate).threshold, 0.01)
        XCTAssertEqual(r.level, .critical)
        let report = try AccountReport.build(.init(tenant: s, state: state, now: now))
        XCTAssertEqual(report.count(report.sum(from: "2026-11-17", to: "2026-11-23"), "complained"), r.figures.window.complained)
        // A torn tail: the report warns and counts the rest, the health refuses.
        let events = state.tenant(s).eventsPath
        let fd = try FileDescriptor.open(events, .writeOnly, options: [.append])
        try fd.writeAll([0x1F, 0x8B, 0x08, 0x00])
        fd.close()
        XCTAssertNoThrow(try AccountReport.build(.init(tenant: s, state: state, now: now)))
        XCTAssertThrowsError(try H.run(.init(tenant: s, state: state, now: now))) { error in
            XCTAssertTrue(error is StateDamage, "\(error)")
        }
    }
}
