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
    /// A column whose value, when present (or true), means the contact must not be mailed.
    case status(ContactStatus, StatusSignal)

    /// Parses the right side of `--map 'Col=field'`: a docs/design.md field, `custom.NAME`, or `ignore`.
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

/// What a field's value goes through, settled once per column (when a CSV header is read) so a
/// row runs through its columns without asking each value what its field is.
enum ColumnAction: Equatable {
    /// Text: a name, company, city or category, in slot `k`.
    case text(Int)
    /// A social profile's address, in slot `k`.
    case address(Int)
    case website, email, phone, tags, country, language, status, tenant, source, createdAt, custom

    init(_ field: ContactField) {
        switch field {
        case .firstName, .lastName, .fullName, .company, .city, .category: self = .text(ContactBuilder.ordinal(field))
        case .linkedinURL, .facebookURL, .instagramURL, .twitterURL: self = .address(ContactBuilder.ordinal(field))
        case .website: self = .website
        case .email: self = .email
        case .phone: self = .phone
        case .tags: self = .tags
        case .country: self = .country
        case .language: self = .language
        case .status: self = .status
        case .tenant: self = .tenant
        case .source: self = .source
        case .createdAt: self = .createdAt
        case .custom: self = .custom
        }
    }
}

/// Gathers one contact's normalised values, then writes it in the canonical member order.
struct ContactBuilder {
    static let outputOrder: [ContactField] = [
        .email, .firstName, .lastName, .company, .website, .phone, .country, .city, .language, .category,
        .linkedinURL, .facebookURL, .instagramURL, .twitterURL, .status,
    ]

    /// Normalised values live in one arena; each field has a range in it (length 0: not set).
    /// Each builder owns its buffers: a copy for another thread is made with `ContactBuilder()`.
    var arena = ByteBuffer(capacity: 1024)
    private let ranges = SlotRanges()
    var starts: UnsafeMutablePointer<Int> { ranges.starts }
    var lengths: UnsafeMutablePointer<Int> { ranges.lengths }
    /// Tag slugs as they are written between `"tags":["` and `"]`: joined by `","` (a slug holds
    /// letters, digits, marks and `-`, never a `"`). No array of ends to empty on every row.
    var tagBytes = ByteBuffer(capacity: 256)
    var custom: [(key: String, raw: [UInt8])] = []
    var languageRaw: String?
    var countryRaw: String?
    var statusRaw: String?
    /// A status that stops mail, from a flag column (`UNSUB_TIME`, `EMAIL_BLACKLISTED`=Yes…).
    var statusFromFlag: ContactStatus?
    /// Addresses after the contact's own (more email columns, `a ::: b`), normalised.
    var otherEmails: [String] = []
    /// Phone numbers as given: the contact's own (`phone`) and the others, turned into E.164
    /// once the row's country is known (`finishPhones`).
    var phoneGiven = ByteBuffer(capacity: 32)
    var otherPhonesGiven: [[UInt8]] = []
    var emailGiven = false
    var emailInvalid: String?
    var tenant: String?
    var source: String?
    var createdAt: String?
    var unusableTags: [String] = []
    /// Set by a reader whose source bytes hold no `"`, `\` or control byte: normalised values
    /// made from them (trimmed, lower-cased, NFC, looked up) then need no JSON escaping.
    var valuesArePlain = false
    /// Set by a reader that has checked its source bytes (`Normalize.checkRow`): every value
    /// made from them is NFC already.
    var valuesAreNFC = false
    private var scratch = ByteBuffer(capacity: 256)

    mutating func reset() {
        if !arena.isEmpty {
            arena.removeAll()
            lengths.update(repeating: 0, count: SlotRanges.count)
        }
        tagBytes.removeAll()
        phoneGiven.removeAll()
        // (An array's removeAll is a call even when it is empty, as most of these are.)
        if !custom.isEmpty { custom.removeAll(keepingCapacity: true) }
        if !unusableTags.isEmpty { unusableTags.removeAll(keepingCapacity: true) }
        if languageRaw != nil { languageRaw = nil }
        if countryRaw != nil { countryRaw = nil }
        if statusRaw != nil { statusRaw = nil }
        statusFromFlag = nil; emailGiven = false
        if emailInvalid != nil { emailInvalid = nil }
        if !otherEmails.isEmpty { otherEmails.removeAll(keepingCapacity: true) }
        if !otherPhonesGiven.isEmpty { otherPhonesGiven.removeAll(keepingCapacity: true) }
        valuesArePlain = false
        valuesAreNFC = false
        if tenant != nil || source != nil || createdAt != nil { tenant = nil; source = nil; createdAt = nil }
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
        String(decoding: arena.bytes(starts[k]..<(starts[k] + lengths[k])), as: UTF8.self)
    }

