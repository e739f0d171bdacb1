import ArgumentParser
import MailpipeCLI
import MailpipeCore
import MailpipeStore
import SegmentStage

/// `segment`: select a campaign's audience, streaming, in constant memory.
@main
struct Segment: MailpipeCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Select the contacts a campaign goes to, from the tenant's store or from records on standard input.",
        discussion: """
        Where the contacts come from (--from): 'store' reads the tenant's contact store (needs
        --tenant); 'stdin' reads contact records from the files given, or standard input. By
        default: the store when --tenant is given, no file is named and standard input is not a
        pipe or a file (a terminal, /dev/null); otherwise stdin. Scripts should say --from.

        All criteria must hold. Tags: --all (every one), --any (at least one), --exclude (none).
        Lists are comma-separated; values compare without regard to ASCII case. --where takes a
        small language: tags has avocat and language in (fr, es) and not country = FR; also
        != < <= > >= (numbers, times, text), 'not in (…)', 'has all (…)', 'has any (…)', 'exists',
        'missing', parentheses and 'or'; fields may be dotted (validation.score > 80).

        Never emitted unless --include-suppressed: addresses on the tenant's suppression list and
        contacts whose status is bounced, unsubscribed, complained, blacklisted or invalid. The
        summary says how many each rule held back; --explain adds a line per criterion.

        Examples:
          segment --tenant sos-expat --all avocat,lang-fr --exclude vip | render --campaign avocats-fr
          segment --tenant sos-expat --where 'tags has avocat and language in (fr, es) and not country = FR' --count
          segment --tenant sos-expat --breakdown language
          segment --tenant sos-expat --segment campaign.json --sample 100 --seed 7
          segment --tenant sos-expat --segments segments.json --out-dir out/ --gzip
          zcat contacts.ndjson.gz | segment --from stdin --any visa,fiscalite --shard 0/4
        """,
        version: mailpipeVersion)

    @OptionGroup var tenantFlags: TenantFlags
    @OptionGroup var streamFlags: StreamFlags

    @Option(help: ArgumentHelp("Where contacts come from: store or stdin (default: see below).", valueName: "store|stdin"))
    var from: String?

    @Option(help: ArgumentHelp("Contacts with every one of these tags.", valueName: "tags")) var all: [String] = []
    @Option(help: ArgumentHelp("Contacts with at least one of these tags.", valueName: "tags")) var any: [String] = []
    @Option(help: ArgumentHelp("Contacts with none of these tags.", valueName: "tags")) var exclude: [String] = []
    @Option(help: ArgumentHelp("Category is one of these.", valueName: "list")) var category: [String] = []
    @Option(help: ArgumentHelp("Language is one of these.", valueName: "list")) var language: [String] = []
    @Option(help: ArgumentHelp("Country (ISO code) is one of these.", valueName: "list")) var country: [String] = []
    @Option(help: ArgumentHelp("Status is one of these.", valueName: "list")) var status: [String] = []
    @Option(help: ArgumentHelp("validation.verdict is one of these.", valueName: "list")) var verdict: [String] = []
    @Option(help: ArgumentHelp("Source is one of these.", valueName: "list")) var source: [String] = []
    @Option(name: .customLong("created-since"), help: ArgumentHelp("created_at at or after this date/time.", valueName: "time"))
    var createdSince: String?
    @Option(name: .customLong("created-before"), help: ArgumentHelp("created_at before this date/time.", valueName: "time"))
    var createdBefore: String?
    @Option(help: ArgumentHelp("A boolean expression over fields (see below). May be repeated (all must hold).", valueName: "expr"))
    var `where`: [String] = []
    @Option(help: ArgumentHelp("Criteria from a campaign file (tags_all, tags_any, exclude_tags, target_category, target_country_codes, max_contacts, …).", valueName: "file"))
    var segment: String?
    @Option(help: ArgumentHelp("Many named segments in one pass (JSON array, object or NDJSON); with --out-dir, one file each.", valueName: "file"))
    var segments: String?
    @Option(name: .customLong("out-dir"), help: ArgumentHelp("Folder for --segments files (<name>.ndjson).", valueName: "dir"))
    var outDir: String?
    @Flag(help: "Gzip the --segments files (<name>.ndjson.gz).") var gzip = false

    @Option(help: ArgumentHelp("Emit at most N contacts (the first N).", valueName: "n")) var limit: Int?
    @Option(help: ArgumentHelp("A reproducible random sample of N matching contacts.", valueName: "n")) var sample: Int?
    @Option(help: ArgumentHelp("Seed of --sample (default 1).", valueName: "s")) var seed: UInt64 = 1
    @Flag(help: "Print {\"count\":N} instead of the records.") var count = false
    @Option(help: ArgumentHelp("Print counts per language, country, category, tag or status, as NDJSON.", valueName: "field"))
    var breakdown: String?
    @Option(help: ArgumentHelp("Keep the contacts whose email hashes into shard i of n (FNV-1a 64).", valueName: "i/n"))
    var shard: String?
    @Flag(name: .customLong("include-suppressed"), help: "Also emit suppressed contacts (suppression list and held statuses).")
    var includeSuppressed = false
    @Flag(help: "Say, per criterion, how many contacts passed it.") var explain = false

    @Argument(help: "Input files for --from stdin (default: standard input; .gz read transparently).")
    var inputs: [String] = []

    func run() throws {
        StageMain.run("segment") {
            let tenant = try tenantFlags.tenant.map(TenantSlug.init)
            let chosen: SegmentStage.Source
            if let from {
                guard let s = SegmentStage.Source(rawValue: from) else { throw StageError.usage("--from takes store or stdin, got '\(from)'") }
                chosen = s
            } else {
                chosen = tenant != nil && inputs.isEmpty && !FileDescriptor.standardInput.carriesData ? .store : .stdin
            }
            if chosen == .store && !inputs.isEmpty { throw StageError.usage("--from store reads no files; drop the file operands or use --from stdin") }

            var criteria = SegmentCriteria()
            func list(_ values: [String]) -> [String] {
                values.flatMap { $0.split(separator: ",") }.map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
            }
            criteria.tagsAll = list(all)
            criteria.tagsAny = list(any)
            criteria.tagsExclude = list(exclude)
            criteria.categories = list(category)
            criteria.languages = list(language)
            criteria.countries = list(country)
            criteria.statuses = list(status)
            criteria.verdicts = list(verdict)
            criteria.sources = list(source)
            criteria.createdSince = createdSince
            criteria.createdBefore = createdBefore
            criteria.wheres = `where`
            if let limit {
                guard limit >= 0 else { throw StageError.usage("--limit takes a number ≥ 0") }
                criteria.limit = limit
            }
            var all = [criteria]
            let note: (String) -> Void = { try? FileDescriptor.standardError.writeAll("segment: note: \($0)\n") }
            if let segment { all.append(try SegmentFile.load(path: segment, note: note).criteria) }
            let many = try segments.map { try SegmentFile.loadMany(path: $0, note: note) }

            var mode = SegmentStage.Mode.records
            if count { mode = .count }
            if let breakdown {
                guard let field = SegmentStage.BreakdownField(rawValue: breakdown) else {
                    throw StageError.usage("--breakdown takes language, country, category, tag or status, got '\(breakdown)'")
                }
                if count { throw StageError.usage("--count and --breakdown cannot be combined") }
                mode = .breakdown(field)
            }
            if sample != nil && limit != nil { throw StageError.usage("--sample and --limit cannot be combined") }
            let options = SegmentStage.Options(
                tenant: tenant, state: StateRoot(explicit: tenantFlags.state), source: chosen,
                stream: streamFlags.options(stage: "segment", inputs: inputs), criteria: all, segments: many,
                outDir: outDir, gzip: gzip, mode: mode, sample: sample, seed: seed,
                shard: try shard.map(Shard.init(parsing:)), includeSuppressed: includeSuppressed, explain: explain)
            var output = OutputSink()
            let result = try SegmentStage.run(options, output: &output)
            try result.summary.report(statsPath: streamFlags.stats)
            if streamFlags.stats == nil || explain {
                for line in result.notes { try? FileDescriptor.standardError.writeAll(line + "\n") }
            }
            return result.status
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
