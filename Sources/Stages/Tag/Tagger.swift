import MailpipeCore
import MailpipeStore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One parsing thread's tagging: a record's tags worked out and the record written with them,
/// with caches and counts of its own (the run adds the counts up at the end).
final class Tagger {
    /// What every thread's tagger shares, fixed before the first record.
    struct Setup {
        var rules: TagRules
        var useLanguage: Bool
        var useCountry: Bool
        var add: [String]
        var remove: [String]
        /// `--tenant`: the tenant of records without one, and the only one accepted.
        var tenant: String?
        var state: StateRoot
    }

    enum Outcome {
        case refused(RecordRefusal)
        /// The record's line was written; `changed`: its tags differ from what it had.
        case written(changed: Bool)
        /// The record's tenant has a tenant.json that does not read: the run stops there.
        case failed(any Error)
    }

    let setup: Setup
    /// The root members a record is parsed keeping when the rules read none (what tag reads and
    /// sets is among them), or nil: the rules may read any field, records are parsed whole.
    let members: FieldSlots?
    private let tenantCheck: TenantCheck?
    /// tenant → its taxonomy as child → ancestors, or why it could not be read.
    private var taxonomies: [String: Result<[String: [String]], any Error>]
    /// The last record's tenant and its taxonomy: a run's records are mostly one tenant's.
    private var lastTenant: String?
    /// The last record's `tenant` as it was written (JSON) and decoded: most records repeat it.
    private var recordTenantJSON: [UInt8] = [], recordTenant: String?
    private var lastTaxonomy: Result<[String: [String]], any Error> = .success([:])
    private var table = TagTable()
    /// A record's tag text, language and country → the number of the tag it makes.
    private var fromText = SlugMemo(prefix: ""), fromLanguage = SlugMemo(prefix: "lang-"),
                fromCountry = SlugMemo(prefix: "country-")
    /// `--add` and `--remove` as tag numbers.
    private let added: [Int], removed: [Int]
    private(set) var fired: [Int]
    private(set) var unsluggable = 0
    /// The record's new `tags` (written in `scratch`), spliced into its bytes when it was
    /// parsed keeping `members`.
    private var patch = RecordPatch()
    private var scratch = ByteBuffer(capacity: 256)
    /// The record's tags as written, decoded one after another (`originalEnds`: where each ends).
    /// A `ByteBuffer`: its bytes are read without a closure (one reading `table` copies it).
    private var original = ByteBuffer(capacity: 1024), originalEnds: [Int] = []
    private var tags: [Int] = [], adds: [Int] = [], removes: [Int] = []
    /// A decoded string with escapes (rare).
    private var unescaped: [UInt8] = []
    private var ruleAdds: [String] = [], ruleRemoves: [String] = []
    /// A record parsed keeping `members` that `patch` cannot splice is parsed whole again.
    private var fullParser: JSONParser

    init(_ setup: Setup, taxonomies known: [String: [String: [String]]], maxDepth: Int) {
        self.setup = setup
        members = setup.rules.rules.isEmpty ? Tagger.memberSlots() : nil
        fullParser = JSONParser(maxDepth: maxDepth)
        tenantCheck = setup.tenant.map { TenantCheck(expected: $0) }
        taxonomies = known.mapValues { .success($0) }
        fired = [Int](repeating: 0, count: setup.rules.rules.count)
        var table = TagTable()
        added = setup.add.map { table.number(of: $0) }
        removed = setup.remove.map { table.number(of: $0) }
        self.table = table
    }

    deinit { fullParser.deallocate() }

    /// Every tag written and how many records it went out on.
    var tagCounts: [String: Int] { table.counts }

    private func taxonomy(for tenant: String) -> Result<[String: [String]], any Error> {
        if tenant == lastTenant { return lastTaxonomy }
        let result = taxonomies[tenant] ?? Result { try Tagging.taxonomy(of: tenant, state: setup.state) }
        taxonomies[tenant] = result
        lastTenant = tenant
        lastTaxonomy = result
        return result
    }

