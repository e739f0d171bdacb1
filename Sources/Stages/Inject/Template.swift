import MailpipeCore

/// The body template of `inject http`: JSON text in which `{{path}}` is replaced by the JSON
/// value at that dotted path of the record (`{{email}}`, `{{contact.first_name}}`), `null` when
/// absent, and `{{.}}` by the whole record. Values are inserted as JSON, so they are always
/// correctly quoted and escaped: write `"to": {{email}}`, not `"to": "{{email}}"`.
public struct BodyTemplate {
    enum Segment {
        case literal([UInt8])
        case path([String])
        case whole
    }

    let segments: [Segment]

    public init(_ text: String) throws {
        var segments: [Segment] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { segments.append(.literal(Array(rest[..<open.lowerBound].utf8))) }
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw StageError.configuration("body template: '{{' without '}}'")
            }
            let name = String(rest[open.upperBound..<close.lowerBound]).trimmingBlanks
            if name == "." { segments.append(.whole) }
            else {
                let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                guard !name.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else {
                    throw StageError.configuration("body template: bad placeholder '{{\(name)}}'")
                }
                segments.append(.path(parts))
            }
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { segments.append(.literal(Array(rest.utf8))) }
        self.segments = segments
    }

    public func render(_ root: JSONNode, into out: inout [UInt8]) {
        for segment in segments {
            switch segment {
            case .literal(let bytes): out.append(contentsOf: bytes)
            case .whole: out.append(contentsOf: root.raw)
            case .path(let parts):
                var node: JSONNode? = root
                for p in parts { node = node?[p] }
                if let node { out.append(contentsOf: node.raw) } else { out.append(contentsOf: "null".utf8) }
            }
        }
    }
}
