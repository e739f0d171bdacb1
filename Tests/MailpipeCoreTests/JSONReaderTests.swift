import MailpipeCore
import XCTest

final class JSONReaderTests: XCTestCase {
    func parse(_ text: String, maxDepth: Int = 64) throws -> JSONValue {
        try JSONValue.parse(Array(text.utf8), maxDepth: maxDepth)
    }

    func parseError(_ bytes: [UInt8], maxDepth: Int = 64) -> JSONParseError? {
        do { _ = try JSONValue.parse(bytes, maxDepth: maxDepth); return nil } catch { return error }
    }

    func testObjectsKeepKeyOrderAndUnknownFields() throws {
        let value = try parse(#"{"z":1,"a":{"y":[true,false,null]},"m":"x"}"#)
        XCTAssertEqual(value.object?.keys, ["z", "a", "m"])
        XCTAssertEqual(value.description, #"{"z":1,"a":{"y":[true,false,null]},"m":"x"}"#)
    }

    func testNumbersAreKeptExactlyAsWritten() throws {
        let text = #"{"id":12345678901234567890123,"phone":33612345678,"f":1.10,"e":-0.5E+10}"#
        let value = try parse(text)
        XCTAssertEqual(value["id"], .number("12345678901234567890123"))
        XCTAssertEqual(value["f"], .number("1.10"))
        XCTAssertEqual(value.description, text)
    }

    func testEscapesAreDecodedAndWrittenBack() throws {
        let value = try parse(#"{"s":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00\u0001"}"#)
        XCTAssertEqual(value["s"]?.string, "a\"b\\c/d\n\té😀\u{01}")
        XCTAssertEqual(value.description, #"{"s":"a\"b\\c/d\n\té😀\u0001"}"#)
    }

    func testWriterEscapesControlCharactersAndPassesUnicode() {
        var buffer = ByteBuffer()
        buffer.appendJSONString("\u{00}\u{1F}\u{7F}\"\\ مرحبا 移民 \r\u{08}\u{0C}")
        XCTAssertEqual(String(decoding: buffer.bytes, as: UTF8.self), "\"\\u0000\\u001f\u{7F}\\\"\\\\ مرحبا 移民 \\r\\b\\f\"")
    }

    func testLoneSurrogateEscapeBecomesReplacementCharacter() throws {
        XCTAssertEqual(try parse(#"["\ud800x"]"#).array?.first?.string, "\u{FFFD}x")
    }

    func testRejectsInvalidUTF8WithItsOffset() {
        let bytes: [UInt8] = Array(#"{"a":"ok"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        let error = parseError(bytes)
        XCTAssertEqual(error?.reason, .invalidUTF8)
        XCTAssertEqual(error?.offset, 8)
        XCTAssertEqual(error?.code, "invalid_utf8")
        // Overlong encoding and an encoded surrogate.
        XCTAssertEqual(parseError(Array("[\"".utf8) + [0xC0, 0xAF] + Array("\"]".utf8))?.reason, .invalidUTF8)
        XCTAssertEqual(parseError(Array("[\"".utf8) + [0xED, 0xA0, 0x80] + Array("\"]".utf8))?.reason, .invalidUTF8)
    }

    func testNestingDepthIsBounded() {
        let deep = String(repeating: "[", count: 100_000)
        XCTAssertEqual(parseError(Array(deep.utf8), maxDepth: 64)?.reason, .tooDeep(64))
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        XCTAssertNil(parseError(Array(ok.utf8), maxDepth: 64))
        let over = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        XCTAssertEqual(parseError(Array(over.utf8), maxDepth: 64)?.reason, .tooDeep(64))
    }

    func testHugeLineParses() throws {
        let big = String(repeating: "x", count: 3_000_000)
        let value = try parse("{\"big\":\"\(big)\",\"n\":[" + Array(repeating: "1", count: 100_000).joined(separator: ",") + "]}")
        XCTAssertEqual(value["big"]?.string?.count, 3_000_000)
        XCTAssertEqual(value["n"]?.array?.count, 100_000)
    }

    func testRejectsCommonMistakes() {
        for bad in ["", "  ", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "{\"a\":1,}", "[01]", "[1.]", "[.5]", "[+1]",
                    "{'a':1}", "[\"a\tb\"]", "[\"\\x\"]", "[\"\\u12\"]", "[1] x", "[true false]", "[nul]", "{\"a\":1}}"] {
            XCTAssertNotNil(parseError(Array(bad.utf8)), "accepted: \(bad)")
        }
    }

    func testRoundTripOfWrittenValueParsesToSameValue() throws {
        let samples = [#"{"a":[1,2,{"b":null}],"c":"\u2028 é","d":-0.0,"e":1e400}"#, #"[[],{},"",0]"#, #"" ""#, "3.5e-7"]
        for text in samples {
            let once = try parse(text)
            let twice = try JSONValue.parse(once.serialized)
            XCTAssertEqual(once, twice, text)
        }
    }
}
