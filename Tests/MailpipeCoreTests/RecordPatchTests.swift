import MailpipeCore
import XCTest

/// `RecordPatch` against a plain reference on generated records: written from the full parse
/// (`write(_:into:)`, untouched members copied in runs) and from the lazy member scan
/// (`write(_:keeping:reparser:into:)`, a compact record's bytes spliced around the new values,
/// any other parsed whole again), it must write what setting the members one by one writes.
final class RecordPatchTests: XCTestCase {
    /// The keys the records are parsed keeping (what a stage reads and sets).
    static let slotKeys = ["tags", "status", "email", "n"]
    /// Keys as records spell them: the slot keys, some escaped, and others.
    static let recordKeys = [#""tags""#, #""status""#, #""email""#, #""n""#, #""t\u0061gs""#, #""st\u0061tus""#,
                             #""other""#, #""x y""#, #""é""#, #""q\"""#, #""""#]
    static let recordValues = ["1", "-2.5e3", #""s""#, #""a\"b\\c\u00e9""#, #""中文""#, "null", "true", "[]", "{}",
                               #"[1, {"k" : [ 2 ,3 ]}]"#, #"{"tags":["x"],"status":1}"#, #"{ }"#, #""""#]
    /// Keys a patch changes: the slot keys, and two no slot names (the record is parsed whole).
    static let patchKeys = ["tags", "status", "email", "n", "other", #"q""#]
    static let patchValues = [#"["x","y"]"#, #""validated""#, #"{"verdict":"valid","reasons":[]}"#, "0", #""""#, "[]"]
    static let spaces = [" ", "\t", "  ", "\r", "\n "]

    enum Operation {
        case set(String, String)
        case remove(String)
    }

    /// A record of 0 to 6 members; compact about half the time, else with white space in some
    /// of the gaps around and between the root's members.
    func record(_ g: inout SeededGenerator) -> String {
        let spaced = Int.random(in: 0..<100, using: &g) < 50
        func gap(_ g: inout SeededGenerator) -> String { spaced && Int.random(in: 0..<100, using: &g) < 25 ? Self.spaces.randomElement(using: &g)! : "" }
        var text = gap(&g) + "{" + gap(&g)
        let count = Int.random(in: 0..<7, using: &g)
        for i in 0..<count {
            if i > 0 { text += gap(&g) + "," + gap(&g) }
            text += Self.recordKeys.randomElement(using: &g)! + gap(&g) + ":" + gap(&g) + Self.recordValues.randomElement(using: &g)!
        }
        return text + gap(&g) + "}" + gap(&g)
    }

    /// 1 to 4 operations; a key may be set again or removed after being set.
    func operations(_ g: inout SeededGenerator) -> [Operation] {
        (0...Int.random(in: 0..<4, using: &g)).map { _ in
            let key = Int.random(in: 0..<100, using: &g) < 90 ? Self.patchKeys.prefix(4).randomElement(using: &g)! : Self.patchKeys.randomElement(using: &g)!
            return Int.random(in: 0..<100, using: &g) < 85 ? .set(key, Self.patchValues.randomElement(using: &g)!) : .remove(key)
        }
    }

    /// What a patch of `operations` writes for `input`, member by member: each member copied as
    /// `key:value`, a changed key's first occurrence given its last value (or dropped when
    /// removed) and its later ones dropped, new members appended in the order first set.
    func reference(_ input: String, _ operations: [Operation]) throws -> String {
        var order: [String] = []
        var final: [String: String?] = [:]
        for op in operations {
            let (key, value): (String, String?)
            switch op {
            case .set(let k, let v): (key, value) = (k, v)
            case .remove(let k): (key, value) = (k, nil)
            }
            if final[key] == nil { order.append(key) }
            final[key] = .some(value)
        }
        var parser = JSONParser()
        defer { parser.deallocate() }
        var members: [String] = []
        var written = Set<String>()
        try Array(input.utf8).withUnsafeBytes { raw in
            let root = try parser.parse(raw).root
            for (key, value) in root.members {
                let name = try XCTUnwrap(key.string)
                let raw = String(decoding: key.raw, as: UTF8.self)
                guard let change = final[name] else {
                    members.append(raw + ":" + String(decoding: value.raw, as: UTF8.self))
                    continue
                }
                if !written.insert(name).inserted { continue }
                if let new = change { members.append(raw + ":" + new) }
            }
        }
        for key in order where !written.contains(key) {
            guard let new = final[key]! else { continue }
            var quoted = ByteBuffer()
            quoted.appendJSONString(key)
            members.append(String(decoding: quoted.bytes, as: UTF8.self) + ":" + new)
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    func patch(_ operations: [Operation]) -> RecordPatch {
        var patch = RecordPatch()
        for op in operations {
            switch op {
            case .set(let key, let value): patch.set(key, rawJSON: Array(value.utf8))
            case .remove(let key): patch.remove(key)
            }
        }
        return patch
    }

    func testGeneratedLayoutsAreWrittenAsMemberByMember() throws {
        let slots = FieldSlots()
        for key in Self.slotKeys { _ = slots.slot(key) }
        slots.noticesRepeatedKeys = true
        var lazy = JSONParser(), full = JSONParser(), reparser = JSONParser()
        defer { lazy.deallocate(); full.deallocate(); reparser.deallocate() }
        var g = SeededGenerator(seed: 18)
        var spliced = 0, appendedToEmpty = 0
        // One patch reused from record to record, as the stages do, and a fresh one.
        var reused = RecordPatch()
        for _ in 0..<20_000 {
            let input = record(&g)
            let operations = operations(&g)
            let expected = try reference(input, operations)
            let fresh = patch(operations)
            reused.removeAll()
            for op in operations {
                switch op {
                case .set(let key, let value): reused.set(key) { $0.append(Array(value.utf8)) }
                case .remove(let key): reused.remove(key)
                }
            }
            try Array(input.utf8).withUnsafeBytes { raw in
                var out = ByteBuffer()
                fresh.write(try full.parse(raw), into: &out)
                XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), expected, "full parse: \(input) \(operations)")

                let record = Record(document: try lazy.parse(raw, keeping: slots), line: 1, file: nil)
                let compact = slots.rootIsCompact && !slots.repeatedKey
                for p in [fresh, reused] {
                    out.removeAll()
                    XCTAssertNil(p.write(record, keeping: slots, reparser: &reparser, into: &out))
                    XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), expected, "lazy scan: \(input) \(operations)")
                }
                if compact { spliced += 1 }
                if compact && input == "{}" { appendedToEmpty += 1 }
            }
        }
        // The splice was tried on many records (the generator makes half of them compact).
        XCTAssertGreaterThan(spliced, 5_000)
        XCTAssertGreaterThan(appendedToEmpty, 100)
    }

    /// Setting a key again replaces its value where it was first set; its old bytes are dropped,
    /// the others' values stay intact, and a patch set over and over stays the same size.
    func testSettingAgainReplacesAndRemoving() throws {
        var parser = JSONParser()
        defer { parser.deallocate() }
        try Array(#"{"a":1,"b":2,"c":3}"#.utf8).withUnsafeBytes { raw in
            let record = Record(document: try parser.parse(raw), line: 1, file: nil)
            var patch = RecordPatch()
            patch.set("z", string: "first")
            patch.set("b", rawJSON: Array("[1,2,3]".utf8))
            patch.set("y", .number("7"))
            patch.set("z", string: "second, longer")
            patch.remove("b")
            patch.set("a", rawJSON: Array("true".utf8))
            var out = ByteBuffer()
            patch.write(record, into: &out)
            XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), #"{"a":true,"c":3,"z":"second, longer","y":7}"#)
            for i in 0..<10_000 { patch.set("y", string: "v\(i % 10)") }
            out.removeAll()
            patch.write(record, into: &out)
            XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), #"{"a":true,"c":3,"z":"second, longer","y":"v9"}"#)
        }
    }

