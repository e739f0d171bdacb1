import MailpipeCore
import Yams

/// A tagging rules file (YAML or JSON), compiled once before any record is read.
///
///     builtins: { lang: true, country: true }      # optional; both on by default
///     rules:
///       - name: lawyers
///         when:
///           all:
///             - { field: category, in: [avocat, lawyer] }
///             - { verdict: [valid, risky] }
///             - not: { field: country, equals: FR }
///         add: [avocat, international]
///         remove: prospect
///
/// Conditions: `field` with one of `equals`, `in`, `prefix`, `contains`, `regex`, `exists`,
/// `gt`/`gte`/`lt`/`lte` (and `ignore_case: true` for the string tests); `verdict`; and
/// `all` / `any` (lists) and `not` to combine them. A field path may go into objects
/// (`custom.profession`); on an array the test holds when any element passes it.
public struct TagRules {
    public var rules: [Rule] = []
    public var builtinLanguage = true
    public var builtinCountry = true

    public init() {}

    public struct Rule {
        public var name: String
        public var line: Int
        var condition: Condition
        public var add: [String]
        public var remove: [String]
    }

    /// Loads and checks a rules file; any error names the file and line (exit 2).
    public static func load(path: String) throws -> TagRules {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path) } catch {
            throw StageError.configuration("cannot read rules file \(path): \(error)")
        }
        return try parse(bytes, name: path, json: path.hasSuffix(".json"))
    }

    public static func parse(_ text: String, name: String = "rules", json: Bool = false) throws -> TagRules {
        try parse(Array(text.utf8), name: name, json: json)
    }

    static func parse(_ bytes: [UInt8], name: String, json: Bool) throws -> TagRules {
        guard JSONParser.isValidUTF8(bytes.withUnsafeBytes { $0 }) else {
            throw StageError.configuration("\(name): not valid UTF-8")
        }
        if json {
            // JSON's own error, with its line, before the structure is read.
            do { _ = try JSONValue.parse(bytes) } catch {
                let before = bytes.prefix(error.offset)
                let line = before.reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
                let column = before.count - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
                var message = error.description
                if let r = message.range(of: " at column ") { message = String(message[..<r.lowerBound]) }
                throw StageError.configuration("\(name):\(line):\(column): \(message)")
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch let error as YamlError {
            throw StageError.configuration("\(name):\(describe(error))")
        }
        let compiler = Compiler(file: name)
        return try compiler.rules(root)
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let c = context.map { " \($0.text)" } ?? ""
            return "\(mark.line): \(problem)\(c)"
        default:
            return " \(error)"
        }
    }

    /// The rules' actions for one record, in file order.
    func apply(to record: JSONNode, adding: inout [String], removing: inout [String], fired: inout [Int]) {
        for (i, rule) in rules.enumerated() where rule.condition.holds(on: record) {
            adding.append(contentsOf: rule.add)
            removing.append(contentsOf: rule.remove)
            fired[i] += 1
        }
    }
}

// MARK: - Conditions

