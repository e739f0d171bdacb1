import AccountStage
import MailpipeCore
import MailpipeStore
import SegmentStage
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Runs `segment` in-process on files and returns what it wrote.
final class Harness {
    let dir: String
    init() {
        var template = Array("/tmp/segment-test-XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }
    deinit { _ = system("rm -rf '\(dir)'") }

    func write(_ name: String, _ lines: [String]) -> String {
        let path = "\(dir)/\(name)"
        try! FileSystem.writeAtomically(path, Array((lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")).utf8))
        return path
    }

    func read(_ path: String) -> String { String(decoding: (try? FileSystem.readFile(path)) ?? [], as: UTF8.self) }

    /// Output lines, the result, and the reject lines.
    func run(_ options: SegmentStage.Options) throws -> (lines: [String], result: SegmentStage.Result, rejects: [String]) {
        var options = options
        let out = "\(dir)/out-\(UUIDish.next())"
        let rej = "\(dir)/rej-\(UUIDish.next())"
        options.stream.rejectsPath = rej
        let fd = try FileDescriptor.open(out, .writeOnly, options: [.create, .truncate], permissions: 0o644)
        var sink = OutputSink(descriptor: fd)
        let result = try SegmentStage.run(options, output: &sink)
        fd.close()
        return (read(out).split(separator: "\n").map(String.init), result, read(rej).split(separator: "\n").map(String.init))
    }

    /// Tenant t1, its store holding what `account commit` keeps of `lines` (in `shards` shards),
    /// its suppression list `suppressed`.
    func tenant(lines: [String], suppressed: [String], shards: Int? = nil) throws -> (TenantSlug, StateRoot) {
        let slug = try TenantSlug("t1")
        let state = StateRoot(explicit: "\(dir)/state")
        try AccountInit.run(.init(tenant: slug, state: state, shards: shards))
        let input = write("commit.ndjson", lines)
        _ = try AccountCommit.run(.init(tenant: slug, state: state, now: Timestamp(seconds: 1_800_000_000),
                                        stream: StreamOptions(stage: "account commit", inputs: [input], rejectsPath: "\(dir)/commit-rejects")))
        let log = try AppendLog(path: state.tenant(slug).suppressionPath, warn: { _ in })
        var entries: [UInt8] = []
        for e in suppressed { entries += Array("{\"email\":\"\(e)\",\"reason\":\"manual\",\"at\":\"2026-01-01T00:00:00Z\",\"source\":\"test\"}\n".utf8) }
        try log.append(entries)
        return (slug, state)
    }

    func emails(_ lines: [String]) -> [String] {
        lines.map { (try! JSONValue.parse($0))["email"]!.string! }
    }
}

enum UUIDish {
    nonisolated(unsafe) static var counter = 0
    static func next() -> Int { counter += 1; return counter }
}

/// A contact as a test builds it, and the same facts for the reference predicate.
struct C {
    var email: String
    var tags: [String] = []
    var language: String? = nil
    var country: String? = nil
    var category: String? = nil
    var status: String? = nil
    var verdict: String? = nil
    var source: String? = nil
    var created: String? = nil
    var score: Int? = nil

    var json: String {
        var o = JSONObject()
        o.append("tenant", .string("t1"))
        o.append("email", .string(email))
        o.append("tags", .array(tags.map { .string($0) }))
        if let language { o.append("language", .string(language)) }
        if let country { o.append("country", .string(country)) }
        if let category { o.append("category", .string(category)) }
        if let status { o.append("status", .string(status)) }
        if let verdict {
            var v = JSONObject([("verdict", .string(verdict))])
            if let score { v.append("score", .int(score)) }
            o.append("validation", .object(v))
        }
        if let source { o.append("source", .string(source)) }
        if let created { o.append("created_at", .string(created)) }
        return JSONValue.object(o).description
    }
}

/// Every combination of three tags, three languages, two countries, two statuses, two verdicts…
func population() -> [C] {
    var all: [C] = []
    let tagSets: [[String]] = [[], ["a"], ["b"], ["c"], ["a", "b"], ["a", "c"], ["b", "c"], ["a", "b", "c"]]
    var n = 0
    for tags in tagSets {
        for language in ["fr", "en", "ES", nil] as [String?] {
            for country in ["FR", "be", nil] as [String?] {
                for status in ["validated", "pending"] {
                    n += 1
                    all.append(C(email: "c\(n)@example.com", tags: tags, language: language, country: country,
                                 category: n % 3 == 0 ? "avocat" : (n % 3 == 1 ? "expat" : nil), status: status,
                                 verdict: n % 4 == 0 ? "valid" : (n % 4 == 1 ? "risky" : nil),
                                 source: n % 2 == 0 ? "csv" : "scraper",
                                 created: "2025-\(String(format: "%02d", n % 12 + 1))-15T10:00:00Z", score: n % 100))
                }
            }
        }
    }
    return all
}

final class SegmentStageTests: XCTestCase {
    func options(_ h: Harness, _ input: String, _ criteria: SegmentCriteria = SegmentCriteria()) -> SegmentStage.Options {
        SegmentStage.Options(source: .stdin, stream: StreamOptions(stage: "segment", inputs: [input]), criteria: [criteria])
    }

    func lower(_ s: String?) -> String? { s?.lowercased() }

    func testCriteriaTruthTables() throws {
        let h = Harness()
        let people = population()
        let input = h.write("in.ndjson", people.map(\.json))
        typealias Case = (String, (inout SegmentCriteria) -> Void, (C) -> Bool)
        let cases: [Case] = [
            ("all a,b", { $0.tagsAll = ["a", "b"] }, { $0.tags.contains("a") && $0.tags.contains("b") }),
            ("any b,c", { $0.tagsAny = ["b", "c"] }, { $0.tags.contains("b") || $0.tags.contains("c") }),
            ("exclude a", { $0.tagsExclude = ["a"] }, { !$0.tags.contains("a") }),
            ("all a + any b,c + exclude c", { $0.tagsAll = ["a"]; $0.tagsAny = ["b", "c"]; $0.tagsExclude = ["c"] },
             { $0.tags.contains("a") && ($0.tags.contains("b") || $0.tags.contains("c")) && !$0.tags.contains("c") }),
            ("language fr,es", { $0.languages = ["fr", "es"] }, { ["fr", "es"].contains(self.lower($0.language) ?? "") }),
            ("country FR", { $0.countries = ["fr"] }, { self.lower($0.country) == "fr" }),
            ("category avocat", { $0.categories = ["avocat"] }, { $0.category == "avocat" }),
            ("status pending", { $0.statuses = ["pending"] }, { $0.status == "pending" }),
            ("verdict valid", { $0.verdicts = ["valid"] }, { $0.verdict == "valid" }),
            ("source csv", { $0.sources = ["csv"] }, { $0.source == "csv" }),
            ("created since", { $0.createdSince = "2025-06-01" }, { $0.created! >= "2025-06-01" }),
            ("created before", { $0.createdBefore = "2025-06-01T00:00:00Z" }, { $0.created! < "2025-06-01" }),
            ("since and before", { $0.createdSince = "2025-03-01"; $0.createdBefore = "2025-09-01" },
             { $0.created! >= "2025-03-01" && $0.created! < "2025-09-01" }),
            ("tags + language + country", { $0.tagsAny = ["a"]; $0.languages = ["en"]; $0.countries = ["BE"] },
             { $0.tags.contains("a") && $0.language == "en" && $0.country == "be" }),
            ("where example", { $0.wheres = ["tags has a and language in (fr, es) and not country = FR"] },
             { $0.tags.contains("a") && ["fr", "es"].contains(self.lower($0.language) ?? "") && self.lower($0.country) != "fr" }),
            ("where or", { $0.wheres = ["tags has all (a, b) or (language = en and country exists)"] },
             { ($0.tags.contains("a") && $0.tags.contains("b")) || ($0.language == "en" && $0.country != nil) }),
            ("where not in / missing", { $0.wheres = ["language not in (fr, en) and category missing"] },
             { !["fr", "en"].contains(self.lower($0.language) ?? "") && $0.category == nil }),
            ("where numbers", { $0.wheres = ["validation.score >= 50 and validation.verdict != risky"] },
             { $0.verdict != nil && $0.score! >= 50 && $0.verdict != "risky" }),
            ("where dates", { $0.wheres = ["created_at < 2025-04-01"] }, { $0.created! < "2025-04-01" }),
            ("where has none", { $0.wheres = ["tags has none (a, c)"] }, { !$0.tags.contains("a") && !$0.tags.contains("c") }),
        ]
        for (name, set, reference) in cases {
            var criteria = SegmentCriteria()
            set(&criteria)
            let (lines, result, _) = try h.run(options(h, input, criteria))
            let want = people.filter(reference).map(\.email)
            XCTAssertEqual(h.emails(lines), want, name)
            XCTAssertEqual(result.summary["out"], want.count, name)
            XCTAssertFalse(want.isEmpty, "\(name): the case selects nobody; it tests nothing")
        }
    }

    func testSegmentFileSeedsShape() throws {
        let h = Harness()
        let people = population()
        let input = h.write("in.ndjson", people.map(\.json))
        let file = h.write("seg.json", [#"{"name":"x","tags_all":["a"],"tags_any":["b","c"],"exclude_tags":["c"],"target_category":"avocat","target_country_codes":["FR","BE"],"max_contacts":3,"subject":"ignored"}"#])
        var notes: [String] = []
        let def = try SegmentFile.load(path: file, note: { notes.append($0) })
        XCTAssertEqual(notes.count, 1)
        var o = options(h, input)
        o.criteria = [def.criteria]
        let (lines, _, _) = try h.run(o)
        let want = people.filter { $0.tags.contains("a") && $0.tags.contains("b") && !$0.tags.contains("c") && $0.category == "avocat" && $0.country != nil }
        XCTAssertEqual(h.emails(lines), Array(want.prefix(3)).map(\.email))
    }

    func testWhereParseErrorsPointAtTheColumn() {
        let cases: [(String, Int, String)] = [
            ("tags has", 9, "expected a value"),
            ("language in (fr, es", 20, "expected ',' or ')'"),
            ("language in fr", 13, "expected '('"),
            ("tags has avocat and", 20, "expected a field name"),
            ("country = FR or", 16, "expected a field name"),
            ("(language = fr", 15, "expected ')'"),
            ("language ~ fr", 10, "unexpected character '~'"),
            ("language fr", 10, "expected an operator"),
            ("tags has a b", 12, "expected 'and', 'or' or the end"),
            ("country = \"FR", 11, "unterminated"),
            ("language ! fr", 10, "'!' must be followed by '='"),
        ]
        for (text, column, message) in cases {
            XCTAssertThrowsError(try WhereParser.parse(text), text) { error in
                let d = "\(error)"
                XCTAssertTrue(d.contains("column \(column):"), "\(text): \(d)")
                XCTAssertTrue(d.contains(message), "\(text): \(d)")
                XCTAssertTrue(d.contains("\n  " + String(repeating: " ", count: column - 1) + "^"), "\(text): caret misplaced in \(d)")
                XCTAssertEqual((error as? StageError)?.exitStatus, .usage)
            }
        }
    }

    /// A tenant whose store holds `people`, whose suppression list holds `suppressed`.
    func tenant(_ h: Harness, _ people: [C], suppressed: [String]) throws -> (TenantSlug, StateRoot) {
        try h.tenant(lines: people.map(\.json), suppressed: suppressed)
    }

    func testSuppressionNeverLeaks() throws {
        let h = Harness()
        var people = population()
        let held = ["bounced", "unsubscribed", "complained", "blacklisted", "invalid"]
        for i in 0..<people.count where i % 7 == 0 { people[i].status = held[i % held.count] }
        // Listed with other case and spaces: the list is matched on the normalised address.
        let listed = people.indices.filter { $0 % 5 == 1 }.map { people[$0].email }
        let (slug, state) = try tenant(h, people, suppressed: listed.map { " " + $0.uppercased() })
        let forbidden = Set(people.filter { held.contains($0.status ?? "") }.map(\.email)).union(listed)
        XCTAssertGreaterThan(forbidden.count, 50)

        var base = SegmentStage.Options(tenant: slug, state: state, source: .store, stream: StreamOptions(stage: "segment"))
        // Records, from the store and from stdin.
        var (lines, result, _) = try h.run(base)
        XCTAssertTrue(Set(h.emails(lines)).isDisjoint(with: forbidden))
        XCTAssertEqual(lines.count, people.count - forbidden.count)
        XCTAssertEqual(result.summary["held_back"], forbidden.count)
        XCTAssertTrue(result.notes.joined().contains("suppression list"))
        let exported = h.write("all.ndjson", people.map(\.json))
        var fromStdin = base
        fromStdin.source = .stdin
        fromStdin.stream.inputs = [exported]
        XCTAssertTrue(Set(h.emails(try h.run(fromStdin).lines)).isDisjoint(with: forbidden))
        // Sample, shards, segments, counts.
        var sample = base; sample.sample = people.count
        XCTAssertTrue(Set(h.emails(try h.run(sample).lines)).isDisjoint(with: forbidden))
        for i in 0..<3 {
            var s = base; s.shard = try Shard(index: i, count: 3)
            XCTAssertTrue(Set(h.emails(try h.run(s).lines)).isDisjoint(with: forbidden))
        }
        var count = base; count.mode = .count
        XCTAssertEqual(try h.run(count).lines, ["{\"count\":\(people.count - forbidden.count)}"])
        var status = base; status.mode = .breakdown(.status)
        let statuses = try h.run(status).lines.joined()
        for s in held { XCTAssertFalse(statuses.contains("\"\(s)\""), s) }
        var many = base
        many.segments = [SegmentDefinition(name: "all", criteria: SegmentCriteria())]
        many.outDir = "\(h.dir)/segs"
        _ = try h.run(many)
        XCTAssertTrue(Set(h.emails(h.read("\(h.dir)/segs/all.ndjson").split(separator: "\n").map(String.init))).isDisjoint(with: forbidden))
        // Only --include-suppressed lets them through.
        base.includeSuppressed = true
        (lines, result, _) = try h.run(base)
        XCTAssertEqual(lines.count, people.count)
        XCTAssertEqual(result.summary["held_back"], 0)
    }

    func testUnsealedSuppressionFileIsRefused() throws {
        let h = Harness()
        let (slug, state) = try tenant(h, population(), suppressed: [])
        try FileSystem.writeAtomically(state.tenant(slug).suppressionPath, Array("not a sealed log".utf8))
        XCTAssertThrowsError(try h.run(SegmentStage.Options(tenant: slug, state: state, source: .store, stream: StreamOptions(stage: "segment"))))
    }

    func testManySegmentsEqualSeparateRuns() throws {
        let h = Harness()
        let people = population()
        let input = h.write("in.ndjson", people.map(\.json))
        let file = h.write("segments.json", [#"""
        [{"name":"ab","tags_all":["a","b"]},{"name":"fr","language":"fr","max_contacts":5},
         {"name":"w","where":"country = BE or category = avocat"},{"name":"none","tags_all":["zzz"]}]
        """#])
        let defs = try SegmentFile.loadMany(path: file)
        for gzip in [false, true] {
            var o = options(h, input)
            o.segments = defs
            o.outDir = "\(h.dir)/out-\(gzip)"
            o.gzip = gzip
            _ = try h.run(o)
            for def in defs {
                var single = options(h, input)
                single.criteria = [def.criteria]
                let separate = try h.run(single).lines
                var path = "\(o.outDir!)/\(def.name).ndjson"
                if gzip {
                    path += ".gz"
                    XCTAssertEqual(Array(try FileSystem.readFile(path).prefix(2)), [0x1F, 0x8B])
                    _ = system("gzip -dc '\(path)' > '\(path).plain'")
                    path += ".plain"
                }
                XCTAssertEqual(h.read(path).split(separator: "\n").map(String.init), separate, def.name)
            }
        }
        // Counts per segment, one pass.
        var counts = options(h, input)
        counts.segments = defs
        counts.mode = .count
        let lines = try h.run(counts).lines
        XCTAssertEqual(lines.count, 4)
        XCTAssertEqual(lines[1], "{\"segment\":\"fr\",\"count\":5}")
    }

    func testShardUnionEqualsWhole() throws {
        let h = Harness()
        let people = population()
        let input = h.write("in.ndjson", people.map(\.json))
        let (slug, state) = try tenant(h, people, suppressed: [])
        for source in [SegmentStage.Source.stdin, .store] {
            var whole = options(h, input)
            whole.source = source
            whole.tenant = slug
            whole.state = state
            whole.criteria[0].tagsAny = ["a", "c"]
            let all = try h.emails(h.run(whole).lines)
            var union: [String] = []
            for i in 0..<4 {
                var part = whole
                part.shard = try Shard(index: i, count: 4)
                let got = try h.emails(h.run(part).lines)
                XCTAssertTrue(got.allSatisfy { Int(EmailKey.hash($0) % 4) == i })
                XCTAssertLessThan(got.count, all.count)
                union += got
            }
            XCTAssertEqual(union.sorted(), all.sorted(), "\(source)")
            XCTAssertEqual(Set(union).count, union.count, "a contact in two shards")
        }
    }

    func testSampleIsReproducible() throws {
        let h = Harness()
        let people = population()
        let input = h.write("in.ndjson", people.map(\.json))
        let reversed = h.write("rev.ndjson", people.reversed().map(\.json))
        var o = options(h, input)
        o.sample = 25
        o.seed = 42
        let first = try h.emails(h.run(o).lines)
        XCTAssertEqual(first.count, 25)
        XCTAssertEqual(try h.emails(h.run(o).lines), first)
        // The same contacts whatever the input order; written in input order.
        var r = o
        r.stream.inputs = [reversed]
        XCTAssertEqual(Set(try h.emails(h.run(r).lines)), Set(first))
        let order = Dictionary(uniqueKeysWithValues: people.enumerated().map { ($1.email, $0) })
        XCTAssertEqual(first, first.sorted { order[$0]! < order[$1]! })
        var other = o
        other.seed = 43
        XCTAssertNotEqual(Set(try h.emails(h.run(other).lines)), Set(first))
        var big = o
        big.sample = people.count + 10
        XCTAssertEqual(try h.run(big).lines.count, people.count)
    }

    func testLimitCountBreakdownAndRejects() throws {
        let h = Harness()
        let people = population()
        let input = h.write("in.ndjson", people.map(\.json) + ["not json", #"{"tenant":"t1","tags":["a"]}"#, #"{"tenant":"t2","email":"x@y.z"}"#])
        var o = options(h, input)
        o.tenant = try TenantSlug("t1")
        o.state = StateRoot(explicit: "\(h.dir)/nostate")
        o.criteria[0].limit = 7
        var (lines, result, rejects) = try h.run(o)
        XCTAssertEqual(h.emails(lines), Array(people.prefix(7)).map(\.email))
        o.criteria[0].limit = nil
        (lines, result, rejects) = try h.run(o)
        XCTAssertEqual(lines.count, people.count)
        XCTAssertEqual(rejects.count, 3)
        XCTAssertTrue(rejects.joined().contains("tenant_mismatch"))
        XCTAssertTrue(rejects.joined().contains("missing_email"))
        XCTAssertEqual(result.summary["in"], people.count + 3)
        o.mode = .breakdown(.tag)
        (lines, _, _) = try h.run(o)
        let a = people.filter { $0.tags.contains("a") }.count
        XCTAssertTrue(lines.contains("{\"tag\":\"a\",\"count\":\(a)}"), lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains("{\"tag\":null,\"count\":\(people.filter { $0.tags.isEmpty }.count)}"))
        o.mode = .breakdown(.language)
        o.explain = true
        o.criteria[0].tagsAll = ["b"]
        (lines, result, _) = try h.run(o)
        XCTAssertTrue(result.notes.contains { $0.contains("--all b: \(people.filter { $0.tags.contains("b") }.count) of \(people.count) pass") }, result.notes.joined(separator: "\n"))
    }

    /// `--contacts stdin` judged on several threads gives what one thread gives: the same records
    /// in the same order, the same rejects with their files and line numbers, the same counts,
    /// limits, held-back reasons, samples and shards — over batches of the parallel stream (more
    /// than 4096 lines, two inputs) with every kind of bad line between good ones.
    func testSeveralThreadsEqualOne() throws {
        let h = Harness()
        var people: [C] = []
        let base = population()
        let held = ["bounced", "unsubscribed", "complained"]
        for round in 0..<50 {
            for (i, var c) in base.enumerated() {
                c.email = "r\(round)-\(c.email)"
                if (round + i) % 13 == 0 { c.status = held[(round + i) % held.count] }
                people.append(c)
            }
        }
        var lines = people.map(\.json)
        for i in stride(from: lines.count - 1, to: 0, by: -37) {
            switch (i / 37) % 7 {
            case 0: lines.insert("", at: i)
            case 1: lines.insert(#"{"email":"broken@example.com","tags":["a"#, at: i)
            case 2: lines.insert("[1,2]", at: i)
            case 3: lines.insert(#"{"tenant":"t1","tags":["a","b"]}"#, at: i)
            case 4: lines.insert(#"{"tenant":"t2","email":"other@example.com","tags":["a"]}"#, at: i)
            case 5: lines.insert(#"{"email":"long@example.com","tags":["a"],"note":""# + String(repeating: "x", count: 5000) + #""}"#, at: i)
            default: lines.insert("{\"email\":\"bad@example.com\",\"tags\":[\"a\"],\"note\":\"\u{1}\"}", at: i)   // 0x01 is written 0xFF
            }
        }
        let half = lines.count / 2
        func write(_ name: String, _ part: ArraySlice<String>) throws -> String {
            let path = "\(h.dir)/\(name)"
            let text = part.joined(separator: "\n") + "\n"
            try FileSystem.writeAtomically(path, text.utf8.map { $0 == 1 ? 0xFF : $0 })
            return path
        }
        let first = try write("first.ndjson", lines[..<half])
        let second = try write("second.ndjson", lines[half...])
        XCTAssertGreaterThan(lines.count / 2, 4096, "each input must span more than one batch")
        let (slug, state) = try tenant(h, Array(people.prefix(3)), suppressed: people.indices.filter { $0 % 11 == 3 }.map { people[$0].email })

        let segments = [
            SegmentDefinition(name: "ab", criteria: { var c = SegmentCriteria(); c.tagsAll = ["a", "b"]; c.limit = 700; return c }()),
            SegmentDefinition(name: "fr", criteria: { var c = SegmentCriteria(); c.languages = ["fr"]; return c }()),
            SegmentDefinition(name: "none", criteria: { var c = SegmentCriteria(); c.limit = 0; return c }()),
        ]
        typealias Setting = (String, (inout SegmentStage.Options) -> Void)
        let settings: [Setting] = [
            ("records", { $0.criteria[0].tagsAny = ["a", "c"] }),
            ("records, no tenant", { $0.tenant = nil; $0.criteria[0].tagsAny = ["b"] }),
            ("include suppressed", { $0.includeSuppressed = true; $0.criteria[0].wheres = ["country exists"] }),
            ("count with a limit", { $0.mode = .count; $0.criteria[0].limit = 1000 }),
            ("segments to files", { $0.segments = segments; $0.outDir = "\(h.dir)/segs-\(UUIDish.next())" }),
            ("segment counts", { $0.segments = segments; $0.mode = .count }),
            ("sample of a shard", { $0.sample = 40; $0.seed = 9; $0.shard = try! Shard(index: 1, count: 3) }),
        ]
        for (name, set) in settings {
            var runs: [(lines: [String], result: SegmentStage.Result, rejects: [String], files: [String])] = []
            // First the reference: one record at a time, fully parsed.
            for (threads, reference) in [(1, true), (1, false), (2, false), (3, false)] {
                var o = SegmentStage.Options(tenant: slug, state: state, source: .stdin,
                                             stream: StreamOptions(stage: "segment", inputs: [first, second], maxLine: 4096),
                                             criteria: [SegmentCriteria()], threads: threads)
                o.oneRecordAtATime = reference
                set(&o)
                let (out, result, rejects) = try h.run(o)
                let files = segments.map { segment in o.outDir.map { h.read("\($0)/\(segment.name).ndjson") } ?? "" }
                XCTAssertEqual(result.threads, threads, "\(name): \(threads) threads asked")
                runs.append((out, result, rejects, files))
            }
            let one = runs[0]
            XCTAssertGreaterThan(one.result.summary["out"], 0, "\(name): selects nobody; it tests nothing")
            XCTAssertGreaterThan(one.rejects.count, 100, name)
            if name != "records, no tenant" && name != "include suppressed" {
                XCTAssertGreaterThan(one.result.summary["held_back"], 0, "\(name): holds nobody back")
            }
            for run in runs.dropFirst() {
                XCTAssertEqual(run.lines, one.lines, name)
                XCTAssertEqual(run.rejects, one.rejects, name)
                XCTAssertEqual(run.files, one.files, name)
                XCTAssertEqual(run.result.summary.json, one.result.summary.json, name)
                XCTAssertEqual(run.result.notes, one.result.notes, name)
            }
        }
        // The rejects name every kind of bad line, in input order, each with its file and line.
        var o = SegmentStage.Options(tenant: slug, state: state, source: .stdin,
                                     stream: StreamOptions(stage: "segment", inputs: [first, second], maxLine: 4096),
                                     criteria: [SegmentCriteria()], threads: 3)
        o.criteria[0].tagsAny = ["a"]
        let rejects = try h.run(o).rejects.map { try JSONValue.parse($0) }
        XCTAssertEqual(Set(rejects.compactMap { $0["reason"]?.string }),
                       ["invalid_json", "not_an_object", "missing_email", "tenant_mismatch", "line_too_long", "invalid_utf8"])
        for file in [first, second] {
            let numbers = rejects.filter { $0["file"]?.string == file }.compactMap { $0["line"]?.int }
            XCTAssertGreaterThan(numbers.count, 50, file)
            XCTAssertEqual(numbers, numbers.sorted(), "\(file): rejects out of input order")
        }
        for r in rejects {
            let n = r["line"]!.int!
            let line = r["file"]?.string == first ? lines[n - 1] : lines[half + n - 1]
            XCTAssertFalse(line.isEmpty || line.hasPrefix(#"{"tenant":"t1","email":"r"#), "line \(n) is no bad line: \(line)")
        }
    }
}
