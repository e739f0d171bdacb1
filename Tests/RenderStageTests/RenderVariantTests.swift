import MailpipeCore
import MailpipeStore
import RenderStage
import XCTest

/// A/B variants: `<campaign>/<variant>/` replaces the campaign's template files one by one.
extension RenderStageTests {
    func testAVariantFolderReplacesFileByFile() throws {
        _ = makeTemplates()
        write("tpl/camp/b/en.subject", "[b] Hi {firstName|there}, a question\n")        // only the subject
        write("tpl/camp/c/fr.html", "<html><body><p>[c] Bonjour {firstName}</p></body></html>")
        write("tpl/camp/c/es.subject", "[c es] Hola {firstName}\n")                     // a template only c has
        write("tpl/camp/c/es.html", "<p>[c es] Hola</p>")
        write("tpl/camp/images/logo.png", "not a template")                               // not a variant
        let r = try run([
            contact("a@x.test", language: "en", category: nil, extra: #","variant":"b""#),
            contact("b@x.test", language: "en", category: nil, extra: #","variant":"a""#),   // no folder: the campaign's
            contact("c@x.test", language: "fr", category: nil, extra: #","variant":"c""#),
            contact("d@x.test", language: "es", category: nil, extra: #","variant":"c""#),
            contact("e@x.test", language: "es", category: nil, extra: #","variant":"b""#),   // b has no es: fallback en of b
            contact("f@x.test", language: "en", category: nil),
            contact("g@x.test", language: "en", category: nil, extra: #","variant":5"#),
        ])
        XCTAssertEqual(r.messages.count, 6)
        let by = Dictionary(uniqueKeysWithValues: r.messages.map { ($0["email"]!.string!, $0) })
        XCTAssertEqual(by["a@x.test"]?["subject"]?.string, "[b] Hi Ana, a question")
        XCTAssertTrue(by["a@x.test"]?["html"]?.string?.contains("[en] Dear Ana of ACME") == true, "b keeps the campaign's HTML")
        XCTAssertEqual(by["a@x.test"]?["variant"]?.string, "b")
        XCTAssertEqual(by["b@x.test"]?["subject"]?.string, "[en] Hello Ana")
        XCTAssertEqual(by["b@x.test"]?["variant"]?.string, "a", "the record says its variant even without a folder")
        XCTAssertEqual(by["c@x.test"]?["subject"]?.string, "[fr] Hello Ana")
        XCTAssertTrue(by["c@x.test"]?["html"]?.string?.contains("[c] Bonjour Ana") == true)
        XCTAssertEqual(by["d@x.test"]?["subject"]?.string, "[c es] Hola Ana")
        XCTAssertEqual(by["e@x.test"]?["subject"]?.string, "[b] Hi Ana, a question")
        XCTAssertNil(by["f@x.test"]?["variant"])
        XCTAssertEqual(r.rejects.count, 1)
        XCTAssertTrue(r.rejects[0].contains("invalid_variant"))
        let templates = Dictionary(uniqueKeysWithValues: r.summary.groups.first { $0.name == "templates" }!.counts)
        XCTAssertEqual(templates["b/en"], 2)
        XCTAssertEqual(templates["c/fr"], 1)
        XCTAssertEqual(templates["c/es"], 1)
        XCTAssertEqual(templates["en"], 2)
        let variants = Dictionary(uniqueKeysWithValues: r.summary.groups.first { $0.name == "variants" }!.counts)
        XCTAssertEqual(variants, ["a": 1, "b": 2, "c": 2])
    }

    func testAVariantFolderWithABadNameIsAConfigurationError() throws {
        _ = makeTemplates()
        write("tpl/camp/Var B/en.subject", "x\n")
        XCTAssertThrowsError(try run([contact("a@x.test", language: "en", category: nil)])) { error in
            XCTAssertTrue("\(error)".contains("variant folder"), "\(error)")
        }
    }

    func testSpamdReportIsRead() throws {
        // spamd 4.0's answer to REPORT, as it comes over the socket.
        let reply = "SPAMD/1.1 0 EX_OK\r\nContent-length: 1050\r\nSpam: True ; 8.8 / 5.0\r\n\r\n"
            + "Spam detection software, running on the system \"vm\",\nhas identified this incoming email as possible spam.\n\n"
            + "Content preview:  Click here to claim your FREE money! 100% guaranteed! Act\n  now! viagra cialis \n\n"
            + "Content analysis details:   (8.8 points, 5.0 required)\n\n"
            + " pts rule name              description\n"
            + "---- ---------------------- --------------------------------------------------\n"
            + "-0.0 NO_RECEIVED            Informational: message has no Received headers\n"
            + " 0.5 SUBJ_ALL_CAPS          Subject is all capitals\n"
            + " 2.7 GUARANTEED_100_PERCENT BODY: One hundred percent guaranteed\n"
            + " 1.0 HTML_MESSAGE           BODY: HTML included in message, and a description long\n"
            + "                            2.0 TIMES_WRAPPED onto a second line\n"
            + "\n"
        let report = try SpamCheck.parse(Array(reply.utf8), address: "test")
        XCTAssertEqual(report.score, 8.8)
        XCTAssertEqual(report.required, 5.0)
        XCTAssertEqual(report.rules.map(\.name), ["NO_RECEIVED", "SUBJ_ALL_CAPS", "GUARANTEED_100_PERCENT", "HTML_MESSAGE"])
        XCTAssertEqual(report.rules.map(\.points), [0, 0.5, 2.7, 1.0])
        XCTAssertEqual(report.rules[3].description, "BODY: HTML included in message, and a description long 2.0 TIMES_WRAPPED onto a second line")
        XCTAssertThrowsError(try SpamCheck.parse(Array("SPAMD/1.1 76 Bad header line: x\r\n\r\n".utf8), address: "test"))
        XCTAssertThrowsError(try SpamCheck.parse(Array("HTTP/1.1 200 OK\r\n\r\n".utf8), address: "test"))
        XCTAssertThrowsError(try SpamCheck.parse(Array("SPAMD/1.1 0 EX_OK\r\n\r\n".utf8), address: "test"), "no score")
    }
}
