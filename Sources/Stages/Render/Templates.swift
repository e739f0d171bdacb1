import Foundation
import MailpipeCore

/// How a variable's value is escaped where it lands.
public enum Escaping: UInt8, Sendable {
    case text      // text part: as is
    case html      // HTML part: & < > " ' escaped
    case header    // subject: line breaks become spaces
}

/// A variable used in templates: `{firstName}`, `{company|your company}`, `{custom.plan}`.
public struct TemplateVariable: Equatable {
    public var name: String
    /// Keys tried in order: the name as written, then its snake_case form (`firstName` → `first_name`).
    public var candidates: [String]
    /// For a dotted name, the keys after the first.
    public var rest: [String]

    init(name: String) {
        self.name = name
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let first = parts[0]
        let snake = TemplateVariable.snakeCase(first)
        candidates = snake == first ? [first] : [first, snake]
        rest = Array(parts.dropFirst())
    }

    static func snakeCase(_ s: String) -> String {
        var out = ""
        for c in s {
            if c.isASCII && c.isUppercase {
                if !out.isEmpty { out.append("_") }
                out.append(Character(c.lowercased()))
            } else {
                out.append(c)
            }
        }
        return out
    }
}

/// A template part compiled to literal runs (already escaped for a JSON string) and variables,
/// flat: one byte store and plain structs, so rendering touches no reference counts.
public struct CompiledPart {
    public struct Piece {
        /// -1 for a literal; else the variable's index.
        public var variable: Int32
        public var escaping: Escaping
        public var hasFallback: Bool
        /// The literal's bytes, or the fallback's, in `bytes`.
        public var start: Int32
        public var count: Int32
    }
    public var pieces: [Piece] = []
    public var bytes: [UInt8] = []

    mutating func literal(_ escaped: [UInt8]) {
        pieces.append(Piece(variable: -1, escaping: .text, hasFallback: false, start: Int32(bytes.count), count: Int32(escaped.count)))
        bytes += escaped
    }

    mutating func variable(_ index: Int, fallback: [UInt8]?, escaping: Escaping) {
        pieces.append(Piece(variable: Int32(index), escaping: escaping, hasFallback: fallback != nil,
                            start: Int32(bytes.count), count: Int32(fallback?.count ?? 0)))
        bytes += fallback ?? []
    }
}

/// One template: a language, an optional category, a subject, an HTML body and a text body
/// (written, or derived from the HTML).
public struct Template {
    public var id: String
    public var language: String
    public var category: String?
    public var subject: CompiledPart
    public var html: CompiledPart
    public var text: CompiledPart
    public var textDerived: Bool
    var languageBytes: [UInt8]
    var categoryBytes: [UInt8]?
}

/// The templates of one campaign and the variables they use.
///
/// Layout of a campaign folder (`<templates>/<campaign>/`):
///
///     campaign.json          optional: from, reply_to, fallback_language, unsubscribe_url
///     en.subject             subject of the English template (one line)
///     en.html                its HTML body
///     en.txt                 its text body (optional: derived from the HTML when absent)
///     fr.avocat.subject      French, for contacts whose category is "avocat"
///     fr.avocat.html
///     b/en.subject           A/B variant "b": its files replace the campaign's, file by file
///
/// A variant's templates are the campaign's with the variant folder's files put in place of
/// theirs (a folder holding only `en.subject` tests a subject line), plus any template only the
/// variant has.
public final class TemplateSet {
    public let directory: String
    /// Every template: the campaign's, then each variant's (see `variantRanges`).
    public private(set) var templates: [Template] = []
    public private(set) var variables: [TemplateVariable] = []
    public let campaignConfig: JSONObject
    /// Variant folder names, in name order, and where each one's templates are in `templates`;
    /// `baseRange` holds the campaign's own.
    public private(set) var variantNames: [String] = []
    public private(set) var variantRanges: [Range<Int>] = []
    public private(set) var baseRange: Range<Int> = 0..<0

