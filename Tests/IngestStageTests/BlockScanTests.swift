#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IngestStage
import MailpipeCore
import XCTest

/// The sixteen-bytes-at-a-time paths of CSV ingest against plain readings, on generated values
/// whose lengths fall on every side of the blocks' edges: the row split (`scanUnquoted` against
/// `scan`, through rows written with and without quotes), tag lists, and web addresses (host
/// end, lower-casing, social networks told by the host).
final class BlockScanTests: IngestTestCase {
    typealias Generator = FastPathTests.Generator

    /// `rows` as a table with `delimiter`, each field quoted or none.
    static func table(_ columns: [String], _ rows: [[String]], delimiter: String, quoteAll: Bool) -> String {
        let quote = { (value: String) in quoteAll ? "\"" + value + "\"" : value }
        return ([columns] + rows).map { $0.map(quote).joined(separator: delimiter) }.joined(separator: "\n") + "\n"
    }

    /// The run of `text` as `folder/t.csv` (one file name: it is each contact's source).
    func contacts(_ folder: String, _ text: String, delimiter: UInt8? = nil) throws -> (out: [UInt8], result: Result) {
        XCTAssertEqual(mkdir("\(dir)/\(folder)", 0o755), 0)
        let result = try ingest([write("\(folder)/t.csv", text)], delimiter: delimiter)
        return (try FileSystem.readFile("\(dir)/out.ndjson"), result)
    }

    func testRowsAroundBlockEdgesSplitAsQuotedRowsDo() throws {
        var g = Generator(state: 0x5EED_0010)
        // Backslashes and tabs (JSON escapes), non-ASCII (the row check), a mark to compose,
        // empty values (delimiters side by side).
        let pieces = ["a", "bc", "Z", "é", "ж", "王", "e\u{301}", "\\", "\t", " ", "-", "x@y.fr", "", "", "0"]
        let columns = ["email", "first_name", "last_name", "company", "city", "notes"]
        for delimiter in [",", ";", "\t"] {
            var rows: [[String]] = []
            for i in 0..<3_000 {
                var row = ["u\(i)@x.org"]
                for _ in 1..<columns.count {
                    row.append((0..<g.below(7)).map { _ in g.pick(pieces) }.filter { $0 != delimiter }.joined())
                }
                switch g.below(60) {
                case 0: row.append("extra")
                case 1: row.removeLast()
                default: break
                }
                rows.append(row)
            }
            let code = UInt8(ascii: Unicode.Scalar(delimiter)!)
            let plain = try contacts("plain\(code)", BlockScanTests.table(columns, rows, delimiter: delimiter, quoteAll: false), delimiter: code)
            let quoted = try contacts("quoted\(code)", BlockScanTests.table(columns, rows, delimiter: delimiter, quoteAll: true), delimiter: code)
            XCTAssertGreaterThan(plain.result.contacts.count, 2_800, "delimiter \(delimiter.debugDescription)")
            XCTAssertTrue(plain.out == quoted.out, "delimiter \(delimiter.debugDescription): output differs")
            XCTAssertEqual(plain.result.rejects.map { $0["line"]?.int ?? 0 }, quoted.result.rejects.map { $0["line"]?.int ?? 0 })
            XCTAssertGreaterThan(plain.result.rejects.count, 50, "ragged rows rejected")
        }
    }