    func tag(_ record: Record, into written: inout ByteBuffer) -> Outcome {
        // Tenant: the record's, which must agree with --tenant when both are given.
        var tenant = setup.tenant
        if let t = record["tenant"] {
            if let refusal = TenantCheck.refusal(t, against: tenantCheck) { return .refused(refusal) }
            if !Bytes.equal(t.raw, recordTenantJSON) {
                recordTenantJSON = Array(t.raw)
                recordTenant = t.string
            }
            tenant = recordTenant
        }
        original.removeAll()
        originalEnds.removeAll(keepingCapacity: true)
        tags.removeAll(keepingCapacity: true)
        if let existing = record["tags"], existing.kind != .null {
            let refusal = RecordRefusal(.invalidTags, "tags must be an array of strings")
            guard existing.kind == .array else { return .refused(refusal) }
            for element in existing.elements {
                guard element.kind == .string else { return .refused(refusal) }
                let start = original.count
                if element.isEscaped {
                    unescaped.removeAll(keepingCapacity: true)
                    element.appendDecodedString(to: &unescaped)
                    original.append(unescaped)
                } else {
                    original.append(element.rawContent)
                }
                originalEnds.append(original.count)
                let n = table.number(of: original.bytes(start..<original.count), slugged: &fromText)
                if n < 0 { unsluggable += 1; continue }
                if !tags.contains(n) { tags.append(n) }
            }
        }
        ruleAdds.removeAll(keepingCapacity: true)
        ruleRemoves.removeAll(keepingCapacity: true)
        setup.rules.apply(to: record.root, adding: &ruleAdds, removing: &ruleRemoves, fired: &fired)
        adds.removeAll(keepingCapacity: true)
        removes.removeAll(keepingCapacity: true)
        for t in ruleAdds { adds.append(table.number(of: t)) }
        for t in ruleRemoves { removes.append(table.number(of: t)) }
        if setup.useLanguage, let language = record["language"], language.kind == .string {
            let n = number(of: language, slugged: &fromLanguage)
            if n >= 0 { adds.append(n) }
        }
        if setup.useCountry, let country = record["country"], country.kind == .string {
            let n = number(of: country, slugged: &fromCountry)
            if n >= 0 { adds.append(n) }
        }
        adds.append(contentsOf: added)
        removes.append(contentsOf: removed)
        for n in adds where !tags.contains(n) { tags.append(n) }
        if !removes.isEmpty { tags.removeAll(where: { removes.contains($0) }) }
        if let tenant {
            let parents: [String: [String]]
            switch taxonomy(for: tenant) {
            case .success(let known): parents = known
            case .failure(let error): return .failed(error)
            }
            if !parents.isEmpty {
                var i = 0
                while i < tags.count {
                    for p in parents[table.name(tags[i])] ?? [] {
                        let n = table.number(of: p)
                        if !tags.contains(n) && !removes.contains(n) { tags.append(n) }
                    }
                    i += 1
                }
            }
        }
        for n in tags { table.count(n) }
        let changed = !table.spell(tags, as: original.bytes(0..<original.count), ends: originalEnds)
        if changed {
            scratch.removeAll()
            scratch.append(UInt8(ascii: "["))
            for (i, n) in tags.enumerated() {
                if i > 0 { scratch.append(UInt8(ascii: ",")) }
                table.appendJSON(n, to: &scratch)
            }
            scratch.append(UInt8(ascii: "]"))
            patch.removeAll()
            scratch.withUnsafeBytes { patch.set("tags", rawJSON: $0) }
            if let members {
                if let refusal = patch.write(record, keeping: members, reparser: &fullParser, into: &written) {
                    return .refused(refusal)
                }
            } else {
                patch.write(record, into: &written)
            }
        } else {
            written.append(record.bytes)
        }
        written.append(0x0A)
        return .written(changed: changed)
    }

    /// The number of the tag a string member's text slugs to (see `TagTable.number(of:slugged:)`).
    private func number(of text: JSONNode, slugged memo: inout SlugMemo) -> Int {
        if !text.isEscaped { return table.number(of: text.rawContent, slugged: &memo) }
        unescaped.removeAll(keepingCapacity: true)
        text.appendDecodedString(to: &unescaped)
        return unescaped.withUnsafeBytes { table.number(of: $0, slugged: &memo) }
    }

    /// The members tag reads (`tenant`, `tags`, `language`, `country`) as slots to parse a
    /// record keeping, watching for repeated keys (`RecordPatch.write(_:keeping:reparser:into:)`).
    static func memberSlots() -> FieldSlots {
        let slots = FieldSlots()
        for name in ["tags", "tenant", "language", "country"] { _ = slots.slot(name) }
        slots.noticesRepeatedKeys = true
        return slots
    }
}

