import IngestStage
import XCTest

/// `CountryCodes.region(named:)` reads CLDR's names one display language at a time, as far as a
/// name needs; the answers must be those of the whole table built at once.
final class CountryNameTests: XCTestCase {
    func testNamesReadLanguageByLanguageAnswerAsTheWholeTable() {
        let whole = CountryCodes.namesInEveryLanguage()
        XCTAssertGreaterThan(whole.count, 2000)
        for (key, region) in whole { XCTAssertEqual(CountryCodes.region(named: key), region, key) }
        for key in ["atlantis", "europe", "", "xx", "francee", "etatsuni", "россияя"] where whole[key] == nil {
            XCTAssertNil(CountryCodes.region(named: key), key)
        }
        // Names of several languages, aliases over CLDR, and a short form of a qualified name.
        for (name, code) in [("Frankreich", "FR"), ("Россия", "RU"), ("تايلاند", "TH"), ("中国", "CN"), ("Korea", "KR"),
                             ("Myanmar", "MM"), ("Estados Unidos", "US"), ("Paesi Bassi", "NL")] {
            XCTAssertEqual(CountryCodes.code(for: name), code, name)
            XCTAssertEqual(whole[HeaderAliases.compact(name)], code, name)
        }
    }
}

/// The tables written out or answered without CLDR agree with what it says.
final class StartUpTableTests: XCTestCase {
    func testWrittenOutRegionsAreCLDRs() {
        XCTAssertEqual(CountryCodes.regions, CountryCodes.regionsInCLDR())
    }

    func testCodesAnswerThemselvesAsTheNamesTableDid() {
        // Codes, tags and names: the codes answered without the names table, the rest through it.
        for code in LanguageCodes.codes.sorted() {
            XCTAssertEqual(LanguageCodes.code(for: code), code)
            XCTAssertEqual(LanguageCodes.code(for: code.uppercased() + "-XX"), code)
        }
        for (text, code) in [("Français", "fr"), ("English (United States)", "en"), ("中文", "zh"), ("fra", "fr"), ("deu", "de"),
                             ("العربية", "ar"), ("हिन्दी", "hi"), ("pt_BR", "pt"), ("Русский", "ru")] {
            XCTAssertEqual(LanguageCodes.code(for: text), code, text)
        }
        for text in ["xx", "it", "klingon", ""] { XCTAssertNil(LanguageCodes.code(for: text), text) }
    }
}
