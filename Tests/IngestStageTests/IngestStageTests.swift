#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IngestStage
import MailpipeCore
import MailpipeStore
import XCTest

/// Runs `ingest` in-process over files written to a scratch folder (shared by the ingest tests).
class IngestTestCase: XCTestCase {
    var dir = ""

    override func setUp() {
        var template = Array("/tmp/ingest-test-XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    override func tearDown() { _ = system("rm -rf '\(dir)'") }

    struct Result {
        var contacts: [JSONValue]
        var rejects: [JSONValue]
        var stats: JSONValue
        var status: ExitStatus
    }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let path = "\(dir)/\(name)"
        let fd = try! FileDescriptor.open(path, .writeOnly, options: [.create, .truncate], permissions: 0o644)
        try! fd.writeAll(bytes)
        fd.close()
        return path
    }

    func write(_ name: String, _ text: String) -> String { write(name, Array(text.utf8)) }

    func lines(_ path: String) -> [JSONValue] {
        let bytes = (try? FileSystem.readFile(path)) ?? []
        return bytes.split(separator: 0x0A).map { try! JSONValue.parse(Array($0)) }
    }

    func ingest(_ inputs: [String], tenant: String? = "sos-expat", format: IngestFormat = .auto, encoding: TextEncoding? = nil,
                maps: [String] = [], delimiter: UInt8? = nil, state: String? = nil) throws -> Result {
        let out = "\(dir)/out.ndjson", rej = "\(dir)/rejects.ndjson", stats = "\(dir)/stats.json"
        let options = IngestStage.Options(
            tenant: try tenant.map(TenantSlug.init), state: StateRoot(explicit: state ?? "\(dir)/state"), source: nil,
            now: Timestamp(parsing: "2026-11-23T09:00:00Z")!, format: format, delimiter: delimiter, encoding: encoding,
            mappings: try maps.flatMap(IngestStage.parseMappings),
            stream: StreamOptions(stage: "ingest", inputs: inputs, rejectsPath: rej, statsPath: stats))
        let fd = try FileDescriptor.open(out, .writeOnly, options: [.create, .truncate], permissions: 0o644)
        var sink = OutputSink(descriptor: fd)
        let (summary, status) = try IngestStage.run(options, output: &sink)
        fd.close()
        try summary.report(statsPath: stats)
        return Result(contacts: lines(out), rejects: lines(rej), stats: try JSONValue.parse(try FileSystem.readFile(stats)), status: status)
    }

}

final class IngestStageTests: IngestTestCase {
    // MARK: CSV edge cases

    func testBOMQuotedDelimitersDoubledQuotesNewlinesCRLFAndBlankLines() throws {
        let csv = "\u{FEFF}email,first_name,company,notes\r\n"
            + "a@example.com,Ann,\"Acme, Inc.\",\"she said \"\"hi\"\"\"\r\n"
            + "\r\n"
            + "b@example.com,Bob,\"Multi\r\nLine Co\",x\r\n"
            + "   \r\n"
            + "c@example.com,Cy,,\"\"\r\n"
        let r = try ingest([write("a.csv", csv)])
        XCTAssertEqual(r.contacts.count, 3)
        XCTAssertEqual(r.contacts[0]["email"], .string("a@example.com"), "the BOM must not stick to the first header")
        XCTAssertEqual(r.contacts[0]["company"], .string("Acme, Inc."))
        XCTAssertEqual(r.contacts[0]["custom"]?["notes"], .string("she said \"hi\""))
        XCTAssertEqual(r.contacts[1]["company"], .string("Multi\nLine Co"))
        XCTAssertNil(r.contacts[2]["company"])
        XCTAssertEqual(r.rejects.count, 0)
        XCTAssertEqual(r.stats["blank_lines"]?.int, 2)
        XCTAssertEqual(r.stats["in"]?.int, 3)
    }

    func testDelimitersAreSniffedAndOverridable() throws {
        let semi = try ingest([write("s.csv", "email;first_name;city\nx@y.fr;Zoé;Lyon, Rhône\n")])
        XCTAssertEqual(semi.contacts.first?["city"], .string("Lyon, Rhône"))
        let tab = try ingest([write("t.txt", "email\tfirst_name\nx@y.fr\tZoé\n")], format: .csv)
        XCTAssertEqual(tab.contacts.first?["first_name"], .string("Zoé"))
        let tsv = try ingest([write("t.tsv", "email\tfirst_name\nx@y.fr\tZoé\n")])
        XCTAssertEqual(tsv.contacts.first?["first_name"], .string("Zoé"))
        let forced = try ingest([write("f.csv", "email|first_name\nx@y.fr|Zoé\n")], delimiter: UInt8(ascii: "|"))
        XCTAssertEqual(forced.contacts.first?["first_name"], .string("Zoé"))
    }