    /// What became of a value given for a field.
    enum Outcome {
        /// Taken (or empty, or an extra address or phone kept with the contact's others).
        case taken
        /// The field already holds another value: the caller keeps this one under `custom`.
        case overflow
    }

    /// Sets a field from a text value. The first non-empty value wins; a later different one is
    /// an `overflow` (email and phone keep theirs as `other_emails` / `other_phones`).
    @discardableResult
    mutating func set(_ field: ContactField, _ value: UnsafeRawBufferPointer, lookups: inout Lookups) -> Outcome {
        let t = Normalize.trimmed(value)
        if t.isEmpty { return .taken }
        return take(ColumnAction(field), trimmed: t, lookups: &lookups)
    }

    /// Takes a column's value by the action planned for the column (see `ColumnAction`).
    @inline(__always)
    mutating func take(_ action: ColumnAction, _ value: UnsafeRawBufferPointer, lookups: inout Lookups) -> Outcome {
        let t = Normalize.trimmed(value)
        if t.isEmpty { return .taken }
        return take(action, trimmed: t, lookups: &lookups)
    }

    @inline(__always)
    private mutating func take(_ action: ColumnAction, trimmed t: UnsafeRawBufferPointer, lookups: inout Lookups) -> Outcome {
        switch action {
        case .text(let k):
            return setText(k, t)
        case .address(let k):
            return setAddress(k, t)
        case .website:
            // A profile on a social network given as the website goes where it belongs.
            if let social = SocialHost.field(ofURL: t), lengths[ContactBuilder.ordinal(social)] == 0 {
                return setAddress(ContactBuilder.ordinal(social), t)
            }
            return setAddress(ContactBuilder.ordinal(.website), t)
        case .email:
            setEmails(t)
        case .phone:
            addPhones(t)
        case .tags:
            addTags(t, lookups: &lookups)
        case .country:
            return setCode(.country, t, lookups: &lookups)
        case .language:
            return setCode(.language, t, lookups: &lookups)
        case .status:
            setStatus(t)
        case .tenant:
            if tenant == nil { tenant = String(decoding: t, as: UTF8.self) }
        case .source:
            if source == nil { source = Normalize.text(String(decoding: t, as: UTF8.self)) }
        case .createdAt:
            if createdAt == nil {
                if let time = Timestamp(parsing: String(decoding: t, as: UTF8.self)) { createdAt = time.rfc3339 }
                else { addCustom("created_at", string: t) }
            }
        case .custom:
            addCustom("custom", string: t)
        }
        return .taken
    }

    /// A text field (a name, company, city, category): checked text is copied as it is.
    @inline(__always)
    private mutating func setText(_ k: Int, _ t: UnsafeRawBufferPointer) -> Outcome {
        if lengths[k] > 0 { return sameValue(k, t) ? .taken : .overflow }
        let start = arena.count
        if valuesAreNFC { arena.appendValue(t) } else { appendNormalized(t) }
        starts[k] = start
        lengths[k] = arena.count - start
        return .taken
    }

    /// (Not inlined: its NFC state would be set up on every row of the caller.)
    @inline(never)
    private mutating func appendNormalized(_ t: UnsafeRawBufferPointer) {
        Normalize.text(t, into: &arena)
    }

    /// A web address: the website or a social profile.
    private mutating func setAddress(_ k: Int, _ t: UnsafeRawBufferPointer) -> Outcome {
        if lengths[k] > 0 { return sameValue(k, t) ? .taken : .overflow }
        let start = arena.count
        Normalize.website(t, into: &arena)
        starts[k] = start
        lengths[k] = arena.count - start
        return .taken
    }

    /// A country or a language: its code when the value names one, else the value kept as
    /// `country_raw` / `language_raw`.
    @inline(__always)
    private mutating func setCode(_ field: ContactField, _ t: UnsafeRawBufferPointer, lookups: inout Lookups) -> Outcome {
        let k = ContactBuilder.ordinal(field)
        if lengths[k] > 0 { return sameValue(k, t) ? .taken : .overflow }
        let start = arena.count
        let known = field == .country ? lookups.country(t) { appendCode($0) } : lookups.language(t) { appendCode($0) }
        if !known {
            if field == .country { if countryRaw == nil { countryRaw = Normalize.text(String(decoding: t, as: UTF8.self)) } }
            else if languageRaw == nil { languageRaw = Normalize.text(String(decoding: t, as: UTF8.self)) }
        }
        starts[k] = start
        lengths[k] = arena.count - start
        return .taken
    }