    public static let rightToLeft: Set<String> = ["ar", "he", "fa", "ur", "yi", "ps", "sd", "ug", "dv"]
    /// Names the renderer provides itself, not read from the contact.
    public static let builtins: Set<String> = ["campaign", "tenant", "unsubscribe_url", "unsubscribeUrl", "template", "template_language"]

    /// The source texts of one template id: path of each part, by extension.
    typealias Sources = [String: String]

    public init(directory: String) throws {
        self.directory = directory
        guard FileSystem.isDirectory(directory) else {
            throw StageError.configuration("templates folder \(directory) does not exist")
        }
        let names = try FileSystem.listDirectory(directory)
        if names.contains("campaign.json") {
            let bytes = try FileSystem.readFile("\(directory)/campaign.json")
            guard case .object(let o)? = try? JSONValue.parse(bytes) else {
                throw StageError.configuration("\(directory)/campaign.json: not a JSON object")
            }
            campaignConfig = o
        } else {
            campaignConfig = JSONObject()
        }
        let base = try TemplateSet.sources(in: directory, names: names)
        baseRange = try add(base)
        guard !baseRange.isEmpty else { throw StageError.configuration("\(directory): no templates (<language>.subject + <language>.html)") }
        for name in names.sorted() where FileSystem.isDirectory("\(directory)/\(name)") {
            let folder = "\(directory)/\(name)"
            let own = try TemplateSet.sources(in: folder, names: try FileSystem.listDirectory(folder))
            guard !own.isEmpty else { continue }   // not a variant (images, …)
            guard VariantName.isValid(name) else {
                throw StageError.configuration("\(folder): a variant folder's name is 1–32 characters of a-z, 0-9, '_' and '-'")
            }
            var merged = base
            for (id, parts) in own { merged[id, default: [:]].merge(parts) { _, variant in variant } }
            variantNames.append(name)
            variantRanges.append(try add(merged))
        }
    }

    /// A template's name for counts: its id, after its variant's name for a variant's (`b/fr`).
    public func label(_ index: Int) -> String {
        guard let v = variantRanges.firstIndex(where: { $0.contains(index) }) else { return templates[index].id }
        return "\(variantNames[v])/\(templates[index].id)"
    }

    /// The template files of one folder, by id (`fr`, `fr.avocat`), each part's path by extension.
    static func sources(in folder: String, names: [String]) throws -> [String: Sources] {
        var ids: [String: Sources] = [:]
        for name in names {
            for ext in [".subject", ".html", ".txt"] where name.hasSuffix(ext) {
                ids[String(name.dropLast(ext.count)), default: [:]][ext] = "\(folder)/\(name)"
            }
        }
        return ids
    }

    /// Compiles the templates of `sources` (in id order); the range they take in `templates`.
    func add(_ sources: [String: Sources]) throws -> Range<Int> {
        let start = templates.count
        for id in sources.keys.sorted() {
            let files = sources[id]!
            let parts = id.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let shown = files.values.sorted().first ?? id
            guard parts.count <= 2, !parts[0].isEmpty, parts.allSatisfy({ !$0.isEmpty }) else {
                throw StageError.configuration("\(shown): '\(id)' is not <language> or <language>.<category>")
            }
            let language = parts[0].lowercased()
            let category = parts.count == 2 ? parts[1].lowercased() : nil
            func read(_ ext: String) throws -> String? {
                guard let path = files[ext] else { return nil }
                let bytes = try FileSystem.readFile(path)
                guard JSONParser.isValidUTF8(bytes.withUnsafeBytes { $0 }) else {
                    throw StageError.configuration("\(path): not valid UTF-8")
                }
                return String(decoding: bytes, as: UTF8.self)
            }
            guard let subjectText = try read(".subject") else { throw StageError.configuration("\(shown): template \(id) has no \(id).subject") }
            guard let htmlSource = try read(".html") else { throw StageError.configuration("\(shown): template \(id) has no \(id).html") }
            let subjectLine = subjectText.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let html = TemplateSet.applyDirection(htmlSource, language: language)
            let textSource = try read(".txt")
            let template = Template(
                id: id, language: language, category: category,
                subject: try compile(subjectLine.trimmingCharacters(" \t\r"), .header, file: "\(id).subject"),
                html: try compile(html, .html, file: "\(id).html"),
                text: try compile(textSource ?? HTMLText.derive(htmlSource), .text, file: "\(id).txt"),
                textDerived: textSource == nil,
                languageBytes: Array(language.utf8), categoryBytes: category.map { Array($0.utf8) })
            templates.append(template)
        }
        return start..<templates.count
    }

