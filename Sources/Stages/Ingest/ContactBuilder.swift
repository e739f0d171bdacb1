#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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

    /// Normalised values live in one arena; each field has a range in it (length 0: not set).
    var arena: [UInt8] = []
    var starts = [Int](repeating: 0, count: ContactField.allCases.count)
    var lengths = [Int](repeating: 0, count: ContactField.allCases.count)
    /// Tag slugs back to back; `tagEnds[i]` is where slug i ends.
    var tagBytes: [UInt8] = []
    var tagEnds: [Int] = []
    var custom: [(key: String, raw: [UInt8])] = []
    var languageRaw: String?
    var countryRaw: String?
    var emailGiven = false
    var emailInvalid: String?
    var tenant: String?
    var source: String?
    var createdAt: String?
    var unusableTags: [String] = []
    /// Set by a reader whose source bytes hold no `"`, `\` or control byte: normalised values
    /// made from them (trimmed, lower-cased, NFC, looked up) then need no JSON escaping.
    var valuesArePlain = false
    private var scratch: [UInt8] = []

    mutating func reset() {
        if !arena.isEmpty {
            arena.removeAll(keepingCapacity: true)
            for i in 0..<lengths.count { lengths[i] = 0 }
        }
        tagBytes.removeAll(keepingCapacity: true)
        tagEnds.removeAll(keepingCapacity: true)
        custom.removeAll(keepingCapacity: true)
        unusableTags.removeAll(keepingCapacity: true)
        languageRaw = nil; countryRaw = nil; emailGiven = false; emailInvalid = nil
        valuesArePlain = false
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

    func has(_ f: ContactField) -> Bool { lengths[ContactBuilder.ordinal(f)] > 0 }

    func slotString(_ k: Int) -> String {
        String(decoding: arena[starts[k]..<(starts[k] + lengths[k])], as: UTF8.self)
    }

    /// Sets a field from a text value (first non-empty value wins).
    mutating func set(_ field: ContactField, _ value: UnsafeRawBufferPointer, lookups: inout Lookups) {
        let t = Normalize.trimmed(value)
        if t.isEmpty { return }
        let k = ContactBuilder.ordinal(field)
        switch field {
        case .tags:
            addTags(t, lookups: &lookups)
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
        if lengths[k] > 0 { return }
        let start = arena.count
        switch field {
        case .email:
            emailGiven = true
            if !Normalize.email(t, into: &arena) {
                arena.removeSubrange(start...)
                if emailInvalid == nil { emailInvalid = String(decoding: t, as: UTF8.self) }
            }
        case .website, .linkedinURL, .facebookURL, .instagramURL, .twitterURL:
            Normalize.website(t, into: &arena)
        case .phone:
            Normalize.phone(t, into: &arena)
        case .country:
            if let code = lookups.country(t) { arena.append(contentsOf: code) }
            else if countryRaw == nil { countryRaw = Normalize.text(String(decoding: t, as: UTF8.self)) }
        case .language:
            if let code = lookups.language(t) { arena.append(contentsOf: code) }
            else if languageRaw == nil { languageRaw = Normalize.text(String(decoding: t, as: UTF8.self)) }
        default:
            Normalize.text(t, into: &arena)
        }
        starts[k] = start
        lengths[k] = arena.count - start
    }

    /// Tags split on `,` `;` `|` and slugged; a slug already present is not repeated, a tag
    /// whose slug is empty is noted as unusable.
    mutating func addTags(_ bytes: UnsafeRawBufferPointer, lookups: inout Lookups) {
        var start = 0
        var i = 0
        while i <= bytes.count {
            if i == bytes.count || bytes[i] == 0x2C || bytes[i] == 0x3B || bytes[i] == 0x7C {
                let piece = Normalize.trimmed(UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
                if !piece.isEmpty { addTag(piece, lookups: &lookups) }
                start = i + 1
            }
            i += 1
        }
    }

    private mutating func addTag(_ piece: UnsafeRawBufferPointer, lookups: inout Lookups) {
        let slug = lookups.slug(piece)
        if slug.isEmpty { unusableTags.append(String(decoding: piece, as: UTF8.self)); return }
        var from = 0
        for end in tagEnds {
            if end - from == slug.count && tagBytes[from..<end].elementsEqual(slug) { return }
            from = end
        }
        tagBytes.append(contentsOf: slug)
        tagEnds.append(tagBytes.count)
    }

    mutating func setSlot(_ field: ContactField, _ text: String) {
        let k = ContactBuilder.ordinal(field)
        starts[k] = arena.count
        arena.append(contentsOf: text.utf8)
        lengths[k] = arena.count - starts[k]
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
        guard lengths[k] > 0 else { return }
        let name = slotString(k)
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
        if lengths[fk] == 0 && lengths[lk] == 0 {
            if !first.isEmpty { setSlot(.firstName, first) }
            if !last.isEmpty { setSlot(.lastName, last) }
        } else {
            addCustom("full_name", raw: JSONValue.string(name).serialized)
        }
    }

    /// `,"key":` for every field, in one buffer.
    static let keyPrefixes: (bytes: [UInt8], offsets: [Int]) = {
        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        for f in ContactField.allCases {
            bytes.append(contentsOf: ",\"\(f.rawValue)\":".utf8)
            offsets.append(bytes.count)
        }
        return (bytes, offsets)
    }()

    func write(into out: inout ByteBuffer, tenant: String, source: String, createdAt: String, fallbackLanguage: String) {
        out.append("{\"tenant\":")
        out.appendJSONString(tenant)
        let prefixes = ContactBuilder.keyPrefixes
        prefixes.bytes.withUnsafeBytes { keys in
            arena.withUnsafeBytes { values in
                for field in ContactBuilder.outputOrder {
                    let k = ContactBuilder.ordinal(field)
                    if lengths[k] == 0 {
                        if field == .language, let languageRaw {
                            // An unknown language falls back; a missing one stays missing, so a
                            // later merge never overwrites a known language with the fallback.
                            out.append(",\"language\":")
                            out.appendJSONString(fallbackLanguage)
                            out.append(",\"language_raw\":")
                            out.appendJSONString(languageRaw)
                        } else if field == .country, let countryRaw {
                            out.append(",\"country_raw\":")
                            out.appendJSONString(countryRaw)
                        }
                        continue
                    }
                    out.append(UnsafeRawBufferPointer(rebasing: keys[prefixes.offsets[k]..<prefixes.offsets[k + 1]]))
                    let value = UnsafeRawBufferPointer(rebasing: values[starts[k]..<(starts[k] + lengths[k])])
                    if valuesArePlain {
                        out.append(UInt8(ascii: "\""))
                        out.append(value)
                        out.append(UInt8(ascii: "\""))
                    } else {
                        out.appendJSONString(utf8: value)
                    }
                }
            }
        }
        if !tagEnds.isEmpty {
            out.append(",\"tags\":[")
            tagBytes.withUnsafeBytes { all in
                var from = 0
                for (i, end) in tagEnds.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    out.appendJSONString(utf8: UnsafeRawBufferPointer(rebasing: all[from..<end]))
                    from = end
                }
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

/// Language, country and tag look-ups, cached by the raw bytes: the same few values repeat over
/// millions of rows, and a hit then costs a hash and a compare, no String.
struct Lookups {
    private var languages = BytesCache<[UInt8]?>()
    private var countries = BytesCache<[UInt8]?>()
    private var tagSlugs = BytesCache<[UInt8]>()

    mutating func language(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
        languages.value(for: text) { LanguageCodes.code(for: String(decoding: $0, as: UTF8.self)).map { Array($0.utf8) } }
    }

    mutating func country(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
        countries.value(for: text) { CountryCodes.code(for: String(decoding: $0, as: UTF8.self)).map { Array($0.utf8) } }
    }

    mutating func slug(_ text: UnsafeRawBufferPointer) -> [UInt8] {
        tagSlugs.value(for: text) { Array(Slug.make(String(decoding: $0, as: UTF8.self)).utf8) }
    }
}

/// A bounded cache keyed by byte strings: open addressing on FNV-1a, at most half full; past
/// `limit` entries new keys are computed and not kept (a column of unique values must not grow
/// it without end).
struct BytesCache<Value> {
    private var hashes: [UInt64] = []
    private var keys: [[UInt8]] = []
    private var values: [Value?] = []
    private var count = 0
    let limit: Int

    init(limit: Int = 50_000) { self.limit = limit }

    mutating func value(for key: UnsafeRawBufferPointer, make: (UnsafeRawBufferPointer) -> Value) -> Value {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        if !hashes.isEmpty {
            let mask = hashes.count - 1
            var i = Int(truncatingIfNeeded: h) & mask
            while let v = values[i] {
                if hashes[i] == h && keys[i].count == key.count
                    && (key.isEmpty || keys[i].withUnsafeBytes { memcmp($0.baseAddress!, key.baseAddress!, key.count) } == 0) { return v }
                i = (i + 1) & mask
            }
        }
        let v = make(key)
        if count < limit {
            if (count + 1) * 2 > hashes.count { grow() }
            let mask = hashes.count - 1
            var i = Int(truncatingIfNeeded: h) & mask
            while values[i] != nil { i = (i + 1) & mask }
            hashes[i] = h
            keys[i] = Array(key)
            values[i] = v
            count += 1
        }
        return v
    }

    private mutating func grow() {
        let old = (hashes, keys, values)
        let size = max(64, hashes.count * 2)
        hashes = [UInt64](repeating: 0, count: size)
        keys = [[UInt8]](repeating: [], count: size)
        values = [Value?](repeating: nil, count: size)
        let mask = size - 1
        for j in 0..<old.0.count {
            guard let v = old.2[j] else { continue }
            var i = Int(truncatingIfNeeded: old.0[j]) & mask
            while values[i] != nil { i = (i + 1) & mask }
            hashes[i] = old.0[j]
            keys[i] = old.1[j]
            values[i] = v
        }
    }
}
