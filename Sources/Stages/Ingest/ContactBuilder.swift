import MailpipeCore

/// What a column or JSON key is mapped to.
public enum ColumnTarget: Equatable, Sendable {
    case field(ContactField)
    case custom(String)
    case ignore

    /// Parses the right side of `--map 'Col=field'`: a DESIGN.md field, `custom.NAME`, or `ignore`.
    public init(parsing text: String) throws {
        if text == "ignore" || text == "-" { self = .ignore; return }
        if text.hasPrefix("custom.") && text.count > 7 { self = .custom(String(text.dropFirst(7))); return }
        guard let field = ContactField.named(text) else {
            let names = ContactField.allCases.map(\.rawValue).joined(separator: ", ")
            throw StageError.usage("--map: unknown field '\(text)' (one of \(names), custom.NAME, ignore)")
        }
        self = .field(field)
    }
}

/// Gathers one contact's normalised values, then writes it in the canonical member order.
struct ContactBuilder {
    static let outputOrder: [ContactField] = [
        .email, .firstName, .lastName, .company, .website, .phone, .country, .city, .language, .category,
        .linkedinURL, .facebookURL, .instagramURL, .twitterURL, .status,
    ]

    var slots: [[UInt8]] = Array(repeating: [], count: ContactField.allCases.count)
    var tags: [String] = []
    var custom: [(key: String, raw: [UInt8])] = []
    var languageRaw: String?
    var countryRaw: String?
    var emailGiven = false
    var emailInvalid: String?
    var tenant: String?
    var source: String?
    var createdAt: String?
    var unusableTags: [String] = []
    private var scratch: [UInt8] = []

    mutating func reset() {
        for i in slots.indices where !slots[i].isEmpty { slots[i].removeAll(keepingCapacity: true) }
        tags.removeAll(keepingCapacity: true)
        custom.removeAll(keepingCapacity: true)
        unusableTags.removeAll(keepingCapacity: true)
        languageRaw = nil; countryRaw = nil; emailGiven = false; emailInvalid = nil
        tenant = nil; source = nil; createdAt = nil
    }

    @inline(__always) static func ordinal(_ f: ContactField) -> Int {
        switch f {
        case .tenant: return 0
        case .email: return 1
        case .firstName: return 2
        case .lastName: return 3
        case .fullName: return 4
        case .company: return 5
        case .website: return 6
        case .phone: return 7
        case .country: return 8
        case .city: return 9
        case .language: return 10
        case .category: return 11
        case .tags: return 12
        case .source: return 13
        case .linkedinURL: return 14
        case .facebookURL: return 15
        case .instagramURL: return 16
        case .twitterURL: return 17
        case .status: return 18
        case .createdAt: return 19
        case .custom: return 20
        }
    }

    func has(_ f: ContactField) -> Bool { !slots[ContactBuilder.ordinal(f)].isEmpty }

    /// Sets a field from a text value (first non-empty value wins).
    mutating func set(_ field: ContactField, _ value: UnsafeRawBufferPointer, lookups: inout Lookups) {
        let t = Normalize.trimmed(value)
        if t.isEmpty { return }
        let k = ContactBuilder.ordinal(field)
        switch field {
        case .tags:
            Normalize.tags(t, into: &tags) { unusableTags.append($0) }
            return
        case .tenant:
            if tenant == nil { tenant = String(decoding: t, as: UTF8.self) }
            return
        case .source:
            if source == nil { source = Normalize.text(String(decoding: t, as: UTF8.self)) }
            return
        case .createdAt:
            if createdAt == nil {
                if let time = Timestamp(parsing: String(decoding: t, as: UTF8.self)) { createdAt = time.rfc3339 }
                else { addCustom("created_at", string: t) }
            }
            return
        case .custom:
            addCustom("custom", string: t)
            return
        default:
            break
        }
        if !slots[k].isEmpty { return }
        switch field {
        case .email:
            emailGiven = true
            if !Normalize.email(t, into: &slots[k]) {
                slots[k].removeAll()
                if emailInvalid == nil { emailInvalid = String(decoding: t, as: UTF8.self) }
            }
        case .website, .linkedinURL, .facebookURL, .instagramURL, .twitterURL:
            Normalize.website(t, into: &slots[k])
        case .phone:
            Normalize.phone(t, into: &slots[k])
        case .country:
            let text = String(decoding: t, as: UTF8.self)
            if let code = lookups.country(text) { slots[k].append(contentsOf: code.utf8) }
            else if countryRaw == nil { countryRaw = Normalize.text(text) }
        case .language:
            let text = String(decoding: t, as: UTF8.self)
            if let code = lookups.language(text) { slots[k].append(contentsOf: code.utf8) }
            else if languageRaw == nil { languageRaw = Normalize.text(text) }
        default:
            Normalize.text(t, into: &slots[k])
        }
    }