    /// `dir="rtl"` and `lang` on the `<html>` element (or a wrapping `<div>` when there is none).
    static func applyDirection(_ html: String, language: String) -> String {
        let rtl = rightToLeft.contains(language)
        let lower = html.lowercased()
        if let range = lower.range(of: "<html") {
            let tagEnd = lower[range.upperBound...].firstIndex(of: ">") ?? lower.endIndex
            let tag = lower[range.upperBound..<tagEnd]
            var attributes = ""
            if !tag.contains("lang=") { attributes += " lang=\"\(language)\"" }
            if rtl && !tag.contains("dir=") { attributes += " dir=\"rtl\"" }
            guard !attributes.isEmpty else { return html }
            let offset = lower.utf8.distance(from: lower.startIndex, to: range.upperBound)
            var bytes = Array(html.utf8)
            bytes.insert(contentsOf: Array(attributes.utf8), at: offset)
            return String(decoding: bytes, as: UTF8.self)
        }
        if rtl { return "<div dir=\"rtl\" lang=\"\(language)\">\(html)</div>" }
        return html
    }

    func variableIndex(_ name: String) -> Int {
        if let i = variables.firstIndex(where: { $0.name == name }) { return i }
        variables.append(TemplateVariable(name: name))
        return variables.count - 1
    }

    static func isNameStart(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 }
    static func isNameChar(_ b: UInt8) -> Bool { isNameStart(b) || (b >= 48 && b <= 57) || b == 46 }

    /// `{name}` and `{name|default}` are variables; any other brace is text (CSS, JSON in a
    /// script), and `{{` writes a literal `{`.
    func compile(_ source: String, _ escaping: Escaping, file: String) throws -> CompiledPart {
        let b = Array(source.utf8)
        var part = CompiledPart()
        var literal: [UInt8] = []
        func flush() {
            guard !literal.isEmpty else { return }
            var escaped = ByteBuffer(capacity: literal.count + 16)
            literal.withUnsafeBytes { JSONText.appendEscaped($0, into: &escaped) }
            part.literal(escaped.bytes)
            literal.removeAll()
        }
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "{") {
                if i + 1 < b.count && b[i + 1] == UInt8(ascii: "{") { literal.append(c); i += 2; continue }
                if i + 1 < b.count && TemplateSet.isNameStart(b[i + 1]) {
                    var j = i + 1
                    while j < b.count && TemplateSet.isNameChar(b[j]) { j += 1 }
                    let name = String(decoding: b[(i + 1)..<j], as: UTF8.self)
                    var fallback: [UInt8]? = nil
                    var end = -1
                    if j < b.count && b[j] == UInt8(ascii: "}") {
                        end = j
                    } else if j < b.count && b[j] == UInt8(ascii: "|") {
                        var k = j + 1
                        while k < b.count && b[k] != UInt8(ascii: "}") && b[k] != UInt8(ascii: "{") && b[k] != 0x0A { k += 1 }
                        if k < b.count && b[k] == UInt8(ascii: "}") {
                            fallback = Array(b[(j + 1)..<k])
                            end = k
                        }
                    }
                    if end >= 0 && !name.hasSuffix(".") {
                        flush()
                        part.variable(variableIndex(name), fallback: fallback, escaping: escaping)
                        i = end + 1
                        continue
                    }
                }
            }
            literal.append(c)
            i += 1
        }
        flush()
        return part
    }
}

