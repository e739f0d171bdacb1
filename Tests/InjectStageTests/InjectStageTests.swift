import InjectStage
import MailpipeCore
import MailpipeCurl
import MailpipeStore
import MailWizz
import XCTest

final class InjectStageTests: XCTestCase {
    func message(subject: String, text: String?, html: String?) throws -> String {
        let m = Mime.Message(from: "Équipe <a@b.test>", to: "c@d.test", subject: subject, date: Timestamp(seconds: 1_795_424_400),
                             messageID: "<x@b.test>", headers: [("List-Unsubscribe", "<mailto:u@b.test>")],
                             text: text, html: html, boundarySeed: 7)
        return String(decoding: try Mime.build(m), as: UTF8.self)
    }

    func testHeadersAreEncodedAndFolded() throws {
        let subject = "Привет, мир! " + String(repeating: "é", count: 80)
        let out = try message(subject: subject, text: "hi", html: nil)
        let lines = out.components(separatedBy: "\r\n")
        XCTAssertTrue(lines.allSatisfy { $0.utf8.count <= 78 }, "header lines folded")
        XCTAssertTrue(out.utf8.allSatisfy { $0 < 0x80 }, "7-bit message")
        let subjectLines = lines.drop { !$0.hasPrefix("Subject:") }.prefix { $0.hasPrefix("Subject:") || $0.hasPrefix(" ") }
        let value = String(subjectLines.joined(separator: "\r\n").dropFirst("Subject:".count))
        XCTAssertEqual(Mime.decodeHeaderValue(value).trimmingCharacters(in: .whitespaces), subject)
        XCTAssertTrue(out.contains("From: =?UTF-8?B?w4lxdWlwZQ==?= <a@b.test>\r\n"))
        XCTAssertTrue(out.contains("Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n"))
    }

    func testHeaderInjectionIsNeutralised() throws {
        let out = try message(subject: "a\r\nBcc: evil@x", text: "t", html: nil)
        XCTAssertFalse(out.contains("\r\nBcc:"))
    }

    func testMultipartAlternativeAndQuotedPrintable() throws {
        let long = String(repeating: "abcdefghij ", count: 20) + "é=\n.dot\n"
        let out = try message(subject: "s", text: long, html: "<p>Zoé</p>")
        XCTAssertTrue(out.contains("Content-Type: multipart/alternative;\r\n boundary=\"=_mailpipe_0000000000000007_alt\""))
        XCTAssertTrue(out.contains("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable"))
        // A "." starting a line is encoded, so no line of the message starts with one (no SMTP
        // dot-stuffing needed); a "." elsewhere is left alone.
        XCTAssertTrue(out.replacingOccurrences(of: "=\r\n", with: "").contains("=C3=A9=3D\r\n=2Edot\r\n"))
        XCTAssertFalse(out.contains("\n."))
        XCTAssertTrue(out.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 78 })
        XCTAssertTrue(out.hasSuffix("--=_mailpipe_0000000000000007_alt--\r\n"))
    }

    func testNoLineStartsWithADot() throws {
        // A "." that a soft line break would put first on a line is encoded too.
        for n in 70...80 {
            let text = String(repeating: "a", count: n) + "." + String(repeating: "b", count: 80) + "\n.x\n..\n"
            let out = try message(subject: "s", text: text, html: nil)
            XCTAssertFalse(out.contains("\n."), "n = \(n)")
        }
    }

    func testBase64ForMostlyNonLatinBodies() throws {
        let out = try message(subject: "s", text: String(repeating: "你好世界", count: 50), html: nil)
        XCTAssertTrue(out.contains("Content-Transfer-Encoding: base64"))
        XCTAssertThrowsError(try message(subject: "s", text: nil, html: ""))
    }

    func testFormBodyUsesPHPBracketsAndEncoding() {
        var form = FormBody()
        form.add("subscribers[0][EMAIL]", "a+b@x.test")
        form.add("subscribers[0][FNAME]", "Zoé Ann")
        XCTAssertEqual(String(decoding: form.bytes, as: UTF8.self),
                       "subscribers%5B0%5D%5BEMAIL%5D=a%2Bb%40x.test&subscribers%5B0%5D%5BFNAME%5D=Zo%C3%A9+Ann")
        XCTAssertEqual(form.count, 2)
        XCTAssertEqual(FormBody.queryValue("a+b c@x"), "a%2Bb%20c%40x")
    }

    func testVmtaPickerFollowsWeightsAndQuota() {
        var picker = VmtaPicker(entries: [.init(name: "a", weight: 3, week: 6, remaining: 100),
                                          .init(name: "b", weight: 1, week: 1, remaining: 2)])
        var counts: [String: Int] = [:]
        for _ in 0..<12 { counts[picker.pick()!, default: 0] += 1 }
        XCTAssertEqual(counts["b"], 2, "b stops at its quota")
        XCTAssertEqual(counts["a"], 10)
        var empty = VmtaPicker(entries: [.init(name: "a", weight: 1, week: 1, remaining: 1)])
        XCTAssertEqual(empty.pick(), "a")
        XCTAssertNil(empty.pick(), "quota spent")
        empty.giveBack("a")
        XCTAssertEqual(empty.pick(), "a")
    }

    func testBodyTemplate() throws {
        let t = try BodyTemplate(#"{"to": {{email}}, "n": {{contact.n}}, "x": {{missing}}}"#)
        let bytes = Array(#"{"email":"a\"b@x","contact":{"n":3}}"#.utf8)
        var parser = JSONParser()
        defer { parser.deallocate() }
        var out: [UInt8] = []
        try bytes.withUnsafeBytes { raw in
            let doc = try parser.parse(raw)
            t.render(doc.root, into: &out)
        }
        XCTAssertEqual(String(decoding: out, as: UTF8.self), #"{"to": "a\"b@x", "n": 3, "x": null}"#)
        XCTAssertThrowsError(try BodyTemplate("{{ unclosed"))
    }

    func testMessageIDIsStable() {
        let a = MessageID.make(tenant: "t", campaign: "c", email: "e@x", domain: "d.test")
        XCTAssertEqual(a, MessageID.make(tenant: "t", campaign: "c", email: " E@X ", domain: "d.test"), "the normalised address")
        XCTAssertNotEqual(a, MessageID.make(tenant: "t", campaign: "c2", email: "e@x", domain: "d.test"))
        XCTAssertNotEqual(a, MessageID.make(tenant: "t2", campaign: "c", email: "e@x", domain: "d.test"))
        XCTAssertTrue(a.hasPrefix("<") && a.hasSuffix("@d.test>") && a.count == 2 + 32 + 7, a)
    }

    func testCurlErrorIsTyped() {
        let easy = try! CurlEasy()
        try! easy.setURL("http://127.0.0.1:1/")
        XCTAssertThrowsError(try easy.perform()) { error in
            let e = error as! CurlError
            XCTAssertEqual(e.code, 7)
            XCTAssertTrue(e.isTransient)
        }
    }
}