indirect enum Condition {
    case all([Condition])
    case any([Condition])
    case not(Condition)
    case test(path: [String], test: Test)

    enum Test {
        case equals([Literal], ignoreCase: Bool)    // `equals` is `in` with one value
        case prefix([UInt8], ignoreCase: Bool)
        case contains([UInt8], ignoreCase: Bool)
        case regex(Regex<AnyRegexOutput>)
        case exists(Bool)
        case compare(Comparison, Double)
    }

    enum Comparison { case gt, gte, lt, lte }

    enum Literal {
        case string([UInt8])
        case number(Double)
        case bool(Bool)
        case null
    }

    func holds(on record: JSONNode) -> Bool {
        switch self {
        case .all(let list): return list.allSatisfy { $0.holds(on: record) }
        case .any(let list): return list.contains { $0.holds(on: record) }
        case .not(let c): return !c.holds(on: record)
        case .test(let path, let test):
            var node: JSONNode? = record
            for key in path { node = node?[key] }
            if case .exists(let want) = test {
                return (node != nil && node!.kind != .null) == want
            }
            guard let value = node else { return false }
            if value.kind == .array {
                for element in value.elements where Condition.passes(element, test) { return true }
                return false
            }
            return Condition.passes(value, test)
        }
    }

    private static func passes(_ value: JSONNode, _ test: Test) -> Bool {
        switch test {
        case .exists(let want):
            return (value.kind != .null) == want
        case .equals(let literals, let ignoreCase):
            for literal in literals where matches(value, literal, ignoreCase) { return true }
            return false
        case .prefix(let p, let ignoreCase):
            return withText(value, ignoreCase) { $0.starts(with: p) }
        case .contains(let needle, let ignoreCase):
            return withText(value, ignoreCase) { hay in
                if needle.isEmpty { return true }
                if hay.count < needle.count { return false }
                for start in 0...(hay.count - needle.count) where hay[start] == needle[0] {
                    if hay[start..<(start + needle.count)].elementsEqual(needle) { return true }
                }
                return false
            }
        case .regex(let regex):
            guard let text = textValue(value) else { return false }
            return (try? regex.firstMatch(in: text)) != nil
        case .compare(let op, let bound):
            guard let x = numberValue(value) else { return false }
            switch op {
            case .gt: return x > bound
            case .gte: return x >= bound
            case .lt: return x < bound
            case .lte: return x <= bound
            }
        }
    }

    private static func matches(_ value: JSONNode, _ literal: Literal, _ ignoreCase: Bool) -> Bool {
        switch literal {
        case .string(let s):
            return withText(value, ignoreCase) { $0.elementsEqual(s) }
        case .number(let n):
            return numberValue(value) == n
        case .bool(let b):
            return value.bool == b
        case .null:
            return value.kind == .null
        }
    }

    /// The value as text: strings decoded, numbers and booleans as written.
    private static func textValue(_ value: JSONNode) -> String? {
        switch value.kind {
        case .string: return value.string
        case .number, .true, .false: return String(decoding: value.raw, as: UTF8.self)
        default: return nil
        }
    }

    private static func withText(_ value: JSONNode, _ ignoreCase: Bool, _ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        switch value.kind {
        case .string:
            if !value.isEscaped && !ignoreCase { return body(value.rawContent) }
            guard var text = value.string else { return false }
            if ignoreCase { text = text.lowercased() }
            return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        case .number, .true, .false:
            return body(value.raw)
        default:
            return false
        }
    }

    private static func numberValue(_ value: JSONNode) -> Double? {
        switch value.kind {
        case .number: return value.double
        case .string: return value.string.flatMap { Double($0.trimmingCharacters(in: " ")) }
        default: return nil
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}

// MARK: - Compiling the file

struct Compiler {
    let file: String

    func fail(_ node: Node?, _ message: String) -> StageError {
        let line = node?.mark.map { ":\($0.line)" } ?? ""
        return .configuration("\(file)\(line): \(message)")
    }

    func rules(_ root: Node?) throws -> TagRules {
        var result = TagRules()
        guard let root else { return result }   // an empty file: no rules
        var ruleList: Node?
        switch root {
        case .sequence: ruleList = root
        case .mapping(let mapping):
            for (key, value) in mapping {
                switch key.string {
                case "rules": ruleList = value
                case "builtins":
                    guard case .mapping(let b) = value else { throw fail(value, "'builtins' must be a mapping like {lang: true, country: false}") }
                    for (k, v) in b {
                        guard let on = boolean(v) else { throw fail(v, "builtins.\(k.string ?? "?") must be true or false") }
                        switch k.string {
                        case "lang", "language": result.builtinLanguage = on
                        case "country": result.builtinCountry = on
                        default: throw fail(k, "unknown built-in '\(k.string ?? "?")' (known: lang, country)")
                        }
                    }
                default:
                    throw fail(key, "unknown key '\(key.string ?? "?")' (expected 'rules' or 'builtins')")
                }
            }
        case .scalar:
            throw fail(root, "a rules file is a mapping with 'rules' (or a list of rules)")
        }
        guard let list = ruleList else { return result }
        guard case .sequence(let items) = list else { throw fail(list, "'rules' must be a list") }
        for (i, item) in items.enumerated() { result.rules.append(try rule(item, index: i)) }
        return result
    }

    func rule(_ node: Node, index: Int) throws -> TagRules.Rule {
        guard case .mapping(let mapping) = node else { throw fail(node, "a rule must be a mapping with 'when' and 'add'/'remove'") }
        var name = "rule \(index + 1)"
        var condition: Condition?
        var add: [String] = [], remove: [String] = []
        for (key, value) in mapping {
            switch key.string {
            case "name": name = value.string ?? name
            case "when", "if": condition = try self.condition(value)
            case "add": add = try tags(value, "add")
            case "remove": remove = try tags(value, "remove")
            default: throw fail(key, "unknown rule key '\(key.string ?? "?")' (expected name, when, add, remove)")
            }
        }
        guard let condition else { throw fail(node, "\(name) has no 'when' condition") }
        if add.isEmpty && remove.isEmpty { throw fail(node, "\(name) neither adds nor removes a tag") }
        return TagRules.Rule(name: name, line: node.mark?.line ?? 0, condition: condition, add: add, remove: remove)
    }

    func tags(_ node: Node, _ what: String) throws -> [String] {
        let items: [Node]
        switch node {
        case .scalar: items = [node]
        case .sequence(let s): items = Array(s)
        case .mapping: throw fail(node, "'\(what)' takes a tag or a list of tags")
        }
        return try items.map { item in
            guard case .scalar(let s) = item else { throw fail(item, "'\(what)' takes a tag or a list of tags") }
            let slug = Slug.make(s.string)
            if slug.isEmpty { throw fail(item, "tag '\(s.string)' has no letters or digits to make a slug from") }
            return slug
        }
    }

    static let operators = ["equals", "in", "prefix", "contains", "regex", "exists", "gt", "gte", "lt", "lte"]

    func condition(_ node: Node) throws -> Condition {
        guard case .mapping(let mapping) = node else {
            throw fail(node, "a condition is a mapping: {field: …, equals: …}, {verdict: …}, {all: […]}, {any: […]} or {not: …}")
        }
        let keys = mapping.keys.compactMap(\.string)
        if keys.count == 1, let only = keys.first, ["all", "any", "not"].contains(only) {
            let value = mapping[only]!
            if only == "not" { return .not(try condition(value)) }
            guard case .sequence(let items) = value, !items.isEmpty else { throw fail(value, "'\(only)' takes a non-empty list of conditions") }
            let list = try items.map { try condition($0) }
            return only == "all" ? .all(list) : .any(list)
        }
        if keys.contains("verdict") {
            guard keys.count == 1 else { throw fail(node, "'verdict' stands alone in its condition") }
            let value = mapping["verdict"]!
            let names = try stringList(value, "verdict")
            for n in names where !["valid", "risky", "invalid"].contains(n) {
                throw fail(value, "unknown verdict '\(n)' (valid, risky, invalid)")
            }
            return .test(path: ["validation", "verdict"], test: .equals(names.map { .string(Array($0.utf8)) }, ignoreCase: false))
        }
        guard let fieldNode = mapping["field"] else {
            throw fail(node, "a condition needs 'field' (or 'verdict', 'all', 'any', 'not'); found \(keys.joined(separator: ", "))")
        }
        guard case .scalar(let f) = fieldNode, !f.string.isEmpty else { throw fail(fieldNode, "'field' takes a field name such as country or custom.profession") }
        let path = f.string.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if path.contains(where: \.isEmpty) { throw fail(fieldNode, "bad field path '\(f.string)'") }
        var ignoreCase = false
        var test: Condition.Test?
        var opCount = 0
        for (key, value) in mapping {
            guard let k = key.string else { throw fail(key, "condition keys are names") }
            switch k {
            case "field": continue
            case "ignore_case":
                guard let b = boolean(value) else { throw fail(value, "ignore_case must be true or false") }
                ignoreCase = b
                continue
            case "equals": test = .equals([try literal(value)], ignoreCase: false)
            case "in":
                guard case .sequence(let items) = value, !items.isEmpty else { throw fail(value, "'in' takes a non-empty list") }
                test = .equals(try items.map { try literal($0) }, ignoreCase: false)
            case "prefix": test = .prefix(Array(try text(value, k).utf8), ignoreCase: false)
            case "contains": test = .contains(Array(try text(value, k).utf8), ignoreCase: false)
            case "regex":
                let pattern = try text(value, k)
                do { test = .regex(try Regex(pattern)) } catch {
                    throw fail(value, "bad regex '\(pattern)': \(error)")
                }
            case "exists":
                guard let b = boolean(value) else { throw fail(value, "exists must be true or false") }
                test = .exists(b)
            case "gt", "gte", "lt", "lte":
                guard case .scalar(let s) = value, let n = Double(s.string) else { throw fail(value, "'\(k)' takes a number") }
                test = .compare(k == "gt" ? .gt : k == "gte" ? .gte : k == "lt" ? .lt : .lte, n)
            default:
                throw fail(key, "unknown condition '\(k)' (known: \(Compiler.operators.joined(separator: ", ")), ignore_case)")
            }
            opCount += 1
        }
        guard var t = test else { throw fail(node, "the condition on '\(f.string)' has no test (\(Compiler.operators.joined(separator: ", ")))") }
        guard opCount == 1 else { throw fail(node, "one test per condition; combine several with all/any") }
        if ignoreCase {
            switch t {
            case .equals(let literals, _):
                t = .equals(literals.map { if case .string(let s) = $0 { return .string(Array(String(decoding: s, as: UTF8.self).lowercased().utf8)) }; return $0 }, ignoreCase: true)
            case .prefix(let p, _): t = .prefix(Array(String(decoding: p, as: UTF8.self).lowercased().utf8), ignoreCase: true)
            case .contains(let p, _): t = .contains(Array(String(decoding: p, as: UTF8.self).lowercased().utf8), ignoreCase: true)
            case .regex(let r): t = .regex(r.ignoresCase())
            default: throw fail(node, "ignore_case only applies to equals, in, prefix, contains and regex")
            }
        }
        return .test(path: path, test: t)
    }

    func stringList(_ node: Node, _ what: String) throws -> [String] {
        switch node {
        case .scalar(let s): return [s.string]
        case .sequence(let items):
            return try items.map { item in
                guard case .scalar(let s) = item else { throw fail(item, "'\(what)' takes a value or a list of values") }
                return s.string
            }
        case .mapping: throw fail(node, "'\(what)' takes a value or a list of values")
        }
    }

    func text(_ node: Node, _ what: String) throws -> String {
        guard case .scalar(let s) = node else { throw fail(node, "'\(what)' takes a text value") }
        return s.string
    }

    /// Only `true` and `false` are booleans here (YAML 1.1's yes/no/on/off would turn the
    /// country code NO into false).
    func boolean(_ node: Node) -> Bool? {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any else { return nil }
        switch s.string {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return nil
        }
    }

    func literal(_ node: Node) throws -> Condition.Literal {
        guard case .scalar(let s) = node else { throw fail(node, "expected a single value, not a list or mapping") }
        if s.style == .plain || s.style == .any {
            if let b = boolean(node) { return .bool(b) }
            if s.string == "null" || s.string == "~" { return .null }
            if let n = Double(s.string), s.string.first.map({ $0.isNumber || $0 == "-" }) == true { return .number(n) }
        }
        return .string(Array(s.string.utf8))
    }
}
