/// Contact records as CSV rows for people who open them in a spreadsheet: the canonical fields
/// in a fixed order (so every file has the same columns), tags joined by ", ", the verdict and
/// score of `validation`, and `custom` as its JSON text. RFC 4180 quoting, CRLF line ends.
public struct ContactCSV {
    /// Column name, and the path of the record's value.
    public static let columns: [(name: String, path: [String])] = [
        ("email", ["email"]), ("first_name", ["first_name"]), ("last_name", ["last_name"]),
        ("company", ["company"]), ("website", ["website"]), ("phone", ["phone"]), ("country", ["country"]),
        ("city", ["city"]), ("language", ["language"]), ("category", ["category"]), ("tags", ["tags"]),
        ("status", ["status"]), ("verdict", ["validation", "verdict"]), ("score", ["validation", "score"]),
        ("source", ["source"]), ("created_at", ["created_at"]), ("updated_at", ["updated_at"]),
        ("custom", ["custom"]),
    ]

    public let delimiter: UInt8
    /// Start with a UTF-8 byte order mark (how Excel tells UTF-8 from the locale's code page).
    public let byteOrderMark: Bool

    public init(delimiter: UInt8 = UInt8(ascii: ","), byteOrderMark: Bool = false) {
        self.delimiter = delimiter
        self.byteOrderMark = byteOrderMark
    }

    /// The byte order mark (when asked) and the header row.
    public func header(into out: inout [UInt8]) {
        if byteOrderMark { out.append(contentsOf: [0xEF, 0xBB, 0xBF]) }
        for (i, column) in ContactCSV.columns.enumerated() {
            if i > 0 { out.append(delimiter) }
            field(Array(column.name.utf8), into: &out)
        }
        out.append(contentsOf: [0x0D, 0x0A])
    }

    /// One record's row.
    public func row(_ record: JSONNode, into out: inout [UInt8]) {
        for (i, column) in ContactCSV.columns.enumerated() {
            if i > 0 { out.append(delimiter) }
            var node: JSONNode? = record
            for key in column.path { node = node?[key] }
            guard let node else { continue }
            field(text(node), into: &out)
        }
        out.append(contentsOf: [0x0D, 0x0A])
    }

    /// A value as a person reads it in a cell.
    func text(_ node: JSONNode) -> [UInt8] {
        switch node.kind {
        case .string:
            var bytes: [UInt8] = []
            node.appendDecodedString(to: &bytes)
            return bytes
        case .null:
            return []
        case .array:
            var joined: [UInt8] = []
            for element in node.elements {
                if !joined.isEmpty { joined.append(contentsOf: [0x2C, 0x20]) }
                joined.append(contentsOf: text(element))
            }
            return joined
        default:   // numbers keep their source text, true/false, objects as JSON
            return Array(JSONValue(node).serialized)
        }
    }

    /// RFC 4180: quoted when it holds the delimiter, a quote, CR or LF, or starts or ends with a
    /// space; quotes doubled.
    func field(_ value: [UInt8], into out: inout [UInt8]) {
        let needsQuotes = value.contains { $0 == delimiter || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
            || value.first == 0x20 || value.last == 0x20
        guard needsQuotes else { out.append(contentsOf: value); return }
        out.append(0x22)
        for b in value {
            if b == 0x22 { out.append(0x22) }
            out.append(b)
        }
        out.append(0x22)
    }
}
