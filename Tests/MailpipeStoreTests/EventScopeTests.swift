import MailpipeCore
import MailpipeStore
import XCTest

/// Whose is a row of a shared accounting file: vmta, then list, then campaign, then recipient.
final class EventScopeTests: XCTestCase {
    let scope = EventScope(vmtas: ["a1", "a2"], otherVmtas: ["b1"], lists: ["aa000001", "aa000002"], campaigns: ["camp-a"])

    func testTheFirstRuleThatCanTellDecides() {
        XCTAssertEqual(scope.verdict(vmta: "a1", list: "bb000001", campaign: "camp-b"), .ours(.vmta), "its vmta wins over another list")
        XCTAssertEqual(scope.verdict(vmta: "b1", list: "aa000001", campaign: "camp-a"), .other(.vmta), "another tenant's vmta wins over its campaign")
        XCTAssertEqual(scope.verdict(vmta: "zz", list: nil, campaign: "camp-a"), .other(.vmta), "a vmta it does not list")
        XCTAssertEqual(scope.verdict(vmta: nil, list: "bb000001", campaign: "camp-a"), .other(.list))
        XCTAssertEqual(scope.verdict(vmta: "", list: "aa000001", campaign: nil), .ours(.list))
        XCTAssertEqual(scope.verdict(vmta: nil, list: "aa000002", campaign: nil), .ours(.list), "a language list is the tenant's too")
        XCTAssertEqual(scope.verdict(vmta: nil, list: nil, campaign: "camp-a"), .ours(.campaign))
        XCTAssertNil(scope.verdict(vmta: nil, list: nil, campaign: "camp-b"), "an unknown campaign tells nothing")
        XCTAssertNil(scope.verdict(vmta: nil, list: nil, campaign: nil))
        XCTAssertEqual(EventScope.verdict(isContact: true), .ours(.contact))
        XCTAssertEqual(EventScope.verdict(isContact: false), .other(.contact))
    }

    func testATenantWithoutVmtasKnowsOnlyTheOthers() {
        let bare = EventScope(vmtas: [], otherVmtas: ["b1"], lists: [], campaigns: [])
        XCTAssertEqual(bare.verdict(vmta: "b1", list: nil, campaign: nil), .other(.vmta))
        XCTAssertNil(bare.verdict(vmta: "zz", list: "anything", campaign: "x"), "no vmta, no list of its own: the recipient tells")
    }
}
