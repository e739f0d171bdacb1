import AccountStage
import MailpipeCore
import MailpipeStore
import MailpipeTestSupport
import XCTest

/// The account stage in-process: the store commands (commit) and the books (record, events,
/// suppress) on a tenant of a temporary folder.
class AccountTestCase: StageTestCase {
    var state: StateRoot { StateRoot(explicit: "\(dir)/state") }
    let now = Timestamp(parsing: "2026-11-23T10:00:00Z")!

    func slug(_ name: String) -> TenantSlug { try! TenantSlug(name) }

    /// A tenant with `config` as its tenant.json.
    func initTenant(_ name: String, _ config: String = "{}") throws {
        let path = write("\(name)-tenant.json", config)
        try AccountInit.run(.init(tenant: slug(name), state: state, configPath: path))
    }

    func stream(_ stage: String, _ name: String, _ lines: [String]) -> StreamOptions {
        let input = write(name, lines.joined(separator: "\n") + "\n")
        return StreamOptions(stage: stage, inputs: [input], rejectsPath: "\(dir)/\(name).rejects")
    }

    func rejects(_ name: String) -> [JSONValue] {
        let text = (try? FileSystem.readFile("\(dir)/\(name).rejects")) ?? []
        return String(decoding: text, as: UTF8.self).split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
    }

    func contacts(_ tenant: String) throws -> [String: JSONValue] {
        var all: [String: JSONValue] = [:]
        try TenantContacts.open(state.tenant(slug(tenant))).forEach { line in
            let v = try JSONValue.parse(Array(line))
            all[v["email"]!.string!] = v
        }
        return all
    }

    func commit(_ tenant: String, _ lines: [String], name: String = "commit.ndjson") throws -> Summary {
        try AccountCommit.run(.init(tenant: slug(tenant), state: state, now: now, stream: stream("account commit", name, lines))).0
    }
}

final class AccountStoreCommandTests: AccountTestCase {
    func testCommitMergesAndRefusesOtherTenants() throws {
        try initTenant("acme")
        var s = try commit("acme", [#"{"email":"A@x.example","first_name":"Ana"}"#, #"{"email":"b@x.example","tenant":"other"}"#,
                                    #"{"email":"c@x.example","tenant":7}"#, #"{"first_name":"no email"}"#])
        XCTAssertEqual([s["new"], s["rejected"]], [1, 3])
        XCTAssertEqual(rejects("commit.ndjson").map { $0["reason"]!.string! }, ["tenant_mismatch", "invalid_tenant", "missing_email"])
        XCTAssertEqual(rejects("commit.ndjson")[0]["detail"]?.string, "record of tenant 'other' given to --tenant acme")
        s = try commit("acme", [#"{"email":"a@x.example","last_name":"Lima","status":"unsubscribed"}"#, #"{"email":"a@x.example"}"#], name: "c2.ndjson")
        XCTAssertEqual([s["new"], s["updated"], s["unchanged"]], [0, 1, 1])
        s = try commit("acme", [#"{"email":"a@x.example","status":"validated"}"#], name: "c3.ndjson")
        let a = try contacts("acme")["a@x.example"]!
        XCTAssertEqual(a["status"]?.string, "unsubscribed", "a sticky status survives a re-import")
        XCTAssertEqual(a["first_name"]?.string, "Ana")
    }

    func testImportedDoNotContactStatusesAreSuppressed() throws {
        try initTenant("acme")
        let s = try commit("acme", [#"{"email":"a@x.example","status":"blocklisted"}"#, #"{"email":"b@x.example","status":"Opted-Out"}"#,
                                    #"{"email":"c@x.example","status":"validated"}"#, #"{"email":"d@x.example","status":"customer"}"#])
        XCTAssertEqual([s["new"], s["suppressed"]], [4, 2])
        let policy = try MailPolicy.load(state.tenant(slug("acme")))
        XCTAssertEqual(policy.mayMail("a@x.example"), .refused(.suppressed))
        XCTAssertEqual(policy.mayMail("b@x.example"), .refused(.suppressed))
        XCTAssertEqual(policy.mayMail("c@x.example"), .allowed)
        XCTAssertEqual(policy.mayMail("d@x.example", status: "customer"), .refused(.unknownStatus("customer")))
    }

    func testEveryRejectReasonIsDistinct() {
        let codes = RejectReason.allCases.map(\.rawValue)
        XCTAssertEqual(Set(codes).count, codes.count)
        XCTAssertTrue(codes.allSatisfy { $0.allSatisfy { $0 == "_" || $0.isLowercase || $0.isNumber } })
    }
}

final class AccountBooksTests: AccountTestCase {
    func record(_ tenant: String, _ lines: [String], name: String = "outcomes.ndjson") throws -> Summary {
        try AccountRecord.run(.init(tenant: slug(tenant), state: state, now: now, stream: stream("account record", name, lines))).0
    }

    func events(_ tenant: String, _ lines: [String], name: String = "events.ndjson") throws -> Summary {
        try AccountEvents.run(.init(tenant: slug(tenant), state: state, now: now, stream: stream("account events", name, lines))).0
    }

    func testRecordCountsOnceAndRefusesOtherTenants() throws {
        try initTenant("acme")
        _ = try commit("acme", [#"{"email":"a@x.example"}"#])
        let sent = #"{"tenant":"acme","email":"a@x.example","campaign":"nov","channel":"smtp","outcome":"sent","vmta":"m1","at":"2026-11-23T09:00:00Z"}"#
        var s = try record("acme", [sent, #"{"tenant":"beta","email":"b@x.example","outcome":"sent"}"#])
        XCTAssertEqual([s["sent"], s["rejected"]], [1, 1])
        XCTAssertEqual(rejects("outcomes.ndjson").first?["reason"]?.string, "tenant_mismatch")
        s = try record("acme", [sent], name: "again.ndjson")
        XCTAssertEqual([s["sent"], s["duplicates"]], [0, 1])
        XCTAssertEqual(try contacts("acme")["a@x.example"]?["status"]?.string, "injected")
    }

    func testHardBounceSuppresses() throws {
        try initTenant("acme")
        _ = try commit("acme", [#"{"email":"a@x.example","status":"validated"}"#])
        let s = try events("acme", [#"{"email":"a@x.example","type":"bounced","bounce_class":"hard","at":"2026-11-23T09:00:00Z"}"#,
                                    #"{"email":"z@x.example","type":"exploded","at":"2026-11-23T09:00:00Z"}"#])
        XCTAssertEqual([s["new"], s["suppressed"], s["rejected"]], [1, 1, 1])
        XCTAssertEqual(rejects("events.ndjson").first?["reason"]?.string, "invalid_type")
        XCTAssertEqual(try contacts("acme")["a@x.example"]?["status"]?.string, "bounced")
    }
}
