import MailpipeCore
import XCTest

/// The parser's string scan (16 bytes at a time, UTF-8 checked inside strings by the lazy member
/// scan, up front by the full parse) against a plain byte loop: escapes, quotes, multi-byte and
/// invalid UTF-8 and control bytes at every offset relative to 16- and 32-byte blocks, in lines
/// short and long. Both parses must accept exactly the strings the loop accepts, ending where it
/// ends, and refuse the others with the loop's reason and offset.
final class StringScanTests: XCTestCase {
    /// Pieces of string content, valid and not.
    static let pieces: [[UInt8]] = [
        Array("a".utf8), Array("\\n".utf8), Array("\\\"".utf8), Array("\\\\".utf8), Array("\\/".utf8),
        Array("\\u00e9".utf8), Array("\\uD83D\\uDE00".utf8), Array("é".utf8), Array("€".utf8), Array("𝄞".utf8),
        Array("日本".utf8),
        // Not JSON strings: bad escapes, control bytes, invalid UTF-8 (lone continuation, overlong,
        // surrogate, cut short, above U+10FFFF, bytes never in UTF-8).
        Array("\\x".utf8), Array("\\u12G4".utf8), Array("\\u12".utf8), [0x01], [0x1F], [0x09], [0x7F],
        [0x80], [0xC0, 0x80], [0xC3], [0xED, 0xA0, 0x80], [0xE0, 0x9F, 0xBF], [0xE2, 0x82], [0xF0, 0x8F, 0xBF, 0xBF],
        [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF],
    ]

    func testEveryPieceAtEveryOffsetAgreesWithAByteLoop() throws {
        var checker = Checker()
        defer { checker.deallocate() }
        // The string starts at every offset of a 32-byte block (a member before it pads the line),
        // each piece lands at every offset of the string's first blocks.
        for pad in 0..<32 {
            for piece in Self.pieces {
                for before in 0..<34 {
                    for after in [0, 1, 17] {
                        let content = Array(repeating: UInt8(ascii: "a"), count: before) + piece
                            + Array(repeating: UInt8(ascii: "b"), count: after)
                        try checker.check(content, pad: pad)
                    }
                }
                if testRun?.failureCount ?? 0 > 5 { return }
            }
        }
        XCTAssertGreaterThan(checker.accepted, 10_000)
        XCTAssertGreaterThan(checker.refused, 10_000)
    }

    func testRandomMixesAgreeWithAByteLoop() throws {
        var checker = Checker()
        defer { checker.deallocate() }
        var rng = SeededGenerator(seed: 0x57A1_5CA7)
        for _ in 0..<30_000 {
            var content: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &rng) {
                // Mostly valid pieces and plain runs, so that long valid strings are common.
                switch Int.random(in: 0..<10, using: &rng) {
                case 0: content += Self.pieces.randomElement(using: &rng)!
                case 1...4: content += Self.pieces[0..<11].randomElement(using: &rng)!
                default: content += Array(repeating: UInt8(ascii: "x"), count: Int.random(in: 1...20, using: &rng))
                }
            }
            try checker.check(content, pad: Int.random(in: 0..<40, using: &rng))
            if testRun?.failureCount ?? 0 > 5 { return }
        }
        XCTAssertGreaterThan(checker.accepted, 10_000)
        XCTAssertGreaterThan(checker.refused, 5_000)
    }

    /// Parses `{"p":"<pad>","k":"<content>"}` (no "p" member when `pad` is 0) both ways and
    /// compares with `expected`.
    struct Checker {
        var full = JSONParser()
        var lazy = JSONParser()
        let slots = FieldSlots()
        var accepted = 0, refused = 0

        init() { _ = slots.slot("k") }

        func deallocate() { full.deallocate(); lazy.deallocate() }

        mutating func check(_ content: [UInt8], pad: Int) throws {
            var line = Array("{".utf8)
            if pad > 0 { line += Array("\"p\":\"".utf8) + Array(repeating: UInt8(ascii: "p"), count: pad - 1) + Array("\",".utf8) }
            line += Array("\"k\":".utf8)
            let start = line.count
            line += [UInt8(ascii: "\"")] + content + Array("\"}".utf8)
            let want = StringScanTests.expected(line, stringAt: start)
            let text = "\(line)"
            try line.withUnsafeBytes { raw in
                for keeping in [false, true] {
                    let got: Result<JSONDocument, JSONParseError>
                    do throws(JSONParseError) {
                        got = .success(keeping ? try lazy.parse(raw, keeping: slots) : try full.parse(raw))
                    } catch { got = .failure(error) }
                    switch (want, got) {
                    case (.failure(let e), .failure(let g)):
                        XCTAssertEqual(e, g, "keeping \(keeping): \(text)")
                    case (.success(let end), .success(let document)):
                        let value = document.root["k"]
                        XCTAssertEqual(value.map { Int(document.tokens[$0.index].end) }, end, "keeping \(keeping): \(text)")
                        XCTAssertEqual(value?.isEscaped, content.contains(UInt8(ascii: "\\")), "keeping \(keeping): \(text)")
                        if keeping { XCTAssertEqual(slots[0], value?.index, text) }
                    default:
                        XCTFail("expected \(want), keeping \(keeping) got \(got): \(text)")
                    }
                }
            }
            if case .success = want { accepted += 1 } else { refused += 1 }
        }
    }

    /// What the full parse makes of a line whose only unusual part is the string at `start`:
    /// its end, or the error (UTF-8 is checked over the whole line first).
    static func expected(_ line: [UInt8], stringAt start: Int) -> Result<Int, JSONParseError> {
        if let bad = firstInvalidUTF8(line) { return .failure(JSONParseError(.invalidUTF8, at: bad)) }
        let n = line.count
        var i = start + 1
        while i < n {
            let b = line[i]
            if b == UInt8(ascii: "\"") {
                // The string ends; the line must end with the object's brace right after it.
                if i + 2 == n { return .success(i + 1) }
                return .failure(i + 1 < n ? JSONParseError(.unexpectedByte(line[i + 1]), at: i + 1) : JSONParseError(.unexpectedEnd, at: i + 1))
            }
            if b < 0x20 { return .failure(JSONParseError(.controlCharacterInString, at: i)) }
            if b == UInt8(ascii: "\\") {
                guard i + 1 < n else { return .failure(JSONParseError(.unexpectedEnd, at: i + 1)) }
                let e = line[i + 1]
                if Array(#""\/bfnrt"#.utf8).contains(e) { i += 2; continue }
                guard e == UInt8(ascii: "u"), i + 6 <= n,
                      line[(i + 2)..<(i + 6)].allSatisfy({ $0 < 0x80 && Character(Unicode.Scalar($0)).isHexDigit })
                else { return .failure(JSONParseError(.invalidEscape, at: i)) }
                i += 6
                continue
            }
            i += 1
        }
        return .failure(JSONParseError(.unexpectedEnd, at: n))
    }

    /// The offset of the first byte that does not start a valid UTF-8 sequence (RFC 3629), or nil.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let length: Int, low: UInt8, high: UInt8   // the range of the second byte
            switch b {
            case 0x00...0x7F: i += 1; continue
            case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
            case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
            case 0xED: (length, low, high) = (3, 0x80, 0x9F)
            case 0xE1...0xEF: (length, low, high) = (3, 0x80, 0xBF)
            case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
            case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
            case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
            default: return i
            }
            guard i + length <= bytes.count, (low...high).contains(bytes[i + 1]),
                  bytes[(i + 2)..<(i + length)].allSatisfy({ $0 & 0xC0 == 0x80 }) else { return i }
            i += length
        }
        return nil
    }
}
