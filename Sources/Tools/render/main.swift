import ArgumentParser
import MailpipeCLI
import MailpipeCore
import MailpipeStore
import RenderStage

/// `render`: contact records in, message records out.
@main
struct Render: MailpipeCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Turn contact records into message records: template by language and category, variables, unsubscribe headers.",
        discussion: """
        Templates: a folder per campaign, <templates>/<campaign>/, holding per template \
        <language>[.<category>].subject (one line), .html, and optionally .txt (else derived \
        from the HTML), plus an optional campaign.json (from, reply_to, fallback_language, \
        unsubscribe_url). Choice per contact: language + category → language → fallback \
        language + category → fallback language (--fallback-language, campaign.json, \
        tenant.json, else en).

        Variables: {firstName}, {company}, {website}, any contact field in snake_case or \
        camelCase, dotted paths ({custom.plan}), a default after a bar ({firstName|there}), and \
        {unsubscribe_url}, {campaign}, {tenant}. Values are HTML-escaped in the HTML part only. \
        A variable with no value and no default is empty, or rejects the contact under --strict.

        Headers: List-Unsubscribe (mailto and HTTPS, with a per-contact HMAC-SHA256 token keyed \
        by the secret in the environment variable named by --unsubscribe-secret-env, or \
        unsubscribe.secret_env in tenant.json, default MAILPIPE_UNSUB_SECRET), \
        List-Unsubscribe-Post: List-Unsubscribe=One-Click, a stable Message-ID, X-Job = campaign.

        A/B variants (segment --split): a contact whose record says "variant": "b" gets the \
        templates of <campaign>/b/, whose files replace the campaign's file by file (a folder \
        with only en.subject tests a subject line); a variant without a folder gets the \
        campaign's. The message record says its variant.

        Spam check: --spamcheck scores each message, as inject smtp would send it, with \
        SpamAssassin's spamd (--spamd host:port or a socket path, else $SPAMD_ADDRESS, else \
        127.0.0.1:783) and adds "spam": {"score", "required", "rules": [{"rule", "points", \
        "description"}]}; --max-spam-score N rejects (spam_score) a message scoring above N. \
        A sample checks a campaign before it is sent: segment --sample 20 | render \
        --spamcheck --max-spam-score 4.

        Tracking (opt-in): --track, campaign.json "track": true, or tenant.json tracking.enabled \
        (--no-track and "track": false turn it off) rewrites the http(s) links of both parts to \
        <tracking.url>/click with a signed per-recipient token (the unsubscribe secret; the \
        address sealed, never readable) and adds a 1x1 open pixel (<tracking.url>/open), both \
        answered by account serve. Unsubscribe and opt-out links, List-Unsubscribe and links \
        whose tag has data-notrack are never rewritten.

        Examples:
          segment --tenant sos-expat --all avocat \\
            | render --campaign welcome-nov --templates samples/templates
          render --tenant sos-expat --campaign welcome-nov \\
            --templates samples/templates --eml claire.eml --html claire.html \\
            --preview claire.martin@cabinet-martin-avocats.fr
        """,
        version: mailpipeVersionText)

    @OptionGroup var tenantFlags: TenantFlags
    @OptionGroup var streamFlags: StreamFlags

    @Option(help: ArgumentHelp("The campaign (names its template folder; X-Job).", valueName: "name"))
    var campaign: String
    @Option(help: ArgumentHelp("Templates root holding <campaign>/ (or the campaign folder itself). Default: ./templates.", valueName: "dir"),
            completion: .directory)
    var templates: String = "templates"
    @Option(help: ArgumentHelp("Sender (else campaign.json from, else tenant.json smtp.from).", valueName: "address"))
    var from: String?
    @Option(name: .customLong("reply-to"), help: ArgumentHelp("Reply-To address.", valueName: "address"))
    var replyTo: String?
    @Option(name: .customLong("fallback-language"), help: ArgumentHelp("Language used when the contact's has no template.", valueName: "code"))
    var fallbackLanguage: String?
    @Option(name: .customLong("unsubscribe-url"), help: ArgumentHelp("HTTPS unsubscribe endpoint (default https://<brand_domain>/unsubscribe).", valueName: "url"))
    var unsubscribeURL: String?
    @Option(name: .customLong("unsubscribe-mailto"), help: ArgumentHelp("Unsubscribe mailbox (default unsubscribe@<sending_domain>).", valueName: "address"))
    var unsubscribeMailto: String?
    @Option(name: .customLong("unsubscribe-secret-env"), help: ArgumentHelp("Name of the environment variable holding the token secret.", valueName: "name"))
    var secretEnv: String?
    @Option(help: ArgumentHelp("Render this contact's message for a person to read (from the records, or the tenant's store when standard input carries none).", valueName: "email"))
    var preview: String?
    @Option(help: ArgumentHelp("With --preview: render this A/B variant (else the contact's own).", valueName: "name"))
    var variant: String?
    @Option(help: ArgumentHelp("With --preview: also write the HTML part to FILE, a page a browser opens.", valueName: "file"),
            completion: .file(extensions: ["html"]))
    var html: String?
    @Option(help: ArgumentHelp("With --preview: also write the whole message to FILE (.eml), as a mail client opens it.", valueName: "file"),
            completion: .file(extensions: ["eml"]))
    var eml: String?

    @Flag(help: "Score each message with SpamAssassin (spamd) and add spam.score and the rules that fired.")
    var spamcheck = false
    @Option(help: ArgumentHelp("Where spamd listens: host:port or a unix socket path (default $SPAMD_ADDRESS, else 127.0.0.1:783).", valueName: "address"))
    var spamd: String?
    @Option(name: .customLong("max-spam-score"), help: ArgumentHelp("Reject messages spamd scores above N (implies --spamcheck).", valueName: "n"))
    var maxSpamScore: Double?
    @Option(name: .customLong("spamcheck-connections"), help: ArgumentHelp("Messages scored at once.", valueName: "n"))
    var spamcheckConnections = 2

    @Flag(inversion: .prefixedNo, help: ArgumentHelp("Track opens and clicks: links through tenant.json tracking.url with a signed per-recipient token, and an open pixel (default: campaign.json track, else tenant.json tracking.enabled, else off)."))
    var track: Bool?

    @Argument(help: "Input files (default: standard input; .gz read transparently).", completion: .file())
    var inputs: [String] = []

    func run() throws {
        StageMain.run("render") {
            let tenant = try tenantFlags.slug()
            if preview == nil && (html != nil || eml != nil || variant != nil) {
                throw StageError.usage("--html, --eml and --variant go with --preview EMAIL")
            }
            var options = RenderStage.Options(
                campaign: campaign, templatesDirectory: RenderStage.campaignDirectory(root: templates, campaign: campaign),
                tenant: tenant, state: StateRoot(explicit: tenantFlags.state),
                stream: streamFlags.options(stage: "render", inputs: inputs), from: from, replyTo: replyTo,
                fallbackLanguage: fallbackLanguage, unsubscribeURL: unsubscribeURL, unsubscribeMailto: unsubscribeMailto,
                secretEnv: secretEnv, preview: preview,
                previewFromStore: preview != nil && tenant != nil && inputs.isEmpty && !FileDescriptor.standardInput.carriesData)
            options.previewVariant = variant
            options.track = track
            options.now = try tenantFlags.clock()
            if spamcheck || maxSpamScore != nil || spamd != nil {
                guard preview == nil else { throw StageError.usage("--spamcheck does not go with --preview") }
                guard (1...64).contains(spamcheckConnections) else { throw StageError.usage("--spamcheck-connections takes 1…64") }
                let address = spamd ?? FileSystem.environment("SPAMD_ADDRESS").flatMap { $0.isEmpty ? nil : $0 } ?? SpamCheck.defaultAddress
                guard SpamCheck.isAddress(address) else {
                    throw StageError.usage("--spamd (or $SPAMD_ADDRESS) takes host:port or a unix socket path, got '\(address)'")
                }
                options.spamcheck = SpamCheck.Settings(address: address, maxScore: maxSpamScore, connections: spamcheckConnections,
                                                       date: try tenantFlags.clock())
            }
            options.previewFiles = .init(html: html, eml: eml, date: try tenantFlags.clock())
            var output = OutputSink()
            let (summary, status) = try RenderStage.run(options, output: &output)
            if preview == nil { try summary.report(statsPath: streamFlags.stats) }
            return status
        }
    }
}