    /// Tags as the byte-by-byte split read them: `,` `;` `|` and `:::` separate, pieces trimmed
    /// (only spaces here), `* ` dropped, `myContacts` left out, slugs kept once; and how many
    /// pieces slug to nothing.
    static func referenceTags(_ text: String) -> (slugs: [String], unusable: Int) {
        let bytes = Array(text.utf8)
        var pieces: [[UInt8]] = []
        var start = 0
        var i = 0
        while i <= bytes.count {
            if i + 2 < bytes.count && bytes[i] == 0x3A && bytes[i + 1] == 0x3A && bytes[i + 2] == 0x3A {
                pieces.append(Array(bytes[start..<i]))
                i += 3
                start = i
                continue
            }
            if i == bytes.count || bytes[i] == 0x2C || bytes[i] == 0x3B || bytes[i] == 0x7C {
                pieces.append(Array(bytes[start..<i]))
                start = i + 1
            }
            i += 1
        }
        var slugs: [String] = []
        var unusable = 0
        for piece in pieces {
            var tag = trimmed(String(decoding: piece, as: UTF8.self))
            if tag.hasPrefix("* ") { tag = trimmed(String(tag.dropFirst(2))) }
            if tag.isEmpty || tag.lowercased() == "mycontacts" { continue }
            let slug = Slug.make(tag)
            if slug.isEmpty { unusable += 1 } else if !slugs.contains(slug) { slugs.append(slug) }
        }
        return (slugs, unusable)
    }

