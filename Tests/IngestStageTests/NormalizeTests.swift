@_spi(_Unicode) import Swift
import IngestStage
import XCTest

/// NFC through the byte-level fast path: letters of the common scripts skip the slow check, so
/// the marks that follow them must still be composed.
final class NormalizeTests: XCTestCase {
    func testDecomposedTextOfEveryScriptIsComposed() {
        let cases: [(String, String)] = [
            ("\u{418}\u{306}", "\u{419}"),            // Cyrillic И + breve → Й
            ("\u{627}\u{653}", "\u{622}"),            // Arabic alef + madda → آ
            ("\u{648}\u{654}", "\u{624}"),            // Arabic waw + hamza above → ؤ
            ("\u{928}\u{93C}", "\u{929}"),            // Devanagari na + nukta → ऩ
            ("\u{AC00}\u{11A8}", "\u{AC01}"),         // Hangul 가 + final ㄱ → 각
            ("e\u{301}", "\u{E9}"),                   // Latin e + acute → é
        ]
        for (input, composed) in cases {
            XCTAssertEqual(Array(Normalize.text(input).unicodeScalars), Array(composed.unicodeScalars), "\(input.unicodeScalars.map { String($0.value, radix: 16) })")
        }
    }

    func testComposedTextOfEveryScriptIsKept() {
        for text in ["Анастасия Павлов", "حسن الفاسي", "प्रिया शर्मा", "王伟", "김민준", "Ünal Çelik", "José"] {
            XCTAssertEqual(Normalize.text(text), text)
        }
    }
}

/// The quick check's tables against the standard library's own NFC, and the check itself against
/// NFC on random text built from the characters that matter.
final class NFCQuickCheckTests: XCTestCase {
    static func nfcScalars(_ s: String) -> [Unicode.Scalar] { Array(Normalize.nfc(s).unicodeScalars) }

    static func ranges(_ values: [UInt32]) -> [ClosedRange<UInt32>] {
        var out: [ClosedRange<UInt32>] = []
        for v in values.sorted() {
            if let last = out.last, last.upperBound + 1 == v { out[out.count - 1] = last.lowerBound...v } else { out.append(v...v) }
        }
        return out
    }

    func testTablesMatchTheStandardLibrary() {
        var replaced: [UInt32] = []
        var composing = Set<UInt32>()
        for v in UInt32(0x300)...0x10FFFF {
            guard let x = Unicode.Scalar(v) else { continue }
            let s = String(x)
            if NFCQuickCheckTests.nfcScalars(s) != [x] { replaced.append(v) }
            // A composite that NFC rebuilds from its decomposition: its later parts compose.
            let parts = Array(s._nfd)
            if parts.count >= 2 && NFCQuickCheckTests.nfcScalars(String(String.UnicodeScalarView(parts))) == [x] {
                for p in parts.dropFirst() { composing.insert(p.value) }
            }
        }
        XCTAssertEqual(NFCQuickCheck.replaced, NFCQuickCheckTests.ranges(replaced))
        XCTAssertEqual(NFCQuickCheck.composesWithPrevious, NFCQuickCheckTests.ranges(Array(composing.subtracting(replaced))))
    }

