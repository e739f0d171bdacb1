import AccountStage
import MailpipeCore
import MailpipeStore
import SegmentStage
import XCTest

/// `--contacts store` and `--contacts stdin` judge records in batches on 1…n threads with the
/// lazy member scan; `oneRecordAtATime` is the reference (a full parse, one record after another).
/// Both sources, every thread count and the reference must give the same records, rejects, counts
/// and notes — and the store the same selection as its own export read from standard input.
final class StorePathTests: XCTestCase {
    /// Contact lines as people write them: odd white space, escapes, non-ASCII, repeated keys,
    /// other tenants, no email — and, on standard input only, lines that are no contact at all.
    func generated(count: Int, damaged: Bool) -> [String] {
        let names = ["ana", "Zoë", "josé", "Łukasz", "محمد", "李", "o\\u0027brien", "tab\\tbed"]
        let languages = ["\"fr\"", "\"en\"", "\"f\\u0072\"", "\"ES\"", "null", "7"]
        let tagSets = ["[]", "[\"a\"]", "[\"b\",\"c\"]", "[ \"a\" , \"b\" ]", "[\"\\u0061\",\"vip\"]", "\"a\"", "[\"a\",\"c\",\"vip\"]"]
        let statuses = ["\"validated\"", "\"bounced\"", "\"UNSUBSCRIBED\"", "\"pending\"", "null"]
        var lines: [String] = []
        for i in 0..<count {
            let name = names[i % names.count]
            let email = "\"\(name)\(i)@Exämple.com\""
            let tags = tagSets[(i / 3) % tagSets.count]
            let language = languages[(i / 2) % languages.count]
            let status = statuses[(i / 5) % statuses.count]
            let country = i % 4 == 0 ? "\"FR\"" : "\"b\\u00e9\""
            let tenant = i % 97 == 5 ? "\"t2\"" : "\"t1\""
            var members = ["\"tenant\":\(tenant)", "\"email\":\(email)", "\"tags\":\(tags)", "\"language\":\(language)",
                           "\"status\":\(status)", "\"country\":\(country)", "\"note\":\"\(name) \\\"quoted\\\" \\/ \(i)\"",
                           "\"validation\":{\"verdict\":\"\(i % 3 == 0 ? "valid" : "risky")\",\"reasons\":[{\"a\":[1,2.5e3,true]}]}"]
            switch i % 11 {
            case 0: members.append("\"tags\":[\"b\"]")            // a repeated key: the first counts
            case 1: members.swapAt(0, members.count - 1)
            case 2: members[1] = "\"e\\u006dail\":\(email)"        // an escaped key
            case 3: members.remove(at: 1)                          // no email
            default: break
            }
            let space = [" ", "", "\t", "  "][i % 4]
            lines.append(space + "{" + space + members.joined(separator: space + "," + space) + space + "}" + (i % 6 == 0 ? " " : ""))
            if damaged {
                switch i % 53 {
                case 7: lines.append(#"{"email":"cut@example.com","tags":["a""#)
                case 8: lines.append("[\"a\"]")
                case 9: lines.append(#"{"email":"bad\x@example.com"}"#)
                case 10: lines.append("")
                default: break
                }
            }
        }
        return lines
    }

    typealias Run = (lines: [String], summary: String, notes: [String], rejects: [String])

    func run(_ h: Harness, _ options: SegmentStage.Options) throws -> Run {
        let (lines, result, rejects) = try h.run(options)
        return (lines, result.summary.json.description, result.notes, rejects)
    }

    /// The settings compared: criteria of every kind, held-back contacts, counts, several segments, a shard.
    let settings: [(String, (inout SegmentStage.Options) -> Void)] = [
        ("language and any", { $0.criteria[0].languages = ["fr"]; $0.criteria[0].tagsAny = ["a", "c"] }),
        ("all and exclude", { $0.criteria[0].tagsAll = ["a"]; $0.criteria[0].tagsExclude = ["vip"] }),
        ("where", { $0.criteria[0].wheres = ["country = \"bé\" or language in (fr, es)"] }),
        ("status", { $0.criteria[0].statuses = ["pending", "validated"] }),
        ("everybody, suppressed too", { $0.includeSuppressed = true }),
        ("count", { $0.mode = .count; $0.criteria[0].tagsAny = ["b"] }),
        ("segments counted", {
            $0.mode = .count
            $0.segments = [SegmentDefinition(name: "fr", criteria: { var c = SegmentCriteria(); c.languages = ["fr"]; return c }()),
                           SegmentDefinition(name: "vip", criteria: { var c = SegmentCriteria(); c.tagsAll = ["vip"]; return c }())]
        }),
        ("a shard", { $0.shard = try! Shard(index: 1, count: 3); $0.criteria[0].tagsAny = ["a"] }),
    ]

    /// Runs every setting by the reference and on 1, 2 and 3 threads; returns the reference runs.
    func compareWithReference(_ h: Harness, _ base: SegmentStage.Options, _ what: String) throws -> [Run] {
        var references: [Run] = []
        for (name, set) in settings {
            var o = base
            set(&o)
            o.oneRecordAtATime = true
            let reference = try run(h, o)
            o.oneRecordAtATime = false
            for threads in [1, 2, 3] {
                o.threads = threads
                let r = try run(h, o)
                XCTAssertEqual(r.lines, reference.lines, "\(what), \(name), \(threads) threads: records")
                XCTAssertEqual(r.rejects, reference.rejects, "\(what), \(name), \(threads) threads: rejects")
                XCTAssertEqual(r.summary, reference.summary, "\(what), \(name), \(threads) threads: summary")
                XCTAssertEqual(r.notes, reference.notes, "\(what), \(name), \(threads) threads: notes")
            }
            references.append(reference)
        }
        return references
    }

    func testStdinBatchesEqualTheReference() throws {
        let h = Harness()
        let input = h.write("odd.ndjson", generated(count: 9000, damaged: true))
        let (slug, state) = try h.tenant(lines: [], suppressed: ["ana0@exämple.com", "Zoë12@EXÄMPLE.com"])
        let base = SegmentStage.Options(tenant: slug, state: state, source: .stdin,
                                        stream: StreamOptions(stage: "segment", inputs: [input]), criteria: [SegmentCriteria()])
        let references = try compareWithReference(h, base, "stdin")
        let everybody = references[4]
        XCTAssertGreaterThan(everybody.lines.count, 5000, "selects too few to test anything")
        let reasons = Set(everybody.rejects.compactMap { try? JSONValue.parse($0)["reason"]?.string })
        XCTAssertEqual(reasons, ["invalid_json", "not_an_object", "missing_email", "tenant_mismatch"])
        XCTAssertTrue(references[0].notes.joined().contains("held back: "), "nobody held back")
    }

    func testStoreBatchesEqualTheReferenceAndStdin() throws {
        for shards in [nil, 4] as [Int?] {
            let h = Harness()
            let (slug, state) = try h.tenant(lines: generated(count: 9000, damaged: false), suppressed: ["josé3@exämple.com"], shards: shards)
            var exported: [String] = []
            try TenantContacts.open(state.tenant(slug)).forEach { exported.append(String(decoding: $0, as: UTF8.self)) }
            XCTAssertGreaterThan(exported.count, 7000, "the commit kept too few")
            let what = "store of \(shards.map { "\($0) shards" } ?? "one run")"

            let store = SegmentStage.Options(tenant: slug, state: state, source: .store, stream: StreamOptions(stage: "segment"),
                                             criteria: [SegmentCriteria()])
            let fromStore = try compareWithReference(h, store, what)
            // The store's export on standard input selects the same records (the summary's "in"
            // and rejects may differ: stdin checks the tenant, the store's lines are its own).
            var stdin = store
            stdin.source = .stdin
            stdin.stream.inputs = [h.write("export.ndjson", exported)]
            for ((name, set), reference) in zip(settings, fromStore) {
                var o = stdin
                set(&o)
                XCTAssertEqual(try run(h, o).lines, reference.lines, "\(what), \(name): store and its export on stdin")
            }
            XCTAssertGreaterThan(fromStore[4].lines.count, 7000, what)
            XCTAssertTrue(fromStore[0].notes.joined().contains("held back: "), "\(what): nobody held back")
        }
    }
}
