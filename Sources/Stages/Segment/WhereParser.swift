import MailpipeCore

/// `--where`: a small boolean language over a contact's fields.
///
///     expr      := term ("or" term)*
///     term      := factor ("and" factor)*
///     factor    := "not" factor | "(" expr ")" | test
///     test      := field ("=" | "!=" | "<" | "<=" | ">" | ">=") value
///                | field ["not"] "in" "(" value ("," value)* ")"
///                | field "has" value | field "has" ("all" | "any" | "none") "(" values ")"
///                | field "exists" | field "missing"
///     field     := name ("." name)*          tags, language, validation.verdict, custom.plan
///     value     := word | "double quoted" | 'single quoted'
///
/// Keywords are case-insensitive. A mistake is reported with its column and a caret.
public enum WhereParser {
    public struct Parsed {
        public var criterion: Criterion
        /// The source text of each top-level `and`-ed part (for `--explain`).
        public var conjunctSources: [String]
    }

    enum Token: Equatable {
        case word(String)      // a bare word: field, keyword or value
        case quoted(String)
        case op(String)        // = != < <= > >=
        case open, close, comma
        case end
    }

    struct Lexeme {
        var token: Token
        var column: Int       // 1-based, in characters
        var offset: Int       // index into the character array
    }

    public static func parse(_ text: String) throws -> Parsed {
        let chars = Array(text)
        let lexemes = try lex(chars, text)
        var p = Parser(lexemes: lexemes, text: text, chars: chars)
        var parts: [Criterion] = []
        var sources: [String] = []
        // The top level is parsed as a list of `and`-ed parts so each can be explained alone.
        var startOffset = 0
        while true {
            parts.append(try p.factorOrGroup())
            if p.peekKeyword("and") {
                sources.append(String(chars[startOffset..<p.current.offset]).trimmed)
                p.index += 1
                startOffset = p.current.offset
                continue
            }
            if p.peekKeyword("or") {
                // Not a pure conjunction: parse the whole text as one expression.
                var whole = Parser(lexemes: lexemes, text: text, chars: chars)
                let c = try whole.expression()
                try whole.expectEnd()
                return Parsed(criterion: c, conjunctSources: [text])
            }
            break
        }
        try p.expectEnd()
        sources.append(String(chars[startOffset..<min(chars.count, p.current.offset)]).trimmed)
        return Parsed(criterion: parts.count == 1 ? parts[0] : .and(parts), conjunctSources: sources)
    }

    static func error(_ text: String, _ column: Int, _ message: String) -> StageError {
        let caret = String(repeating: " ", count: max(0, column - 1)) + "^"
        return StageError.usage("--where: column \(column): \(message)\n  \(text)\n  \(caret)")
    }

    static func isWordChar(_ c: Character) -> Bool {
        if c.isLetter || c.isNumber { return true }
        return "-_.:@+/*".contains(c)
    }