    func testTextThatPassesTheCheckIsNFC() {
        // Starters, marks that compose, marks that do not, in and out of canonical order.
        let pool: [Unicode.Scalar] = ["e", "a", "\u{418}", "\u{928}", "\u{915}", "\u{94D}", "\u{93C}", "\u{93F}", "\u{301}",
                                      "\u{323}", "\u{308}", "\u{316}", "\u{327}", "\u{1100}", "\u{1161}", "\u{AC00}",
                                      "\u{11A8}", "\u{627}", "\u{653}", "\u{64E}", "\u{651}", "\u{5D0}", "\u{5B4}", "\u{340}",
                                      "\u{F900}", "\u{4E2D}", " "]
        var rng = SystemRandomNumberGenerator()
        var unchanged = 0
        for _ in 0..<20_000 {
            var view = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 1...5, using: &rng) { view.append(pool.randomElement(using: &rng)!) }
            let text = String(view)
            if !Normalize.mayNeedNFC(text) {
                unchanged += 1
                XCTAssertEqual(NFCQuickCheckTests.nfcScalars(text), Array(text.unicodeScalars),
                               "\(text.unicodeScalars.map { String($0.value, radix: 16) }) passed the quick check but is not NFC")
            }
        }
        XCTAssertGreaterThan(unchanged, 1000)
    }

    static func checkRow(_ bytes: [UInt8]) -> Normalize.RowText { bytes.withUnsafeBytes { Normalize.checkRow($0) } }

    func testRowCheckFindsBadUTF8AndJudgesNFC() {
        XCTAssertEqual(NFCQuickCheckTests.checkRow(Array("a@b.org,Zoé,प्रिया,王伟".utf8)), .surelyNFC)
        XCTAssertEqual(NFCQuickCheckTests.checkRow(Array("a@b.org,e\u{301}".utf8)), .mayNeedNFC)
        XCTAssertEqual(NFCQuickCheckTests.checkRow(Array("a@b.org,e\u{301},".utf8) + [0xFF]), .invalidUTF8, "bad bytes after a mark")
        XCTAssertEqual(NFCQuickCheckTests.checkRow([0x61, 0xC3]), .invalidUTF8, "cut sequence")
        XCTAssertEqual(NFCQuickCheckTests.checkRow([0xED, 0xA0, 0x80]), .invalidUTF8, "surrogate")
        XCTAssertEqual(NFCQuickCheckTests.checkRow([0xC0, 0xAF]), .invalidUTF8, "overlong")
        // Random bytes from a pool of pieces: valid exactly when the standard library decodes them
        // without repairs; when judged NFC, each comma-separated value is unchanged by NFC.
        let pieces: [[UInt8]] = [[0x61], [0x2C], [0x2C], Array("é".utf8), Array("\u{301}".utf8), Array("\u{94D}".utf8),
                                 Array("\u{651}".utf8), Array("\u{64E}".utf8), Array("王".utf8), [0xFF], [0xE0, 0xA4], [0x80]]
        var rng = SystemRandomNumberGenerator()
        var judged = [Normalize.RowText: Int]()
        for _ in 0..<20_000 {
            var row: [UInt8] = []
            for _ in 0..<Int.random(in: 1...8, using: &rng) { row += pieces.randomElement(using: &rng)! }
            let verdict = NFCQuickCheckTests.checkRow(row)
            judged[verdict, default: 0] += 1
            let valid = String(validating: row, as: UTF8.self) != nil
            XCTAssertEqual(verdict == .invalidUTF8, !valid, "\(row)")
            if verdict == .surelyNFC {
                for value in row.split(separator: 0x2C, omittingEmptySubsequences: false) {
                    let text = String(decoding: value, as: UTF8.self)
                    XCTAssertEqual(NFCQuickCheckTests.nfcScalars(text), Array(text.unicodeScalars), "\(row)")
                }
            }
        }
        XCTAssertEqual(judged.count, 3, "every verdict met: \(judged)")
    }

    /// The letters told by their bytes alone (Latin below U+0300, Cyrillic, Arabic and Devanagari
    /// letters, Han; Cyrillic a word at a time) at the edges of their ranges, next to marks, cut
    /// short or malformed at every place in the row: bad bytes found exactly, a row judged NFC is
    /// NFC, and a row of those letters and ASCII only is judged NFC.
    func testRowCheckAtTheEdgesOfTheLettersToldByTheirBytes() {
        let letters: [Unicode.Scalar] = ["\u{C0}", "\u{2FF}", "\u{400}", "\u{430}", "\u{47F}", "\u{620}", "\u{63F}", "\u{640}",
                                         "\u{64A}", "\u{905}", "\u{939}", "\u{93E}", "\u{94C}", "\u{4E00}", "\u{4FFF}", "\u{5000}",
                                         "\u{9FFF}", "a", ","]
        let others: [Unicode.Scalar] = ["\u{300}", "\u{301}", "\u{3FF}", "\u{480}", "\u{483}", "\u{61F}", "\u{64B}", "\u{653}",
                                        "\u{654}", "\u{670}", "\u{904}", "\u{93A}", "\u{93C}", "\u{93D}", "\u{94D}", "\u{4DFF}",
                                        "\u{A000}", "\u{AC00}", "\u{1F389}", "\u{F900}"]
        let broken: [[UInt8]] = [[0xD0], [0xD1, 0x41], [0xE5, 0x80], [0xE4, 0xB8], [0xE0, 0xA4], [0x80], [0xC1, 0x80],
                                 [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF]]
        var g = FastPathTests.Generator(state: 0x5EED_0014)
        var judged = [Normalize.RowText: Int]()
        for round in 0..<40_000 {
            var row: [UInt8] = []
            let lettersOnly = round % 3 == 0
            for _ in 0..<(1 + g.below(24)) {
                switch lettersOnly ? 0 : g.below(12) {
                case 0...7:
                    let letter = g.pick(letters)
                    // Runs of Cyrillic, for the word-at-a-time skip.
                    row += Array(String(repeating: String(letter), count: letter.value == 0x430 ? 1 + g.below(9) : 1).utf8)
                case 8...10: row += Array(String(g.pick(others)).utf8)
                default: row += g.pick(broken)
                }
            }
            let verdict = NFCQuickCheckTests.checkRow(row)
            judged[verdict, default: 0] += 1
            XCTAssertEqual(verdict == .invalidUTF8, String(validating: row, as: UTF8.self) == nil, "\(row)")
            if lettersOnly { XCTAssertEqual(verdict, .surelyNFC, "\(row)") }
            if verdict == .surelyNFC {
                for value in row.split(separator: 0x2C, omittingEmptySubsequences: false) {
                    let text = String(decoding: value, as: UTF8.self)
                    XCTAssertEqual(NFCQuickCheckTests.nfcScalars(text), Array(text.unicodeScalars), "\(row)")
                }
            }
        }
        XCTAssertEqual(judged.count, 3, "every verdict met: \(judged)")
    }
}