    @inline(__always)
    private mutating func appendCode(_ code: UnsafeRawBufferPointer?) -> Bool {
        guard let code else { return false }
        arena.appendValue(code)
        return true
    }

    /// Several numbers in one value (`a ::: b`): each is a number of the contact.
    private mutating func addPhones(_ t: UnsafeRawBufferPointer) {
        let k = ContactBuilder.ordinal(.phone)
        MultiValue.forEach(in: t) { piece in
            if phoneGiven.isEmpty && lengths[k] == 0 {
                phoneGiven.append(piece)
            } else if !phoneGiven.withUnsafeBytes({ $0.elementsEqual(piece) }) && !otherPhonesGiven.contains(where: { $0.elementsEqual(piece) }) {
                otherPhonesGiven.append(Array(piece))
            }
        }
    }

    /// Whether slot `k` holds the text given (trimmed) — a column repeating a value is no overflow.
    private func sameValue(_ k: Int, _ t: UnsafeRawBufferPointer) -> Bool {
        guard lengths[k] == t.count else { return false }
        return memcmp(arena.bytes(starts[k]..<(starts[k] + lengths[k])).baseAddress!, t.baseAddress!, t.count) == 0
    }

    /// The contact's address and its others: a value may hold several (`a ::: b`, Google
    /// Contacts); the first usable one of the row is the contact, the rest `other_emails`.
    private mutating func setEmails(_ t: UnsafeRawBufferPointer) {
        let k = ContactBuilder.ordinal(.email)
        emailGiven = true
        MultiValue.forEach(in: t) { piece in
            let start = arena.count
            guard Normalize.email(piece, into: &arena) else {
                arena.truncate(to: start)
                if emailInvalid == nil { emailInvalid = String(decoding: piece, as: UTF8.self) }
                return
            }
            if lengths[k] == 0 {
                starts[k] = start
                lengths[k] = arena.count - start
                return
            }
            let address = String(decoding: arena.bytes(start..<arena.count), as: UTF8.self)
            arena.truncate(to: start)
            if address != slotString(k) && !otherEmails.contains(address) { otherEmails.append(address) }
        }
    }

    /// A `status` column: a mailpipe status, another tool's (docs), or kept as `status_raw`.
    private mutating func setStatus(_ t: UnsafeRawBufferPointer) {
        let k = ContactBuilder.ordinal(.status)
        if lengths[k] > 0 { return }
        let text = String(decoding: t, as: UTF8.self)
        switch StatusNames.reading(text) {
        case .status(let status):
            setSlot(.status, status.rawValue)
        case .mailable:
            break
        case .unknown:
            if statusRaw == nil { statusRaw = Normalize.text(text) }
        }
    }

    /// A column that stops mail when its value is present (or true).
    mutating func setStatusFlag(_ status: ContactStatus, _ signal: StatusSignal, _ value: UnsafeRawBufferPointer) {
        let t = Normalize.trimmed(value)
        if t.isEmpty || statusFromFlag != nil { return }
        if signal == .whenTrue && !StatusNames.isTrue(String(decoding: t, as: UTF8.self)) { return }
        statusFromFlag = status
    }

    /// Whether a phone number is given and the row's country is no region code.
    var phonesNeedDefaultRegion: Bool {
        (!phoneGiven.isEmpty || !otherPhonesGiven.isEmpty) && lengths[ContactBuilder.ordinal(.country)] != 2
    }