    static func lex(_ chars: [Character], _ text: String) throws -> [Lexeme] {
        var out: [Lexeme] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            let start = i
            switch c {
            case "(": out.append(Lexeme(token: .open, column: i + 1, offset: i)); i += 1
            case ")": out.append(Lexeme(token: .close, column: i + 1, offset: i)); i += 1
            case ",": out.append(Lexeme(token: .comma, column: i + 1, offset: i)); i += 1
            case "=": out.append(Lexeme(token: .op("="), column: i + 1, offset: i)); i += 1
                if i < chars.count && chars[i] == "=" { i += 1 }  // == reads as =
            case "!":
                guard i + 1 < chars.count, chars[i + 1] == "=" else { throw error(text, i + 1, "'!' must be followed by '=' (use 'not' to negate)") }
                out.append(Lexeme(token: .op("!="), column: i + 1, offset: i)); i += 2
            case "<", ">":
                if i + 1 < chars.count && chars[i + 1] == "=" {
                    out.append(Lexeme(token: .op(String(c) + "="), column: i + 1, offset: i)); i += 2
                } else if c == "<" && i + 1 < chars.count && chars[i + 1] == ">" {
                    out.append(Lexeme(token: .op("!="), column: i + 1, offset: i)); i += 2
                } else {
                    out.append(Lexeme(token: .op(String(c)), column: i + 1, offset: i)); i += 1
                }
            case "\"", "'":
                var value = ""
                i += 1
                var closed = false
                while i < chars.count {
                    if chars[i] == "\\" && i + 1 < chars.count { value.append(chars[i + 1]); i += 2; continue }
                    if chars[i] == c { closed = true; i += 1; break }
                    value.append(chars[i]); i += 1
                }
                if !closed { throw error(text, start + 1, "unterminated quoted value") }
                out.append(Lexeme(token: .quoted(value), column: start + 1, offset: start))
            default:
                guard isWordChar(c) else { throw error(text, i + 1, "unexpected character '\(c)'") }
                while i < chars.count && isWordChar(chars[i]) { i += 1 }
                out.append(Lexeme(token: .word(String(chars[start..<i])), column: start + 1, offset: start))
            }
        }
        out.append(Lexeme(token: .end, column: chars.count + 1, offset: chars.count))
        return out
    }

    static let keywords: Set<String> = ["and", "or", "not", "in", "has", "all", "any", "none", "exists", "missing"]

    struct Parser {
        let lexemes: [Lexeme]
        let text: String
        let chars: [Character]
        var index = 0

        var current: Lexeme { lexemes[index] }

        func peekKeyword(_ k: String) -> Bool {
            if case .word(let w) = current.token { return w.lowercased() == k }
            return false
        }

        func fail(_ message: String) -> StageError { WhereParser.error(text, current.column, message) }

        func describe(_ t: Token) -> String {
            switch t {
            case .word(let w): return "'\(w)'"
            case .quoted(let q): return "\"\(q)\""
            case .op(let o): return "'\(o)'"
            case .open: return "'('"
            case .close: return "')'"
            case .comma: return "','"
            case .end: return "the end"
            }
        }

        func expectEnd() throws {
            if current.token != .end {
                throw fail("expected 'and', 'or' or the end, found \(describe(current.token))")
            }
        }

        mutating func expression() throws -> Criterion {
            var items = [try term()]
            while peekKeyword("or") { index += 1; items.append(try term()) }
            return items.count == 1 ? items[0] : .or(items)
        }

        mutating func term() throws -> Criterion {
            var items = [try factorOrGroup()]
            while peekKeyword("and") { index += 1; items.append(try factorOrGroup()) }
            return items.count == 1 ? items[0] : .and(items)
        }

        mutating func factorOrGroup() throws -> Criterion {
            if peekKeyword("not") {
                index += 1
                return .not(try factorOrGroup())
            }
            if current.token == .open {
                index += 1
                let inner = try expression()
                guard current.token == .close else { throw fail("expected ')' to close the group, found \(describe(current.token))") }
                index += 1
                return inner
            }
            return try test()
        }

        mutating func test() throws -> Criterion {
            guard case .word(let name) = current.token, !WhereParser.keywords.contains(name.lowercased()) else {
                throw fail("expected a field name (tags, language, country, …), found \(describe(current.token))")
            }
            if name.hasPrefix(".") || name.hasSuffix(".") || name.contains("..") {
                throw fail("'\(name)' is not a field name")
            }
            let field = FieldPath(name)
            index += 1
            switch current.token {
            case .op(let o):
                index += 1
                let v = try value(after: "'\(o)'")
                let op: Predicate.Op
                switch o {
                case "=": op = .equals
                case "!=": op = .notEquals
                case "<": op = .less
                case "<=": op = .lessOrEqual
                case ">": op = .greater
                default: op = .greaterOrEqual
                }
                return .predicate(Predicate(field: field, op: op, values: [v]))
            case .word(let w):
                switch w.lowercased() {
                case "in":
                    index += 1
                    return .predicate(Predicate(field: field, op: .equals, values: try list(after: "'in'")))
                case "not":
                    index += 1
                    guard peekKeyword("in") else { throw fail("expected 'in' after '\(name) not'") }
                    index += 1
                    return .predicate(Predicate(field: field, op: .notEquals, values: try list(after: "'in'")))
                case "has":
                    index += 1
                    if peekKeyword("all") || peekKeyword("any") || peekKeyword("none"), lexemes[index + 1].token == .open {
                        let kind = current.token
                        index += 1
                        let values = try list(after: describe(kind))
                        if case .word(let k) = kind {
                            switch k.lowercased() {
                            case "all": return .predicate(Predicate(field: field, op: .all, values: values))
                            case "any": return .predicate(Predicate(field: field, op: .equals, values: values))
                            default: return .predicate(Predicate(field: field, op: .notEquals, values: values))
                            }
                        }
                    }
                    return .predicate(Predicate(field: field, op: .equals, values: [try value(after: "'has'")]))
                case "exists":
                    index += 1
                    return .predicate(Predicate(field: field, op: .exists, values: []))
                case "missing":
                    index += 1
                    return .not(.predicate(Predicate(field: field, op: .exists, values: [])))
                default: break
                }
            default: break
            }
            throw fail("expected an operator after '\(name)' (= != < <= > >= in, not in, has, exists, missing), found \(describe(current.token))")
        }

        mutating func value(after what: String) throws -> String {
            switch current.token {
            case .word(let w) where !["and", "or"].contains(w.lowercased()):
                index += 1
                return w
            case .quoted(let q):
                index += 1
                return q
            default:
                throw fail("expected a value after \(what), found \(describe(current.token))")
            }
        }

        mutating func list(after what: String) throws -> [String] {
            guard current.token == .open else { throw fail("expected '(' and a list of values after \(what), found \(describe(current.token))") }
            index += 1
            var values: [String] = []
            while true {
                values.append(try value(after: values.isEmpty ? "'('" : "','"))
                if current.token == .comma { index += 1; continue }
                if current.token == .close { index += 1; return values }
                throw fail("expected ',' or ')' in the list, found \(describe(current.token))")
            }
        }
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}
