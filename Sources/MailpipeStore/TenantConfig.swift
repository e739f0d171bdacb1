import MailpipeCore

/// `tenant.json`: the tenant's settings. Unknown keys are kept (the whole document stays in `raw`)
/// so later stages can read their own sections.
public struct TenantConfig: Sendable {
    public var raw: JSONObject

    public static let languages = ["fr", "en", "es", "de", "pt", "ru", "zh", "hi", "ar"]

    /// DESIGN.md §4: daily quota and bounce-rate ceiling per warm-up week (week 6 onwards repeats).
    public static let defaultWarmup: [(week: Int, dailyQuota: Int, bounceCeiling: Double)] = [
        (1, 50, 0.02), (2, 200, 0.02), (3, 500, 0.015), (4, 1_500, 0.015), (5, 5_000, 0.01), (6, 10_000, 0.01),
    ]

    public init(raw: JSONObject) { self.raw = raw }

    public static func load(path: String) throws -> TenantConfig {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path) } catch {
            throw StageError.configuration("cannot read \(path): \(error)")
        }
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch {
            throw StageError.configuration("\(path): \(error)")
        }
        guard case .object(let object) = value else {
            throw StageError.configuration("\(path): tenant.json must be a JSON object")
        }
        let config = TenantConfig(raw: object)
        try config.validate(path: path)
        return config
    }

    /// A fresh configuration with the documented defaults.
    public static func defaults(slug: TenantSlug) -> TenantConfig {
        var o = JSONObject()
        o.append("slug", .string(slug.value))
        o.append("name", .string(slug.value))
        o.append("languages", .array(languages.map { .string($0) }))
        o.append("fallback_language", .string("en"))
        o.append("timezone", .string("UTC"))
        o.append("taxonomy", .object(JSONObject()))
        o.append("vmtas", .array([]))
        o.append("warmup", defaultWarmupJSON)
        return TenantConfig(raw: o)
    }

    public static var defaultWarmupJSON: JSONValue {
        .array(defaultWarmup.map { w in
            .object(JSONObject([("week", .int(w.week)), ("daily_quota", .int(w.dailyQuota)),
                                ("max_bounce_rate", .number(String(w.bounceCeiling)))]))
        })
    }

    func validate(path: String) throws {
        if let slug = raw["slug"], slug.string == nil {
            throw StageError.configuration("\(path): 'slug' must be a string")
        }
        if let fallback = raw["fallback_language"]?.string, !TenantConfig.languages.contains(fallback) {
            throw StageError.configuration("\(path): fallback_language '\(fallback)' is not one of \(TenantConfig.languages.joined(separator: " "))")
        }
        if let mailwizz = raw["mailwizz"]?.object, mailwizz["api_key"] != nil {
            throw StageError.configuration("\(path): mailwizz.api_key must not hold a key; name an environment variable in mailwizz.api_key_env")
        }
    }

    public var slug: String? { raw["slug"]?.string }
    public var name: String? { raw["name"]?.string }
    public var fallbackLanguage: String { raw["fallback_language"]?.string ?? "en" }
    public var languages: [String] { raw["languages"]?.array?.compactMap(\.string) ?? TenantConfig.languages }

    /// Parent → children tags.
    public var taxonomy: [String: [String]] {
        var result: [String: [String]] = [:]
        for (parent, children) in raw["taxonomy"]?.object?.members ?? [] {
            result[parent] = children.array?.compactMap(\.string) ?? []
        }
        return result
    }

    public var serialized: [UInt8] {
        var bytes = JSONValue.object(raw).prettyPrinted
        bytes.append(0x0A)
        return bytes
    }
}

extension JSONValue {
    /// Two-space indented JSON for files people edit (tenant.json).
    public var prettyPrinted: [UInt8] {
        var buffer = ByteBuffer(capacity: 1024)
        writePretty(into: &buffer, indent: 0)
        return buffer.bytes
    }

    private func writePretty(into buffer: inout ByteBuffer, indent: Int) {
        func newline(_ level: Int) {
            buffer.append(0x0A)
            for _ in 0..<(level * 2) { buffer.append(0x20) }
        }
        switch self {
        case .array(let items) where !items.isEmpty && items.contains(where: { $0.isContainer }):
            buffer.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { buffer.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                item.writePretty(into: &buffer, indent: indent + 1)
            }
            newline(indent)
            buffer.append(UInt8(ascii: "]"))
        case .object(let object) where !object.members.isEmpty:
            buffer.append(UInt8(ascii: "{"))
            for (i, (key, value)) in object.members.enumerated() {
                if i > 0 { buffer.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                buffer.appendJSONString(key)
                buffer.append(": ")
                value.writePretty(into: &buffer, indent: indent + 1)
            }
            newline(indent)
            buffer.append(UInt8(ascii: "}"))
        default:
            write(into: &buffer)
        }
    }

    private var isContainer: Bool {
        switch self {
        case .array, .object: return true
        default: return false
        }
    }
}
