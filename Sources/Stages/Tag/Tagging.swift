import MailpipeCore
import MailpipeStore

/// `tag`: adds and removes tags by rules, built-ins, ad-hoc flags and the tenant's taxonomy.
/// Records are parsed, tagged and written on several threads (`Tagger`, `ParallelRecordStream`)
/// and come out in input order.
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
        /// Threads parsing and tagging records (one per core, at most 4, by default); the output
        /// does not depend on it.
        public var threads: Int

        public init(stream: StreamOptions, tenant: TenantSlug? = nil, state: StateRoot = StateRoot(explicit: nil),
                    rulesPath: String? = nil, add: [String] = [], remove: [String] = [],
                    builtinLanguage: Bool? = nil, builtinCountry: Bool? = nil, threads: Int? = nil) {
            self.threads = threads ?? Cores.workers
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

    /// tenant.json's taxonomy of a tenant as child → ancestors (empty without one, or for a
    /// name that is no tenant slug).
    static func taxonomy(of tenant: String, state: StateRoot) throws -> [String: [String]] {
        guard let slug = try? TenantSlug(tenant) else { return [:] }
        let dir = state.tenant(slug)
        return FileSystem.exists(dir.configPath) ? ancestors(of: try dir.loadConfig().taxonomy) : [:]
    }

    public static func run(_ options: Options, output: inout OutputSink) throws -> (Summary, ExitStatus) {
        // Everything that can be wrong with the configuration is found before any record is read.
        var rulesPath = options.rulesPath
        if rulesPath == nil, let tenant = options.tenant {
            let dir = options.state.tenant(tenant)
            rulesPath = tenantRulesFiles.map { "\(dir.path)/\($0)" }.first(where: FileSystem.exists)
        }
        let rules = try rulesPath.map(TagRules.load) ?? TagRules()
        var known: [String: [String: [String]]] = [:]
        if let tenant = options.tenant {
            let dir = options.state.tenant(tenant)
            if options.rulesPath == nil || FileSystem.exists(dir.path) {
                known[tenant.value] = try taxonomy(of: tenant.value, state: options.state)
            }
        }
        let setup = Tagger.Setup(
            rules: rules, useLanguage: options.builtinLanguage ?? rules.builtinLanguage,
            useCountry: options.builtinCountry ?? rules.builtinCountry,
            add: try slugs(options.add, flag: "--add"), remove: try slugs(options.remove, flag: "--remove"),
            tenant: options.tenant?.value, state: options.state)

        let rejects = try RejectSink(stage: "tag", path: options.stream.rejectsPath)
        let taggers = (0..<Cores.capped(options.threads)).map { _ in Tagger(setup, taxonomies: known, maxDepth: options.stream.maxDepth) }
        // Without rules a record is parsed keeping only the members tag reads and sets.
        let keeping = taggers.compactMap(\.members)
        var stream = try ParallelRecordStream<Tagger.Outcome>(options: options.stream, rejects: rejects, threads: taggers.count,
                                                              keeping: keeping.isEmpty ? nil : keeping) { record, worker, written in
            taggers[worker].tag(record, into: &written)
        }
        defer { stream.close() }
        var written = 0, tagged = 0
        try stream.forEach { line, outcome in
            switch outcome {
            case .refused(let refusal):
                rejects.reject(refusal, origin: line.origin, record: line.bytes)
            case .failed(let error):
                throw error
            case .written(let changed):
                output.buffer.append(line.written)
                written += 1
                if changed { tagged += 1 }
                try output.flushIfNeeded()
            }
        }
        try output.flush()
        try rejects.finish()

        var tagCounts: [String: Int] = [:]
        var fired = [Int](repeating: 0, count: rules.rules.count)
        var unsluggable = 0
        for t in taggers {
            tagCounts.merge(t.tagCounts, uniquingKeysWith: +)
            for i in fired.indices { fired[i] += t.fired[i] }
            unsluggable += t.unsluggable
        }
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
