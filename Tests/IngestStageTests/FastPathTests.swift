#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IngestStage
import MailpipeCore
import XCTest

/// The fast paths of CSV ingest against the plain ones, on generated tables: a row without `"`
/// is split, checked for JSON escapes and for ASCII in one pass (`scanUnquoted`), a row with one
/// goes through `scan` — so the same table written with every field quoted must give the same
/// bytes. So must the table with CRLF ends, a byte-order mark, in UTF-16 (both orders) and, for
/// its Latin rows, in Windows-1252 and Latin-1. Rows are long enough to cross the reader's and the
/// row batches' buffer ends; some fields are tens of kilobytes, some over --max-field.
final class FastPathTests: IngestTestCase {
    /// A small deterministic generator (xorshift64*): the tables are the same on every run.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ list: [T]) -> T { list[below(list.count)] }
    }

    static let header = ["email", "first_name", "last_name", "company", "website", "phone", "country", "city", "language", "tags", "notes"]

    /// Values that need no quoting: scripts, marks to compose, edges to trim, escapes, tabs.
    static let names = ["Ann", "Élodie", "Анастасия", "حسن", "王伟", "김민준", "प्रिया", "José", "Zoë", "e\u{301}mile",
                        "\u{A0}Lea\u{A0}", "\u{200B}Max", "  Bob ", "O\\Neil", "tab\there", "Ünal", "🎉 Party", ""]
    static let latinNames = ["Ann", "Élodie", "José", "Zoë", "Ünal", "  Bob ", "O\\Neil", "Renée", "Ærø", ""]
    static let companies = ["Acme", "Agence d'Aubigné", "ИП Иванов", "مكتب الفاسي", "", "Müller & Söhne", "back\\slash"]
    static let phones = ["+33612345678", "06 12 34 56 78", "+1 (415) 555-0100", "0033 6 12 34 56 78", "612345678",
                         "+44 20 7946 0958", "n/a", "", "+7 950 917 34 65", "33612345678"]
    static let countries = ["FR", "fr", "France", "Allemagne", "Deutschland", "Россия", "", "Atlantis", "US", "españa"]
    static let languages = ["fr", "en", "Français", "русский", "العربية", "", "klingon", "DE"]
    static let tagPool = ["notaire", "avocat|premium", "expat;retraite", "lang-ru", "* myContacts ::: vip", "Immobilier",
                          "comptable|prestataire|retraite", "  ", "éàü", "§§"]
    static let websites = ["https://Example.COM/Path?q=1", "www.site.fr", "linkedin.com/in/ann", "", "HTTP://X.ORG"]

    /// One row's values (no `"`, delimiter or newline: those rows are `quotedRow`).
    static func plainRow(_ g: inout Generator, latin: Bool, index: Int) -> [String] {
        let first = g.pick(latin ? latinNames : names)
        var email = "user\(index)@Example.com"
        switch g.below(40) {
        case 0: email = ""
        case 1: email = "not an address"
        case 2: email = "Name <MiXeD\(index)@Host.Org>"
        case 3: email = "mailto:a\(index)@b.fr?subject=x"
        case 4: email = latin ? "é\(index)@x.fr" : "Zoë\(index)@Exâmple.fr"
        case 5: email = "a@b@c\(index).fr"
        default: break
        }
        var notes = g.below(3) == 0 ? "note \(index)" : ""
        if g.below(200) == 0 { notes = String(repeating: latin ? "é" : "ж", count: 10_000 + g.below(20_000)) }   // long, under --max-field
        if g.below(400) == 0 { notes = String(repeating: "x", count: 70_000) }                                      // over --max-field
        return [email, first, g.pick(latin ? latinNames : names), latin ? "Acme" : g.pick(companies), g.pick(websites),
                g.pick(phones), latin ? g.pick(["FR", "France", "Allemagne", "US", ""]) : g.pick(countries), latin ? "Lyon" : g.pick(["Lyon", "Москва", "", "São Paulo"]),
                latin ? g.pick(["fr", "Français", "en", ""]) : g.pick(languages), g.pick(tagPool), notes]
    }

    /// Values that need quotes: delimiters, doubled quotes, newlines, text after a closing quote.
    static func quotedRow(_ g: inout Generator, index: Int) -> [String] {
        var row = plainRow(&g, latin: true, index: index)
        row[3] = g.pick(["Acme, Inc.", "She said \"hi\"", "Multi\nLine", "\"\"", "a,b\nc \"d\""])
        row[9] = g.pick(["x,y", "\"quoted\" tag", "a\nb"])
        return row
    }

    static func field(_ value: String, quoteAll: Bool) -> String {
        let quotes = value.utf8.contains(UInt8(ascii: "\""))
        guard quoteAll || quotes || value.utf8.contains(UInt8(ascii: ",")) || value.utf8.contains(0x0A) else { return value }
        return "\"" + (quotes ? value.replacingOccurrences(of: "\"", with: "\"\"") : value) + "\""
    }

    /// A table of `count` rows: a few need quotes, a few are ragged, a few hold a control byte.
    static func table(count: Int, latin: Bool, seed: UInt64) -> [[String]] {
        var g = Generator(state: seed)
        return (0..<count).map { i in
            var row = !latin && g.below(25) == 0 ? quotedRow(&g, index: i) : plainRow(&g, latin: latin, index: i)
            switch g.below(300) {
            case 0: row.append("extra")
            case 1: row.removeLast()
            case 2: row[1] += "\u{1}"
            default: break
            }
            return row
        }
    }

    static func csv(_ rows: [[String]], quoteAll: Bool, lineEnd: String = "\n", bom: Bool = false) -> String {
        var text = bom ? "\u{FEFF}" : ""
        text += header.map { field($0, quoteAll: quoteAll) }.joined(separator: ",") + lineEnd
        for row in rows {
            let line = row.map { field($0, quoteAll: quoteAll) }.joined(separator: ",")
            text += (lineEnd != "\n" && line.utf8.contains(0x0A) ? line.replacingOccurrences(of: "\n", with: lineEnd) : line) + lineEnd
        }
        return text
    }

    /// ingest's output, rejects (reason@line) and counts for `bytes` written as `name` in its own folder.
    func run(_ name: String, _ folder: String, _ bytes: [UInt8], encoding: TextEncoding? = nil) throws -> (out: [UInt8], rejects: [String], stats: [Int]) {
        XCTAssertEqual(mkdir("\(dir)/\(folder)", 0o755), 0)
        let r = try ingest([write("\(folder)/\(name)", bytes)], encoding: encoding)
        let out = try FileSystem.readFile("\(dir)/out.ndjson")
        let rejects = r.rejects.map { "\($0["reason"]?.string ?? "?")@\($0["line"]?.int ?? 0)" }
        let stats = ["in", "out", "rejected", "blank_lines"].map { r.stats[$0]?.int ?? -1 }
        return (out, rejects, stats)
    }

    func assertSame(_ a: (out: [UInt8], rejects: [String], stats: [Int]), _ b: (out: [UInt8], rejects: [String], stats: [Int]), _ what: String) {
        XCTAssertEqual(a.out.count, b.out.count, what)
        XCTAssertTrue(a.out == b.out, "\(what): output differs")
        XCTAssertEqual(a.rejects, b.rejects, what)
        XCTAssertEqual(a.stats, b.stats, what)
    }

    func testUnquotedRowsGiveWhatQuotedRowsGiveInEveryLayoutAndEncoding() throws {
        // ~7 MB: past the reader's 4 MiB buffer and several row batches.
        let rows = FastPathTests.table(count: 40_000, latin: false, seed: 0x5EED_0001)
        let plain = FastPathTests.csv(rows, quoteAll: false)
        XCTAssertGreaterThan(plain.utf8.count, 5 << 20)
        let reference = try run("t.csv", "plain", Array(plain.utf8))
        XCTAssertGreaterThan(reference.stats[1], 30_000)
        XCTAssertGreaterThan(reference.rejects.count, 200)
        XCTAssertTrue(reference.rejects.contains { $0.hasPrefix("field_too_long@") })
        XCTAssertTrue(reference.rejects.contains { $0.hasPrefix("binary_data@") })
        XCTAssertTrue(reference.rejects.contains { $0.hasPrefix("ragged_row@") })
        assertSame(reference, try run("t.csv", "quoted", Array(FastPathTests.csv(rows, quoteAll: true).utf8)), "every field quoted")
        assertSame(reference, try run("t.csv", "crlf", Array(FastPathTests.csv(rows, quoteAll: false, lineEnd: "\r\n").utf8)), "CRLF")
        assertSame(reference, try run("t.csv", "bom", Array(FastPathTests.csv(rows, quoteAll: false, bom: true).utf8)), "byte-order mark")
        let marked = FastPathTests.csv(rows, quoteAll: false, bom: true)
        assertSame(reference, try run("t.csv", "utf16le", utf16(marked, bigEndian: false)), "UTF-16LE")
        assertSame(reference, try run("t.csv", "utf16be", utf16(marked, bigEndian: true)), "UTF-16BE")
    }

    func testSingleByteEncodingsGiveWhatUTF8Gives() throws {
        let rows = FastPathTests.table(count: 6_000, latin: true, seed: 0x5EED_0002)
        let text = FastPathTests.csv(rows, quoteAll: false, lineEnd: "\r\n")
        let reference = try run("l.csv", "utf8", Array(text.utf8))
        XCTAssertGreaterThan(reference.stats[1], 5_000)
        let latin1 = text.unicodeScalars.map { UInt8($0.value) }   // (the Latin rows are all below U+0100)
        assertSame(reference, try run("l.csv", "cp1252", latin1, encoding: .cp1252), "Windows-1252")
        assertSame(reference, try run("l.csv", "latin1", latin1, encoding: .latin1), "Latin-1")
        assertSame(reference, try run("l.csv", "auto", latin1), "Windows-1252 found")
    }

    func utf16(_ text: String, bigEndian: Bool) -> [UInt8] {
        text.utf16.flatMap { u in bigEndian ? [UInt8(u >> 8), UInt8(u & 0xFF)] : [UInt8(u & 0xFF), UInt8(u >> 8)] }
    }

    /// Cached look-ups (tags, languages, countries) on keys that share their first bytes or
    /// lengths: each row gets its own key's answer.
    func testLookupsOfKeysSharingTheirFirstBytesAreTheirOwn() throws {
        var g = Generator(state: 0x5EED_0003)
        var csv = "email,tags,language,country\n"
        var expected: [(tag: String, language: String?, country: String?)] = []
        let letters = Array("ab-é")
        for i in 0..<6_000 {
            let length = 1 + g.below(40)
            let tag = String((0..<length).map { _ in letters[g.below(letters.count)] })
            let language = g.pick(["fr", "fr ", "frx", "Français", "Françaisx", "en", "e", "english", "English language"])
            let country = g.pick(["FR", "FRA", "F", "France", "France métropolitaine", "Germany", "Germanyy", "United States of America", "United States of Americaa"])
            csv += "u\(i)@x.org,\(tag),\(language),\(country)\n"
            expected.append((Slug.make(tag), LanguageCodes.code(for: String(language.split(separator: " ").joined(separator: " "))), CountryCodes.code(for: country)))
        }
        let r = try ingest([write("k.csv", csv)])
        XCTAssertEqual(r.contacts.count, expected.count)
        for (contact, want) in zip(r.contacts, expected) {
            XCTAssertEqual(contact["tags"]?.array?.first?.string ?? "", want.tag)
            XCTAssertEqual(contact["language"]?.string, want.language ?? "en")
            XCTAssertEqual(contact["country"]?.string, want.country)
        }
    }
}

