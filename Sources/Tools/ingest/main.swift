import ArgumentParser
import IngestStage
import MailpipeCLI
import MailpipeCore
import MailpipeStore

/// `ingest`: CSV / TSV / NDJSON / JSON exports → canonical contact records.
@main
struct Ingest: MailpipeCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Turn CSV, TSV, NDJSON and JSON exports into canonical contact records.",
        discussion: """
        Columns are recognised by their header in the reference languages (email, E-mail \
        Address, courriel, correo, Vorname, prénom, имя, 邮箱, …); --map overrides; unknown \
        columns are kept under "custom". Emails, languages, countries, websites, phones and tags \
        are normalised, and tenant, source and created_at attached. Bad rows go to the rejects \
        with their line number; the run goes on. Formats and delimiters are sniffed unless given.

        Exports are read as their tools write them, with no hints: Mailchimp, MailWizz, Brevo, \
        HubSpot, Google Contacts (UTF-16 too), Outlook, LinkedIn (its Notes: preamble), \
        listmonk, Excel (.xlsx, or CSV in Windows-1252 with a sep= line), nested JSON. Other \
        tools' statuses (unsubscribed, cleaned, blocklisted…) become mailpipe's; national phone \
        numbers become E.164 with the row's country, else --default-country or the tenant's \
        default_country. What was detected is printed under the summary.

        Examples:
          ingest --tenant sos-expat --source csv-2026-11 samples/import/contacts.csv \\
            | dedupe | account commit
          ingest --tenant ulixai --map 'Notes=custom.notes' samples/import/contacts.csv
          cat samples/import/more-contacts.ndjson \\
            | ingest --tenant ulixai --source scraper-pro --format ndjson
          ingest samples/import/envelope.json   # tenant and source from the envelope
          ingest --tenant sos-expat Tests/IngestCorpus/layouts/linkedin-Connections.csv
        """,
        version: mailpipeVersionText
    )

    /// libphonenumber starts on the other core while the command line is read and the input
    /// opened: it is ready, or nearly, when the first phone number needs it.
    static let startUpWork: (() -> Void)? = PhoneNumbers.prepare

    @OptionGroup var tenantFlags: TenantFlags
    @OptionGroup var streamFlags: StreamFlags

    @Option(help: ArgumentHelp("Source to attach (default: the envelope's data_source_id, else the file name).", valueName: "name"))
    var source: String?

    @Option(help: ArgumentHelp("Input format: auto, csv, tsv, ndjson, json or xlsx.", valueName: "format"),
            completion: .list(["auto", "csv", "tsv", "ndjson", "json", "xlsx"]))
    var format: String = "auto"

    @Option(help: ArgumentHelp("CSV delimiter: ',', ';', 'tab' (default: sniffed from the header).", valueName: "char"),
            completion: .list([",", ";", "tab", "|"]))
    var delimiter: String?

    @Option(help: ArgumentHelp("Input encoding: auto finds UTF-16 and UTF-8 by their byte-order mark, UTF-8 by its validity, else reads Windows-1252 with a notice; or one of utf-8, utf-16le, utf-16be, latin1, cp1252.", valueName: "name"),
            completion: .list(["auto", "utf-8", "utf-16le", "utf-16be", "latin1", "cp1252"]))
    var encoding: String = "auto"

    @Option(help: ArgumentHelp("The worksheet of an .xlsx to read (default: the first).", valueName: "name"))
    var sheet: String?

    @Option(name: .customLong("default-country"), help: ArgumentHelp("Country of national phone numbers in rows without a country (default: the tenant's default_country).", valueName: "code"))
    var defaultCountry: String?

    @Option(name: .customLong("map"), help: ArgumentHelp("Map columns (or JSON keys and paths) to fields: 'first_name=Prénom,email=contact.emails[0]' or 'Col Name=field', 'Col=custom.key', 'Col=ignore'; @FILE reads one mapping a line. Repeatable.", valueName: "mapping"))
    var maps: [String] = []

    @Option(name: .customLong("fallback-language"), help: ArgumentHelp("Language for unknown or missing ones (default: the tenant's fallback_language, else en).", valueName: "code"))
    var fallbackLanguage: String?

    @Option(name: .customLong("max-field"), help: ArgumentHelp("Reject rows with a field longer than this many bytes.", valueName: "bytes"))
    var maxField: Int = 64 << 10

    @OptionGroup var threadsFlag: ThreadsFlag

    @Argument(help: "Input files (default: standard input; .gz read transparently).", completion: .file())
    var inputs: [String] = []

    func run() throws {
        StageMain.run("ingest") {
            guard let format = IngestFormat(rawValue: format) else {
                throw StageError.usage("--format is auto, csv, tsv, ndjson, json or xlsx, got '\(format)'")
            }
            var textEncoding: TextEncoding?
            if encoding.lowercased() != "auto" {
                guard let given = TextEncoding(name: encoding) else {
                    throw StageError.usage("--encoding is auto, utf-8, utf-16le, utf-16be, latin1 or cp1252, got '\(encoding)'")
                }
                textEncoding = given
            }
            var delimiterByte: UInt8?
            if let delimiter {
                switch delimiter {
                case ",": delimiterByte = 0x2C
                case ";": delimiterByte = 0x3B
                case "tab", "\\t", "\t": delimiterByte = 0x09
                case "|": delimiterByte = 0x7C
                default: throw StageError.usage("--delimiter is ',', ';', '|' or 'tab', got '\(delimiter)'")
                }
            }
            guard maxField > 0 else { throw StageError.usage("--max-field must be positive") }
            let options = IngestStage.Options(
                tenant: try tenantFlags.slug(), state: StateRoot(explicit: tenantFlags.state),
                source: source, now: try tenantFlags.clock(), format: format, delimiter: delimiterByte,
                encoding: textEncoding, sheet: sheet, defaultCountry: defaultCountry?.uppercased(),
                mappings: try maps.flatMap(IngestStage.parseMappings),
                fallbackLanguage: fallbackLanguage, maxField: maxField, threads: try threadsFlag.parsed(),
                stream: streamFlags.options(stage: "ingest", inputs: inputs))
            var output = OutputSink()
            let (summary, status) = try IngestStage.run(options, output: &output)
            try summary.report(statsPath: streamFlags.stats)
            return status
        }
    }
}