extension String {
    func trimmingCharacters(_ set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

/// JSON string escaping without the quotes, and HTML escaping inside it.
/// Render's escapes for the inside of a JSON string (the message fields it writes): plain
/// (ByteBuffer.appendJSONEscaped), fused with HTML's, or made safe for a header.
public enum JSONText {
    /// Appends `bytes` (valid UTF-8) escaped for the inside of a JSON string.
    @inline(__always)
    public static func appendEscaped(_ bytes: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        out.appendJSONEscaped(utf8: bytes)
    }

    /// HTML-escapes `bytes` and JSON-escapes the result in one pass.
    @inline(__always)
    public static func appendHTMLEscaped(_ bytes: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        var runStart = 0
        let n = bytes.count
        var i = 0
        while i < n {
            let b = bytes[i]
            let entity = HTMLEscape.entity(b)
            if b >= 0x20 && b != 0x5C && entity == nil { i += 1; continue }
            if i > runStart { out.append(UnsafeRawBufferPointer(rebasing: bytes[runStart..<i])) }
            if let entity { out.append(entity) } else { out.appendJSONEscape(b) }
            i += 1
            runStart = i
        }
        if n > runStart { out.append(UnsafeRawBufferPointer(rebasing: bytes[runStart..<n])) }
    }

    /// A subject value: line breaks and other control characters become spaces (no header injection).
    @inline(__always)
    public static func appendHeaderSafe(_ bytes: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        var runStart = 0
        let n = bytes.count
        var i = 0
        while i < n {
            let b = bytes[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C && b != 0x7F { i += 1; continue }
            if i > runStart { out.append(UnsafeRawBufferPointer(rebasing: bytes[runStart..<i])) }
            if b < 0x20 || b == 0x7F { out.append(0x20) } else { out.appendJSONEscape(b) }
            i += 1
            runStart = i
        }
        if n > runStart { out.append(UnsafeRawBufferPointer(rebasing: bytes[runStart..<n])) }
    }
}

/// The text part derived from an HTML template (done once per template, variables kept).
public enum HTMLText {
    public static func derive(_ html: String) -> String {
        var s = html
        // Drop what is never shown.
        for tag in ["head", "style", "script", "title"] { s = removeElements(s, tag) }
        var out = ""
        var i = s.startIndex
        var pendingHref: [String] = []
        while i < s.endIndex {
            let c = s[i]
            if c == "<", let close = s[i...].firstIndex(of: ">") {
                let tag = s[s.index(after: i)..<close]
                var lower = Substring(tag.lowercased())
                let closing = lower.hasPrefix("/")
                if closing { lower = lower.dropFirst() }
                let nameEnd = lower.firstIndex(where: { $0 == " " || $0 == "/" || $0 == "\n" || $0 == "\t" }) ?? lower.endIndex
                let name = String(lower[..<nameEnd])
                switch name {
                case "br": out += "\n"
                case "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "section", "header", "footer":
                    out += "\n\n"
                case "tr": out += "\n"
                case "td", "th": if closing { out += " " }
                case "li": out += closing ? "\n" : "\n- "
                case "hr": out += "\n----\n"
                case "a":
                    if closing {
                        if let href = pendingHref.popLast(), !href.isEmpty {
                            let label = out.split(separator: "\n").last.map(String.init) ?? ""
                            if !label.hasSuffix(href) && !href.hasPrefix("#") && !href.lowercased().hasPrefix("mailto:") { out += " (\(href))" }
                        }
                    } else {
                        pendingHref.append(attribute("href", in: String(tag)) ?? "")
                    }
                case "img":
                    if let alt = attribute("alt", in: String(tag)), !alt.isEmpty { out += alt }
                default: break
                }
                i = s.index(after: close)
                continue
            }
            out.append(c)
            i = s.index(after: i)
        }
        return tidy(decodeEntities(out))
    }

    static func removeElements(_ s: String, _ tag: String) -> String {
        var result = s
        while let open = result.range(of: "<\(tag)", options: .caseInsensitive),
              let close = result.range(of: "</\(tag)>", options: .caseInsensitive, range: open.upperBound..<result.endIndex) {
            result.removeSubrange(open.lowerBound..<close.upperBound)
        }
        return result
    }

    static func attribute(_ name: String, in tag: String) -> String? {
        guard let r = tag.range(of: "\(name)=", options: .caseInsensitive) else { return nil }
        var rest = tag[r.upperBound...]
        guard let quote = rest.first else { return nil }
        if quote == "\"" || quote == "'" {
            rest = rest.dropFirst()
            return String(rest.prefix { $0 != quote })
        }
        return String(rest.prefix { $0 != " " && $0 != ">" })
    }

    static func decodeEntities(_ s: String) -> String {
        guard s.contains("&") else { return s }
        let named: [String: String] = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ",
                                       "copy": "©", "reg": "®", "hellip": "…", "mdash": "—", "ndash": "–", "laquo": "«", "raquo": "»",
                                       "rsquo": "’", "lsquo": "‘", "ldquo": "“", "rdquo": "”", "euro": "€"]
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "&", let semi = s[i...].prefix(12).firstIndex(of: ";") {
                let body = String(s[s.index(after: i)..<semi])
                var replacement: String? = named[body]
                if body.hasPrefix("#") {
                    let digits = body.dropFirst()
                    let value = digits.hasPrefix("x") || digits.hasPrefix("X") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
                    if let value, let scalar = Unicode.Scalar(value) { replacement = String(Character(scalar)) }
                }
                if let replacement {
                    out += replacement
                    i = s.index(after: semi)
                    continue
                }
            }
            out.append(s[i])
            i = s.index(after: i)
        }
        return out
    }

    /// Collapses white space within lines, trims them, and keeps at most one empty line in a row.
    static func tidy(_ s: String) -> String {
        var lines: [String] = []
        for raw in s.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            var space = false
            for c in raw {
                if c == " " || c == "\t" || c == "\r" { space = true; continue }
                if space && !line.isEmpty { line.append(" ") }
                space = false
                line.append(c)
            }
            lines.append(line)
        }
        var out: [String] = []
        for line in lines {
            if line.isEmpty && (out.isEmpty || out.last!.isEmpty) { continue }
            out.append(line)
        }
        while out.last?.isEmpty == true { out.removeLast() }
        return out.joined(separator: "\n") + "\n"
    }
}

extension CompiledPart {
    /// The part as plain text, each variable given by `value` (nil: its `{name|default}`, else
    /// empty). For content another system fills in (MailWizz merge tags such as `[FNAME]`).
    public func text(_ variables: [TemplateVariable], _ value: (TemplateVariable) -> String?) -> String {
        var out: [UInt8] = []
        for piece in pieces {
            let stored = Array(bytes[Int(piece.start)..<Int(piece.start + piece.count)])
            if piece.variable < 0 {
                // Literals are kept JSON-escaped for the renderer: read them back as a JSON string.
                out += Array((try? JSONValue.parse([0x22] + stored + [0x22]))?.string?.utf8 ?? "".utf8)
            } else if let v = value(variables[Int(piece.variable)]) {
                out += Array(v.utf8)
            } else if piece.hasFallback {
                out += stored
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension TemplateVariable {
    /// True when this variable reads the record path `path` (`first_name` matches `{firstName}`
    /// and `{first_name}`; a dotted path matches as written).
    public func reads(_ path: String) -> Bool {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        return candidates.contains(parts[0]) && rest == Array(parts.dropFirst())
    }
}
