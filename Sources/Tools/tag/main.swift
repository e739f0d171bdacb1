import ArgumentParser
import MailpipeCLI
import MailpipeCore
import MailpipeStore
import TagStage

/// `tag`: rule-based tagging, built-in lang-/country- tags, the tenant's taxonomy.
@main
struct TagCommand: MailpipeCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag",
        abstract: "Add and remove contact tags by rules, built-ins and the tenant's taxonomy.",
        discussion: """
        Rules come from --rules FILE (YAML or JSON), else from the tenant's folder \
        (state/<tenant>/tag-rules.yaml, .yml or .json). Built-in rules add lang-<language> and \
        country-<cc>. A tag brings its parents from tenant.json's taxonomy (avocat → \
        prestataire). Every tag is slugged (Expatrié → expatrie). A rules file with an error is \
        refused, with its line, before any record is read (exit 2).

        Example:
          validate samples/contacts.ndjson | tag --tenant sos-expat \\
            --rules samples/sos-expat/tag-rules.yaml --add import-nov
        """,
        version: mailpipeVersionText)

    @OptionGroup var tenantFlags: TenantFlags
    @OptionGroup var streamFlags: StreamFlags
    @OptionGroup var shardFlag: ShardFlag
    @OptionGroup var threadsFlag: ThreadsFlag
    @Option(help: ArgumentHelp("Rules file (YAML or JSON).", valueName: "file"))
    var rules: String?
    @Option(help: ArgumentHelp("Tags to add to every record (comma-separated, repeatable).", valueName: "tags"))
    var add: [String] = []
    @Option(help: ArgumentHelp("Tags to remove from every record (comma-separated, repeatable).", valueName: "tags"))
    var remove: [String] = []
    @Flag(name: .customLong("no-lang-tags"), help: "Switch off the built-in lang-<language> tags.")
    var noLanguageTags = false
    @Flag(name: .customLong("no-country-tags"), help: "Switch off the built-in country-<cc> tags.")
    var noCountryTags = false
    @Argument(help: "Input files (default: standard input; .gz read transparently).", completion: .file())
    var inputs: [String] = []

    func run() throws {
        StageMain.run("tag") {
            let options = Tagging.Options(
                stream: streamFlags.options(stage: "tag", inputs: inputs, shard: try shardFlag.parsed()),
                tenant: try tenantFlags.slug(), state: StateRoot(explicit: tenantFlags.state),
                rulesPath: rules, add: add, remove: remove,
                builtinLanguage: noLanguageTags ? false : nil, builtinCountry: noCountryTags ? false : nil,
                threads: try threadsFlag.parsed())
            var output = OutputSink()
            let (summary, status) = try Tagging.run(options, output: &output)
            try summary.report(statsPath: streamFlags.stats)
            return status
        }
    }
}