    /// A record the lazy scan did not take, or a patch naming a key no slot names, or removing a
    /// member the record has: parsed whole again, and a parse that fails is a refusal.
    func testFallsBackToTheFullParse() throws {
        let slots = FieldSlots()
        _ = slots.slot("tags")
        slots.noticesRepeatedKeys = true
        var lazy = JSONParser(maxDepth: 128), reparser = JSONParser(maxDepth: 128), shallow = JSONParser(maxDepth: 2)
        defer { lazy.deallocate(); reparser.deallocate(); shallow.deallocate() }
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        try Array((#"{"tags":[1],"deep":"# + deep + "}").utf8).withUnsafeBytes { raw in
            let record = Record(document: try lazy.parse(raw, keeping: slots), line: 1, file: nil)
            var patch = RecordPatch()
            patch.set("tags", rawJSON: Array("[2]".utf8))
            var out = ByteBuffer()
            // Compact, but nested past the lazy scan's limit: the full parse took it.
            XCTAssertFalse(slots.rootIsCompact)
            let refusal = patch.write(record, keeping: slots, reparser: &shallow, into: &out)
            XCTAssertEqual(refusal?.reason, .tooDeep)
            XCTAssertEqual(out.count, 0, "nothing written for a refused record")
        }
        try Array(#"{"tags":[1],"n":1}"#.utf8).withUnsafeBytes { raw in
            let record = Record(document: try lazy.parse(raw, keeping: slots), line: 1, file: nil)
            XCTAssertTrue(slots.rootIsCompact)
            for (patch, expected) in [(RecordPatch.setting("n", "2"), #"{"tags":[1],"n":2}"#),
                                      (RecordPatch.removing("tags"), #"{"n":1}"#),
                                      (RecordPatch.removing("absent"), #"{"tags":[1],"n":1}"#)] {
                var out = ByteBuffer()
                XCTAssertNil(patch.write(record, keeping: slots, reparser: &reparser, into: &out))
                XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), expected)
            }
        }
    }
}

extension RecordPatch {
    static func setting(_ key: String, _ json: String) -> RecordPatch {
        var patch = RecordPatch()
        patch.set(key, rawJSON: Array(json.utf8))
        return patch
    }

    static func removing(_ key: String) -> RecordPatch {
        var patch = RecordPatch()
        patch.remove(key)
        return patch
    }
}