    /// Settles what only the whole row tells: a flag's status over a mailable one, then the
    /// phone numbers in E.164 with the row's country (else the tenant's).
    mutating func finish(phones: inout PhoneNumbers, defaultRegion: String?) {
        if let flagged = statusFromFlag {
            let k = ContactBuilder.ordinal(.status)
            let current = lengths[k] > 0 ? ContactStatus(rawValue: slotString(k)) : nil
            if current?.suppresses != true { setSlot(.status, flagged.rawValue) }
        }
        guard !phoneGiven.isEmpty || !otherPhonesGiven.isEmpty else { return }
        let countrySlot = ContactBuilder.ordinal(.country)
        var region: (UInt8, UInt8)?
        if lengths[countrySlot] == 2 {
            let c = arena.bytes(starts[countrySlot]..<(starts[countrySlot] + 2))
            region = (c[0], c[1])
        } else if let d = defaultRegion, d.utf8.count == 2 {
            region = (d.utf8.first!, d.utf8.last!)
        }
        if !phoneGiven.isEmpty {
            let k = ContactBuilder.ordinal(.phone)
            let start = arena.count
            phoneGiven.withUnsafeBytes { phones.format($0, region: region, into: &arena, knownNFC: valuesAreNFC) }
            starts[k] = start
            lengths[k] = arena.count - start
        }
        if !otherPhonesGiven.isEmpty {
            var list = ByteBuffer(capacity: 64)
            list.append(UInt8(ascii: "["))
            var scratch = ByteBuffer(capacity: 32)
            for (i, given) in otherPhonesGiven.enumerated() {
                if i > 0 { list.append(UInt8(ascii: ",")) }
                scratch.removeAll()
                given.withUnsafeBytes { phones.format($0, region: region, into: &scratch, knownNFC: false) }
                scratch.withUnsafeBytes { list.appendJSONString(utf8: $0) }
            }
            list.append(UInt8(ascii: "]"))
            addCustom("other_phones", raw: list.bytes)
        }
    }

    /// Tags split on `,` `;` `|` and Google's ` ::: ` and slugged; a slug already present is not
    /// repeated, a tag whose slug is empty is noted as unusable. Google's system groups
    /// (`* myContacts`, `* starred`) lose their `* `; `myContacts`, on every contact, is dropped.
    mutating func addTags(_ bytes: UnsafeRawBufferPointer, lookups: inout Lookups) {
        let n = bytes.count
        var start = 0
        var i = 0
        while true {
            let stop = ByteScan.firstOf(0x2C, 0x3B, 0x7C, 0x3A, in: bytes, from: i)
            if stop < n && bytes[stop] == 0x3A {
                // A `:` separates only as `:::`.
                guard stop + 2 < n && bytes[stop + 1] == 0x3A && bytes[stop + 2] == 0x3A else {
                    i = stop + 1
                    continue
                }
                addTagPiece(UnsafeRawBufferPointer(rebasing: bytes[start..<stop]), lookups: &lookups)
                i = stop + 3
                start = i
                continue
            }
            addTagPiece(UnsafeRawBufferPointer(rebasing: bytes[start..<stop]), lookups: &lookups)
            if stop >= n { return }
            start = stop + 1
            i = start
        }
    }

    /// One tag of a list, as given.
    @inline(__always)
    private mutating func addTagPiece(_ bytes: UnsafeRawBufferPointer, lookups: inout Lookups) {
        // (The space after a list's `,` skipped here: `trimmed`'s inlined check then passes.)
        var from = 0
        while from < bytes.count && bytes[from] == 0x20 { from += 1 }
        let piece = MultiValue.withoutSystemGroupMark(Normalize.trimmed(UnsafeRawBufferPointer(rebasing: bytes[from...])))
        if !piece.isEmpty && !MultiValue.isMyContacts(piece) { addTag(piece, lookups: &lookups) }
    }

    private mutating func addTag(_ piece: UnsafeRawBufferPointer, lookups: inout Lookups) {
        let usable = lookups.slug(piece) { slug -> Bool in
            if slug.isEmpty { return false }
            if hasTag(slug) { return true }
            if !tagBytes.isEmpty { tagBytes.append("\",\"" as StaticString) }
            tagBytes.appendValue(slug)
            return true
        }
        if !usable { unusableTags.append(String(decoding: piece, as: UTF8.self)) }
    }

    /// Whether `slug` is one of the tags already in `tagBytes`.
    private func hasTag(_ slug: UnsafeRawBufferPointer) -> Bool {
        let tags = tagBytes.bytes(0..<tagBytes.count)
        var from = 0
        while from < tags.count {
            var end = from
            while end < tags.count && tags[end] != 0x22 { end += 1 }
            if end - from == slug.count && memcmp(tags.baseAddress! + from, slug.baseAddress!, slug.count) == 0 { return true }
            from = end + 3   // past `","`
        }
        return false
    }

    mutating func setSlot(_ field: ContactField, _ text: String) {
        let k = ContactBuilder.ordinal(field)
        starts[k] = arena.count
        arena.append(text)
        lengths[k] = arena.count - starts[k]
    }

