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
