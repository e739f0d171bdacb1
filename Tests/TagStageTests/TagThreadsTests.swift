import MailpipeCore
import MailpipeStore
import TagStage
import MailpipeTestSupport
import XCTest

/// tag on several threads: the same records, in input order, the same rejects with their file
/// and line, and the same counts as on one — over inputs that span many batches.
final class TagThreadsTests: StageTestCase {
    var state: StateRoot { StateRoot(explicit: "\(dir)/state") }

    /// A tenant `acme` with a taxonomy and rules; two inputs of ~6,000 lines each, records
    /// numbered `n` in input order with bad lines of every kind between them. Returns the paths,
    /// the record count and the rejects expected as "file:line:reason".
    func inputs() throws -> ThreadedInputs {
        try FileSystem.createDirectory("\(dir)/state")
        try FileSystem.createDirectory(state.tenant(try TenantSlug("acme")).path)
        _ = write("state/acme/tenant.json", #"{"slug":"acme","taxonomy":{"prestataire":["avocat","notaire"],"services":["prestataire"]}}"#)
        _ = write("state/acme/tag-rules.yaml", """
        rules:
          - name: lawyers
            when: { field: category, in: [lawyer, avocat] }
            add: avocat
          - name: paris
            when: { field: city, regex: "^Par" }
            add: [paris, ile-de-france]
            remove: prospect
        """)
        let categories = ["lawyer", "notary", "blogger", "avocat"]
        let cities = ["Paris", "Lyon", "Parme", "Oslo"]
        let tagLists = [#"["Prospect"]"#, #"["Expatrié","notaire"]"#, "[]", "null", #"["!!!","vip"]"#, #"["prospect","PROSPECT"]"#]
        let stageRejects = [(#"{"email":"t@firm.fr","tags":"vip"}"#, "invalid_tags"), (#"{"email":"t@firm.fr","tags":["vip",3]}"#, "invalid_tags"),
                            (#"{"email":"t@firm.fr","tenant":"other"}"#, "tenant_mismatch")]
        return try ThreadedInputs(in: dir, every: 41, stageRejects: stageRejects) { n, i in
            let tenant = i % 3 == 0 ? #""tenant":"acme","# : ""
            let language = i % 5 == 0 ? "" : #","language":"\#(["fr", "en", "Español", "zh-Hans"][i % 4])""#
            return #"{\#(tenant)"n":\#(n),"email":"c\#(n)@firm.fr","category":"\#(categories[i % 4])","city":"\#(cities[(i / 4) % 4])","tags":\#(tagLists[i % tagLists.count])\#(language),"country":"FR"}"#
        }
    }

    func run(_ paths: [String], threads: Int, _ configure: (inout Tagging.Options) -> Void = { _ in }) throws -> Run {
        let rejectsPath = "\(dir)/rejects-\(threads).ndjson"
        var options = Tagging.Options(stream: StreamOptions(stage: "tag", inputs: paths, rejectsPath: rejectsPath, maxLine: 4096),
                                      tenant: try TenantSlug("acme"), state: state, threads: threads)
        configure(&options)
        return try runStage(rejectsPath: rejectsPath) { try Tagging.run(options, output: &$0).0 }
    }

    func testSeveralThreadsWriteWhatOneWrites() throws {
        let input = try inputs()
        let (paths, records) = (input.paths, input.records)
        let settings: [(String, (inout Tagging.Options) -> Void)] = [
            ("tenant rules and taxonomy", { _ in }),
            ("--add --remove, no built-ins", { $0.add = ["import-nov"]; $0.remove = ["vip"]; $0.builtinLanguage = false }),
        ]
        for (name, configure) in settings {
            let runs = try [1, 2, 3].map { try run(paths, threads: $0, configure) }
            let one = runs[0]
            // Independent of any run: every record comes out once, in input order.
            let ns = try one.lines.map { try JSONValue.parse($0)["n"]!.int! }
            XCTAssertEqual(ns, Array(0..<records), "\(name): records lost, repeated or out of input order")
            // The rejects: every bad line, with its file and line number, in input order.
            XCTAssertEqual(try ThreadedInputs.rejects(one.rejects), input.rejects, name)
            XCTAssertEqual(one.summary["in"]?.int, records + input.rejects.count, name)
            XCTAssertGreaterThan(one.summary["tagged"]?.int ?? 0, 1000, "\(name): tags too little to test anything")
            for (threads, run) in zip([2, 3], runs.dropFirst()) {
                XCTAssertEqual(run.lines, one.lines, "\(name): \(threads) threads")
                XCTAssertEqual(run.rejects, one.rejects, "\(name): \(threads) threads")
                XCTAssertEqual(run.summary, one.summary, "\(name): \(threads) threads")
            }
        }
        let sample = try JSONValue.parse(try run(paths, threads: 3).lines[0])
        XCTAssertEqual(sample["tags"]?.array?.compactMap(\.string), ["avocat", "paris", "ile-de-france", "country-fr", "prestataire", "services"])
    }

    /// A record whose tenant's tenant.json does not read stops the run there, on any number of
    /// threads, even far into the input (other threads have tagged records beyond it).
    func testBrokenTaxonomyStopsTheRunOnAnyThreads() throws {
        try FileSystem.createDirectory("\(dir)/state")
        try FileSystem.createDirectory(state.tenant(try TenantSlug("broken")).path)
        _ = write("state/broken/tenant.json", #"{"slug":"broken","taxonomy":"#)
        var lines = (0..<9000).map { #"{"email":"c\#($0)@firm.fr","tenant":"good","tags":["a"]}"# }
        lines[7000] = #"{"email":"x@firm.fr","tenant":"broken"}"#
        let path = write("in.ndjson", lines.joined(separator: "\n") + "\n")
        var errors: [String] = []
        for threads in [1, 3] {
            let options = Tagging.Options(stream: StreamOptions(stage: "tag", inputs: [path]), state: state, threads: threads)
            XCTAssertThrowsError(try runStage { try Tagging.run(options, output: &$0).0 }, "\(threads) threads") { errors.append("\($0)") }
            // What was written before the error: the records before the broken one, no more.
            let written = String(decoding: try FileSystem.readFile("\(dir)/out.ndjson"), as: UTF8.self).split(separator: "\n")
            XCTAssertLessThanOrEqual(written.count, 7000, "\(threads) threads")
            if let last = written.last { XCTAssertTrue(last.contains("\"c\(written.count - 1)@"), "\(threads) threads: \(last)") }
        }
        XCTAssertEqual(errors.count, 2)
        XCTAssertEqual(errors.first, errors.last)
        XCTAssertTrue(errors.first?.contains("tenant.json") ?? false, errors.first ?? "")
    }
}