    static func trimmed(_ s: String) -> String {
        String(s.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }

    /// Lists drawn from a pool (met again and again, as the look-up caches meet them), some with
    /// a tag that slugs to nothing (counted as unusable), in two columns that both map to tags
    /// (the second's slugs are deduplicated against the first's).
    func testTagListsSplitAsByteByByte() throws {
        var g = Generator(state: 0x5EED_0011)
        let pieces = ["a", "B", "é", "lang-ru", "myContacts", "* ", " ", ",", ";", "|", ":", "::", ":::", "::::", "x y",
                      "§", "notaire", "Immobilier", "a-very-long-tag-name"]
        let pool = (0..<300).map { _ in (0..<(1 + g.below(12))).map { _ in g.pick(pieces) }.joined() }
        var csv = "email,tags,labels\n"
        var expected: [[String]] = []
        var unusable = 0
        for i in 0..<6_000 {
            let tags = g.below(10) == 0 ? (0..<(1 + g.below(12))).map { _ in g.pick(pieces) }.joined() : g.pick(pool)
            let labels = g.below(4) == 0 ? g.pick(pool) : ""
            csv += "u\(i)@x.org,\"\(tags)\",\"\(labels)\"\n"
            let want = BlockScanTests.referenceTags(tags + "," + labels)
            expected.append(want.slugs)
            unusable += want.unusable
        }
        let r = try ingest([write("tags.csv", csv)])
        XCTAssertEqual(r.contacts.count, expected.count)
        var listed = 0
        for (contact, want) in zip(r.contacts, expected) {
            XCTAssertEqual(contact["tags"]?.array?.compactMap(\.string) ?? [], want, "\(contact)")
            if want.count > 2 { listed += 1 }
        }
        XCTAssertGreaterThan(listed, 500)
        XCTAssertGreaterThan(unusable, 100)
        XCTAssertEqual(r.stats["tags_unusable"]?.int, unusable)
    }

    /// A web address as the byte-by-byte reading normalised it (the value given trimmed).
    static func referenceWebsite(_ t: [UInt8]) -> [UInt8] {
        if t.isEmpty { return [] }
        var out: [UInt8] = []
        // A scheme: up to 16 letters, digits, `+` `-` `.`, then `://`.
        let schemeBytes = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.".utf8)
        let colon = t.prefix(16).prefix(while: { schemeBytes.contains($0) }).count
        let schemeEnd = colon < 16 && Array(t.dropFirst(colon).prefix(3)) == Array("://".utf8) ? colon : -1
        var hostStart = 0
        if schemeEnd > 0 {
            for b in t[0..<schemeEnd] { out.append(b >= 65 && b <= 90 ? b + 32 : b) }
            out += Array("://".utf8)
            hostStart = schemeEnd + 3
        } else {
            out += Array("https://".utf8)
            if t.count >= 2 && t[0] == 0x2F && t[1] == 0x2F { hostStart = 2 }
        }
        var hostEnd = hostStart
        while hostEnd < t.count && t[hostEnd] != 0x2F && t[hostEnd] != 0x3F && t[hostEnd] != 0x23 { hostEnd += 1 }
        let host = t[hostStart..<hostEnd]
        if host.allSatisfy({ $0 < 0x80 }) {
            for b in host { out.append(b >= 65 && b <= 90 ? b + 32 : b) }
        } else {
            out += Array(String(decoding: host, as: UTF8.self).lowercased().utf8)
        }
        return out + t[hostEnd...]
    }

    /// The field a web address goes to, as the byte-by-byte reading of its host told it.
    static func referenceField(_ t: [UInt8]) -> String {
        var start = 0
        if let s = t.firstIndex(of: 0x3A), s + 2 < t.count, t[s + 1] == 0x2F, t[s + 2] == 0x2F { start = s + 3 }
        var end = start
        while end < t.count, t[end] != 0x2F, t[end] != 0x3F, t[end] != 0x23 { end += 1 }
        let host = Array(t[start..<end])
        func endsWith(_ domain: String) -> Bool {
            let d = Array(domain.utf8)
            guard host.count >= d.count else { return false }
            let offset = host.count - d.count
            for i in 0..<d.count where host[offset + i] | 0x20 != d[i] { return false }
            return offset == 0 || host[offset - 1] == 0x2E
        }
        if endsWith("linkedin.com") { return "linkedin_url" }
        if endsWith("facebook.com") || endsWith("fb.com") { return "facebook_url" }
        if endsWith("instagram.com") { return "instagram_url" }
        if endsWith("twitter.com") || endsWith("x.com") { return "twitter_url" }
        return "website"
    }

    static func websites(count: Int, seed: UInt64) -> [String] {
        var g = Generator(state: seed)
        let schemes = ["", "", "https://", "HTTP://", "Ftp://", "//", "h2+x-y.z://", "ab:", "a:/", "ThisSchemeIsTooLong://"]
        let hostPieces = ["Example", ".", "COM", "com", "é", "Ü", "linkedin", "x", "fb", "-", "sub", "0", "evil", ".org"]
        let hostEnds = ["", "", ".com", "linkedin.com", "LinkedIn.COM", ".linkedin.com", "x.com", "X.Com", "notx.com", "fb.com",
                        "facebook.com", "instagram.com", "twitter.com", "twitter.co", "com", "é.com"]
        let tails = ["", "", "/", "/Path/To", "?q=A:B", "#Frag", "/a?b#c", ":8080/X", "/in/ANN"]
        return (0..<count).map { _ in
            g.pick(schemes) + (0..<g.below(6)).map { _ in g.pick(hostPieces) }.joined() + g.pick(hostEnds) + g.pick(tails)
        }
    }

    func testWebAddressesNormaliseAsByteByByte() {
        for url in BlockScanTests.websites(count: 20_000, seed: 0x5EED_0012) {
            var out = ByteBuffer(capacity: 64)
            Array(url.utf8).withUnsafeBytes { Normalize.website($0, into: &out) }
            XCTAssertTrue(out.equals(BlockScanTests.referenceWebsite(Array(url.utf8))), url)
        }
    }

    func testWebAddressesGoToTheFieldTheirHostTells() throws {
        let urls = BlockScanTests.websites(count: 4_000, seed: 0x5EED_0013)
        var csv = "email,website\n"
        for (i, url) in urls.enumerated() { csv += "u\(i)@x.org,\(url)\n" }
        let r = try ingest([write("web.csv", csv)])
        XCTAssertEqual(r.contacts.count, urls.count)
        var social = 0
        for (contact, url) in zip(r.contacts, urls) where !url.isEmpty {
            let field = BlockScanTests.referenceField(Array(url.utf8))
            if field != "website" { social += 1 }
            XCTAssertEqual(contact[field]?.string.map { Array($0.utf8) }, BlockScanTests.referenceWebsite(Array(url.utf8)), "\(url) → \(field)")
        }
        XCTAssertGreaterThan(social, 300)
    }
}
