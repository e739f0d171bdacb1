import MailpipeCore
import MailpipeStore
import TagStage
import MailpipeTestSupport
import XCTest

final class TagRulesTests: StageTestCase {
    /// Runs `tag` over `input` and returns each output record's tags (nil when absent).
    func tags(_ input: String, _ configure: (inout Tagging.Options) -> Void) throws -> (tags: [[String]?], lines: [String], summary: Summary) {
        let inPath = write("in.ndjson", input)
        var options = Tagging.Options(stream: StreamOptions(stage: "tag", inputs: [inPath], rejectsPath: "\(dir)/rejects.ndjson"),
                                      state: StateRoot(explicit: "\(dir)/state"))
        configure(&options)
        let (lines, summary) = try runStage { try Tagging.run(options, output: &$0).0 }
        let tags = try lines.map { line -> [String]? in
            try JSONValue.parse(line)["tags"]?.array?.compactMap(\.string)
        }
        return (tags, lines, summary)
    }

    func rules(_ yaml: String, json: Bool = false) -> String { write(json ? "rules.json" : "rules.yaml", yaml) }

    func testEveryConditionKind() throws {
        let path = rules("""
        builtins: { lang: false, country: false }
        rules:
          - name: equals
            when: { field: category, equals: avocat }
            add: eq
          - name: in
            when: { field: country, in: [FR, BE] }
            add: in
          - name: prefix
            when: { field: phone, prefix: "+33" }
            add: pre
          - name: contains
            when: { field: company, contains: Avocats }
            add: con
          - name: contains ignoring case
            when: { field: company, contains: avocats, ignore_case: true }
            add: con-i
          - name: regex
            when: { field: email, regex: '^[a-z]+\\.[a-z]+@' }
            add: re
          - name: exists
            when: { field: website, exists: true }
            add: ex
          - name: missing
            when: { field: website, exists: false }
            add: no-ex
          - name: numeric
            when: { field: custom.employees, gte: 10 }
            add: big
          - name: numeric lt
            when: { field: validation.score, lt: 50 }
            add: low
          - name: verdict
            when: { verdict: [valid] }
            add: ok
          - name: nested all/any/not
            when:
              all:
                - any:
                    - { field: language, equals: fr }
                    - { field: language, equals: es }
                - not: { field: tags, equals: vip }
            add: latin-not-vip
          - name: array element
            when: { field: tags, prefix: exp }
            add: has-exp
          - name: number equals
            when: { field: custom.employees, equals: 12 }
            add: twelve
          - name: bool equals
            when: { field: custom.partner, equals: true }
            add: partner
          - name: remover
            when: { field: category, equals: avocat }
            remove: prospect
        """)
        let (tags, _, summary) = try tags("""
        {"email":"jean.dupont@firm.fr","category":"avocat","country":"FR","phone":"+33612345678","company":"Dupont Avocats","custom":{"employees":12,"partner":true},"validation":{"verdict":"valid","score":90},"language":"fr","tags":["prospect","expatrie"]}
        {"email":"x1@firm.es","category":"notaire","country":"ES","company":"avocats & co","website":"https://x","custom":{"employees":"3"},"validation":{"verdict":"risky","score":40},"language":"es","tags":["vip"]}
        """) { $0.rulesPath = path }
        XCTAssertEqual(tags[0], ["expatrie", "eq", "in", "pre", "con", "con-i", "re", "no-ex", "big", "ok", "latin-not-vip", "has-exp", "twelve", "partner"])
        XCTAssertEqual(tags[1], ["vip", "con-i", "ex", "low"])
        XCTAssertEqual(summary["tagged"], 2)
    }

