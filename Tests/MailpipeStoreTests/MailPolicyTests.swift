import MailpipeCore
import MailpipeStore
import XCTest

/// The one answer to "may this address be mailed": statuses in their many spellings, unknown
/// statuses refused, the suppression list by hash.
final class MailPolicyTests: XCTestCase {
    func testStatusSpellings() {
        let refused: [(String, ContactStatus)] = [
            ("unsubscribed", .unsubscribed), ("Opted-Out", .unsubscribed), ("opt out", .unsubscribed), ("désabonné", .unsubscribed),
            ("blocklisted", .blacklisted), ("Block-Listed", .blacklisted), ("do not contact", .blacklisted), ("DNC", .blacklisted),
            ("spam", .complained), ("complaint", .complained), ("hard_bounce", .bounced), ("BOUNCED", .bounced), ("invalid", .invalid),
        ]
        for (text, status) in refused {
            XCTAssertEqual(ContactStatus(parsing: text), status, text)
            XCTAssertEqual(MailPolicy.decide(status: text), .refused(.status(status)), text)
        }
        for text in ["validated", "pending", "risky", "injected", "subscribed", "Confirmed", "", "new"] {
            XCTAssertEqual(MailPolicy.decide(status: text), .allowed, text)
        }
        XCTAssertEqual(MailPolicy.decide(status: "customer"), .refused(.unknownStatus("customer")))
        XCTAssertTrue(ContactStatus.isSticky("blocklisted"))
        XCTAssertFalse(ContactStatus.isSticky("invalid"))
    }

    func testSuppressionListByHash() {
        var list = SuppressionList()
        list.insert("  Ana@Example.ORG ")
        let policy = MailPolicy(suppression: list)
        XCTAssertEqual(policy.mayMail("ana@example.org"), .refused(.suppressed))
        XCTAssertEqual(policy.mayMail("ana@example.org", status: "unsubscribed"), .refused(.status(.unsubscribed)), "status first")
        XCTAssertEqual(policy.mayMail("ben@example.org"), .allowed)
    }

    func testBounceClassOfRefusals() {
        XCTAssertEqual(BounceClass.ofRefusal(code: 550, text: "550 5.1.1 <a@b>: Recipient address rejected: User unknown"), .hard)
        XCTAssertEqual(BounceClass.ofRefusal(code: 550, text: "550 5.7.1 refused for policy"), .policy)
        XCTAssertEqual(BounceClass.ofRefusal(code: 550, text: "550 mailbox unavailable"), .hard)
        XCTAssertEqual(BounceClass.ofRefusal(code: 552, text: "552 mailbox full"), .soft)
        XCTAssertEqual(BounceClass.ofRefusal(code: 554, text: "554 transaction failed"), .policy)
        XCTAssertEqual(BounceClass.ofRefusal(code: 422, text: "EMAIL: not valid"), .hard)
    }
}
