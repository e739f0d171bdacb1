import MailpipeCore
import MailpipeStore
import RenderStage
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class RenderStageTests: XCTestCase {
    var dir = ""
    var counter = 0

    override func setUp() {
        var template = Array("/tmp/render-test-XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        setenv("TEST_UNSUB_SECRET", "s3cret-for-tests", 1)
    }

    override func tearDown() { _ = system("rm -rf '\(dir)'") }

    func write(_ path: String, _ text: String) {
        try! FileSystem.createDirectory(FileSystem.dirname(of: "\(dir)/\(path)"))
        try! FileSystem.writeAtomically("\(dir)/\(path)", Array(text.utf8))
    }

    /// Templates: fr, fr.avocat, en (fallback), en.avocat, ar; es has none.
    func makeTemplates() -> String {
        for id in ["fr", "fr.avocat", "en", "en.avocat", "ar", "de.notaire"] {
            write("tpl/camp/\(id).subject", "[\(id)] Hello {firstName|there}\n")
            write("tpl/camp/\(id).html", "<html><body><p>[\(id)] Dear {firstName|friend} of {company}</p><a href=\"{website}\">site</a></body></html>")
        }
        write("tpl/camp/en.txt", "[en text] {firstName} / {company} / {unsubscribe_url}\n")
        return RenderStage.campaignDirectory(root: "\(dir)/tpl", campaign: "camp")
    }

    func run(_ contacts: [String], strict: Bool = false, configure: (inout RenderStage.Options) -> Void = { _ in })
        throws -> (messages: [JSONValue], summary: Summary, status: ExitStatus, rejects: [String]) {
        counter += 1
        let input = "\(dir)/in-\(counter)"
        try FileSystem.writeAtomically(input, Array((contacts.joined(separator: "\n") + "\n").utf8))
        var options = RenderStage.Options(campaign: "camp", templatesDirectory: makeTemplates(), tenant: try TenantSlug("t1"),
                                          state: StateRoot(explicit: "\(dir)/state"),
                                          stream: StreamOptions(stage: "render", inputs: [input], rejectsPath: "\(dir)/rej-\(counter)", strict: strict),
                                          from: "Team <team@mail.example.org>", secretEnv: "TEST_UNSUB_SECRET")
        configure(&options)
        let out = "\(dir)/out-\(counter)"
        let fd = try FileDescriptor.open(out, .writeOnly, options: [.create, .truncate], permissions: 0o644)
        var sink = OutputSink(descriptor: fd)
        let (summary, status) = try RenderStage.run(options, output: &sink)
        fd.close()
        let lines = try FileSystem.readFile(out).split(separator: 0x0A).map { try JSONValue.parse(Array($0)) }
        let rejects = String(decoding: try FileSystem.readFile("\(dir)/rej-\(counter)"), as: UTF8.self).split(separator: "\n").map(String.init)
        return (lines, summary, status, rejects)
    }

    func contact(_ email: String, language: String?, category: String?, extra: String = "") -> String {
        var s = "{\"tenant\":\"t1\",\"email\":\"\(email)\",\"first_name\":\"Ana\",\"company\":\"ACME\",\"website\":\"https://acme.example\""
        if let language { s += ",\"language\":\"\(language)\"" }
        if let category { s += ",\"category\":\"\(category)\"" }
        return s + extra + "}"
    }

    func testFallbackOrderAllFourCases() throws {
        // (language, category) → template expected, covering: language + category, language,
        // fallback + category, fallback — in French, English, Arabic, Spanish, German, Chinese.
        let cases: [(String?, String?, String, String)] = [
            ("fr", "avocat", "fr.avocat", "fr"),    // 1. language + category
            ("fr", "expat", "fr", "fr"),            // 2. language
            ("fr", nil, "fr", "fr"),
            ("ar", "avocat", "ar", "ar"),           // 2. (Arabic has no category template)
            ("es", "avocat", "en.avocat", "en"),    // 3. fallback + category
            ("zh", "avocat", "en.avocat", "en"),
            ("de", "avocat", "en.avocat", "en"),
            ("de", "notaire", "de.notaire", "de"),  // 1. again, in German
            ("es", "expat", "en", "en"),            // 4. fallback
            ("zh", nil, "en", "en"),
            (nil, nil, "en", "en"),
            ("FR", "Avocat", "fr.avocat", "fr"),    // case-insensitive
        ]
        let contacts = cases.enumerated().map { contact("c\($0.offset)@x.org", language: $0.element.0, category: $0.element.1) }
        let (messages, summary, _, _) = try run(contacts)
        XCTAssertEqual(messages.count, cases.count)
        for (m, c) in zip(messages, cases) {
            XCTAssertEqual(m["template"]?.string, c.2, "\(c)")
            XCTAssertEqual(m["language"]?.string, c.3, "\(c)")
            XCTAssertTrue(m["subject"]!.string!.hasPrefix("[\(c.2)]"), "\(c)")
        }
        XCTAssertEqual(summary["out"], cases.count)
        // A tenant fallback other than en: Spanish contacts now get French.
        let (fr, _, _, _) = try run([contact("e@x.org", language: "es", category: "avocat")]) { $0.fallbackLanguage = "fr" }
        XCTAssertEqual(fr[0]["template"]?.string, "fr.avocat")
    }

    func testArabicIsRightToLeftAndTextKeepsLogicalOrder() throws {
        let (m, _, _, _) = try run([contact("a@x.org", language: "ar", category: nil, extra: ",\"last_name\":\"حداد\"")])
        let html = m[0]["html"]!.string!
        XCTAssertTrue(html.contains("<html lang=\"ar\" dir=\"rtl\">"), html)
        let (f, _, _, _) = try run([contact("f@x.org", language: "fr", category: nil)])
        XCTAssertTrue(f[0]["html"]!.string!.contains("<html lang=\"fr\">"))
        XCTAssertFalse(f[0]["html"]!.string!.contains("rtl"))
        // A template without <html> is wrapped.
        write("tpl2/camp/en.subject", "x")
        write("tpl2/camp/en.html", "<p>x</p>")
        write("tpl2/camp/ar.subject", "مرحبا {firstName}")
        write("tpl2/camp/ar.html", "<p>مرحبا {firstName}</p>")
        let (w, _, _, _) = try run([contact("w@x.org", language: "ar", category: nil)]) { $0.templatesDirectory = "\(self.dir)/tpl2/camp" }
        XCTAssertEqual(w[0]["html"]?.string, "<div dir=\"rtl\" lang=\"ar\"><p>مرحبا Ana</p></div>")
        XCTAssertEqual(w[0]["text"]?.string, "مرحبا Ana\n")
        XCTAssertFalse(w[0]["text"]!.string!.unicodeScalars.contains { (0x200E...0x202E).contains($0.value) }, "no direction marks in text")
    }

    func testVariablesEscapingAndDefaults() throws {
        let evil = contact("e@x.org", language: "fr", category: nil).replacingOccurrences(of: "\"ACME\"", with: "\"<b>A&B</b> \\\"Co\\\"\"")
            .replacingOccurrences(of: "\"Ana\"", with: "\"Ana\\nBcc: x@evil\"")
        let (m, _, _, _) = try run([evil])
        let html = m[0]["html"]!.string!
        XCTAssertTrue(html.contains("of &lt;b&gt;A&amp;B&lt;/b&gt; &quot;Co&quot;</p>"), html)
        XCTAssertTrue(html.contains("Dear Ana\nBcc: x@evil of"))
        XCTAssertEqual(m[0]["subject"]?.string, "[fr] Hello Ana Bcc: x@evil", "no line break in a subject")
        // The derived text part is not HTML-escaped.
        XCTAssertTrue(m[0]["text"]!.string!.contains("of <b>A&B</b> \"Co\""), m[0]["text"]!.string!)
        XCTAssertTrue(m[0]["text"]!.string!.contains("site (https://acme.example)"), m[0]["text"]!.string!)
        // Defaults, camelCase → snake_case, the written text part.
        let bare = "{\"tenant\":\"t1\",\"email\":\"b@x.org\",\"language\":\"en\"}"
        let (b, summary, _, _) = try run([bare])
        XCTAssertEqual(b[0]["subject"]?.string, "[en] Hello there")
        XCTAssertTrue(b[0]["html"]!.string!.contains("Dear friend of </p>"))
        XCTAssertTrue(b[0]["text"]!.string!.hasPrefix("[en text]  /  / https://"))
        XCTAssertEqual(summary["missing_variables"], 1)
        XCTAssertEqual(b[0]["contact"]?["email"]?.string, "b@x.org")
    }

    func testStrictRejectsMissingVariables() throws {
        let bare = "{\"tenant\":\"t1\",\"email\":\"b@x.org\",\"language\":\"fr\"}"
        let ok = contact("ok@x.org", language: "fr", category: nil)
        let (m, summary, status, rejects) = try run([bare, ok], strict: true)
        XCTAssertEqual(m.count, 1)
        XCTAssertEqual(m[0]["email"]?.string, "ok@x.org")
        XCTAssertEqual(status, .rejectsUnderStrict)
        XCTAssertEqual(summary["rejected"], 1)
        XCTAssertTrue(rejects[0].contains("missing_variable") && rejects[0].contains("{company}") && rejects[0].contains("\"line\":1"), rejects[0])
        let (n, _, s2, _) = try run([bare, ok], strict: false)
        XCTAssertEqual(n.count, 2)
        XCTAssertEqual(s2, .success)
    }

    func testHeaders() throws {
        let (m, _, _, _) = try run([contact("Jean.Dupont@X.org", language: "fr", category: nil), contact("other@x.org", language: "fr", category: nil)])
        let h = m[0]["headers"]!
        let token = UnsubscribeToken.make(secret: "s3cret-for-tests", tenant: "t1", email: "jean.dupont@x.org", campaign: "camp")
        XCTAssertEqual(token.count, 43)
        XCTAssertEqual(h["List-Unsubscribe"]?.string,
                       "<mailto:unsubscribe@mail.example.org?subject=unsubscribe%20\(token)%20camp%20jean.dupont%40x.org>, <https://mail.example.org/unsubscribe?t=t1&c=camp&e=jean.dupont%40x.org&s=\(token)>")
        XCTAssertEqual(h["List-Unsubscribe-Post"]?.string, "List-Unsubscribe=One-Click")
        XCTAssertEqual(h["X-Job"]?.string, "camp")
        let id = h["Message-ID"]!.string!
        XCTAssertTrue(id.hasPrefix("<") && id.hasSuffix("@mail.example.org>"), id)
        // The store's one rule: inject computes the same id for a record that carries none.
        XCTAssertEqual(id, MessageID.make(tenant: "t1", campaign: "camp", email: "Jean.Dupont@x.org", domain: "mail.example.org"))
        XCTAssertNotEqual(m[1]["headers"]?["Message-ID"], h["Message-ID"])
        XCTAssertNotEqual(m[1]["headers"]?["List-Unsubscribe"], h["List-Unsubscribe"])
        // Stable across runs; another secret gives other tokens but the same Message-ID.
        let (again, _, _, _) = try run([contact("jean.dupont@x.org", language: "fr", category: nil)])
        XCTAssertEqual(again[0]["headers"], h)
        setenv("OTHER_SECRET", "another", 1)
        let (other, _, _, _) = try run([contact("jean.dupont@x.org", language: "fr", category: nil)]) { $0.secretEnv = "OTHER_SECRET" }
        XCTAssertNotEqual(other[0]["headers"]?["List-Unsubscribe"], h["List-Unsubscribe"])
        XCTAssertEqual(other[0]["headers"]?["Message-ID"], h["Message-ID"])
        // The message record (docs/design.md §2).
        XCTAssertEqual(m[0].object!.keys, ["tenant", "email", "campaign", "template", "language", "subject", "html", "text", "headers", "from", "reply_to", "contact"])
        XCTAssertEqual(m[0]["from"]?.string, "Team <team@mail.example.org>")
        XCTAssertEqual(m[0]["reply_to"], .null)
    }

    func testMissingSecretAndFallbackTemplateAreConfigurationErrors() throws {
        XCTAssertThrowsError(try run([contact("a@x.org", language: "fr", category: nil)]) { $0.secretEnv = "NO_SUCH_VARIABLE_HERE" }) {
            XCTAssertEqual(($0 as? StageError)?.exitStatus, .usage)
            XCTAssertTrue("\($0)".contains("NO_SUCH_VARIABLE_HERE"))
        }
        XCTAssertThrowsError(try run([contact("a@x.org", language: "fr", category: nil)]) { $0.fallbackLanguage = "pt" }) {
            XCTAssertTrue("\($0)".contains("fallback language 'pt'"))
        }
    }

    func testRejectsOtherTenantAndMissingEmail() throws {
        let (m, _, _, rejects) = try run(["{\"tenant\":\"t2\",\"email\":\"a@x.org\"}", "{\"tenant\":\"t1\"}", contact("ok@x.org", language: "fr", category: nil)])
        XCTAssertEqual(m.count, 1)
        XCTAssertEqual(rejects.count, 2)
        XCTAssertTrue(rejects[0].contains("tenant_mismatch"))
        XCTAssertTrue(rejects[1].contains("missing_email"))
    }

    /// Render's fused escape (HTML entities, then JSON string escapes, in one pass) read back as
    /// a JSON string is HTMLEscape.text: the same entities, every other character kept; the
    /// plain JSON escape reads back as the text.
    func testFusedHTMLEscapeReadsBackAsHTMLEscapeText() throws {
        let alphabet = Array("aZ09 &<>\"'\\/\n\t\r\u{01}\u{1F}\u{7F}éü€中ع😀")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            let text = String((0..<Int.random(in: 0...24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            var out = ByteBuffer(capacity: 64)
            out.append(0x22)
            Array(text.utf8).withUnsafeBytes { JSONText.appendHTMLEscaped($0, into: &out) }
            out.append(0x22)
            let json = out.withUnsafeBytes { Data($0) }
            let read = try JSONSerialization.jsonObject(with: json, options: .fragmentsAllowed) as? String
            XCTAssertEqual(read, HTMLEscape.text(text), text.debugDescription)
            // The plain escape (Core's, as JSON strings everywhere) reads back as the text itself.
            var plain = ByteBuffer(capacity: 64)
            Array(text.utf8).withUnsafeBytes { plain.appendJSONString(utf8: $0) }
            let back = try JSONSerialization.jsonObject(with: plain.withUnsafeBytes { Data($0) }, options: .fragmentsAllowed) as? String
            XCTAssertEqual(back, text, text.debugDescription)
        }
        XCTAssertEqual(HTMLEscape.text("a&b<c>d\"e'f é"), "a&amp;b&lt;c&gt;d&quot;e&#39;f é")
    }
}