    mutating func addCustom(_ key: String, string value: UnsafeRawBufferPointer) {
        if custom.contains(where: { $0.key == key }) { return }
        scratch.removeAll()
        Normalize.text(value, into: &scratch, knownNFC: valuesAreNFC)
        if scratch.isEmpty { return }
        var b = ByteBuffer(capacity: scratch.count + 8)
        scratch.withUnsafeBytes { b.appendJSONString(utf8: $0) }
        custom.append((key, b.bytes))
    }

    mutating func addCustom(_ key: String, raw: [UInt8]) {
        if custom.contains(where: { $0.key == key }) { return }
        custom.append((key, raw))
    }

    /// Splits a full name into first and last names when those were not given.
    /// An email given but not usable as it is (an unpaired surrogate escape): the row is
    /// refused as `invalid_email`, whatever else it holds.
    mutating func refuseEmail(_ text: String) {
        emailGiven = true
        if emailInvalid == nil { emailInvalid = text }
    }

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
        } else if name.count >= 2 && name.count <= 4, name.unicodeScalars.allSatisfy(ContactBuilder.isHan) {
            // A Chinese name is written family name first, without a space: `李伟`, `张小明`.
            last = String(name.prefix(1))
            first = String(name.dropFirst())
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

    static func isHan(_ s: Unicode.Scalar) -> Bool {
        (0x4E00...0x9FFF).contains(s.value) || (0x3400...0x4DBF).contains(s.value)
    }

    /// `,"key":"` for each field of `outputOrder`, back to back, and where each ends, then
    /// `keyCopy` spare bytes: a key is copied as `keyCopy` bytes at once. Each builder has its
    /// own copy: a table every thread read would have its reference count bounced between their
    /// caches on every row.
    private let keys: ByteBuffer = {
        var b = ByteBuffer(capacity: 512)
        for f in ContactBuilder.outputOrder {
            let key = ",\"\(f.rawValue)\":\""
            precondition(key.utf8.count <= ContactBuilder.keyCopy, "ContactBuilder: a key longer than keyCopy")
            b.append(key)
        }
        for _ in 0..<ContactBuilder.keyCopy { b.append(0) }
        return b
    }()
    /// Bytes copied for a key (three words; the longest, `,"instagram_url":"`, is 18).
    private static let keyCopy = 24
    private let keyEnds: [Int] = {
        var ends: [Int] = []
        var at = 0
        for f in ContactBuilder.outputOrder { at += ",\"\(f.rawValue)\":\"".utf8.count; ends.append(at) }
        return ends
    }()
    private let outputOrdinals = ContactBuilder.outputOrder.map { ContactBuilder.ordinal($0) }

    /// Writes the contact: `shared.head`, the fields in the canonical order, `shared.tail`.
    /// (Mutating only to make room past the arena's end.)
    mutating func write(into out: inout ByteBuffer, shared: SharedMembers, fallbackLanguage: String) {
        out.append(shared.head.bytes(0..<shared.head.count))
        if valuesArePlain && languageRaw == nil && countryRaw == nil && statusRaw == nil {
            arena.reserveWord()
            writePlainFieldsAndTags(into: &out)
        } else {
            writeFields(into: &out, fallbackLanguage: fallbackLanguage)
            writeTags(into: &out)
        }
        writeCustom(into: &out)
        out.append(shared.tail.bytes(0..<shared.tail.count))
    }

    /// The fields and tags of a contact whose values need no escaping and which has no `_raw`
    /// member, copied through one pointer after one capacity check (three appends a field, each
    /// checking capacity, were about a tenth of a row's instructions).
    private func writePlainFieldsAndTags(into out: inout ByteBuffer) {
        // Keys (with their spare bytes, which also cover the last key's copy), quotes, tags.
        // (+ 8: the last value's word may reach 7 bytes past it.)
        var most = keys.count + ContactBuilder.outputOrder.count + tagBytes.count + 12 + 8
        for k in outputOrdinals { most += lengths[k] }
        let keyBase = keys.bytes(0..<keys.count).baseAddress!
        let arenaBase = arena.bytes(0..<arena.count).baseAddress!
        let tagBase = tagBytes.bytes(0..<tagBytes.count).baseAddress!
        out.appendWriting(atMost: most) { start in
            var at = start
            func put(_ from: UnsafeRawPointer, _ n: Int) { memcpy(at, from, n); at += n }
            var keyStart = 0
            for (k, keyEnd) in zip(outputOrdinals, keyEnds) {
                let length = lengths[k]
                if length > 0 {
                    // The key with the value's opening quote, as three words (bytes past it are
                    // overwritten next: `most` has room for them).
                    let key = UnsafeRawPointer(keyBase + keyStart), to = UnsafeMutableRawPointer(at)
                    to.storeBytes(of: key.loadUnaligned(as: UInt64.self), as: UInt64.self)
                    to.storeBytes(of: key.loadUnaligned(fromByteOffset: 8, as: UInt64.self), toByteOffset: 8, as: UInt64.self)
                    to.storeBytes(of: key.loadUnaligned(fromByteOffset: 16, as: UInt64.self), toByteOffset: 16, as: UInt64.self)
                    at += keyEnd - keyStart
                    // The value as words too (the arena has a word of room past its end: `write`).
                    let value = UnsafeRawPointer(arenaBase + starts[k])
                    var o = 0
                    repeat {
                        (to + (keyEnd - keyStart) + o).storeBytes(of: value.loadUnaligned(fromByteOffset: o, as: UInt64.self), as: UInt64.self)
                        o &+= 8
                    } while o < length
                    at += length
                    at.pointee = UInt8(ascii: "\""); at += 1
                }
                keyStart = keyEnd
            }
            if !tagBytes.isEmpty {
                let open: StaticString = ",\"tags\":[\"", close: StaticString = "\"]"
                put(open.utf8Start, open.utf8CodeUnitCount)
                put(tagBase, tagBytes.count)
                put(close.utf8Start, close.utf8CodeUnitCount)
            }
            return at - start
        }
    }

    private func writeFields(into out: inout ByteBuffer, fallbackLanguage: String) {
        let languageSlot = ContactBuilder.ordinal(.language), countrySlot = ContactBuilder.ordinal(.country)
        let statusSlot = ContactBuilder.ordinal(.status)
        var keyStart = 0
        for (i, k) in outputOrdinals.enumerated() {
            let keyEnd = keyEnds[i]
            defer { keyStart = keyEnd }
            let length = lengths[k]
            if length == 0 {
                if k == languageSlot, let languageRaw {
                    // An unknown language falls back; a missing one stays missing, so a later
                    // merge never overwrites a known language with the fallback.
                    out.append(",\"language\":" as StaticString)
                    out.appendJSONString(fallbackLanguage)
                    out.append(",\"language_raw\":" as StaticString)
                    out.appendJSONString(languageRaw)
                } else if k == countrySlot, let countryRaw {
                    out.append(",\"country_raw\":" as StaticString)
                    out.appendJSONString(countryRaw)
                } else if k == statusSlot, let statusRaw {
                    out.append(",\"status_raw\":" as StaticString)
                    out.appendJSONString(statusRaw)
                }
                continue
            }
            let value = arena.bytes(starts[k]..<(starts[k] + length))
            if valuesArePlain {
                out.append(keys.bytes(keyStart..<keyEnd))   // with the value's opening quote
                out.append(value)
                out.append(UInt8(ascii: "\""))
            } else {
                out.append(keys.bytes(keyStart..<(keyEnd - 1)))
                out.appendJSONString(utf8: value)
            }
        }
    }

    private func writeTags(into out: inout ByteBuffer) {
        if !tagBytes.isEmpty {
            // Slugs hold letters, digits, marks and `-`: nothing JSON escapes.
            out.append(",\"tags\":[\"" as StaticString)
            out.append(tagBytes.bytes(0..<tagBytes.count))
            out.append("\"]" as StaticString)
        }
    }

    private func writeCustom(into out: inout ByteBuffer) {
        if !custom.isEmpty || !otherEmails.isEmpty {
            out.append(",\"custom\":{")
            var first = true
            if !otherEmails.isEmpty {
                out.append("\"other_emails\":[" as StaticString)
                for (i, address) in otherEmails.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    out.appendJSONString(address)
                }
                out.append(UInt8(ascii: "]"))
                first = false
            }
            for (key, raw) in custom {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out.appendJSONString(key)
                out.append(UInt8(ascii: ":"))
                out.append(raw)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}

/// Where each field's value lies in a builder's arena (by `ContactBuilder.ordinal`; length 0: not
/// set). Fixed rows of integers written on every value: an Array's uniqueness check on each write
/// cost more than the write.
final class SlotRanges {
    static let count = ContactField.allCases.count
    let starts: UnsafeMutablePointer<Int>
    let lengths: UnsafeMutablePointer<Int>

    init() {
        starts = .allocate(capacity: SlotRanges.count)
        starts.initialize(repeating: 0, count: SlotRanges.count)
        lengths = .allocate(capacity: SlotRanges.count)
        lengths.initialize(repeating: 0, count: SlotRanges.count)
    }

    deinit {
        starts.deallocate()
        lengths.deallocate()
    }
}

/// The members a run's contacts share, serialised once: `{"tenant":…` and
/// `,"source":…,"created_at":…}`, rebuilt only when a value changes. Owns its buffers (a copy
/// for another thread is made with `SharedMembers()`).
struct SharedMembers {
    private var tenant: String?
    private var source: String?
    private var createdAt: String?
    private(set) var head = ByteBuffer(capacity: 64)
    private(set) var tail = ByteBuffer(capacity: 128)

    mutating func update(tenant: String, source: String, createdAt: String) {
        if tenant != self.tenant {
            self.tenant = tenant
            head.removeAll()
            head.append("{\"tenant\":" as StaticString)
            head.appendJSONString(tenant)
        }
        if source != self.source || createdAt != self.createdAt {
            self.source = source
            self.createdAt = createdAt
            tail.removeAll()
            tail.append(",\"source\":" as StaticString)
            tail.appendJSONString(source)
            tail.append(",\"created_at\":" as StaticString)
            tail.appendJSONString(createdAt)
            tail.append(UInt8(ascii: "}"))
        }
    }
}

/// Language, country and tag look-ups, cached by the raw bytes: the same few values repeat over
/// millions of rows, and a hit then costs a hash and a compare, no String and no reference count.
struct Lookups {
    var phones = PhoneNumbers()
    private var languages = BytesCache()
    private var countries = BytesCache()
    private var tagSlugs = BytesCache()

    /// Calls `use` with the language code for `text` (nil: not a language we know).
    mutating func language<R>(_ text: UnsafeRawBufferPointer, _ use: (UnsafeRawBufferPointer?) -> R) -> R {
        languages.value(for: text, make: { LanguageCodes.code(for: String(decoding: $0, as: UTF8.self)).map { Array($0.utf8) } }, use)
    }

    mutating func country<R>(_ text: UnsafeRawBufferPointer, _ use: (UnsafeRawBufferPointer?) -> R) -> R {
        countries.value(for: text, make: { CountryCodes.code(for: String(decoding: $0, as: UTF8.self)).map { Array($0.utf8) } }, use)
    }

    /// Calls `use` with the tag's slug (empty: nothing usable in it).
    mutating func slug<R>(_ text: UnsafeRawBufferPointer, _ use: (UnsafeRawBufferPointer) -> R) -> R {
        tagSlugs.value(for: text, make: { Array(Slug.make(String(decoding: $0, as: UTF8.self)).utf8) }) { use($0!) }
    }
}

/// A bounded cache from byte strings to byte strings (or nil): open addressing, at most half
/// full; keys and values are kept back to back in one arena, and each slot holds its key's first
/// 16 bytes, so that a key of at most 16 bytes (a language, a country, most tags) is compared
/// without reading the arena. Past `limit` entries new keys are computed and not kept (a column
/// of unique values must not grow it without end).
struct BytesCache {
    private struct Slot {
        var hash: UInt64 = 0
        var head = KeyHead()
        var key: Int32 = -1        // offset in the arena; -1: an empty slot
        var keyCount: Int32 = 0
        var valueCount: Int32 = 0  // the value follows the key; -1: nil
    }
    private var slots: [Slot] = []
    private var arena = ByteBuffer(capacity: 4096)
    private var count = 0
    let limit: Int

    init(limit: Int = 50_000) { self.limit = limit }

    /// (Inlined: each caller's `use` then runs in place, not through a closure call.)
    @inline(__always)
    mutating func value<R>(for key: UnsafeRawBufferPointer, make: (UnsafeRawBufferPointer) -> [UInt8]?,
                           _ use: (UnsafeRawBufferPointer?) -> R) -> R {
        let head = KeyHead(key)
        let h = BytesCache.hash(key, head: head)
        if !slots.isEmpty {
            let mask = slots.count - 1
            var i = Int(truncatingIfNeeded: h) & mask
            while slots[i].key >= 0 {
                let s = slots[i]
                if s.hash == h && Int(s.keyCount) == key.count && s.head == head {
                    let k = Int(s.key)
                    if key.count <= KeyHead.width || BytesCache.same(arena.bytes(k..<(k + key.count)), key) {
                        if s.valueCount < 0 { return use(nil) }
                        return use(arena.bytes((k + key.count)..<(k + key.count + Int(s.valueCount))))
                    }
                }
                i = (i + 1) & mask
            }
        }
        let made = make(key)
        guard count < limit, arena.count + key.count + (made?.count ?? 0) < Int(Int32.max) else {
            if let made { return made.withUnsafeBytes { use($0) } }
            return use(nil)
        }
        if (count + 1) * 2 > slots.count { grow() }
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i].key >= 0 { i = (i + 1) & mask }
        let start = arena.count
        arena.append(key)
        if let made { arena.append(made) }
        slots[i] = Slot(hash: h, head: head, key: Int32(start), keyCount: Int32(key.count), valueCount: made.map { Int32($0.count) } ?? -1)
        count += 1
        guard let made else { return use(nil) }
        return use(arena.bytes((start + key.count)..<(start + key.count + made.count)))
    }

    /// Byte for byte (keys longer than a `KeyHead`).
    @inline(__always) static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
    }

    /// Multiply and fold over the head's words, then over the rest of a longer key.
    @inline(__always) static func hash(_ key: UnsafeRawBufferPointer, head: KeyHead) -> UInt64 {
        var h = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        h = (h ^ head.low) &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 32
        h = (h ^ head.high) &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 32
        var i = KeyHead.width
        let n = key.count
        while i < n {
            h = (h ^ KeyHead.word(key, from: i)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            i += 8
        }
        return h
    }
    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(), count: max(64, old.count * 2))
        let mask = slots.count - 1
        for s in old where s.key >= 0 {
            var i = Int(truncatingIfNeeded: s.hash) & mask
            while slots[i].key >= 0 { i = (i + 1) & mask }
            slots[i] = s
        }
    }
}