/// The tags one thread has met, each by a number: its name, its JSON string and how many
/// records it went out on. A record's tags are worked on as numbers: no hashing or string
/// compares per tag once its text has been seen.
struct TagTable {
    private var names: [String] = []
    /// The names' UTF-8, one after another.
    private var nameText = ByteBuffer(capacity: 4096)
    private var nameEnds: [Int] = []
    private var records: [Int] = []
    private var json = ByteBuffer(capacity: 4096)
    private var jsonEnds: [Int] = []
    private var numbers: [String: Int] = [:]

    /// The number of the tag `name` (a slug), given it on first sight.
    mutating func number(of name: String) -> Int {
        if let n = numbers[name] { return n }
        let n = names.count
        names.append(name)
        nameText.append(name)
        nameEnds.append(nameText.count)
        records.append(0)
        json.appendJSONString(name)
        jsonEnds.append(json.count)
        numbers[name] = n
        return n
    }

    /// `number(of:slugged:)` for a text given as UTF-8, looked up by its bytes first: no String
    /// is made for a text seen before in the same bytes.
    mutating func number(of text: UnsafeRawBufferPointer, slugged memo: inout SlugMemo) -> Int {
        if let seen = memo.byBytes.ordinal(of: text) { return memo.byBytesNumbers[seen] }
        let n = number(of: String(decoding: text, as: UTF8.self), slugged: &memo)
        if memo.byBytes.count < SlugMemo.limit {
            memo.byBytes.insert(text)
            memo.byBytesNumbers.append(n)
        }
        return n
    }

    /// The number of the tag `text` slugs to (with the memo's prefix), or -1 when its slug is empty.
    mutating func number(of text: String, slugged memo: inout SlugMemo) -> Int {
        if let n = memo.numbers[text] { return n }
        let slug = Slug.make(text)
        let n = slug.isEmpty ? -1 : number(of: memo.prefix + slug)
        if memo.numbers.count < SlugMemo.limit { memo.numbers[text] = n }
        return n
    }

    func name(_ n: Int) -> String { names[n] }

    mutating func count(_ n: Int) { records[n] += 1 }

    /// Whether the tags numbered `tags` are the texts `texts` (UTF-8, one after another, each
    /// ending at its `ends`), in that order, as strings.
    func spell(_ tags: [Int], as texts: UnsafeRawBufferPointer, ends: [Int]) -> Bool {
        guard tags.count == ends.count else { return false }
        var start = 0
        for (n, end) in zip(tags, ends) {
            let text = UnsafeRawBufferPointer(rebasing: texts[start..<end])
            start = end
            let name = nameText.bytes((n == 0 ? 0 : nameEnds[n - 1])..<nameEnds[n])
            if text.count == name.count && (text.count == 0 || memcmp(text.baseAddress!, name.baseAddress!, text.count) == 0) {
                continue
            }
            // Other bytes may still be an equal string (canonically equivalent Unicode).
            if !(ByteScan.isASCII(text) && ByteScan.isASCII(name)) && names[n] == String(decoding: text, as: UTF8.self) {
                continue
            }
            return false
        }
        return true
    }

    func appendJSON(_ n: Int, to buffer: inout ByteBuffer) {
        buffer.append(json.bytes((n == 0 ? 0 : jsonEnds[n - 1])..<jsonEnds[n]))
    }

    /// Every tag counted at least once → its count.
    var counts: [String: Int] {
        var result: [String: Int] = [:]
        for (n, name) in names.enumerated() where records[n] > 0 { result[name] = records[n] }
        return result
    }
}

/// Texts already slugged (a record's tags, its language or country) → their tag's number, or -1.
struct SlugMemo {
    /// Tag texts are few; a file of unique ones must not grow the memo without end.
    static let limit = 100_000
    let prefix: String
    var numbers: [String: Int] = [:]
    /// The same by the texts' bytes: the text with ordinal i in `byBytes` has the number
    /// `byBytesNumbers[i]`, as `numbers` gave it (so a text spelt in other bytes but equal as a
    /// String still gets the number its first spelling got).
    var byBytes = ByteSet()
    var byBytesNumbers: [Int] = []
}
