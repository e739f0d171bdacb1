/// An owned JSON value for configuration, tests and the few places that build records from
/// scratch. Objects keep their key order; numbers keep their source text, so a long integer or a
/// phone-like number is never rounded.
public enum JSONValue: Equatable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }

    /// Parses a complete JSON text (any top-level value).
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 128) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(maxDepth: maxDepth)
        defer { parser.deallocate() }
        var result: Result<JSONValue, JSONParseError> = .success(.null)
        bytes.withUnsafeBytes { raw in
            do throws(JSONParseError) {
                result = .success(JSONValue(try parser.parse(raw).root))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    public init(_ node: JSONNode) {
        switch node.kind {
        case .null: self = .null
        case .true: self = .bool(true)
        case .false: self = .bool(false)
        case .number: self = .number(node.numberText!)
        case .string: self = .string(node.string!)
        case .array: self = .array(node.elements.map(JSONValue.init))
        case .object:
            var object = JSONObject()
            for (k, v) in node.members { object.append(k.string!, JSONValue(v)) }
            self = .object(object)
        }
    }

    public func write(into buffer: inout ByteBuffer) {
        switch self {
        case .null: buffer.append("null")
        case .bool(let b): buffer.append(b ? "true" : "false")
        case .number(let text): buffer.append(text)
        case .string(let s): buffer.appendJSONString(s)
        case .array(let items):
            buffer.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { buffer.append(UInt8(ascii: ",")) }
                item.write(into: &buffer)
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let object):
            var writer = JSONObjectWriter(into: &buffer)
            for (k, v) in object.members { writer.member(k, v, into: &buffer) }
            writer.finish(into: &buffer)
        }
    }

    /// Compact serialisation.
    public var serialized: [UInt8] {
        var buffer = ByteBuffer(capacity: 256)
        write(into: &buffer)
        return buffer.bytes
    }

    public var description: String { String(decoding: serialized, as: UTF8.self) }

    // MARK: access

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var int: Int? { if case .number(let n) = self { return Int(n) ?? Double(n).map { Int($0) } }; return nil }
    public var double: Double? { if case .number(let n) = self { return Double(n) }; return nil }
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var object: JSONObject? { if case .object(let o) = self { return o }; return nil }

    /// Equality of meaning: numbers compare by value when both parse as numbers.
    public func sameValue(as other: JSONValue) -> Bool {
        switch (self, other) {
        case (.number(let a), .number(let b)):
            if a == b { return true }
            if let x = Double(a), let y = Double(b) { return x == y }
            return false
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.sameValue(as: $1) }
        case (.object(let a), .object(let b)):
            return a.members.count == b.members.count
                && zip(a.members, b.members).allSatisfy { $0.0 == $1.0 && $0.1.sameValue(as: $1.1) }
        default:
            return self == other
        }
    }
}

/// An ordered JSON object.
public struct JSONObject: Equatable, Sendable {
    public private(set) var members: [(String, JSONValue)] = []

    public init() {}
    public init(_ members: [(String, JSONValue)]) { self.members = members }

    public subscript(key: String) -> JSONValue? {
        get { members.first(where: { $0.0 == key })?.1 }
        set {
            if let i = members.firstIndex(where: { $0.0 == key }) {
                if let newValue { members[i].1 = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append((key, newValue))
            }
        }
    }

    public mutating func append(_ key: String, _ value: JSONValue) { members.append((key, value)) }

    public var keys: [String] { members.map(\.0) }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count && zip(a.members, b.members).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}
