import MailpipeCore
import ValidateStage
import MailpipeTestSupport
import XCTest

/// validate on several threads: the same records, in input order, the same rejects with their
/// file and line, and the same counts as on one — over inputs that span many batches.
final class ValidateThreadsTests: StageTestCase {
    /// Records numbered `n` in input order, with every kind of address, some of another
    /// tenant and some unsubscribed; bad lines of every kind between them.
    func inputs() throws -> ThreadedInputs {
        // Local part and domain around the record's number: valid, role, typo, syntax, disposable,
        // IDN, a space, special use, no MX, a typo --fix-typos fixes.
        let addresses = [("jean", "@gmail.com"), ("info", "@firm.fr"), ("bob", "@gnail.com"), ("a..b", "@firm.fr"),
                         ("x", "@mailinator.com"), ("anna", "@bücher.de"), (" s", "@firm.fr"), ("p", "@printer.local"),
                         ("v", "@sub.example.org"), ("z", "@gmial.com")]
        let stageRejects = [(#"{"first_name":"no email"}"#, "missing_email"), (#"{"email":42}"#, "invalid_email"),
                            (#"{"email":"t@firm.fr","tenant":"other"}"#, "tenant_mismatch")]
        return try ThreadedInputs(in: dir, every: 37, stageRejects: stageRejects) { n, i in
            let (local, domain) = addresses[i % addresses.count]
            let status = i % 11 == 0 ? #","status":"unsubscribed""# : ""
            let tenant = i % 3 == 0 ? #","tenant":"acme""# : ""
            return #"{"email":"\#(local)\#(n)\#(domain)","n":\#(n)\#(status)\#(tenant)}"#   // nothing to escape
        }
    }

    func run(_ paths: [String], threads: Int, _ configure: (inout Validate.Options) -> Void) throws -> Run {
        let rejectsPath = "\(dir)/rejects-\(threads).ndjson"
        var stream = StreamOptions(stage: "validate", inputs: paths, rejectsPath: rejectsPath, maxLine: 4096)
        stream.tenant = "acme"
        var options = Validate.Options(stream: stream, threads: threads)
        configure(&options)
        return try runStage(rejectsPath: rejectsPath) { try Validate.run(options, output: &$0).0 }
    }

    func testSeveralThreadsWriteWhatOneWrites() throws {
        let input = try inputs()
        typealias Setting = (String, (inout Validate.Options) -> Void)
        let settings: [Setting] = [
            ("default", { _ in }),
            ("--fix-typos --verdict valid,risky", { $0.fixTypos = true; $0.only = [.valid, .risky] }),
            ("--strict-disposable --verdict invalid", { $0.strictDisposable = true; $0.only = [.invalid] }),
        ]
        for (name, configure) in settings {
            var runs: [Run] = []
            for threads in [1, 2, 3] { runs.append(try run(input.paths, threads: threads, configure)) }
            let one = runs[0]
            // Independent of any run: the records come out in input order, each once (those
            // --verdict keeps), with the address they came in with.
            let out = try one.lines.map { line -> (Int, String) in
                let value = try JSONValue.parse(line)
                return (value["n"]!.int!, (value["email_original"] ?? value["email"])!.string!)
            }
            let ns = out.map(\.0)
            XCTAssertEqual(ns, ns.sorted(), "\(name): records out of input order")
            XCTAssertEqual(Set(ns).count, ns.count, "\(name): a record written twice")
            for (n, email) in out where String(email.prefix(while: { $0 != "@" }).reversed().prefix(while: \.isNumber).reversed()) != "\(n)" {
                XCTFail("\(name): record \(n) came out as \(email)")
                break
            }
            XCTAssertGreaterThan(out.count, 1000, "\(name): writes too little to test anything")
            // The rejects: every bad line, with its file and line number, in input order.
            XCTAssertEqual(try ThreadedInputs.rejects(one.rejects), input.rejects, name)
            // Every record is written, filtered or rejected.
            let summary = one.summary
            XCTAssertEqual(out.count + (summary["filtered"]?.int ?? 0), input.records, name)
            XCTAssertEqual(summary["in"]?.int, input.records + input.rejects.count, name)
            for (threads, run) in zip([2, 3], runs.dropFirst()) {
                XCTAssertEqual(run.lines, one.lines, "\(name): \(threads) threads")
                XCTAssertEqual(run.rejects, one.rejects, "\(name): \(threads) threads")
                XCTAssertEqual(run.summary, one.summary, "\(name): \(threads) threads")
            }
        }
    }
}
