import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// `ContactMerge.insert` keeps the first occurrence of a key without a list of the keys seen
/// (a digest mask, earlier keys compared only on a digest collision or after an escaped key), and
/// `newContactLine` reads a plain status without making a String: both against plain references
/// on generated records.
final class ContactMergeKeysTests: XCTestCase {
    /// (source text of the key, its decoded text): equal lengths and end bytes collide in the
    /// digest; escaped spellings of plain keys; the empty key.
    static let keyPool: [(String, String)] = [
        (#""a""#, "a"), (#""b""#, "b"), (#""ab""#, "ab"), (#""ba""#, "ba"), (#""aa""#, "aa"),
        (#""name""#, "name"), (#""nbme""#, "nbme"), (#""n\u0061me""#, "name"), (#""\u0061""#, "a"),
        (#""""#, ""), (#""x\"y""#, "x\"y"), (#""x\u0022y""#, "x\"y"), (#""email""#, "email"),
        (#""first_name""#, "first_name"), (#""fiXst_name""#, "fiXst_name"), (#""\u00e9t\u00e9""#, "été"),
        (#""été""#, "été"), (#""status""#, "status"), (#""st\u0061tus""#, "status"),
    ]

    func testFirstOccurrenceOfEachKeyAgainstReference() throws {
        var rng = SplitMix(state: 18)
        var parser = JSONParser()
        defer { parser.deallocate() }
        let separators = [",", " , ", ",\n\t", "\r\n,"]
        let colons = [":", " : ", ":\t"]
        for round in 0..<4000 {
            let plainOnly = round % 3 == 0
            let pool = plainOnly ? Self.keyPool.filter { !$0.0.contains("\\") } : Self.keyPool
            let count = rng.next(12)
            var members: [String] = []
            var expected: [String] = []
            var seen = Set<String>()
            for i in 0..<count {
                let (source, text) = pool[rng.next(pool.count)]
                let value = ["\(i)", #""v\#(i)""#, "[\(i),{\"a\":\(i)}]", "null"][rng.next(4)]
                members.append(source + colons[rng.next(colons.count)] + value)
                guard seen.insert(text).inserted else { continue }
                expected.append(text == "email" ? #""email":"k@x.fr""# : source + ":" + value)
            }
            let sep = separators[rng.next(separators.count)]
            let line = (rng.next(2) == 0 ? "{" : "{ ") + members.joined(separator: sep) + (rng.next(2) == 0 ? "}" : " }")
            expected.append(#""tenant":"t""#)
            expected.append(#""created_at":"2026-12-07T00:00:00Z""#)
            let got = try Array(line.utf8).withUnsafeBytes { raw -> String in
                let root = try parser.parse(raw).root
                var out = ByteBuffer(capacity: 256)
                Array("k@x.fr".utf8).withUnsafeBytes {
                    ContactMerge.insert(root, key: $0, tenant: "t", createdAt: "2026-12-07T00:00:00Z", into: &out)
                }
                return out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            }
            XCTAssertEqual(got, "{" + expected.joined(separator: ",") + "}", line)
        }
    }

    /// `newContactLine` refuses a record whose first `status` member names a sticky status
    /// (read in insert's walk), and otherwise writes what `insert` writes.
    func testNewContactLineAgainstStatusLookup() throws {
        var rng = SplitMix(state: 7)
        var parser = JSONParser()
        defer { parser.deallocate() }
        let keys = [#""status""#, #""st\u0061tus""#, #""name""#, #""tags""#, #""dedupe""#]
        let values = [#""validated""#, #""bounced""#, #""Unsubscribed""#, #""opted-out""#, #""\u0062ounced""#, "null", "1",
                      #""active""#, #"["x"]"#]
        for _ in 0..<3000 {
            let members = (0..<rng.next(5)).map { _ in keys[rng.next(keys.count)] + ":" + values[rng.next(values.count)] }
            let line = "{" + members.joined(separator: rng.next(2) == 0 ? "," : " ,\n ") + "}"
            try Array(line.utf8).withUnsafeBytes { raw in
                let root = try parser.parse(raw).root
                let sticky = root["status"]?.string.map { ContactStatus.isSticky($0) } ?? false
                try Array("k@x.fr".utf8).withUnsafeBytes { key in
                    var plain = ByteBuffer(capacity: 256), fast = ByteBuffer(capacity: 256)
                    fast.append(UInt8(ascii: "#"))
                    ContactMerge.insert(root, key: key, tenant: "t", createdAt: "2026-12-07T00:00:00Z", into: &plain)
                    let wrote = ContactCommit.newContactLine(root, key: key, tenant: "t", createdAt: "2026-12-07T00:00:00Z", into: &fast)
                    XCTAssertEqual(wrote, !sticky, line)
                    let expected = sticky ? [UInt8(ascii: "#")] : [UInt8(ascii: "#")] + plain.bytes
                    XCTAssertEqual(String(decoding: fast.bytes, as: UTF8.self), String(decoding: expected, as: UTF8.self), line)
                }
            }
        }
    }

    func testStickyStatusOfANodeAgainstTheText() throws {
        var values: [String] = ["1", "null", "true", "[\"bounced\"]", "{}", #""""#, #"" ""#]
        let names = ContactStatus.allCases.map(\.rawValue) + ["Bounced", "BOUNCED", " bounced ", "bounced_", "opted-out",
            "désabonné", "spam", "valid", "active", "bouncedx", "bounce", "pendinG", "risky ", "unknown", "blacklisteD"]
        for name in names {
            values.append("\"\(name)\"")
            // The same text with its first character escaped (decoded the same).
            let first = name.unicodeScalars.first!
            let escaped = String(format: "\\u%04x", first.value) + String(name.unicodeScalars.dropFirst())
            if first.value < 0x10000 { values.append("\"\(escaped)\"") }
        }
        var parser = JSONParser()
        defer { parser.deallocate() }
        for value in values {
            let line = #"{"status":"# + value + "}"
            try Array(line.utf8).withUnsafeBytes { raw in
                let node = try XCTUnwrap(try parser.parse(raw).root["status"])
                let reference = node.string.map { ContactStatus.isSticky($0) } ?? false
                XCTAssertEqual(ContactStatus.isSticky(node), reference, line)
            }
        }
    }

    struct SplitMix {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(n))
        }
    }
}