    func testRaggedRowsAreRejectedWithTheirLineAndTheRestGoesOn() throws {
        let csv = "email,first_name,last_name\na@x.com,A,B\nb@x.com,only-two\n\"c@x.com\",\"multi\nline\",C\nd@x.com,D,E,extra\ne@x.com,E,F\n"
        let r = try ingest([write("r.csv", csv)])
        XCTAssertEqual(r.contacts.map { $0["email"]?.string ?? "" }, ["a@x.com", "c@x.com", "e@x.com"])
        XCTAssertEqual(r.rejects.map { $0["reason"]?.string ?? "" }, ["ragged_row", "ragged_row"])
        XCTAssertEqual(r.rejects.map { $0["line"]?.int ?? 0 }, [3, 6], "line numbers count physical lines, multi-line fields included")
        XCTAssertEqual(r.rejects[0]["raw"], .string("b@x.com,only-two"))
    }

    func testRejectsCarryLineNumbersAndReasons() throws {
        let csv = "email,first_name\n\n,NoMail\nnot an email,Bad\nok@x.com,Fine\n\"open@x.com,never closed\n"
        let r = try ingest([write("l.csv", csv)])
        XCTAssertEqual(r.contacts.count, 1)
        let got = r.rejects.map { "\($0["reason"]!.string!)@\($0["line"]!.int!)" }
        XCTAssertEqual(got, ["missing_email@3", "invalid_email@4", "unterminated_quote@6"])
        XCTAssertEqual(r.stats["rejected"]?.int, 3)
        XCTAssertEqual(r.stats["reject_reasons"]?["invalid_email"]?.int, 1)
    }

    func testBinaryGarbageAndBadUTF8AreRejected() throws {
        var bytes = Array("email,first_name\nok@x.com,A\n".utf8)
        bytes += [0x62, 0x40, 0x78, 0x2E, 0x63, 0x6F, 0x6D, 0x2C, 0x00, 0x01, 0x02, 0x0A]  // b@x.com,\0\1\2
        bytes += Array("c@x.com,Ren".utf8) + [0xE9, 0x0A]  // Latin-1 é in a UTF-8 file
        let path = write("b.csv", bytes)
        let r = try ingest([path], encoding: .utf8)
        XCTAssertEqual(r.contacts.count, 1)
        XCTAssertEqual(r.rejects.map { $0["reason"]?.string ?? "" }, ["binary_data", "invalid_utf8"])
        XCTAssertEqual(r.rejects.map { $0["line"]?.int ?? 0 }, [3, 4])
        // Without --encoding, a file whose head is not UTF-8 is read as Windows-1252.
        let auto = try ingest([path])
        XCTAssertEqual(auto.contacts.map { $0["first_name"]?.string ?? "" }, ["A", "René"])
        XCTAssertEqual(auto.rejects.map { $0["reason"]?.string ?? "" }, ["binary_data"])
        XCTAssertEqual(auto.stats["detected"]?.array?.first?["encoding"], .string("cp1252"))
        // A UTF-8 file (its first 64 KiB are) with a row that is not: that row is read as
        // Windows-1252 and counted.
        var long = Array("email,first_name\n".utf8)
        for i in 0..<5000 { long += Array("row\(i)@x.com,Zoë\n".utf8) }
        long += Array("late@x.com,Ren".utf8) + [0xE9, 0x0A]
        let late = try ingest([write("late.csv", long)])
        XCTAssertEqual(late.contacts.last?["first_name"], .string("René"))
        XCTAssertEqual(late.contacts.count, 5001)
        XCTAssertEqual(late.stats["rows_read_as_cp1252"]?.int, 1)
        XCTAssertEqual(late.stats["detected"]?.array?.first?["encoding"], .string("utf-8"))
    }

    // MARK: encodings

