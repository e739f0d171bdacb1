import MailpipeCore
import MailpipeStore
import ServeStage
import XCTest

/// Provider payloads → book events: types, bounce classes, ids from the provider's ids, what is
/// ignored, what cannot be read; every event is left to EventScope (`shared`).
final class WebhookEventsTests: XCTestCase {
    func events(_ r: Result<WebhookBatch, WebhookError>) -> WebhookBatch {
        guard case .success(let b) = r else { XCTFail("not parsed"); return WebhookBatch() }
        return b
    }

    func testSendGrid() {
        let body = #"""
        [{"email":"Ana@X.org","timestamp":1764000000,"event":"processed","sg_event_id":"p1"},
         {"email":"ana@x.org","timestamp":1764000001,"event":"delivered","sg_event_id":"d1","sg_message_id":"m1","campaign":"nov"},
         {"email":"bo@x.org","timestamp":1764000002,"event":"bounce","type":"bounce","status":"5.1.1","reason":"no such user","sg_event_id":"b1"},
         {"email":"cy@x.org","timestamp":1764000003,"event":"bounce","type":"blocked","status":"5.1.1","sg_event_id":"b2"},
         {"email":"di@x.org","timestamp":1764000004,"event":"bounce","bounce_classification":"Reputation","status":"5.7.1","sg_event_id":"b3"},
         {"email":"ed@x.org","timestamp":"1764000005","event":"spamreport","sg_event_id":"s1"},
         {"email":"fa@x.org","timestamp":1764000006,"event":"group_unsubscribe","sg_event_id":"u1"},
         {"email":"ga@x.org","timestamp":1764000007,"event":"click","url":"https://x.org/a","sg_event_id":"c1","category":"dec"},
         {"email":"","timestamp":1764000008,"event":"open","sg_event_id":"o1"}]
        """#
        let b = events(SendGridEvents.parse(Array(body.utf8)))
        XCTAssertEqual(b.events.map(\.type), ["delivered", "bounced", "bounced", "bounced", "complained", "unsubscribed", "clicked"])
        XCTAssertEqual(b.events.compactMap(\.bounceClass), ["hard", "policy", "policy"])
        XCTAssertEqual(b.ignored, ["processed": 1])
        XCTAssertEqual(b.problems, ["event 8: no email"])
        XCTAssertEqual(b.events[0].email, "ana@x.org")
        XCTAssertTrue(b.events.allSatisfy(\.shared), "an ESP account may serve several tenants")
        XCTAssertEqual(b.events[0].campaign, "nov")
        XCTAssertEqual(b.events[0].id, EventID.hash(["sendgrid", "d1"]))
        XCTAssertEqual(b.events[6].campaign, "dec")
        XCTAssertEqual(b.events[6].extra.first { $0.0 == "url" }?.1, .string("https://x.org/a"))
        if case .failure = SendGridEvents.parse(Array(#"{"event":"open"}"#.utf8)) {} else { XCTFail("an object is not a batch") }
    }

    func testPostmark() {
        func one(_ json: String) -> WebhookBatch { events(PostmarkEvents.parse(Array(json.utf8))) }
        let hard = one(#"{"RecordType":"Bounce","ID":4323372036854775807,"Type":"HardBounce","Email":"a@x.org","BouncedAt":"2026-11-23T09:00:00Z","Description":"gone","MessageID":"m","Tag":"nov"}"#)
        XCTAssertEqual(hard.events.first?.bounceClass, "hard")
        XCTAssertEqual(hard.events.first?.campaign, "nov")
        XCTAssertEqual(hard.events.first?.id, EventID.hash(["postmark", "Bounce", "4323372036854775807"]))
        XCTAssertEqual(one(#"{"RecordType":"Bounce","ID":1,"Type":"SoftBounce","Email":"a@x.org","BouncedAt":"2026-11-23T09:00:00Z"}"#).events.first?.bounceClass, "soft")
        XCTAssertEqual(one(#"{"RecordType":"SpamComplaint","ID":2,"Email":"a@x.org","BouncedAt":"2026-11-23T09:00:00Z"}"#).events.first?.type, "complained")
        XCTAssertEqual(one(#"{"RecordType":"Delivery","MessageID":"m","Recipient":"a@x.org","DeliveredAt":"2026-11-23T09:00:00Z"}"#).events.first?.type, "delivered")
        XCTAssertEqual(one(#"{"RecordType":"Open","MessageID":"m","Recipient":"a@x.org","ReceivedAt":"2026-11-23T09:00:00Z"}"#).events.first?.type, "opened")
        let click = one(#"{"RecordType":"Click","MessageID":"m","Recipient":"a@x.org","ReceivedAt":"2026-11-23T09:00:00Z","OriginalLink":"https://x.org/"}"#)
        XCTAssertEqual(click.events.first?.type, "clicked")
        let unsub = one(#"{"RecordType":"SubscriptionChange","Recipient":"a@x.org","ChangedAt":"2026-11-23T09:00:00Z","SuppressSending":true,"SuppressionReason":"ManualSuppression"}"#)
        XCTAssertEqual(unsub.events.first?.type, "unsubscribed")
        let back = one(#"{"RecordType":"SubscriptionChange","Recipient":"a@x.org","ChangedAt":"2026-11-23T09:00:00Z","SuppressSending":false}"#)
        XCTAssertTrue(back.events.isEmpty)
        XCTAssertEqual(back.ignored, ["SubscriptionChange.reactivated": 1])
        XCTAssertEqual(one(#"{"RecordType":"Delivery","MessageID":"m","DeliveredAt":"2026-11-23T09:00:00Z"}"#).problems, ["Delivery: no recipient"])
    }

    func testSES() throws {
        func parse(_ json: String) throws -> WebhookBatch { SESEvents.parse(try JSONValue.parse(json)) }
        let bounce = try parse(#"""
        {"notificationType":"Bounce","mail":{"messageId":"m1","timestamp":"2026-11-23T08:59:00.000Z","destination":["a@x.org","b@x.org"],
         "headers":[{"name":"X-Job","value":"nov"}]},
         "bounce":{"bounceType":"Permanent","bounceSubType":"General","feedbackId":"f1","timestamp":"2026-11-23T09:00:00.000Z",
          "bouncedRecipients":[{"emailAddress":"a@x.org","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"},
                               {"emailAddress":"b@x.org","status":"5.1.1"}]}}
        """#)
        XCTAssertEqual(bounce.events.map(\.email), ["a@x.org", "b@x.org"])
        XCTAssertEqual(bounce.events.map { $0.bounceClass ?? "" }, ["hard", "hard"])
        XCTAssertEqual(bounce.events[0].campaign, "nov")
        XCTAssertEqual(bounce.events[0].at, Timestamp(parsing: "2026-11-23T09:00:00Z"))
        XCTAssertEqual(bounce.events[0].id, EventID.hash(["ses", "Bounce", "f1", "a@x.org"]))
        let transient = try parse(#"{"notificationType":"Bounce","mail":{"messageId":"m2"},"bounce":{"bounceType":"Transient","bounceSubType":"MailboxFull","feedbackId":"f2","timestamp":"2026-11-23T09:00:00Z","bouncedRecipients":[{"emailAddress":"c@x.org","status":"5.2.2"}]}}"#)
        XCTAssertEqual(transient.events.first?.bounceClass, "policy")
        let complaint = try parse(#"{"eventType":"Complaint","mail":{"messageId":"m3","tags":{"campaign":["dec"]}},"complaint":{"feedbackId":"f3","timestamp":"2026-11-23T09:00:00Z","complainedRecipients":[{"emailAddress":"d@x.org"}]}}"#)
        XCTAssertEqual(complaint.events.first?.type, "complained")
        XCTAssertEqual(complaint.events.first?.campaign, "dec")
        let click = try parse(#"{"eventType":"Click","mail":{"messageId":"m4","destination":["e@x.org"]},"click":{"timestamp":"2026-11-23T09:00:00Z","link":"https://x.org/"}}"#)
        XCTAssertEqual(click.events.first?.type, "clicked")
        XCTAssertEqual(try parse(#"{"eventType":"Send","mail":{"messageId":"m5"}}"#).ignored, ["Send": 1])
    }
}
