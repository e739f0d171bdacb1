import ArgumentParser
import DedupeStage
import MailpipeCLI
import MailpipeCore
import MailpipeStore

/// `dedupe`: drop repeats in the stream, mark contacts new or existing against the tenant's store.
@main
struct Dedupe: MailpipeCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedupe",
        abstract: "Drop repeated contacts and mark each one new or existing against the tenant's store.",
        discussion: """
        The first occurrence of an address is written at once with "dedupe":"new" or \
        "existing"; later ones go to the rejects (reason duplicate, with first_line), or with \
        --keep-repeats pass on marked existing so account commit merges their extra fields. The \
        store is only read. Identity is the normalised email; --canonical gmail folds Gmail dots \
        and +tags, --canonical plus strips +tags everywhere (the address written stays the \
        original).

        Examples:
          ingest --tenant ulixai samples/import/contacts.csv | dedupe | account commit
          ingest --tenant sos-expat samples/import/contacts.csv \\
            | dedupe --drop-existing > only-new.ndjson
          dedupe --tenant ulixai --canonical gmail --shard 0/4 samples/contacts.ndjson
        """,
        version: mailpipeVersionText
    )

    @OptionGroup var tenantFlags: TenantFlags
    @OptionGroup var streamFlags: StreamFlags

    @Option(help: ArgumentHelp("Identity folding: exact, gmail or plus.", valueName: "form"),
            completion: .list(["exact", "gmail", "plus"]))
    var canonical: String = "exact"

    @Flag(name: .customLong("keep-repeats"), help: "Pass repeats on marked existing instead of rejecting them.")
    var keepRepeats = false

    @Flag(name: .customLong("drop-existing"), help: "Pass only contacts that are new to the store.")
    var dropExisting = false

    @Option(help: ArgumentHelp("Only contacts whose email hashes into shard i of n (the others are counted, not written).", valueName: "i/n"))
    var shard: String?

    @OptionGroup var threadsFlag: ThreadsFlag

    @Argument(help: "Input files (default: standard input; .gz read transparently).", completion: .file())
    var inputs: [String] = []

    func run() throws {
        StageMain.run("dedupe") {
            guard let form = CanonicalForm(rawValue: canonical) else {
                throw StageError.usage("--canonical is exact, gmail or plus, got '\(canonical)'")
            }
            let options = DedupeStage.Options(
                tenant: try tenantFlags.slug(), state: StateRoot(explicit: tenantFlags.state),
                canonical: form, keepRepeats: keepRepeats, dropExisting: dropExisting,
                shard: try shard.map(Shard.init(parsing:)), threads: try threadsFlag.parsed(),
                stream: streamFlags.options(stage: "dedupe", inputs: inputs))
            var output = OutputSink()
            let (summary, status) = try DedupeStage.run(options, output: &output)
            try summary.report(statsPath: streamFlags.stats)
            return status
        }
    }
}