    func testLatin1AndCP1252() throws {
        // "Renée;Zoë" in Latin-1, and cp1252's curly quote (0x92) and euro (0x80).
        var bytes = Array("email;first_name;company\n".utf8)
        bytes += Array("r@x.fr;Ren".utf8) + [0xE9, 0x65] + Array(";O".utf8) + [0x92] + Array("Neil ".utf8) + [0x80, 0x0A]
        let path = write("excel.csv", bytes)
        let cp = try ingest([path], encoding: .cp1252)
        XCTAssertEqual(cp.contacts.first?["first_name"], .string("Renée"))
        XCTAssertEqual(cp.contacts.first?["company"], .string("O\u{2019}Neil €"))
        let latin = try ingest([path], encoding: .latin1)
        XCTAssertEqual(latin.contacts.first?["first_name"], .string("Renée"))
        // Read as strict UTF-8, nothing of it is usable: an error that names the way out.
        XCTAssertThrowsError(try ingest([path], encoding: .utf8)) { error in
            XCTAssertTrue("\(error)".contains("not UTF-8: give --encoding latin1 or cp1252"), "\(error)")
        }
        XCTAssertEqual(lines("\(dir)/rejects.ndjson").first?["reason"], .string("invalid_utf8"))
        // Not given: the file is not UTF-8, so it is read as Windows-1252, and the stats say so.
        let auto = try ingest([path])
        XCTAssertEqual(auto.contacts.first?["company"], .string("O\u{2019}Neil €"))
        XCTAssertEqual(auto.stats["detected"]?.array?.first?["encoding"], .string("cp1252"))
    }

    // MARK: aliases

    func testHeaderAliasesInSeveralLanguages() throws {
        let headers: [(String, String)] = [
            ("E-mail Address,First Name,Last Name,Company", "en"),
            ("Courriel,Prénom,Nom,Société", "fr"),
            ("Correo electrónico,Nombre,Apellidos,Empresa", "es"),
            ("E-Mail-Adresse,Vorname,Nachname,Firma", "de"),
            ("Электронная почта,Имя,Фамилия,Компания", "ru"),
            ("邮箱,名,姓,公司", "zh"),
            ("البريد الإلكتروني,الاسم الأول,اسم العائلة,الشركة", "ar"),
            ("mail,FNAME,LNAME,organization", "mailchimp"),
        ]
        for (header, label) in headers {
            let r = try ingest([write("\(label).csv", header + "\nx@y.com,Ann,Lee,Acme\n")])
            XCTAssertEqual(r.contacts.first?["email"], .string("x@y.com"), label)
            XCTAssertEqual(r.contacts.first?["first_name"], .string("Ann"), label)
            XCTAssertEqual(r.contacts.first?["last_name"], .string("Lee"), label)
            XCTAssertEqual(r.contacts.first?["company"], .string("Acme"), label)
            XCTAssertNil(r.contacts.first?["custom"], label)
        }
    }

    func testMapOverridesAndUnknownColumnsGoUnderCustom() throws {
        let csv = "Adresse,Contact Name,Score,Remarks,Secret\nx@y.com,Jean Dupont,42,hello,zzz\n"
        let r = try ingest([write("m.csv", csv)], maps: ["Adresse=email", "Contact Name=full_name", "Score=custom.lead_score", "secret=ignore"])
        let c = try XCTUnwrap(r.contacts.first)
        XCTAssertEqual(c["email"], .string("x@y.com"))
        XCTAssertEqual(c["first_name"], .string("Jean"))
        XCTAssertEqual(c["last_name"], .string("Dupont"))
        XCTAssertEqual(c["custom"]?["lead_score"], .string("42"))
        XCTAssertEqual(c["custom"]?["Remarks"], .string("hello"))
        XCTAssertNil(c["custom"]?["Secret"])
        XCTAssertThrowsError(try IngestStage.parseMapping("Col=no_such_field"))
    }

    // MARK: normalisation

