import MailpipeCore
import XCTest

/// What the lazy member scan tells of a record's root besides its slots: whether it is compact
/// (`FieldSlots.rootIsCompact`, the condition for validate and tag to write a record as its own
/// bytes with values replaced) and whether a slot's key came twice (`repeatedKey`). Checked
/// against the full parse on generated records with white space at every root position,
/// escaped and non-ASCII keys, repeated keys and values with white space inside.
final class RootLayoutTests: XCTestCase {
    static let slotKeys = ["tags", "status", "email"]
    /// Keys as written: some spell a slot's key with an escape.
    static let keys = [#""email""#, #""tags""#, #""t\u0061gs""#, #""status""#, #""st\u0061tus""#, #""name""#,
                       #""ville""#, #""é""#, #""""#, #""emails""#]
    static let values = ["1", "-2.5e3", #""x y""#, #""Москва""#, #""a\"b""#, "[ 1, 2 ]", #"{"a" : [ ], "b":{}}"#,
                         "null", "true", "[]", #"["中文", {"k": "v"}]"#]
    static let spaces = [" ", "\t", "\n", "\r", "  "]

    func testCompactRootsAndRepeatedKeysAgreeWithTheFullParse() throws {
        var rng = SeededGenerator(seed: 0x500_7ED)
        var full = JSONParser()
        var lazy = JSONParser()
        defer { full.deallocate(); lazy.deallocate() }
        let slots = FieldSlots(), reference = FieldSlots()
        for k in Self.slotKeys { _ = slots.slot(k); _ = reference.slot(k) }
        slots.noticesRepeatedKeys = true
        var compact = 0, spaced = 0, repeated = 0
        for _ in 0..<20_000 {
            let text = Self.record(&rng)
            let bytes = Array(text.utf8)
            try bytes.withUnsafeBytes { raw in
                // The reference: the root's members written compactly are the input itself, and
                // a slot's key (decoded) comes more than once.
                let whole = try full.parse(raw)
                var rewritten = ByteBuffer()
                var writer = JSONObjectWriter(into: &rewritten)
                var seen: [String: Int] = [:]
                for (key, value) in whole.root.members {
                    writer.rawMember(key: key.raw, value: value.raw, into: &rewritten)
                    seen[key.string!, default: 0] += 1
                }
                writer.finish(into: &rewritten)
                let isCompact = rewritten.bytes == bytes
                let isRepeated = Self.slotKeys.contains { seen[$0, default: 0] > 1 }
                reference.resolve(Tape(whole))
                let wanted = (0..<Self.slotKeys.count).map { reference[$0] < 0 ? nil : Array(Tape(whole).raw(reference[$0])) }

                let kept = try lazy.parse(raw, keeping: slots)
                XCTAssertEqual(slots.rootIsCompact, isCompact, text)
                XCTAssertEqual(slots.repeatedKey, isRepeated, text)
                for s in 0..<Self.slotKeys.count {
                    XCTAssertEqual(slots[s] < 0 ? nil : Array(Tape(kept).raw(slots[s])), wanted[s], "the first occurrence is kept: \(text)")
                }
                if isCompact { compact += 1 } else { spaced += 1 }
                if isRepeated { repeated += 1 }
            }
        }
        // The generator reaches every case.
        XCTAssertGreaterThan(compact, 2_000)
        XCTAssertGreaterThan(spaced, 2_000)
        XCTAssertGreaterThan(repeated, 2_000)
    }

    /// A record the lazy scan leaves to the full parse (a skipped member nested deeper than the
    /// scan's 64 levels) is never called compact: its layout is not known.
    func testARecordTakenByTheFullParseIsNotCalledCompact() throws {
        var parser = JSONParser()
        defer { parser.deallocate() }
        let slots = FieldSlots()
        _ = slots.slot("tags")
        slots.noticesRepeatedKeys = true
        for (depth, compact) in [(60, true), (70, false)] {
            let text = #"{"tags":["a"],"deep":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
            let bytes = Array(text.utf8)
            try bytes.withUnsafeBytes { raw in
                let document = try parser.parse(raw, keeping: slots)
                XCTAssertEqual(slots.rootIsCompact, compact, "nesting \(depth)")
                XCTAssertEqual(String(decoding: Tape(document).raw(slots[0]), as: UTF8.self), #"["a"]"#)
            }
        }
        // Without noticing repeats, slots stop comparing once filled: repeatedKey stays false.
        let quiet = FieldSlots()
        _ = quiet.slot("tags")
        let bytes = Array(#"{"tags":1,"tags":2}"#.utf8)
        try bytes.withUnsafeBytes { raw in
            _ = try parser.parse(raw, keeping: quiet)
            XCTAssertFalse(quiet.repeatedKey)
            XCTAssertTrue(quiet.rootIsCompact)
            _ = try parser.parse(raw, keeping: slots)
            XCTAssertTrue(slots.repeatedKey)
        }
    }

    /// A record of 0 to 6 members drawn from the pools, with white space at a root position now
    /// and then (inside values there is some already).
    static func record(_ rng: inout SeededGenerator) -> String {
        func space() -> String { Int.random(in: 0..<12, using: &rng) == 0 ? spaces.randomElement(using: &rng)! : "" }
        var text = space() + "{" + space()
        let count = Int.random(in: 0..<7, using: &rng)
        for m in 0..<count {
            if m > 0 { text += space() + "," + space() }
            text += keys.randomElement(using: &rng)! + space() + ":" + space() + values.randomElement(using: &rng)!
        }
        return text + space() + "}" + space()
    }
}
