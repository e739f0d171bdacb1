import MailpipeCore

/// Reads one JSON object of a configuration file against the keys it may hold. Every key must be
/// known at its place: an unknown one is an error naming its path (`vmtas[1].warmup_strat`) and
/// the nearest known key, so a typo is never silently ignored. Values of the wrong type are
/// errors naming the path and the expected type. Errors are `StageError.configuration` (exit 2).
struct ConfigReader {
    let file: String
    let path: String
    let members: [(String, JSONValue)]

    /// Keys that used to mean something, or that people write by habit: where that setting lives.
    static let movedKeys: [String: String] = [
        "soft_bounce_rule": "bounces.soft_limit and bounces.soft_window_days",
        "reply_to": "smtp.reply_to",
        "from": "smtp.from",
        "unsubscribe_url": "unsubscribe.url",
        "start": "warmup_start",
        "warmup_start_day": "warmup_start",
        "api_key": "api_key_env (the name of an environment variable; never the key itself)",
    ]

    /// Checks that `value` is an object whose keys are all in `known`.
    init(_ value: JSONValue, file: String, path: String, known: [String]) throws {
        self.file = file
        self.path = path
        guard case .object(let object) = value else {
            throw ConfigReader.error(file, path.isEmpty ? "the file must hold a JSON object" : "'\(path)' must be an object")
        }
        members = object.members
        var seen = Set<String>()
        for (key, _) in members {
            let where_ = path.isEmpty ? key : "\(path).\(key)"
            guard seen.insert(key).inserted else {
                throw ConfigReader.error(file, "key '\(where_)' appears twice")
            }
            guard known.contains(key) else {
                throw ConfigReader.error(file, "unknown key '\(where_)'" + ConfigReader.hint(for: key, known: known))
            }
        }
    }

    static func error(_ file: String, _ message: String) -> StageError {
        .configuration("\(file): \(message)")
    }

    /// ` (did you mean 'x'?)`, the place a moved key went, or the keys allowed here.
    static func hint(for key: String, known: [String]) -> String {
        if let moved = movedKeys[key] { return " (this setting is \(moved))" }
        let lower = key.lowercased()
        var best: (String, Int)? = nil
        for k in known {
            let d = editDistance(lower, k)
            if best == nil || d < best!.1 { best = (k, d) }
        }
        if let (k, d) = best, d <= max(2, k.count / 3) { return " (did you mean '\(k)'?)" }
        return " (known keys here: \(known.joined(separator: ", ")))"
    }

    /// Damerau–Levenshtein distance (adjacent transpositions count as one edit).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8), y = Array(b.utf8)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[x.count][y.count]
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func value(_ key: String) -> JSONValue? {
        guard let v = members.first(where: { $0.0 == key })?.1 else { return nil }
        if case .null = v { return nil }
        return v
    }

    func fail(_ key: String, _ message: String) -> StageError {
        ConfigReader.error(file, "'\(keyPath(key))' \(message)")
    }

    func string(_ key: String, nonEmpty: Bool = true) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.string else { throw fail(key, "must be a string") }
        if nonEmpty && s.isEmpty { throw fail(key, "must not be empty") }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.bool else { throw fail(key, "must be true or false") }
        return b
    }

    func int(_ key: String, min lower: Int) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard case .number(let text) = v, let n = Int(text) else { throw fail(key, "must be a whole number") }
        guard n >= lower else { throw fail(key, "must be at least \(lower)") }
        return n
    }

    func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.double else { throw fail(key, "must be a number") }
        guard range.contains(d) else { throw fail(key, "must be between \(WarmupSchedule.format(range.lowerBound)) and \(WarmupSchedule.format(range.upperBound))") }
        return d
    }

    func strings(_ key: String) throws -> [String]? {
        guard let v = value(key) else { return nil }
        guard let items = v.array else { throw fail(key, "must be an array of strings") }
        return try items.enumerated().map { i, item in
            guard let s = item.string else { throw ConfigReader.error(file, "'\(keyPath(key))[\(i)]' must be a string") }
            return s
        }
    }

    func object(_ key: String, known: [String]) throws -> ConfigReader? {
        guard let v = value(key) else { return nil }
        return try ConfigReader(v, file: file, path: keyPath(key), known: known)
    }

    /// An object with free keys (taxonomy, field maps): its members as they are.
    func freeObject(_ key: String) throws -> [(String, JSONValue)]? {
        guard let v = value(key) else { return nil }
        guard case .object(let o) = v else { throw fail(key, "must be an object") }
        var seen = Set<String>()
        for (k, _) in o.members where !seen.insert(k).inserted {
            throw ConfigReader.error(file, "key '\(keyPath(key)).\(k)' appears twice")
        }
        return o.members
    }

    /// Each element of an array of objects, read against `known`.
    func objects(_ key: String, known: [String]) throws -> [ConfigReader]? {
        guard let v = value(key) else { return nil }
        guard let items = v.array else { throw fail(key, "must be an array of objects") }
        return try items.enumerated().map { i, item in
            try ConfigReader(item, file: file, path: "\(keyPath(key))[\(i)]", known: known)
        }
    }

    /// A domain name: letters, digits, `-` and `.` (IDNs in their xn-- form).
    func domain(_ key: String) throws -> String? {
        guard let name = try string(key) else { return nil }
        let ok = name.utf8.allSatisfy { b in (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 45 || b == 46 }
        guard ok, !name.hasPrefix("."), !name.hasSuffix("."), !name.contains("..") else {
            throw fail(key, "must be a domain name (letters, digits, '-', '.'; an IDN in its xn-- form), got '\(name)'")
        }
        return name
    }

    /// The name of an environment variable (`[A-Za-z_][A-Za-z0-9_]*`).
    func environmentName(_ key: String) throws -> String? {
        guard let name = try string(key) else { return nil }
        let ok = name.utf8.enumerated().allSatisfy { i, b in
            (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 || (i > 0 && b >= 48 && b <= 57)
        }
        guard ok else { throw fail(key, "must name an environment variable (letters, digits, _), got '\(name)'") }
        return name
    }
}