    func testNormalisation() throws {
        let csv = """
        email,language,country,website,tags,phone
        " Jean <JEAN.Dupont@Example.FR> ",Français,France,WWW.Example.COM/Path,"Expatrié, Avocat;移民|эмиграция",+33 6 12 34 56 78
        mailto:b@x.org,fr-FR,fra,http://X.org,lang-fr,0033 6 12 34 56 78
        c@x.org,Deutsch,Deutschland,,,
        d@x.org,中文,中国,,,
        e@x.org,Klingon,Atlantis,,!!!,
        f@x.org,FR,uk,,,

        """
        let r = try ingest([write("n.csv", csv)])
        XCTAssertEqual(r.contacts.count, 6)
        let a = r.contacts[0]
        XCTAssertEqual(a["email"], .string("jean.dupont@example.fr"))
        XCTAssertEqual(a["language"], .string("fr"))
        XCTAssertEqual(a["country"], .string("FR"))
        XCTAssertEqual(a["website"], .string("https://www.example.com/Path"))
        XCTAssertEqual(a["tags"], .array([.string("expatrie"), .string("avocat"), .string("移民"), .string("эмиграция")]))
        XCTAssertEqual(a["phone"], .string("+33612345678"))
        XCTAssertEqual(a["tenant"], .string("sos-expat"))
        XCTAssertEqual(a["created_at"], .string("2026-11-23T09:00:00Z"))
        XCTAssertEqual(a["source"], .string("n"))
        XCTAssertEqual(r.contacts[1]["email"], .string("b@x.org"))
        XCTAssertEqual(r.contacts[1]["language"], .string("fr"))
        XCTAssertEqual(r.contacts[1]["country"], .string("FR"))
        XCTAssertEqual(r.contacts[1]["website"], .string("http://x.org"))
        XCTAssertEqual(r.contacts[1]["phone"], .string("+33612345678"))
        XCTAssertEqual(r.contacts[2]["language"], .string("de"))
        XCTAssertEqual(r.contacts[2]["country"], .string("DE"))
        XCTAssertEqual(r.contacts[3]["language"], .string("zh"))
        XCTAssertEqual(r.contacts[3]["country"], .string("CN"))
        XCTAssertEqual(r.contacts[4]["language"], .string("en"), "unknown languages fall back")
        XCTAssertEqual(r.contacts[4]["language_raw"], .string("Klingon"))
        XCTAssertEqual(r.contacts[4]["country_raw"], .string("Atlantis"))
        XCTAssertNil(r.contacts[4]["tags"])
        XCTAssertEqual(r.stats["tags_unusable"]?.int, 1, "a tag that slugs to nothing is reported")
        XCTAssertEqual(r.stats["unusable_tags"]?["!!!"]?.int, 1)
        XCTAssertEqual(r.contacts[5]["country"], .string("GB"))
        XCTAssertEqual(Normalize.email("Ann <ÉLODIE@Exemple.FR>"), "élodie@exemple.fr")
        XCTAssertEqual(Normalize.email("E\u{301}lodie@x.fr"), "élodie@x.fr", "NFC")
        XCTAssertNil(Normalize.email("two@at@x.fr"))
    }

    /// Rows are judged NFC as a whole; a quoted value joined from pieces is judged on its own,
    /// so marks that meet only once the quotes are gone are still put in canonical order.
    func testNFCOfRowsAndOfJoinedQuotedValues() throws {
        let csv = "email,first_name,company\n"
            + "a@b.org,\"\u{627}\u{651}\"\u{64E},x\n"        // shadda (33) then fatha (30), joined
            + "c@d.org,\u{627}\u{651}\u{64E},\"e\"\"\u{301}\"\n"  // out of order in the row; e + "" + acute
            + "e@f.org,प्रिया,Zoé\n"
        let r = try ingest([write("nfc.csv", csv)])
        XCTAssertEqual(r.contacts.count, 3)
        let names = r.contacts.map { Array(($0["first_name"]?.string ?? "").unicodeScalars).map(\.value) }
        XCTAssertEqual(names[0], [0x627, 0x64E, 0x651])
        XCTAssertEqual(names[1], [0x627, 0x64E, 0x651])
        XCTAssertEqual(r.contacts[1]["company"]?.string.map { Array($0.unicodeScalars).map(\.value) }, [0x65, 0x22, 0x301])
        XCTAssertEqual(r.contacts[2]["first_name"], .string("प्रिया"))
    }

