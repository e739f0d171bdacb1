import MailpipeCore
import ValidateStage
import MailpipeTestSupport
import XCTest

/// The stage in-process: fields written, statuses, --verdict, --fix-typos, lists, rejects, summary.
final class ValidateRunTests: StageTestCase {
    func run(_ input: String, _ configure: (inout Validate.Options) -> Void = { _ in }) throws -> (lines: [String], summary: Summary) {
        let inPath = write("in.ndjson", input)
        var options = Validate.Options(stream: StreamOptions(stage: "validate", inputs: [inPath], rejectsPath: "\(dir)/rejects.ndjson"))
        configure(&options)
        return try runStage { try Validate.run(options, output: &$0).0 }
    }

    func testFieldsAndStatus() throws {
        let (lines, summary) = try run("""
        {"email":"jean@firm.fr","first_name":"Jean","custom":{"k":[1,2]}}
        {"email":"info@firm.fr","status":"pending"}
        {"email":"a..b@firm.fr"}
        {"email":"x@mailinator.com","status":"unsubscribed"}
        {"email":"bob@gnail.com"}
        {"email":"anna@bücher.de"}
        """)
        XCTAssertEqual(lines, [
            #"{"email":"jean@firm.fr","first_name":"Jean","custom":{"k":[1,2]},"validation":{"verdict":"valid","score":90,"reasons":[]},"status":"validated"}"#,
            #"{"email":"info@firm.fr","status":"risky","validation":{"verdict":"risky","score":60,"reasons":["role"]}}"#,
            #"{"email":"a..b@firm.fr","validation":{"verdict":"invalid","score":0,"reasons":["syntax"]},"status":"invalid"}"#,
            #"{"email":"x@mailinator.com","status":"unsubscribed","validation":{"verdict":"risky","score":40,"reasons":["disposable"]}}"#,
            #"{"email":"bob@gnail.com","validation":{"verdict":"risky","score":50,"reasons":["typo"],"suggestion":"bob@gmail.com"},"status":"risky"}"#,
            #"{"email":"anna@bücher.de","validation":{"verdict":"valid","score":90,"reasons":[]},"status":"validated","email_ascii":"anna@xn--bcher-kva.de"}"#,
        ])
        XCTAssertEqual(summary["valid"], 2)
        XCTAssertEqual(summary["risky"], 3)
        XCTAssertEqual(summary["invalid"], 1)
        XCTAssertEqual(summary["role"], 1)
        XCTAssertEqual(summary["out"], 6)
    }

    func testOnlyAndFixTypos() throws {
        let input = """
        {"email":"bob@gmial.com"}
        {"email":"bob@gmailcom"}
        {"email":"bad@@x.fr"}
        {"email":"info@firm.fr"}
        """
        let (lines, summary) = try run(input) {
            $0.only = [.valid]
            $0.fixTypos = true
        }
        XCTAssertEqual(lines, [
            #"{"email":"bob@gmail.com","validation":{"verdict":"valid","score":85,"reasons":["typo_fixed"]},"status":"validated","email_original":"bob@gmial.com"}"#,
            #"{"email":"bob@gmail.com","validation":{"verdict":"valid","score":85,"reasons":["typo_fixed"]},"status":"validated","email_original":"bob@gmailcom"}"#,
        ])
        XCTAssertEqual(summary["filtered"], 2)
        XCTAssertEqual(summary["in"], 4)
        XCTAssertEqual(try Validate.parseVerdicts("valid, risky"), [.valid, .risky])
        XCTAssertThrowsError(try Validate.parseVerdicts("good"))
    }

    func testListsFromFiles() throws {
        let extra = write("disposable.txt", "# the public list format\nthrowaway.firm.net\n\nBurner.IO\n")
        let allow = write("allow.txt", "mailinator.com\n")
        let (lines, _) = try run("""
        {"email":"a@x.throwaway.firm.net"}
        {"email":"a@burner.io"}
        {"email":"a@mailinator.com"}
        """) {
            $0.disposableLists = [extra]
            $0.allowLists = [allow]
            $0.strictDisposable = true
        }
        XCTAssertTrue(lines[0].contains(#""verdict":"invalid","score":10,"reasons":["disposable"]"#), lines[0])
        XCTAssertTrue(lines[1].contains(#""reasons":["disposable"]"#))
        XCTAssertTrue(lines[2].contains(#""verdict":"valid""#))
        let bad = write("bad.txt", "ok.com\nnot a domain\n")
        XCTAssertThrowsError(try Validate.loadDomainList(bad)) { error in
            XCTAssertTrue("\(error)".contains("bad.txt:2"), "\(error)")
        }
    }

    func testRejects() throws {
        let (lines, summary) = try run("""
        {"first_name":"no email"}
        {"email":42}
        not json

        {"email":"ok@firm.fr"}
        """)
        XCTAssertEqual(lines.count, 1)
        XCTAssertEqual(summary["rejected"], 3)
        XCTAssertEqual(summary["in"], 4)
        let rejects = String(decoding: try FileSystem.readFile("\(dir)/rejects.ndjson"), as: UTF8.self)
        XCTAssertTrue(rejects.contains(#""reason":"missing_email""#) && rejects.contains(#""line":1"#))
        XCTAssertTrue(rejects.contains(#""reason":"invalid_email""#) && rejects.contains(#""line":2"#))
    }
}