/// `Normalize.email` (eight bytes at a time) against the byte-by-byte reading it replaced.
final class EmailFastPathTests: XCTestCase {
    /// The plain reading: trimmed and unwrapped as `Normalize.email` does, then each byte classed.
    static func reference(_ value: String) -> String? {
        var copy = value
        return copy.withUTF8 { raw -> String? in
            var out = ByteBuffer(capacity: 64)
            let bytes = UnsafeRawBufferPointer(raw)
            // Only the classing and lower-casing changed: compare on values the unwrapping leaves as they are.
            var at = -1
            var ascii = true
            for i in 0..<bytes.count {
                let b = bytes[i]
                if b == 0x40 {
                    if at >= 0 { return nil }
                    at = i
                } else if b <= 0x20 || b == 0x2C || b == 0x3B || b == 0x3C || b == 0x3E || b == 0x22 || b == 0x7F {
                    return nil
                } else if b >= 0x80 {
                    ascii = false
                }
            }
            guard at > 0, at < bytes.count - 1 else { return nil }
            guard ascii else { return Normalize.email(value) }   // the non-ASCII path is unchanged
            for b in bytes { out.append(b >= 65 && b <= 90 ? b + 32 : b) }
            return out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        }
    }

    func testEightBytesAtATimeMatchesByteByByte() {
        var g = FastPathTests.Generator(state: 0x5EED_0004)
        let alphabet: [String] = ["a", "Z", "Q", "m", "0", "9", ".", "-", "_", "+", "@", "@", " ", ",", ";", "<", ">", "\"", "\u{7F}",
                                  "\u{1}", "\t", "[", "`", "{", "~", "é", "Ω", "\u{200B}", "A", "z", "@"]
        var checked = 0
        for _ in 0..<60_000 {
            let length = 1 + g.below(40)
            var text = (0..<length).map { _ in g.pick(alphabet) }.joined()
            // Unwrapping (`mailto:`, `<…>`, quotes) and trimming are not what is compared.
            guard let first = text.utf8.first, let last = text.utf8.last, first > 0x20, last > 0x20,
                  !text.lowercased().hasPrefix("mailto:"), !"\"'<".utf8.contains(first), last != UInt8(ascii: ">"),
                  !text.hasPrefix("\u{200B}"), !text.hasSuffix("\u{200B}") else { continue }
            if g.below(2) == 0 { text = "user" + text.filter { $0 != "@" } + "@Example.COM" }
            XCTAssertEqual(Normalize.email(text), EmailFastPathTests.reference(text), text.debugDescription)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 20_000)
    }
}