    mutating func addCustom(_ key: String, string value: UnsafeRawBufferPointer) {
        scratch.removeAll(keepingCapacity: true)
        Normalize.text(value, into: &scratch)
        if scratch.isEmpty { return }
        var b = ByteBuffer(capacity: scratch.count + 8)
        scratch.withUnsafeBytes { b.appendJSONString(utf8: $0) }
        addCustom(key, raw: b.bytes)
    }

    mutating func addCustom(_ key: String, raw: [UInt8]) {
        if custom.contains(where: { $0.key == key }) { return }
        custom.append((key, raw))
    }

    /// Splits a full name into first and last names when those were not given.
    mutating func applyFullName() {
        let k = ContactBuilder.ordinal(.fullName)
        guard !slots[k].isEmpty else { return }
        let name = String(decoding: slots[k], as: UTF8.self)
        var first = "", last = ""
        if let comma = name.firstIndex(of: ",") {  // "Dupont, Jean"
            last = String(name[..<comma]).trimmingSpaces
            first = String(name[name.index(after: comma)...]).trimmingSpaces
        } else if let space = name.firstIndex(where: { $0 == " " }) {
            first = String(name[..<space]).trimmingSpaces
            last = String(name[name.index(after: space)...]).trimmingSpaces
        } else {
            first = name
        }
        let fk = ContactBuilder.ordinal(.firstName), lk = ContactBuilder.ordinal(.lastName)
        if slots[fk].isEmpty && slots[lk].isEmpty {
            slots[fk].append(contentsOf: first.utf8)
            slots[lk].append(contentsOf: last.utf8)
        } else {
            addCustom("full_name", raw: JSONValue.string(name).serialized)
        }
    }

    /// `,"key":` for every field, built once.
    static let keyPrefixes: [[UInt8]] = ContactField.allCases.map { Array(",\"\($0.rawValue)\":".utf8) }

    func write(into out: inout ByteBuffer, tenant: String, source: String, createdAt: String, fallbackLanguage: String) {
        out.append("{\"tenant\":")
        out.appendJSONString(tenant)
        for field in ContactBuilder.outputOrder {
            let k = ContactBuilder.ordinal(field)
            if slots[k].isEmpty {
                if field == .language {
                    out.append(",\"language\":")
                    out.appendJSONString(fallbackLanguage)
                    if let languageRaw { out.append(",\"language_raw\":"); out.appendJSONString(languageRaw) }
                } else if field == .country, let countryRaw {
                    out.append(",\"country_raw\":")
                    out.appendJSONString(countryRaw)
                }
                continue
            }
            out.append(ContactBuilder.keyPrefixes[k])
            slots[k].withUnsafeBytes { out.appendJSONString(utf8: $0) }
        }
        if !tags.isEmpty {
            out.append(",\"tags\":[")
            for (i, tag) in tags.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.appendJSONString(tag)
            }
            out.append(UInt8(ascii: "]"))
        }
        if !custom.isEmpty {
            out.append(",\"custom\":{")
            for (i, (key, raw)) in custom.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.appendJSONString(key)
                out.append(UInt8(ascii: ":"))
                out.append(raw)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(",\"source\":")
        out.appendJSONString(source)
        out.append(",\"created_at\":")
        out.appendJSONString(createdAt)
        out.append(UInt8(ascii: "}"))
    }
}

/// Language and country look-ups, cached: the same few values repeat over millions of rows.
struct Lookups {
    private var languages: [String: String?] = [:]
    private var countries: [String: String?] = [:]

    mutating func language(_ text: String) -> String? {
        if let hit = languages[text] { return hit }
        let code = LanguageCodes.code(for: text)
        if languages.count < 50_000 { languages[text] = code }
        return code
    }

    mutating func country(_ text: String) -> String? {
        if let hit = countries[text] { return hit }
        let code = CountryCodes.code(for: text)
        if countries.count < 50_000 { countries[text] = code }
        return code
    }
}
