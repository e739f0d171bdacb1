import MailpipeCore

/// A named segment read from a file (`--segment FILE`, `--segments FILE`).
public struct SegmentDefinition {
    public var name: String
    public var criteria: SegmentCriteria
    public init(name: String, criteria: SegmentCriteria) {
        self.name = name
        self.criteria = criteria
    }
}

/// Reads the seeds' campaign criteria shape:
///
///     {"name": "avocats-fr", "tags_all": ["avocat"], "tags_any": ["lang-fr", "lang-es"],
///      "exclude_tags": ["vip"], "target_category": "avocat", "target_country_codes": ["FR", "BE"],
///      "max_contacts": 5000}
///
/// plus mailpipe's own keys for the other criteria: `language`, `status`, `verdict`, `source`
/// (a string or a list each), `created_since`, `created_before`, `where`. Keys that describe a
/// campaign rather than its audience (`id`, `subject`, …) are ignored and listed in a note.
public enum SegmentFile {
    static let known: Set<String> = ["name", "tags_all", "tags_any", "exclude_tags", "target_category", "target_country_codes",
                                     "max_contacts", "language", "languages", "status", "verdict", "source",
                                     "created_since", "created_before", "where"]

    /// One segment: a JSON object.
    public static func load(path: String, note: (String) -> Void = { _ in }) throws -> SegmentDefinition {
        let value = try read(path)
        guard case .object = value else { throw StageError.configuration("\(path): a segment file holds one JSON object") }
        return try definition(value, path: path, fallbackName: baseName(path), note: note)
    }

    /// Many segments: a JSON array of objects with `name`, an object of name → criteria, or NDJSON.
    public static func loadMany(path: String, note: (String) -> Void = { _ in }) throws -> [SegmentDefinition] {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path) } catch { throw StageError.configuration("cannot read \(path): \(error)") }
        var items: [(JSONValue, String?)] = []
        if let value = try? JSONValue.parse(bytes) {
            switch value {
            case .array(let list): items = list.map { ($0, nil) }
            case .object(let o):
                if o["name"] != nil || o.members.contains(where: { known.contains($0.0) }) {
                    items = [(value, nil)]
                } else {
                    items = o.members.map { ($0.1, $0.0) }
                }
            default: throw StageError.configuration("\(path): expected segments as a JSON array, an object or NDJSON")
            }
        } else {
            for (n, line) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                do { items.append((try JSONValue.parse(Array(line)), nil)) } catch {
                    throw StageError.configuration("\(path): line \(n + 1): \(error)")
                }
            }
        }
        var seen: Set<String> = []
        var result: [SegmentDefinition] = []
        for (i, (value, key)) in items.enumerated() {
            guard case .object = value else { throw StageError.configuration("\(path): segment \(i + 1) is not a JSON object") }
            let def = try definition(value, path: path, fallbackName: key, note: note)
            guard isSafeName(def.name) else {
                throw StageError.configuration("\(path): segment name '\(def.name)' must be 1–64 characters of a-z, A-Z, 0-9, '-', '_' (it names a file)")
            }
            guard seen.insert(def.name).inserted else { throw StageError.configuration("\(path): segment '\(def.name)' is defined twice") }
            result.append(def)
        }
        guard !result.isEmpty else { throw StageError.configuration("\(path): no segments") }
        return result
    }

    static func isSafeName(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard !b.isEmpty, b.count <= 64, b[0] != UInt8(ascii: "-"), b[0] != UInt8(ascii: ".") else { return false }
        return b.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 }
    }

    static func read(_ path: String) throws -> JSONValue {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path) } catch { throw StageError.configuration("cannot read \(path): \(error)") }
        do { return try JSONValue.parse(bytes) } catch { throw StageError.configuration("\(path): \(error)") }
    }

    static func baseName(_ path: String) -> String {
        var name = FileSystem.basename(of: path)
        if let dot = name.firstIndex(of: ".") { name = String(name[..<dot]) }
        return name
    }

    static func definition(_ value: JSONValue, path: String, fallbackName: String?, note: (String) -> Void) throws -> SegmentDefinition {
        guard case .object(let o) = value else { throw StageError.configuration("\(path): expected an object") }
        func strings(_ key: String) throws -> [String] {
            guard let v = o[key] else { return [] }
            switch v {
            case .null: return []
            case .string(let s): return s.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
            case .array(let list):
                return try list.map {
                    guard let s = $0.string else { throw StageError.configuration("\(path): '\(key)' must hold strings") }
                    return s
                }
            default: throw StageError.configuration("\(path): '\(key)' must be a string or a list of strings")
            }
        }
        func single(_ key: String) throws -> String? {
            guard let v = o[key], v != .null else { return nil }
            guard let s = v.string else { throw StageError.configuration("\(path): '\(key)' must be a string") }
            return s
        }
        var c = SegmentCriteria()
        c.tagsAll = try strings("tags_all")
        c.tagsAny = try strings("tags_any")
        c.tagsExclude = try strings("exclude_tags")
        c.categories = try strings("target_category")
        c.countries = try strings("target_country_codes")
        c.languages = try strings("language") + strings("languages")
        c.statuses = try strings("status")
        c.verdicts = try strings("verdict")
        c.sources = try strings("source")
        c.createdSince = try single("created_since")
        c.createdBefore = try single("created_before")
        switch o["where"] {
        case nil, .null?: break
        case .string(let w)?: c.wheres = [w]
        case .array(let list)?:
            c.wheres = try list.map {
                guard let s = $0.string else { throw StageError.configuration("\(path): 'where' must hold strings") }
                return s
            }
        default: throw StageError.configuration("\(path): 'where' must be a string or a list of strings")
        }
        if let m = o["max_contacts"], m != .null {
            guard let n = m.int, n >= 0 else { throw StageError.configuration("\(path): 'max_contacts' must be a whole number ≥ 0") }
            c.limit = n
        }
        let ignored = o.keys.filter { !known.contains($0) }
        if !ignored.isEmpty { note("\(path): ignoring keys that are not criteria: \(ignored.joined(separator: ", "))") }
        let name = try single("name") ?? fallbackName ?? "segment"
        return SegmentDefinition(name: name, criteria: c)
    }
}