    func testBuiltinsAddHocAndSlugs() throws {
        let (tags, lines, _) = try tags("""
        {"email":"a@x.fr","language":"fr","country":"FR","tags":["Expatrié","  Droit   des affaires ","эмиграция","移民"]}
        {"email":"b@x.fr","tags":["a-b"]}
        {"email":"c@x.fr","language":"pt","tags":["old","keep"]}
        """) {
            $0.add = ["Import Nov,Été 2026"]
            $0.remove = ["old"]
        }
        XCTAssertEqual(tags[0], ["expatrie", "droit-des-affaires", "эмиграция", "移民", "lang-fr", "country-fr", "import-nov", "ete-2026"])
        XCTAssertEqual(tags[1], ["a-b", "import-nov", "ete-2026"])
        XCTAssertEqual(tags[2], ["keep", "lang-pt", "import-nov", "ete-2026"])
        XCTAssertTrue(lines[1].hasPrefix(#"{"email":"b@x.fr","tags":["a-b","import-nov","ete-2026"]}"#))
        let (off, _, _) = try self.tags(#"{"email":"a@x.fr","language":"fr","country":"FR"}"#) {
            $0.builtinLanguage = false
            $0.builtinCountry = false
        }
        XCTAssertEqual(off[0], nil)
        XCTAssertThrowsError(try Tagging.slugs(["ok", "!!!"], flag: "--add"))
    }

    func testUnchangedRecordsPassThroughByteForByte() throws {
        let line = #"{"email":"a@x.fr", "tags" : ["lang-fr"],"language":"fr"}"#
        let (_, lines, summary) = try tags(line) { _ in }
        XCTAssertEqual(lines, [line])
        XCTAssertEqual(summary["tagged"], 0)
    }

    /// A changed record is written as RecordPatch writes it, whatever its layout: a compact
    /// record with one `tags` as its own bytes around the new value, any other (white space
    /// around or between the root's members, a repeated `tags`) compacted. Without rules the
    /// records are parsed keeping only what tag reads: a repeated key among those, or nesting
    /// the lazy scan leaves to the full parse, goes through the full parse.
    func testChangedRecordsAreWrittenAsRecordPatchWritesThem() throws {
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        let cases: [(String, String)] = [
            (#"{"email":"a@x.fr","tags":["a"],"n":1}"#, #"{"email":"a@x.fr","tags":["a","x"],"n":1}"#),
            (#"{"tags":["a"],"email":"a@x.fr"}"#, #"{"tags":["a","x"],"email":"a@x.fr"}"#),
            (#"{"email":"a@x.fr","tags":["a"]}"#, #"{"email":"a@x.fr","tags":["a","x"]}"#),
            (#"{"email":"a@x.fr"}"#, #"{"email":"a@x.fr","tags":["x"]}"#),
            (#"{}"#, #"{"tags":["x"]}"#),
            (#"{"email":"a@x.fr","tags":null}"#, #"{"email":"a@x.fr","tags":["x"]}"#),
            (#"{"email":"a@x.fr","t\u0061gs":["a"]}"#, #"{"email":"a@x.fr","t\u0061gs":["a","x"]}"#),
            (#"{"email":"a@x.fr","tags":[ "a" ],"o":{ "k" : [1, 2] }}"#, #"{"email":"a@x.fr","tags":["a","x"],"o":{ "k" : [1, 2] }}"#),
            (#"{ "email" : "a@x.fr", "tags": ["a"] }"#, #"{"email":"a@x.fr","tags":["a","x"]}"#),
            (#"{"email":"a@x.fr" ,"tags":["a"]}"#, #"{"email":"a@x.fr","tags":["a","x"]}"#),
            (#"{"email":"a@x.fr","tags":["a"]} "#, #"{"email":"a@x.fr","tags":["a","x"]}"#),
            ("\t" + #"{"email":"a@x.fr"}"#, #"{"email":"a@x.fr","tags":["x"]}"#),
            (#"{"tags":["a"],"email":"a@x.fr","tags":["b"]}"#, #"{"tags":["a","x"],"email":"a@x.fr"}"#),
            (#"{"email":"a@x.fr","tags":["b"],"t\u0061gs":["a"]}"#, #"{"email":"a@x.fr","tags":["b","x"]}"#),
            (#"{"first_name":"Анастасия","tags":["中文"],"city":"Москва"}"#, #"{"first_name":"Анастасия","tags":["中文","x"],"city":"Москва"}"#),
            (#"{"language":"fr","email":"a@x.fr"}"#, #"{"language":"fr","email":"a@x.fr","tags":["lang-fr","x"]}"#),
            (#"{"language":"fr","tags":[],"language":"de"}"#, #"{"language":"fr","tags":["lang-fr","x"],"language":"de"}"#),
            (#"{"tenant":"t","tags":["a"],"tenant":"u"}"#, #"{"tenant":"t","tags":["a","x"],"tenant":"u"}"#),
            (#"{"tags":["a"],"deep":"# + deep + "}", #"{"tags":["a","x"],"deep":"# + deep + "}"),
        ]
        let (_, lines, summary) = try tags(cases.map(\.0).joined(separator: "\n")) {
            $0.add = ["x"]
            $0.stream.maxDepth = 128   // deeper than the lazy scan's 64 levels: the full parse takes it
        }
        XCTAssertEqual(lines, cases.map(\.1))
        XCTAssertEqual(summary["tagged"], cases.count)
        // The same bytes as RecordPatch setting the new tags.
        for ((input, _), line) in zip(cases, lines) {
            let reference = try writtenByRecordPatch(input) { _, patch in patch.set("tags", try JSONValue.parse(line)["tags"]!) }
            XCTAssertEqual(reference, line, input)
        }
    }

    /// Tags are looked up by their bytes, but a text spelt in other bytes that is the same
    /// string (NFC and NFD) is still the same tag, and a record whose tags are its tags' names
    /// in another spelling is unchanged, passed through byte for byte — as when texts were
    /// looked up and compared as Strings. Escaped texts and tenants too.
    func testTextsSpeltInOtherBytesAreTheSameTags() throws {
        let input = [
            "{\"email\":\"a@x.fr\",\"tags\":[\"\u{43F}\u{43E}\u{438}\u{306}\u{442}\u{438}\",\"b\"]}",
            "{\"email\":\"b@x.fr\",\"tags\":[\"\u{43F}\u{43E}\u{439}\u{442}\u{438}\",\"b\"]}",
            "{\"email\":\"c@x.fr\",\"tags\":[\"\u{1112}\u{1161}\u{11AB}\u{1100}\u{116E}\u{11A8}\",\"x\"]}",
            "{\"email\":\"d@x.fr\",\"tags\":[\"\u{D55C}\u{AD6D}\"],\"language\":\"\u{1112}\u{1161}\u{11AB}\u{1100}\u{116E}\u{11A8}\u{110B}\u{1165}\"}",
            "{\"email\":\"e@x.fr\",\"tags\":[\"\u{E9}t\u{E9}\",\"e\u{301}te\u{301}\"]}",
            "{\"email\":\"f@x.fr\",\"tags\":[\"\\u043f\\u043e\\u0438\\u0306\\u0442\\u0438\"],\"tenant\":\"t\\u0031\"}",
        ]
        // What tag wrote when it looked texts up as Strings (main before issue 18's import row).
        let unchanged = [input[0], input[1], input[2],
            "{\"email\":\"d@x.fr\",\"tags\":[\"\u{D55C}\u{AD6D}\",\"lang-\u{D55C}\u{AD6D}\u{C5B4}\"],\"language\":\"\u{1112}\u{1161}\u{11AB}\u{1100}\u{116E}\u{11A8}\u{110B}\u{1165}\"}",
            "{\"email\":\"e@x.fr\",\"tags\":[\"ete\"]}",
            input[5]]
        let added = [
            "{\"email\":\"a@x.fr\",\"tags\":[\"\u{43F}\u{43E}\u{439}\u{442}\u{438}\",\"b\",\"x\"]}",
            "{\"email\":\"b@x.fr\",\"tags\":[\"\u{43F}\u{43E}\u{439}\u{442}\u{438}\",\"b\",\"x\"]}",
            input[2],
            "{\"email\":\"d@x.fr\",\"tags\":[\"\u{D55C}\u{AD6D}\",\"lang-\u{D55C}\u{AD6D}\u{C5B4}\",\"x\"],\"language\":\"\u{1112}\u{1161}\u{11AB}\u{1100}\u{116E}\u{11A8}\u{110B}\u{1165}\"}",
            "{\"email\":\"e@x.fr\",\"tags\":[\"ete\",\"x\"]}",
            "{\"email\":\"f@x.fr\",\"tags\":[\"\u{43F}\u{43E}\u{439}\u{442}\u{438}\",\"x\"],\"tenant\":\"t\\u0031\"}",
        ]
        for (add, expected) in [([String](), unchanged), (["x"], added)] {
            let (_, lines, summary) = try tags(input.joined(separator: "\n")) { $0.add = add }
            // As bytes: Strings would compare NFC and NFD equal.
            XCTAssertEqual(lines.map { Array($0.utf8) }, expected.map { Array($0.utf8) })
            XCTAssertEqual(summary["tagged"], add.isEmpty ? 2 : 5)
        }
    }

    func testTaxonomyBringsParents() throws {
        let tenant = try TenantSlug("sos-expat")
        let state = StateRoot(explicit: "\(dir)/state")
        try FileSystem.createDirectory("\(dir)/state")
        try FileSystem.createDirectory(state.tenant(tenant).path)
        _ = write("state/sos-expat/tenant.json", """
        {"slug":"sos-expat","taxonomy":{"prestataire":["avocat","notaire"],"services":["prestataire"],"Expatriés":["Expatrié Retraité"]}}
        """)
        _ = write("state/sos-expat/tag-rules.yaml", """
        rules:
          - when: { field: category, equals: lawyer }
            add: avocat
        """)
        let (tags, _, summary) = try tags("""
        {"email":"a@x.fr","category":"lawyer"}
        {"email":"b@x.fr","tags":["Expatrié retraité"]}
        {"email":"c@x.fr","tenant":"sos-expat","tags":["notaire"]}
        {"email":"d@x.fr","tenant":"other","tags":["notaire"]}
        {"email":"e@x.fr","tags":["avocat"]}
        """) {
            $0.tenant = tenant
            $0.remove = ["services"]
        }
        XCTAssertEqual(tags.count, 4)   // the other tenant's record is rejected
        XCTAssertEqual(tags[0], ["avocat", "prestataire"])
        XCTAssertEqual(tags[1], ["expatrie-retraite", "expatries"])
        XCTAssertEqual(tags[2], ["notaire", "prestataire"])
        XCTAssertEqual(tags[3], ["avocat", "prestataire"])
        XCTAssertEqual(summary["rejected"], 1)
        XCTAssertEqual(summary.groups.first(where: { $0.name == "tags" })?.counts.first?.0, "prestataire")

        let ancestors = Tagging.ancestors(of: ["a": ["b"], "b": ["c"], "c": ["a"]])
        XCTAssertEqual(ancestors["c"], ["b", "a"])   // a cycle ends, never loops
    }

    func testJSONRules() throws {
        let path = rules("""
        {
        \t"builtins": {"lang": false},
        \t"rules": [{"when": {"field": "country", "equals": "NO"}, "add": ["norvège"]}]
        }
        """, json: true)
        let (tags, _, _) = try tags(#"{"email":"a@x.no","country":"NO","language":"en"}"#) { $0.rulesPath = path }
        XCTAssertEqual(tags[0], ["norvege", "country-no"])
    }

    /// Every mistake is refused with the file's line, before any record is read.
    func testBadRulesFilesAreRefusedWithTheirLine() throws {
        let cases: [(String, String, Bool)] = [
            ("rules:\n  - when: { field: a, equal: 1 }\n    add: x\n", "rules.yaml:2:", false),
            ("rules:\n  - when: { field: a, regex: '[' }\n    add: x\n", "rules.yaml:2:", false),
            ("rules:\n  - when: { field: a, gt: many }\n    add: x\n", "rules.yaml:2:", false),
            ("rules:\n  - when: { verdict: great }\n    add: x\n", "rules.yaml:2:", false),
            ("rules:\n  - when: { field: a, equals: 1 }\n", "rules.yaml:2:", false),
            ("rules:\n  - when: { field: a, equals: 1 }\n    add: '!!'\n", "rules.yaml:3:", false),
            ("rules:\n  - when: { field: a, equals: 1, prefix: b }\n    add: x\n", "rules.yaml:2:", false),
            ("rules:\n\n  - when: { all: [] }\n    add: x\n", "rules.yaml:3:", false),
            ("rulez: []\n", "rules.yaml:1:", false),
            ("rules:\n  - when: [\n", "rules.yaml:", false),
            ("{\"rules\": [\n  {\"when\": {\"field\": \"a\", \"equals\": 1},\n   \"add\": \"x\",}\n]}", "rules.json:3:", true),
        ]
        for (text, expected, json) in cases {
            let path = rules(text, json: json)
            XCTAssertThrowsError(try tags("this line is never read", { $0.rulesPath = path })) { error in
                XCTAssertEqual(error.exitStatus, .usage)
                XCTAssertTrue("\(error)".contains(expected), "\(error) should name \(expected)")
            }
            // Nothing was written: no record was read.
            XCTAssertFalse(FileSystem.exists("\(dir)/out.ndjson") && (try! FileSystem.readFile("\(dir)/out.ndjson")).count > 0)
        }
    }
}