/// A key's first 16 bytes as two little-endian words, zero past its end: for keys of the same
/// length up to 16 bytes, equal heads are equal keys.
struct KeyHead: Equatable {
    static let width = 16
    var low: UInt64 = 0
    var high: UInt64 = 0

    init() {}

    @inline(__always) init(_ key: UnsafeRawBufferPointer) {
        low = KeyHead.word(key, from: 0)
        high = KeyHead.word(key, from: 8)
    }

    /// Bytes `from..<from + 8` of `key` (those it has) in a word, read in at most two loads each
    /// way: overlapping loads put each byte at its own place.
    @inline(__always) static func word(_ key: UnsafeRawBufferPointer, from i: Int) -> UInt64 {
        let r = key.count - i
        if r >= 8 { return key.loadUnaligned(fromByteOffset: i, as: UInt64.self) }
        if r >= 4 {
            let a = UInt64(key.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            let b = UInt64(key.loadUnaligned(fromByteOffset: i + r - 4, as: UInt32.self))
            return a | b << (UInt64(r - 4) * 8)
        }
        if r >= 2 {
            let a = UInt64(key.loadUnaligned(fromByteOffset: i, as: UInt16.self))
            let b = UInt64(key.loadUnaligned(fromByteOffset: i + r - 2, as: UInt16.self))
            return a | b << (UInt64(r - 2) * 8)
        }
        return r == 1 ? UInt64(key[i]) : 0
    }
}

extension ByteBuffer {
    /// Appends a short value (a name, a city, a code) without a call to `memcpy`: up to 16 bytes
    /// as two overlapping words (or halves, or three single bytes), each load inside `raw`.
    @inline(__always) mutating func appendValue(_ raw: UnsafeRawBufferPointer) {
        let n = raw.count
        guard n > 0 && n <= 16 else { append(raw); return }
        appendWriting(atMost: n) { to in
            let from = raw.baseAddress!, into = UnsafeMutableRawPointer(to)
            if n >= 8 {
                let head = from.loadUnaligned(as: UInt64.self), tail = from.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
                into.storeBytes(of: head, as: UInt64.self)
                into.storeBytes(of: tail, toByteOffset: n - 8, as: UInt64.self)
            } else if n >= 4 {
                let head = from.loadUnaligned(as: UInt32.self), tail = from.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
                into.storeBytes(of: head, as: UInt32.self)
                into.storeBytes(of: tail, toByteOffset: n - 4, as: UInt32.self)
            } else {
                to[0] = raw[0]; to[n / 2] = raw[n / 2]; to[n - 1] = raw[n - 1]
            }
            return n
        }
    }

    /// Makes room for a word past the end (nothing is added): a reader may then load the last
    /// bytes a word at a time without going past the buffer's memory.
    @inline(__always) mutating func reserveWord() {
        appendWriting(atMost: 8) { _ in 0 }
    }
}