    func testTenantFallbackLanguageComesFromTenantJSON() throws {
        let state = "\(dir)/state"
        try FileSystem.createDirectory(state)
        try FileSystem.createDirectory("\(state)/ulixai")
        _ = write("state/ulixai/tenant.json", #"{"slug":"ulixai","fallback_language":"fr"}"#)
        let r = try ingest([write("f.csv", "email,language\na@x.com,Klingon\nb@x.com,\n")], tenant: "ulixai", state: state)
        XCTAssertEqual(r.contacts.map { $0["language"]?.string ?? "" }, ["fr", ""], "a missing language stays missing")
        XCTAssertEqual(r.contacts[0]["language_raw"], .string("Klingon"))
    }

    // MARK: JSON

    func testEnvelopeArrayAndNDJSON() throws {
        let envelope = """
        {
          "tenant_id": "sos-expat",
          "data_source_id": "seed-1",
          "contacts": [
            {"email": "A@X.com", "firstName": "Ann", "tags": ["VIP", "Expatrié"], "extra": {"k": [1, 2]}},
            {"email": "",
             "firstName": "Nobody"},
            {"courriel": "b@x.com", "langue": "Français", "custom": {"score": 7}}
          ]
        }
        """
        let r = try ingest([write("seed.json", envelope)], tenant: nil)
        XCTAssertEqual(r.contacts.count, 2)
        XCTAssertEqual(r.contacts[0]["tenant"], .string("sos-expat"))
        XCTAssertEqual(r.contacts[0]["source"], .string("seed-1"))
        XCTAssertEqual(r.contacts[0]["email"], .string("a@x.com"))
        XCTAssertEqual(r.contacts[0]["tags"], .array([.string("vip"), .string("expatrie")]))
        XCTAssertEqual(r.contacts[0]["custom"]?["extra"], try JSONValue.parse(#"{"k":[1,2]}"#))
        XCTAssertEqual(r.contacts[1]["language"], .string("fr"))
        XCTAssertEqual(r.contacts[1]["custom"]?["score"], .number("7"))
        XCTAssertEqual(r.rejects.first?["reason"], .string("missing_email"))
        XCTAssertEqual(r.rejects.first?["line"]?.int, 6, "the element's first line")

        let array = try ingest([write("list.json", #"[{"email":"a@x.com"},{"email":"b@x.com"}]"#)])
        XCTAssertEqual(array.contacts.count, 2)
        let nd = try ingest([write("x.ndjson", "{\"email\":\"a@x.com\"}\n\n{broken\n{\"e-mail\":\"b@x.com\",\"Vorname\":\"Bo\"}\n")])
        XCTAssertEqual(nd.contacts.count, 2)
        XCTAssertEqual(nd.contacts[1]["first_name"], .string("Bo"))
        XCTAssertEqual(nd.rejects.first?["line"]?.int, 3)
        // Sniffed without a telling extension.
        let sniffed = try ingest([write("payload", #"[{"email":"a@x.com"}]"#), write("lines", "{\"email\":\"b@x.com\"}\n")])
        XCTAssertEqual(sniffed.contacts.count, 2)
    }

    func testCrossTenantEnvelopeIsRefused() throws {
        let envelope = #"{"tenant_id":"ulixai","contacts":[{"email":"a@x.com"},{"email":"b@x.com"}]}"#
        let r = try ingest([write("other.json", envelope)], tenant: "sos-expat")
        XCTAssertEqual(r.contacts.count, 0)
        XCTAssertEqual(r.rejects.map { $0["reason"]?.string ?? "" }, ["tenant_mismatch", "tenant_mismatch"])
        let csv = try ingest([write("t.csv", "email,tenant\na@x.com,ulixai\nb@x.com,sos-expat\n")], tenant: "sos-expat")
        XCTAssertEqual(csv.contacts.count, 1)
        XCTAssertEqual(csv.rejects.first?["reason"], .string("tenant_mismatch"))
    }

    func testSameInputSameOutput() throws {
        let path = write("d.csv", "email,first_name,tags\na@x.com,Ann,\"x,y\"\n")
        let one = try ingest([path]).contacts
        let two = try ingest([path]).contacts
        XCTAssertEqual(one, two)
    }
}

final class SlugTests: XCTestCase {
    func testSlugs() {
        XCTAssertEqual(Slug.make("Expatrié"), "expatrie")
        XCTAssertEqual(Slug.make("  Avocat / Lawyer "), "avocat-lawyer")
        XCTAssertEqual(Slug.make("эмиграция"), "эмиграция")
        XCTAssertEqual(Slug.make("移民"), "移民")
        XCTAssertEqual(Slug.make("Straße"), "strasse")
        XCTAssertEqual(Slug.make("Ünïcödé--Tag__2026"), "unicode-tag-2026")
        XCTAssertEqual(Slug.make("Йошкар-Ола"), "йошкар-ола", "Cyrillic й keeps its breve")
        XCTAssertEqual(Slug.make("हिन्दी"), "हिन्दी", "Devanagari marks kept")
        XCTAssertEqual(Slug.make("!!!"), "")
        XCTAssertEqual(Slug.make("E\u{301}cole"), "ecole")
    }
}
