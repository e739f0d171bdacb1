/// `application/x-www-form-urlencoded` bodies as PHP reads them (`$_POST`): keys with bracket
/// nesting (`subscribers[0][EMAIL]`), values percent-encoded like `http_build_query` (space as
/// `+`). MailWizz accepts only this on POST.
public struct FormBody {
    public private(set) var bytes: [UInt8] = []
    /// Number of variables, which PHP's `max_input_vars` limits.
    public private(set) var count = 0

    public init() {}

    /// Adds `key=value`; `key` is the full bracketed name, e.g. `subscribers[3][FNAME]`.
    public mutating func add(_ key: String, _ value: String) {
        if !bytes.isEmpty { bytes.append(UInt8(ascii: "&")) }
        FormBody.encode(key, into: &bytes)
        bytes.append(UInt8(ascii: "="))
        FormBody.encode(value, into: &bytes)
        count += 1
    }

    /// Percent-encodes like PHP's urlencode: letters, digits and `-_.` stay, space is `+`.
    public static func encode(_ text: String, into out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                out.append(b)
            case UInt8(ascii: " "):
                out.append(UInt8(ascii: "+"))
            default:
                out.append(UInt8(ascii: "%")); out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)])
            }
        }
    }

    /// A query-string value (`+` → `%2B`, space → `%20`), safe for `search-by-email?EMAIL=`.
    public static func queryValue(_ text: String) -> String {
        var out: [UInt8] = []
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(b)
            default:
                out.append(UInt8(ascii: "%")); out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
