import MailpipeCore
import MailpipeStore

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
    private let tenantCheck: TenantCheck?
    /// tenant → its taxonomy as child → ancestors, or why it could not be read.
    private var taxonomies: [String: Result<[String: [String]], any Error>]
    private var slugCache: [String: String] = [:]
    private(set) var tagCounts: [String: Int] = [:]
    private(set) var fired: [Int]
    private(set) var unsluggable = 0
    private var patch = RecordPatch()
    private var scratch = ByteBuffer(capacity: 256)
    private var original: [String] = [], tags: [String] = [], adding: [String] = [], removing: [String] = []

    init(_ setup: Setup, taxonomies known: [String: [String: [String]]]) {
        self.setup = setup
        tenantCheck = setup.tenant.map { TenantCheck(expected: $0) }
        taxonomies = known.mapValues { .success($0) }
        fired = [Int](repeating: 0, count: setup.rules.rules.count)
    }

    private func taxonomy(for tenant: String) -> Result<[String: [String]], any Error> {
        if let known = taxonomies[tenant] { return known }
        let result = Result { try Tagging.taxonomy(of: tenant, state: setup.state) }
        taxonomies[tenant] = result
        return result
    }

    func tag(_ record: Record, into written: inout ByteBuffer) -> Outcome {
        // Tenant: the record's, which must agree with --tenant when both are given.
        var tenant = setup.tenant
        if let t = record["tenant"] {
            if let refusal = TenantCheck.refusal(t, against: tenantCheck) { return .refused(refusal) }
            tenant = t.string
        }
        original.removeAll(keepingCapacity: true)
        tags.removeAll(keepingCapacity: true)
        if let existing = record["tags"], existing.kind != .null {
            let refusal = RecordRefusal(.invalidTags, "tags must be an array of strings")
            guard existing.kind == .array else { return .refused(refusal) }
            for element in existing.elements {
                guard let text = element.string else { return .refused(refusal) }
                original.append(text)
                let slug: String
                if let cached = slugCache[text] { slug = cached } else {
                    slug = Slug.make(text)
                    if slugCache.count < 100_000 { slugCache[text] = slug }
                }
                if slug.isEmpty { unsluggable += 1; continue }
                if !tags.contains(slug) { tags.append(slug) }
            }
        }
        adding.removeAll(keepingCapacity: true)
        removing.removeAll(keepingCapacity: true)
        setup.rules.apply(to: record.root, adding: &adding, removing: &removing, fired: &fired)
        if setup.useLanguage, let language = record.string("language") {
            let s = Slug.make(language)
            if !s.isEmpty { adding.append("lang-" + s) }
        }
        if setup.useCountry, let country = record.string("country") {
            let s = Slug.make(country)
            if !s.isEmpty { adding.append("country-" + s) }
        }
        adding.append(contentsOf: setup.add)
        removing.append(contentsOf: setup.remove)
        for t in adding where !tags.contains(t) { tags.append(t) }
        if !removing.isEmpty { tags.removeAll(where: { removing.contains($0) }) }
        if let tenant {
            let parents: [String: [String]]
            switch taxonomy(for: tenant) {
            case .success(let known): parents = known
            case .failure(let error): return .failed(error)
            }
            if !parents.isEmpty {
                var i = 0
                while i < tags.count {
                    for p in parents[tags[i]] ?? [] where !tags.contains(p) && !removing.contains(p) { tags.append(p) }
                    i += 1
                }
            }
        }
        for t in tags { tagCounts[t, default: 0] += 1 }
        patch.removeAll()
        let changed = tags != original
        if changed {
            scratch.removeAll()
            scratch.append(UInt8(ascii: "["))
            for (i, t) in tags.enumerated() {
                if i > 0 { scratch.append(UInt8(ascii: ",")) }
                scratch.appendJSONString(t)
            }
            scratch.append(UInt8(ascii: "]"))
            patch.set("tags", rawJSON: scratch.bytes)
        }
        patch.write(record, into: &written)
        written.append(0x0A)
        return .written(changed: changed)
    }
}
