import MailpipeCore
import XCTest

/// `members` and `elements` walk a container's children by one stepping rule (`Children`): a
/// compact document written back from the walk (containers through their children, scalars from
/// their source bytes) must be the document itself, for random nesting with empty containers.
final class JSONChildrenTests: XCTestCase {
    private func write(_ node: JSONNode, into out: inout [UInt8]) {
        switch node.kind {
        case .object:
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in node.members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: key.raw)
                out.append(UInt8(ascii: ":"))
                write(value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array:
            out.append(UInt8(ascii: "["))
            for (i, element) in node.elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        default:
            out.append(contentsOf: node.raw)
        }
    }

    private func random(depth: Int, _ rng: inout SystemRandomNumberGenerator) -> String {
        let scalars = ["1", "-2.5e3", "true", "false", "null", #""""#, #""a\"b""#, #""é""#]
        switch depth > 4 ? 0 : Int.random(in: 0..<3, using: &rng) {
        case 1:
            let n = Int.random(in: 0..<4, using: &rng)
            return "{" + (0..<n).map { #""k\#($0)":"# + random(depth: depth + 1, &rng) }.joined(separator: ",") + "}"
        case 2:
            let n = Int.random(in: 0..<4, using: &rng)
            return "[" + (0..<n).map { _ in random(depth: depth + 1, &rng) }.joined(separator: ",") + "]"
        default:
            return scalars.randomElement(using: &rng)!
        }
    }

    func testWalkWritesTheDocumentBack() throws {
        var rng = SystemRandomNumberGenerator()
        var parser = JSONParser()
        defer { parser.deallocate() }
        var texts = [#"{}"#, #"[]"#, #"{"a":{},"b":[],"c":[[],{}]}"#, #"[{"a":[1,{"b":[]}]},[],{}]"#]
        for _ in 0..<2000 { texts.append(random(depth: 0, &rng)) }
        for text in texts {
            let bytes = Array(text.utf8)
            var out: [UInt8] = []
            try bytes.withUnsafeBytes { raw in
                let document = try parser.parse(raw)
                write(document.root, into: &out)
            }
            XCTAssertEqual(String(decoding: out, as: UTF8.self), text)
        }
    }
}
