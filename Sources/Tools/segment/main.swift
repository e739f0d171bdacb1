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
        Where the contacts come from (--contacts): 'store' reads the tenant's contact store \
        (needs --tenant); 'stdin' reads contact records from the files given, or standard \
        input. By default: the store when a tenant is given, no file is named and standard \
        input is not a pipe or a file (a terminal, /dev/null); otherwise stdin. Scripts should \
        say --contacts.

        All criteria must hold. Tags: --all (every one), --any (at least one), --exclude \
        (none). Lists are comma-separated; values compare without regard to ASCII case.

        --where takes a small language: tags has avocat and language in (fr, es) and not \
        country = FR; also != < <= > >= (numbers, times, text), 'not in (…)', 'has all (…)', \
        'has any (…)', 'exists', 'missing', parentheses and 'or'; fields may be dotted \
        (validation.score > 80).

        Never emitted unless --include-suppressed: addresses on the tenant's suppression list \
        and contacts whose status is bounced, unsubscribed, complained, blacklisted or invalid. \
        The summary says how many each rule held back; --explain adds a line per criterion.

        Engagement: account keeps an "engagement" member on each contact it sent to (sends, \
        opens, clicks, their last times, sends since the last open or click). --where \
        'engagement.score >= 40' selects on a 0-100 score computed at --now from recency and \
        frequency (docs/account.md); 'engagement.last_opened_at > 2026-01-01' on a time. \
        Contacts the tenant's sunset policy (tenant.json engagement.sunset_after_sends, \
        .sunset_after_days) holds back are not emitted, and counted with the rule that held \
        them, unless --include-sunset.

        A/B splits: --split a=50,b=50 --campaign C gives each contact emitted a "variant" \
        member, drawn from the FNV-1a hash of its address and the campaign (the same contact \
        gets the same variant on every run; shares follow the weights); render takes the \
        variant's templates from <campaign>/<variant>/. With --count, one count per variant.

        Examples:
          segment --tenant sos-expat --all avocat --exclude vip \\
            | render --campaign welcome-nov --templates samples/templates
          segment --tenant sos-expat --count \\
            --where 'tags has avocat and language in (fr, es) and not country = FR'
          segment --tenant sos-expat --breakdown language
          segment --tenant sos-expat --sample 2 --seed 7 \\
            --segment samples/campaign/segment-avocats.json
          segment --tenant sos-expat --segments samples/campaign/segments.json \\
            --out-dir out/ --gzip
          segment --contacts stdin --any visa,avocat --shard 0/4 \\
            < samples/contacts.ndjson
          segment --tenant sos-expat --all avocat --csv --delimiter ';' --bom \\
            > avocats.csv
          segment --tenant sos-expat --split a=50,b=50 --campaign welcome-nov --count
          segment --tenant sos-expat --count --where 'engagement.score >= 40'
        """,
        version: mailpipeVersionText)

    @OptionGroup var tenantFlags: TenantFlags
    @OptionGroup var streamFlags: StreamFlags

    @Option(help: ArgumentHelp("Where contacts come from: store or stdin (default: see the description above).", valueName: "store|stdin"),
            completion: .list(["store", "stdin"]))
    var contacts: String?
    @Option(help: .hidden) var from: String?   // the old name of --contacts, kept for a release

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
    @Option(help: ArgumentHelp("A boolean expression over fields (its language is described above). May be repeated (all must hold).", valueName: "expr"))
    var `where`: [String] = []
    @Option(help: ArgumentHelp("Criteria from a campaign file (tags_all, tags_any, exclude_tags, target_category, target_country_codes, max_contacts, …).", valueName: "file"),
            completion: .file(extensions: ["json"]))
    var segment: String?
    @Option(help: ArgumentHelp("Many named segments in one pass (JSON array, object or NDJSON); with --out-dir, one file each.", valueName: "file"),
            completion: .file(extensions: ["json", "ndjson"]))
    var segments: String?
    @Option(name: .customLong("out-dir"), help: ArgumentHelp("Folder for --segments files (<name>.ndjson).", valueName: "dir"), completion: .directory)
    var outDir: String?
    @Flag(help: "Gzip the --segments files (<name>.ndjson.gz).") var gzip = false

    @Option(help: ArgumentHelp("Emit at most N contacts (the first N).", valueName: "n")) var limit: Int?
    @Option(help: ArgumentHelp("A reproducible random sample of N matching contacts.", valueName: "n")) var sample: Int?
    @Option(help: ArgumentHelp("Seed of --sample.", valueName: "s")) var seed: UInt64 = 1
    @Flag(help: "Print {\"count\":N} instead of the records.") var count = false
    @Option(help: ArgumentHelp("Print counts per language, country, category, tag or status, as NDJSON.", valueName: "field"),
            completion: .list(["language", "country", "category", "tag", "status"]))
    var breakdown: String?
    @Option(help: ArgumentHelp("Keep the contacts whose email hashes into shard i of n (FNV-1a 64).", valueName: "i/n"))
    var shard: String?
    @Flag(name: .customLong("include-suppressed"), help: "Also emit suppressed contacts (suppression list and held statuses).")
    var includeSuppressed = false
    @Flag(name: .customLong("include-sunset"), help: "Also emit contacts the tenant's sunset policy holds back (a re-engagement campaign).")
    var includeSunset = false
    @Flag(help: "Say, per criterion, how many contacts passed it.") var explain = false
    @Option(help: ArgumentHelp("A/B split: give each contact a variant, shares by weight (a=50,b=50); needs --campaign.", valueName: "name=weight,…"))
    var split: String?
    @Option(help: ArgumentHelp("The campaign of --split (the variant is drawn per email and campaign).", valueName: "name"))
    var campaign: String?
    @OptionGroup var csvFlags: CSVFlags
    @OptionGroup var threadsFlag: ThreadsFlag

    @Argument(help: "Input files for --contacts stdin (default: standard input; .gz read transparently).", completion: .file())
    var inputs: [String] = []

    func run() throws {
        StageMain.run("segment") {
            let tenant = try tenantFlags.slug()
            let chosen: SegmentStage.Source
            if contacts != nil && from != nil { throw StageError.usage("--from is the old name of --contacts: give one") }
            if let given = contacts ?? from {
                guard let s = SegmentStage.Source(rawValue: given) else { throw StageError.usage("--contacts takes store or stdin, got '\(given)'") }
                chosen = s
            } else {
                chosen = tenant != nil && inputs.isEmpty && !FileDescriptor.standardInput.carriesData ? .store : .stdin
            }
            if chosen == .store && !inputs.isEmpty { throw StageError.usage("--contacts store reads no files; drop the file operands or use --contacts stdin") }

            var criteria = SegmentCriteria()
            func list(_ values: [String]) -> [String] {
                values.flatMap { $0.split(separator: ",") }.map { String($0).trimmingBlanks }.filter { !$0.isEmpty }
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
            if campaign != nil && split == nil { throw StageError.usage("--campaign goes with --split") }
            var options = SegmentStage.Options(
                tenant: tenant, state: StateRoot(explicit: tenantFlags.state), source: chosen,
                stream: streamFlags.options(stage: "segment", inputs: inputs), criteria: all, segments: many,
                outDir: outDir, gzip: gzip, mode: mode, sample: sample, seed: seed,
                shard: try shard.map(Shard.init(parsing:)), includeSuppressed: includeSuppressed, explain: explain,
                threads: try threadsFlag.parsed())
            if let split { options.split = try VariantSplit(parsing: split, campaign: campaign ?? "") }
            options.includeSunset = includeSunset
            options.now = try tenantFlags.clock()
            if csvFlags.csv && (mode != .records || segments != nil) {
                throw StageError.usage("--csv writes contacts: it does not go with --count, --breakdown or --segments")
            }
            let csv = try csvFlags.start()
            var output = OutputSink()
            let result = try SegmentStage.run(options, output: &output)
            try csv?.finish()
            try result.summary.report(statsPath: streamFlags.stats)
            if streamFlags.stats == nil || explain {
                for line in result.notes { try? FileDescriptor.standardError.writeAll(line + "\n") }
            }
            return result.status
        }
    }
}

