import MailpipeCore
import ServeStage
import XCTest

/// Which opens and clicks account serve marks `"machine": true` (MachineRules).
final class MachineRulesTests: XCTestCase {
    let person = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    let signed = Timestamp(seconds: 1_796_000_000)

    func judge(_ rules: MachineRules, agent: String?, address: String = "203.0.113.9", head: Bool = false, after: Int64 = 3600,
               monotonic: Double = 100, message: UInt64 = 1, url: UInt64? = 7) -> MachineReason? {
        rules.judge(MachineRules.Request(isHead: head, userAgent: agent, address: address, at: Timestamp(seconds: signed.seconds + after),
                                         monotonic: monotonic),
                    link: TrackingLinkFacts(message: message, urlHash: url, signedAt: signed))
    }

    func testUserAgentsAndAddresses() {
        let rules = MachineRules(machineSeconds: 10)
        XCTAssertNil(judge(rules, agent: person, message: 1))
        XCTAssertEqual(judge(rules, agent: nil, message: 2), .noUserAgent)
        XCTAssertEqual(judge(rules, agent: "  ", message: 3), .noUserAgent)
        XCTAssertEqual(judge(rules, agent: person, head: true, message: 4), .head)
        XCTAssertEqual(judge(rules, agent: "Mozilla/5.0", message: 5, url: nil), .privacyProxy, "Apple Mail Privacy Protection's agent")
        XCTAssertEqual(judge(rules, agent: person, address: "17.58.63.12", message: 6, url: nil), .privacyProxy, "Apple's network")
        XCTAssertEqual(judge(rules, agent: "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
                             message: 7, url: nil), .privacyProxy)
        XCTAssertEqual(judge(rules, agent: "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", message: 8), .privacyProxy)
        for scanner in ["Mozilla/5.0 (compatible; Barracuda Sentinel)", "python-requests/2.31", "curl/8.5.0", "Mozilla/5.0 HeadlessChrome/120",
                        "Mozilla/5.0 (compatible; bingbot/2.0)", "Proofpoint URL Defense"] {
            XCTAssertEqual(judge(rules, agent: scanner, message: 9), .scanner, scanner)
        }
        XCTAssertNil(judge(rules, agent: person, address: "170.1.2.3", message: 10), "only 17.0.0.0/8")
    }

    func testForwardedForOnlyFromThisHost() {
        XCTAssertEqual(MachineRules.clientAddress(peer: "127.0.0.1", forwardedFor: "198.51.100.1, 17.1.2.3"), "17.1.2.3")
        XCTAssertEqual(MachineRules.clientAddress(peer: "203.0.113.9", forwardedFor: "17.1.2.3"), "203.0.113.9", "a remote peer cannot claim another address")
        XCTAssertEqual(MachineRules.clientAddress(peer: "::1", forwardedFor: nil), "::1")
    }

    func testTiming() {
        let rules = MachineRules(machineSeconds: 10)
        XCTAssertEqual(judge(rules, agent: person, after: 3, message: 1), .tooSoon, "seconds after render signed it")
        XCTAssertEqual(judge(rules, agent: person, after: -60, message: 2), .tooSoon, "a link signed in the future")
        XCTAssertNil(judge(rules, agent: person, after: 10, message: 3))
        XCTAssertNil(judge(MachineRules(machineSeconds: 0), agent: person, after: 0, message: 4), "0 turns the rule off")
    }

    func testBurstOfLinks() {
        let rules = MachineRules(machineSeconds: 0)
        XCTAssertNil(judge(rules, agent: person, monotonic: 100, url: 1), "the first click")
        XCTAssertNil(judge(rules, agent: person, monotonic: 100.5, url: 1), "the same link again is no burst")
        XCTAssertEqual(judge(rules, agent: person, monotonic: 101, url: 2), .burst, "another link within 2 s")
        XCTAssertEqual(judge(rules, agent: person, monotonic: 101.2, url: 3), .burst)
        XCTAssertNil(judge(rules, agent: person, monotonic: 110, url: 4), "later: a person's")
        XCTAssertNil(judge(rules, agent: person, monotonic: 110.5, message: 2, url: 5), "another message is apart")
        XCTAssertNil(judge(rules, agent: person, monotonic: 110.6, url: nil), "opens are not clicks")
    }
}
