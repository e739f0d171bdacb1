import MailpipeCore
import MailpipeStore

/// `tag`: adds and removes tags by rules, built-ins, ad-hoc flags and the tenant's taxonomy.
public enum Tagging {
    public struct Options {
        public var stream: StreamOptions
        public var tenant: TenantSlug?
        public var state: StateRoot
        /// A rules file; nil: the tenant's `tag-rules.yaml|yml|json` when there is one.
        public var rulesPath: String?
        public var add: [String]
        public var remove: [String]
        /// Override the rules file's `builtins` (false switches one off).
        public var builtinLanguage: Bool?
        public var builtinCountry: Bool?

        public init(stream: StreamOptions, tenant: TenantSlug? = nil, state: StateRoot = StateRoot(explicit: nil),
                    rulesPath: String? = nil, add: [String] = [], remove: [String] = [],
                    builtinLanguage: Bool? = nil, builtinCountry: Bool? = nil) {
            self.stream = stream
            self.tenant = tenant
            self.state = state
            self.rulesPath = rulesPath
            self.add = add
            self.remove = remove
            self.builtinLanguage = builtinLanguage
            self.builtinCountry = builtinCountry
        }
    }

    /// The rules file names looked for in a tenant's folder.
    public static let tenantRulesFiles = ["tag-rules.yaml", "tag-rules.yml", "tag-rules.json"]

    /// Slugs a list of tags given on the command line; one that slugs to nothing is a usage error.
    public static func slugs(_ items: [String], flag: String) throws -> [String] {
        try items.flatMap { $0.split(separator: ",").map(String.init) }.map { tag in
            let slug = Slug.make(tag)
            if slug.isEmpty { throw StageError.usage("\(flag) '\(tag)': no letters or digits to make a tag from") }
            return slug
        }
    }

    /// A tag's slug (docs/design.md §2), "" when nothing is left.
    public static func slug(_ text: String) -> String { Slug.make(text) }

    /// child → every ancestor, from tenant.json's `taxonomy` (parent → children), cycles ignored.
    public static func ancestors(of taxonomy: [String: [String]]) -> [String: [String]] {
        var parents: [String: [String]] = [:]
        for parent in taxonomy.keys.sorted() {
            let p = Slug.make(parent)
            for child in taxonomy[parent]! {
                let c = Slug.make(child)
                if !p.isEmpty && !c.isEmpty && !parents[c, default: []].contains(p) { parents[c, default: []].append(p) }
            }
        }
        var result: [String: [String]] = [:]
        for child in parents.keys.sorted() {
            var seen: [String] = []
            var queue = parents[child]!
            while !queue.isEmpty {
                let next = queue.removeFirst()
                if next == child || seen.contains(next) { continue }
                seen.append(next)
                queue.append(contentsOf: parents[next] ?? [])
            }
            result[child] = seen
        }
        return result
    }

