import MailpipeCore
import XCTest

/// `JSONParser.parse(_:keeping:)` (the lazy member scan segment's threads use) against the full
/// parse: on generated records, valid and damaged, it must refuse exactly what the full parse
/// refuses with the same error, and otherwise give every slot the same value, token for token.
final class SelectiveParseTests: XCTestCase {
    /// The fields a segment run reads, some of them spelt with escapes in the records.
    static let wanted = ["language", "tags", "status", "email", "tenant", "validation", "engagement", ""]

    func testKeepsOnlyTheNamedMembersWithEverythingInside() throws {
        let text = #"{"a":[1,{"b":2}],"tags":["x",{"y":[]}],"c":"d","lang\u0075age":"fr","tags":"second","status":null}"#
        let slots = FieldSlots()
        for k in ["tags", "language", "status", "missing"] { _ = slots.slot(k) }
        var parser = JSONParser()
        defer { parser.deallocate() }
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBytes { raw in
            let doc = try parser.parse(raw, keeping: slots)
            let tape = Tape(doc)
            // Root, then tags (key, array, "x", object, key, array), language (key, value), status (key, value).
            XCTAssertEqual(doc.tokenCount, 11)
            XCTAssertEqual(tape.next(0), 11)
            XCTAssertEqual(String(decoding: tape.raw(slots[0]), as: UTF8.self), #"["x",{"y":[]}]"#)
            XCTAssertEqual(String(decoding: tape.raw(slots[1]), as: UTF8.self), #""fr""#)
            XCTAssertEqual(tape.kind(slots[2]), .null)
            XCTAssertEqual(slots[3], -1)
            XCTAssertEqual(doc.root["tags"]?.kind, .array, "the first of a repeated key wins, as in a full parse")
            XCTAssertNil(doc.root["a"])
        }
    }

    /// Many slots (the key table grows past its first size): every one fills, in the lazy scan
    /// and in `resolve` after a full parse.
    func testSeventySlotsAreAllFound() throws {
        let slots = FieldSlots()
        for k in 0..<70 { _ = slots.slot("k\(k)") }
        var parser = JSONParser()
        defer { parser.deallocate() }
        let bytes = Array(#"{"k69":1,"x":2,"k3":"a","k64":[true],"k3":"second","k6\u0035":null}"#.utf8)
        try bytes.withUnsafeBytes { raw in
            for lazy in [true, false] {
                let doc = lazy ? try parser.parse(raw, keeping: slots) : try parser.parse(raw)
                let tape = Tape(doc)
                if !lazy { slots.resolve(tape) }
                XCTAssertEqual(String(decoding: tape.raw(slots[69]), as: UTF8.self), "1")
                XCTAssertEqual(String(decoding: tape.raw(slots[3]), as: UTF8.self), #""a""#)
                XCTAssertEqual(String(decoding: tape.raw(slots[64]), as: UTF8.self), "[true]")
                XCTAssertEqual(tape.kind(slots[65]), .null)
                XCTAssertEqual(slots[0], -1)
                if lazy { XCTAssertEqual(doc.tokenCount, 10, "root, then k69, k3, k64 (array, true) and k65 with their keys") }
            }
        }
    }

    /// Keys are looked up by their first 8 bytes and length: keys that share those, or differ
    /// only past them, or are cut short, go to their own slot or none; so do keys read where
    /// fewer than 8 bytes are left in the line.
    func testKeysSharingTheirFirstEightBytesGoToTheirOwnSlot() throws {
        let slots = FieldSlots()
        let names = ["language", "languages", "validation_a", "validation_b", "", "k", "created_at_x"]
        for k in names { _ = slots.slot(k) }
        var parser = JSONParser()
        defer { parser.deallocate() }
        let text = #"{"languag":0,"languagez":1,"validation_b":2,"validation_c":3,"validation_a":4,"languages":5,"#
            + #""created_at":6,"created_at_y":7,"language":8,"":9,"kk":10,"k":11}"#
        let expected: [String: String] = ["language": "8", "languages": "5", "validation_a": "4", "validation_b": "2",
                                          "": "9", "k": "11"]
        for lazy in [true, false] {
            try Array(text.utf8).withUnsafeBytes { raw in
                let doc = lazy ? try parser.parse(raw, keeping: slots) : try parser.parse(raw)
                let tape = Tape(doc)
                if !lazy { slots.resolve(tape) }
                for (s, name) in names.enumerated() {
                    let value = slots[s] < 0 ? nil : String(decoding: tape.raw(slots[s]), as: UTF8.self)
                    XCTAssertEqual(value, expected[name], "slot \(name), lazy \(lazy)")
                }
            }
            // Short lines: the last key is read with fewer than 8 bytes after it.
            for (line, slot) in [(#"{"k":1}"#, 5), (#"{"":1}"#, 4), (#"{"x":1,"k":2}"#, 5)] {
                try Array(line.utf8).withUnsafeBytes { raw in
                    let doc = lazy ? try parser.parse(raw, keeping: slots) : try parser.parse(raw)
                    if !lazy { slots.resolve(Tape(doc)) }
                    XCTAssertGreaterThan(slots[slot], 0, line)
                    XCTAssertEqual((0..<names.count).filter { slots[$0] >= 0 }, [slot], line)
                }
            }
        }
    }

    /// Keys are first told apart by their length (one bit per length, lengths of 63 and more
    /// sharing one): long keys of the same bit still go to their own slot or none.
    func testLongKeysSharingALengthBitGoToTheirOwnSlot() throws {
        let long63 = String(repeating: "k", count: 63), long70 = String(repeating: "k", count: 70)
        let names = [long63, long70, "abc"]
        let slots = FieldSlots()
        for k in names { _ = slots.slot(k) }
        var parser = JSONParser()
        defer { parser.deallocate() }
        let line = "{\"\(String(repeating: "k", count: 64))\":0,\"\(long70)\":1,\"abd\":2,\"\(long63)\":3,\"ab\":4,\"abc\":5}"
        for lazy in [true, false] {
            try Array(line.utf8).withUnsafeBytes { raw in
                let doc = lazy ? try parser.parse(raw, keeping: slots) : try parser.parse(raw)
                let tape = Tape(doc)
                if !lazy { slots.resolve(tape) }
                let values = (0..<names.count).map { slots[$0] < 0 ? nil : String(decoding: tape.raw(slots[$0]), as: UTF8.self) }
                XCTAssertEqual(values, ["3", "1", "5"], "lazy \(lazy)")
            }
        }
    }

    func testAgreesWithTheFullParseOnGeneratedAndDamagedRecords() throws {
        var rng = SeededGenerator(seed: 0x5E1E_C7ED)
        var full = JSONParser(maxDepth: 16)
        var lazy = JSONParser(maxDepth: 16)
        defer { full.deallocate(); lazy.deallocate() }
        let fullSlots = FieldSlots()
        let lazySlots = FieldSlots()
        for k in Self.wanted { _ = fullSlots.slot(k); _ = lazySlots.slot(k) }
        var accepted = 0, refused = 0, kept = 0
        for round in 0..<30_000 {
            var record = Self.record(&rng)
            if round % 3 != 0 { Self.damage(&record, &rng) }
            try Self.assertAgree(record, full: &full, fullSlots: fullSlots, lazy: &lazy, lazySlots: lazySlots,
                                 accepted: &accepted, refused: &refused, kept: &kept)
            if testRun?.failureCount ?? 0 > 5 { break }
        }
        // The generator must reach both sides and the kept members.
        XCTAssertGreaterThan(accepted, 8_000)
        XCTAssertGreaterThan(refused, 8_000)
        XCTAssertGreaterThan(kept, 10_000)
    }

    /// Every one-byte damage (deleted, replaced, inserted) at every offset of records shaped like
    /// a store's, at three nesting limits: the lazy scan (its member skip, its UTF-8 check inside
    /// strings) refuses exactly what the full parse refuses with the same error, or keeps the same
    /// members.
    func testAgreesWithTheFullParseOnEveryOneByteDamageOfStoredRecords() throws {
        let records = [
            #"{"tenant":"bench","email":"hassan.elfassi@maktab-elfassi-notary.sa","first_name":"حسن","company":"مكتب الفاسي للتوثيق","phone":"+66961393806","language":"ar","tags":["notaire","lang-ar"],"validation":{"verdict":"valid","score":90,"reasons":[]},"status":"validated"}"#,
            #"{ "email" : "élodie.fontaine1@sfr.fr", "first_name":"Élodie", "city":"Москва 🏔", "custom":{"plan":[1,-2.5e3,true,false,null,{"x":"\u00e9\n"}]}, "language":"fr", "tags":["expat","lang-fr"], "engagement":{"score":12}, "status":null, "tenant":"bench" }"#,
            #"{"lang\u0075age":"FR","tags":"avocat","a":[[[]]],"b":{"c":{"d":"日本"}},"email":"x@y.fr","email":"second","n":0,"m":-0.5E+3}"#,
        ].map { Array($0.utf8) }
        let damages: [UInt8] = Array(#""\{}[],: 0-.eEtfnu"#.utf8) + [0x00, 0x09, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF]
        var accepted = 0, refused = 0, kept = 0
        for maxDepth in [2, 3, 16] {
            var full = JSONParser(maxDepth: maxDepth)
            var lazy = JSONParser(maxDepth: maxDepth)
            defer { full.deallocate(); lazy.deallocate() }
            let fullSlots = FieldSlots()
            let lazySlots = FieldSlots()
            for k in Self.wanted { _ = fullSlots.slot(k); _ = lazySlots.slot(k) }
            for record in records {
                var variants = [record]
                for at in 0..<record.count {
                    var deleted = record
                    deleted.remove(at: at)
                    variants.append(deleted)
                    for b in damages {
                        var replaced = record
                        replaced[at] = b
                        var inserted = record
                        inserted.insert(b, at: at)
                        variants += [replaced, inserted]
                    }
                }
                for variant in variants {
                    try Self.assertAgree(variant, full: &full, fullSlots: fullSlots, lazy: &lazy, lazySlots: lazySlots,
                                         accepted: &accepted, refused: &refused, kept: &kept)
                    if testRun?.failureCount ?? 0 > 5 { return }
                }
            }
        }
        XCTAssertGreaterThan(accepted, 3_000)
        XCTAssertGreaterThan(refused, 30_000)
    }

    /// Both parses of `record`: the same error, or the same kept members.
    static func assertAgree(_ record: [UInt8], full: inout JSONParser, fullSlots: FieldSlots, lazy: inout JSONParser,
                            lazySlots: FieldSlots, accepted: inout Int, refused: inout Int, kept: inout Int) throws {
        try record.withUnsafeBytes { raw in
            let expected: Result<JSONDocument, JSONParseError>
            do throws(JSONParseError) { expected = .success(try full.parse(raw)) } catch { expected = .failure(error) }
            let got: Result<JSONDocument, JSONParseError>
            do throws(JSONParseError) { got = .success(try lazy.parse(raw, keeping: lazySlots)) } catch { got = .failure(error) }
            let text = String(decoding: record, as: UTF8.self)
            switch (expected, got) {
            case (.failure(let e), .failure(let g)):
                XCTAssertEqual(e, g, "different errors for \(text)")
                refused += 1
            case (.success(let e), .success(let g)):
                accepted += 1
                try assertSameSelection(full: e, fullSlots: fullSlots, lazy: g, lazySlots: lazySlots, kept: &kept, text)
            default:
                XCTFail("full parse \(expected), lazy scan \(got) for \(text)")
            }
        }
    }

    /// The lazy tape holds the root and, for each slot both parses filled, the same subtree;
    /// nothing else.
    static func assertSameSelection(full: JSONDocument, fullSlots: FieldSlots, lazy: JSONDocument, lazySlots: FieldSlots,
                                    kept: inout Int, _ text: String) throws {
        let f = Tape(full), l = Tape(lazy)
        XCTAssertEqual(full.root.kind, lazy.root.kind, text)
        guard full.root.kind == .object else {
            XCTAssertEqual(full.tokenCount, lazy.tokenCount, "a non-object is kept whole: \(text)")
            return
        }
        fullSlots.resolve(f)
        var tokens = 1
        for s in 0..<wanted.count {
            let a = fullSlots[s], b = lazySlots[s]
            XCTAssertEqual(a < 0, b < 0, "slot \(wanted[s]) found by one parse only: \(text)")
            guard a >= 0, b >= 0 else { continue }
            kept += 1
            let size = f.next(a) - a
            XCTAssertEqual(l.next(b) - b, size, "slot \(wanted[s]): \(text)")
            guard l.next(b) - b == size else { continue }
            for k in 0..<size {
                let x = f.tokens[a + k], y = l.tokens[b + k]
                XCTAssertTrue(x.kind == y.kind && x.escaped == y.escaped && x.start == y.start && x.end == y.end
                              && x.next - Int32(a) == y.next - Int32(b), "slot \(wanted[s]) token \(k): \(text)")
            }
            tokens += 1 + size
        }
        XCTAssertEqual(lazy.tokenCount, tokens, "the lazy tape holds more than the kept members: \(text)")
        XCTAssertEqual(l.next(0), tokens, text)
        XCTAssertEqual(l.tokens[0].end, f.tokens[0].end, text)
    }

    // MARK: generated records

    static let otherKeys = ["first_name", "company", "phone", "country", "city", "created_at", "custom", "a", "b\\n", "tag"]
    static let spellings: [String: [String]] = [
        "language": ["lang\\u0075age", "\\u006canguage"], "tags": ["ta\\u0067s"], "status": ["st\\u0061tus"],
        "email": ["e\\u006dail"], "tenant": ["tenan\\u0074"],
    ]

    static func record(_ rng: inout SeededGenerator) -> [UInt8] {
        var out = "{"
        let members = Int.random(in: 0...9, using: &rng)
        for m in 0..<members {
            if m > 0 { out += Bool.random(using: &rng) ? "," : " , " }
            var key = Bool.random(using: &rng) ? wanted.randomElement(using: &rng)! : otherKeys.randomElement(using: &rng)!
            if let other = spellings[key], Int.random(in: 0..<4, using: &rng) == 0 { key = other.randomElement(using: &rng)! }
            out += "\"\(key)\"" + (Bool.random(using: &rng) ? ":" : " : ") + value(&rng, depth: 0)
        }
        out += "}"
        return Array(out.utf8)
    }

    static func value(_ rng: inout SeededGenerator, depth: Int) -> String {
        switch Int.random(in: 0..<(depth < 4 ? 10 : 6), using: &rng) {
        case 0: return ["true", "false", "null"].randomElement(using: &rng)!
        case 1: return ["0", "-12", "3.25", "1e9", "-0.5E-3", "12345678901234567890"].randomElement(using: &rng)!
        case 2, 3, 4: return "\"" + ["fr", "avocat", "Ünïcode ✓", "a\\\"b", "\\u00e9\\ud83d\\ude00", "tab\\t", "", "x/y\\/z", "日本", "Москва Анастасия", "🏔 été", "città"].randomElement(using: &rng)! + "\""
        case 5: return "\"" + String(repeating: "long text ", count: Int.random(in: 1...6, using: &rng)) + "\""
        case 6, 7:
            let n = Int.random(in: 0...4, using: &rng)
            return "[" + (0..<n).map { _ in value(&rng, depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            let n = Int.random(in: 0...3, using: &rng)
            return "{" + (0..<n).map { _ in "\"\(otherKeys.randomElement(using: &rng)!)\":" + value(&rng, depth: depth + 1) }.joined(separator: ",") + "}"
        }
    }

    /// One to three damages of the kinds a broken exporter or a cut line makes.
    static func damage(_ record: inout [UInt8], _ rng: inout SeededGenerator) {
        let bytes: [UInt8] = Array(#"{}[]:,"\ 0-.e+tfnu"#.utf8) + [0x00, 0x0A, 0x1F, 0x80, 0xC3, 0xE2, 0xED, 0xF5, 0xFF]
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            guard !record.isEmpty else { record = [bytes.randomElement(using: &rng)!]; continue }
            let at = Int.random(in: 0..<record.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: record.remove(at: at)
            case 1: record.insert(bytes.randomElement(using: &rng)!, at: at)
            case 2: record[at] = bytes.randomElement(using: &rng)!
            case 3: record.removeSubrange(at...)
            case 4: record.insert(contentsOf: Array(repeating: UInt8(ascii: "["), count: 20), at: at)
            default: record += Array(#" {"x":1}"#.utf8)
            }
        }
    }
}

/// A small deterministic generator (SplitMix64), so a failure can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
