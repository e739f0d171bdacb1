import MailpipeCore
import ValidateStage
import MailpipeTestSupport
import XCTest

/// Records of every layout come out of validate as RecordPatch setting its members writes them:
/// a compact record as its own bytes around the new values (the lazy scan's members spliced),
/// any other (white space around or between the root's members, a repeated key validate reads
/// or sets, nesting the lazy scan leaves to the full parse) from its full parse.
final class ValidateLayoutTests: StageTestCase {
    static let setKeys = ["validation", "status", "email_original", "email", "email_ascii"]

    func run(_ cases: [(String, String)], fixTypos: Bool) throws {
        let inPath = write("in.ndjson", cases.map(\.0).joined(separator: "\n"))
        var options = Validate.Options(stream: StreamOptions(stage: "validate", inputs: [inPath], rejectsPath: "\(dir)/rejects.ndjson"))
        options.fixTypos = fixTypos
        // Deeper than the lazy scan's 64 levels: the full parse takes such a record.
        options.stream.maxDepth = 128
        let (lines, summary) = try runStage { try Validate.run(options, output: &$0).0 }
        XCTAssertEqual(lines, cases.map(\.1))
        XCTAssertEqual(summary["out"], cases.count)
        // The same bytes as RecordPatch setting each member validate changed.
        for ((input, _), line) in zip(cases, lines) {
            let output = try JSONValue.parse(line)
            let reference = try writtenByRecordPatch(input) { record, patch in
                for key in Self.setKeys {
                    guard let value = output[key] else { continue }
                    let before = record[key].map { try? JSONValue.parse(Array($0.raw)).serialized } ?? nil
                    if before != value.serialized { patch.set(key, value) }
                }
            }
            XCTAssertEqual(reference, line, input)
        }
    }

    func testEveryLayoutIsWrittenAsRecordPatchWritesIt() throws {
        let v = #"{"verdict":"valid","score":90,"reasons":[]}"#
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        try run([
            (#"{"email":"jean@firm.fr","n":1}"#, #"{"email":"jean@firm.fr","n":1,"validation":"# + v + #","status":"validated"}"#),
            (#"{"status":"pending","n":1,"validation":{"old":true},"email":"jean@firm.fr"}"#, #"{"status":"validated","n":1,"validation":"# + v + #","email":"jean@firm.fr"}"#),
            (#"{"validation":null,"email":"jean@firm.fr","status":"x"}"#, #"{"validation":"# + v + #","email":"jean@firm.fr","status":"validated"}"#),
            (#"{"email":"jean@firm.fr","status":"unsubscribed"}"#, #"{"email":"jean@firm.fr","status":"unsubscribed","validation":"# + v + #"}"#),
            (#"{ "email" : "jean@firm.fr", "status": "pending" }"#, #"{"email":"jean@firm.fr","status":"validated","validation":"# + v + #"}"#),
            (#"{"email":"jean@firm.fr" ,"n":1}"#, #"{"email":"jean@firm.fr","n":1,"validation":"# + v + #","status":"validated"}"#),
            (#"{"email":"jean@firm.fr"} "#, #"{"email":"jean@firm.fr","validation":"# + v + #","status":"validated"}"#),
            ("\t" + #"{"email":"jean@firm.fr"}"#, #"{"email":"jean@firm.fr","validation":"# + v + #","status":"validated"}"#),
            (#"{"email":"jean@firm.fr","o":{ "k" : [1, 2] },"status":"new"}"#, #"{"email":"jean@firm.fr","o":{ "k" : [1, 2] },"status":"validated","validation":"# + v + #"}"#),
            (#"{"status":"a","email":"jean@firm.fr","status":"b"}"#, #"{"status":"validated","email":"jean@firm.fr","validation":"# + v + #"}"#),
            (#"{"email":"jean@firm.fr","status":"a","st\u0061tus":"b"}"#, #"{"email":"jean@firm.fr","status":"validated","validation":"# + v + #"}"#),
            (#"{"email":"jean@firm.fr","v\u0061lidation":1}"#, #"{"email":"jean@firm.fr","v\u0061lidation":"# + v + #","status":"validated"}"#),
            (#"{"first_name":"Анастасия","email":"jean@firm.fr","city":"Москва","tags":["中文"]}"#, #"{"first_name":"Анастасия","email":"jean@firm.fr","city":"Москва","tags":["中文"],"validation":"# + v + #","status":"validated"}"#),
            (#"{"email":"anna@bücher.de","email_ascii":"old","status":"pending"}"#, #"{"email":"anna@bücher.de","email_ascii":"anna@xn--bcher-kva.de","status":"validated","validation":"# + v + #"}"#),
            (#"{"email":"jean@firm.fr","email":"info@firm.fr"}"#, #"{"email":"jean@firm.fr","email":"info@firm.fr","validation":"# + v + #","status":"validated"}"#),
            (#"{"email":"jean@firm.fr","deep":"# + deep + #"}"#, #"{"email":"jean@firm.fr","deep":"# + deep + #","validation":"# + v + #","status":"validated"}"#),
        ], fixTypos: false)
    }

    /// After a typo fix `email` is replaced where it stands and `email_original` appended
    /// (kept when the record has one).
    func testTypoFixesInEveryLayout() throws {
        let f = #"{"verdict":"valid","score":85,"reasons":["typo_fixed"]}"#
        try run([
            (#"{"email":"bob@gmial.com","n":1}"#, #"{"email":"bob@gmail.com","n":1,"validation":"# + f + #","status":"validated","email_original":"bob@gmial.com"}"#),
            (#"{"email_original":"x","email":"bob@gmial.com"}"#, #"{"email_original":"x","email":"bob@gmail.com","validation":"# + f + #","status":"validated"}"#),
            (#"{"status":"pending", "email":"bob@gmial.com"}"#, #"{"status":"validated","email":"bob@gmail.com","validation":"# + f + #","email_original":"bob@gmial.com"}"#),
            (#"{"em\u0061il":"bob@gmial.com","validation":{}}"#, #"{"em\u0061il":"bob@gmail.com","validation":"# + f + #","status":"validated","email_original":"bob@gmial.com"}"#),
        ], fixTypos: true)
    }
}