    public static func run(_ options: Options, output: inout OutputSink) throws -> (Summary, ExitStatus) {
        // Everything that can be wrong with the configuration is found before any record is read.
        var rulesPath = options.rulesPath
        if rulesPath == nil, let tenant = options.tenant {
            let dir = options.state.tenant(tenant)
            rulesPath = tenantRulesFiles.map { "\(dir.path)/\($0)" }.first(where: FileSystem.exists)
        }
        let rules = try rulesPath.map(TagRules.load) ?? TagRules()
        let useLanguage = options.builtinLanguage ?? rules.builtinLanguage
        let useCountry = options.builtinCountry ?? rules.builtinCountry
        let adHocAdd = try slugs(options.add, flag: "--add")
        let adHocRemove = try slugs(options.remove, flag: "--remove")
        var taxonomies: [String: [String: [String]]] = [:]
        func taxonomy(for tenant: String) throws -> [String: [String]] {
            if let known = taxonomies[tenant] { return known }
            var result: [String: [String]] = [:]
            if let slug = try? TenantSlug(tenant) {
                let dir = options.state.tenant(slug)
                if FileSystem.exists(dir.configPath) { result = ancestors(of: try dir.loadConfig().taxonomy) }
            }
            taxonomies[tenant] = result
            return result
        }
        if let tenant = options.tenant {
            let dir = options.state.tenant(tenant)
            if options.rulesPath == nil || FileSystem.exists(dir.path) { _ = try taxonomy(for: tenant.value) }
        }

        let rejects = try RejectSink(stage: "tag", path: options.stream.rejectsPath)
        var stream = try RecordStream(options: options.stream, rejects: rejects)
        defer { stream.close() }
        var slugCache: [String: String] = [:]
        var tagCounts: [String: Int] = [:]
        var fired = [Int](repeating: 0, count: rules.rules.count)
        var written = 0, tagged = 0, unsluggable = 0
        var patch = RecordPatch()
        var scratch = ByteBuffer(capacity: 256)
        var original: [String] = [], tags: [String] = [], adding: [String] = [], removing: [String] = []

        let tenantCheck = options.tenant.map { TenantCheck(expected: $0.value) }
        recordLoop: while let record = try stream.next() {
            // Tenant: the record's, which must agree with --tenant when both are given.
            var tenant = options.tenant?.value
            if let t = record["tenant"] {
                if let refusal = TenantCheck.refusal(t, against: tenantCheck) {
                    rejects.reject(refusal, origin: record.origin, record: record.bytes)
                    continue
                }
                tenant = t.string
            }
            original.removeAll(keepingCapacity: true)
            tags.removeAll(keepingCapacity: true)
            if let existing = record["tags"], existing.kind != .null {
                guard existing.kind == .array else {
                    rejects.reject(.invalidTags, "tags must be an array of strings", origin: record.origin, record: record.bytes)
                    continue
                }
                for element in existing.elements {
                    guard let text = element.string else {
                        rejects.reject(.invalidTags, "tags must be an array of strings", origin: record.origin, record: record.bytes)
                        continue recordLoop
                    }
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
            rules.apply(to: record.root, adding: &adding, removing: &removing, fired: &fired)
            if useLanguage, let language = record.string("language") {
                let s = Slug.make(language)
                if !s.isEmpty { adding.append("lang-" + s) }
            }
            if useCountry, let country = record.string("country") {
                let s = Slug.make(country)
                if !s.isEmpty { adding.append("country-" + s) }
            }
            adding.append(contentsOf: adHocAdd)
            removing.append(contentsOf: adHocRemove)
            for t in adding where !tags.contains(t) { tags.append(t) }
            if !removing.isEmpty { tags.removeAll(where: { removing.contains($0) }) }
            if let tenant {
                let parents = try taxonomy(for: tenant)
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
            if tags != original {
                tagged += 1
                scratch.removeAll()
                scratch.append(UInt8(ascii: "["))
                for (i, t) in tags.enumerated() {
                    if i > 0 { scratch.append(UInt8(ascii: ",")) }
                    scratch.appendJSONString(t)
                }
                scratch.append(UInt8(ascii: "]"))
                patch.set("tags", rawJSON: scratch.bytes)
            }
            patch.write(record, into: &output.buffer)
            output.buffer.append(0x0A)
            written += 1
            try output.flushIfNeeded()
        }
        try output.flush()
        try rejects.finish()

        var summary = Summary(stage: "tag", headline: ["in", "out", "tagged", "rejected"])
        summary["in"] = stream.linesIn
        if options.stream.shard != nil { summary["other_shards"] = stream.otherShards }
        summary["out"] = written
        summary["tagged"] = tagged
        summary["rejected"] = rejects.count
        if unsluggable > 0 {
            summary.headline.insert("unsluggable_tags", at: 3)
            summary["unsluggable_tags"] = unsluggable
        }
        summary["blank_lines"] = stream.blankLines
        summary.setGroup("tags", tagCounts)
        var rulesFired: [String: Int] = [:]
        for (i, rule) in rules.rules.enumerated() { rulesFired[rule.name, default: 0] += fired[i] }
        if !rules.rules.isEmpty { summary.setGroup("rules", rulesFired) }
        summary.setGroup("reject_reasons", rejects.reasons)
        let status: ExitStatus = options.stream.strict && rejects.count > 0 ? .rejectsUnderStrict : .success
        return (summary, status)
    }
}
