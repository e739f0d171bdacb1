import ArgumentParser
import MailpipeCLI
import MailpipeCore
import MailpipeStore
import ValidateStage

/// `validate`: a verdict (valid, risky, invalid), a score, reasons and a suggestion per contact.
@main
struct ValidateCommand: MailpipeCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Give every contact a validation verdict: valid, risky or invalid.",
        discussion: """
        Checks syntax for bulk mail (dot-atom local part, IDN domains through IDNA), special-use \
        domains, disposable providers (and their subdomains), role accounts and provider typos, \
        and with --mx asks DNS whether the domain takes mail. Sets `validation` {verdict, score, \
        reasons, suggestion} and `status` (validated, risky, invalid). Invalid contacts are kept \
        unless --verdict says otherwise. With --tenant, records of another tenant are rejected.

        Example:
          ingest --tenant sos-expat samples/import/contacts.csv | dedupe \\
            | validate --fix-typos --mx --verdict valid,risky | tag | account commit
        """,
        version: mailpipeVersionText)

    @OptionGroup var tenantFlags: TenantFlags
    @OptionGroup var streamFlags: StreamFlags
    @OptionGroup var shardFlag: ShardFlag
    @OptionGroup var threadsFlag: ThreadsFlag

    @Option(help: ArgumentHelp("Write only these verdicts (comma-separated: valid,risky,invalid).", valueName: "verdicts"),
            completion: .list(["valid", "risky", "invalid", "valid,risky"]))
    var verdict: String?
    @Option(help: .hidden) var only: String?   // the old name of --verdict, kept for a release
    @Flag(name: .customLong("fix-typos"), help: "Apply domain typo suggestions; the old address is kept in email_original.")
    var fixTypos = false
    @Option(name: .customLong("disposable-list"), help: ArgumentHelp("More disposable domains, one a line (repeatable).", valueName: "file"))
    var disposableLists: [String] = []
    @Option(name: .customLong("allow"), help: ArgumentHelp("Domains never treated as disposable, one a line (repeatable).", valueName: "file"))
    var allowLists: [String] = []
    @Flag(name: .customLong("strict-disposable"), help: "Disposable addresses are invalid rather than risky.")
    var strictDisposable = false
    @Flag(help: "Look up each domain's MX (then A/AAAA) in DNS.")
    var mx = false
    @Option(help: ArgumentHelp("DNS server for --mx (default: $MAILPIPE_DNS, else /etc/resolv.conf).", valueName: "address[:port]"))
    var dns: String?
    @Option(name: .customLong("dns-timeout"), help: ArgumentHelp("First try's timeout in milliseconds.", valueName: "ms"))
    var dnsTimeout: Int = 2000
    @Option(name: .customLong("dns-tries"), help: ArgumentHelp("Tries per query.", valueName: "n"))
    var dnsTries: Int = 2
    @Option(name: .customLong("dns-concurrency"), help: ArgumentHelp("Domains looked up at once.", valueName: "n"))
    var dnsConcurrency: Int = 64
    @Argument(help: "Input files (default: standard input; .gz read transparently).", completion: .file())
    var inputs: [String] = []

    func validate() throws {
        guard dnsTimeout > 0, dnsTries > 0, dnsConcurrency > 0 else {
            throw ValidationError("--dns-timeout, --dns-tries and --dns-concurrency must be positive")
        }
        if dns != nil && !mx { throw ValidationError("--dns only makes sense with --mx") }
        if verdict != nil && only != nil { throw ValidationError("--only is the old name of --verdict: give one") }
    }

    func run() throws {
        StageMain.run("validate") {
            var stream = streamFlags.options(stage: "validate", inputs: inputs, shard: try shardFlag.parsed())
            stream.tenant = try tenantFlags.slug()?.value
            let options = Validate.Options(
                stream: stream, only: try (verdict ?? only).map(Validate.parseVerdicts), fixTypos: fixTypos, strictDisposable: strictDisposable,
                disposableLists: disposableLists, allowLists: allowLists, mx: mx, dnsServer: dns ?? FileSystem.environment("MAILPIPE_DNS").flatMap { $0.isEmpty ? nil : $0 },
                dnsTimeoutMs: dnsTimeout, dnsTries: dnsTries, dnsConcurrency: dnsConcurrency,
                threads: try threadsFlag.parsed())
            var output = OutputSink()
            let (summary, status) = try Validate.run(options, output: &output)
            try summary.report(statsPath: streamFlags.stats)
            return status
        }
    }
}
