import ArgumentParser
import InjectStage
import MailpipeCLI
import MailpipeCore
import MailpipeStore
import RenderStage

/// `inject`: deliver records — to MailWizz, to the MTA over SMTP, or to an HTTP endpoint.
@main
struct Inject: MailpipeCommand {
    static let configuration = CommandConfiguration(
        commandName: "inject",
        abstract: "Deliver records and write one outcome record per input record.",
        discussion: """
        Outcomes: {"tenant","email","campaign","channel","outcome":"sent|deferred|failed|skipped", \
        "attempts","code","remote_id","vmta","error","at"}, in input order. An idempotency \
        journal per tenant, channel and campaign (state/<tenant>/journal/) makes a re-run skip \
        what was sent.

        When: --window 09:00-18:00 (or 'mon-fri 09:00-18:00') sends only inside those hours of \
        the tenant's time zone, or of each contact's with --window-local (its timezone, else \
        its country's); --not-before TIME holds everything until then. What may not leave yet \
        is 'deferred' with "not_before", the next opening; a later run sends it. 'inject pause \
        --campaign C' stops a campaign between batches (the rest is 'deferred'); after 'inject \
        resume', the same command again picks up where it stopped.

        Examples:
          segment --tenant sos-expat --all avocat \\
            | render --campaign welcome-nov --templates samples/templates \\
            | inject smtp --concurrency 8 | account record
          account export --tenant sos-expat | inject mailwizz --tenant sos-expat
          inject mailwizz-campaign --tenant sos-expat --campaign welcome-nov \\
            --templates samples/templates --send-at '2026-12-01 09:00'
          inject pause --tenant sos-expat --campaign welcome-nov --reason 'complaints'
          inject resume --tenant sos-expat --campaign welcome-nov
        """,
        version: mailpipeVersionText,
        subcommands: [Smtp.self, Mailwizz.self, MailwizzCampaignCommand.self, Http.self, Pause.self, Resume.self]
    )
}

/// Flags every mode takes.
struct DeliveryFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Campaign for records that carry none (journal key).", valueName: "id"))
    var campaign: String?
    @Option(help: ArgumentHelp("Transfers in flight at once (connections).", valueName: "n"))
    var concurrency = 4
    @Option(help: ArgumentHelp("Start at most N transfers per second (e.g. 50 or 50/s).", valueName: "n/s"))
    var rate: String?
    @Option(name: .customLong("max-attempts"), help: ArgumentHelp("Attempts per request before a transient failure becomes 'deferred'.", valueName: "n"))
    var maxAttempts = 5
    @Option(help: ArgumentHelp("First retry delay in seconds (doubles each attempt, with jitter, up to 30 s).", valueName: "seconds"))
    var backoff = 0.5
    @Option(help: ArgumentHelp("Per-transfer timeout in seconds.", valueName: "seconds"))
    var timeout = 60.0
    @Flag(name: .customLong("retry-failed"), help: "Try again records the journal says failed for good (SMTP 5xx, HTTP 4xx).")
    var retryFailed = false
    @Option(help: ArgumentHelp("Send a dead-letter file's records again (journal/<channel>/<campaign>.dead.ndjson), after a fix.", valueName: "file"))
    var replay: String?
    @Option(help: ArgumentHelp("Send only inside these local hours (and days): 09:00-18:00, 'mon-fri 09:00-18:00'.", valueName: "window"))
    var window: String?
    @Flag(name: .customLong("window-local"), help: "Judge --window in each contact's time zone (its timezone, else its country's), not the tenant's.")
    var windowLocal = false
    @Option(name: .customLong("not-before"), help: ArgumentHelp("Send nothing before this time (RFC 3339 or a date).", valueName: "time"))
    var notBefore: String?

    func validate() throws {
        guard concurrency >= 1 && concurrency <= 1000 else { throw ValidationError("--concurrency must be 1…1000") }
        guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be at least 1") }
        guard backoff >= 0, timeout > 0 else { throw ValidationError("--backoff and --timeout must be positive") }
        _ = try rateValue()
        if windowLocal && window == nil { throw ValidationError("--window-local goes with --window") }
    }

    func schedule() throws -> SendSchedule {
        var s = SendSchedule()
        s.window = try window.map(SendWindow.init(parsing:))
        s.windowLocal = windowLocal
        if let notBefore {
            guard let t = Timestamp(parsing: notBefore) else {
                throw StageError.usage("--not-before takes an RFC 3339 time or a date (2026-12-01T08:00:00Z, 2026-12-01), got '\(notBefore)'")
            }
            s.notBefore = t
        }
        return s
    }

    func rateValue() throws -> Double? {
        guard var text = rate else { return nil }
        if text.hasSuffix("/s") { text.removeLast(2) }
        guard let v = Double(text), v > 0 else { throw ValidationError("--rate takes a positive number per second, e.g. 50/s") }
        return v
    }

    func options(stage: String, tenantFlags: TenantFlags, streamFlags: StreamFlags, inputs: [String]) throws -> InjectStage.Options {
        if replay != nil && !inputs.isEmpty { throw StageError.usage("--replay FILE reads FILE: give no other input") }
        var options = InjectStage.Options(
            stream: streamFlags.options(stage: stage, inputs: inputs), state: StateRoot(explicit: tenantFlags.state),
            tenant: try tenantFlags.slug(), now: tenantFlags.now == nil ? nil : try tenantFlags.clock(),
            campaign: campaign, concurrency: concurrency, rate: try rateValue(), maxAttempts: maxAttempts,
            backoffBase: backoff)
        options.retryFailed = retryFailed
        options.replay = replay
        options.schedule = try schedule()
        return options
    }
}

/// Reads a secret from the environment variable `name`; the value is never printed.
func secret(_ name: String?, what: String) throws -> String? {
    guard let name else { return nil }
    guard let value = FileSystem.environment(name), !value.isEmpty else {
        throw StageError.configuration("\(what): the environment variable \(name) is not set")
    }
    return value
}

func runStage(_ stage: String, _ options: () throws -> InjectStage.Options, _ channel: () throws -> InjectChannel,
              stats: String?) -> Never {
    StageMain.run(stage) {
        var output = OutputSink()
        let (summary, status) = try InjectStage.run(try options(), channel: try channel(), output: &output)
        try summary.report(statsPath: stats)
        return status
    }
}

extension Inject {
    struct Smtp: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Message records → MIME messages → the MTA over SMTP.",
            discussion: """
            Each message gets a Message-ID fixed by (tenant, campaign, email), X-Job: <campaign>, \
            and, when tenant.json lists vmtas, an X-Virtual-MTA chosen by weight among those \
            with warm-up quota left today (ledger.json); when none has any left the message is \
            'deferred'. SMTP 4xx and connection errors are retried; 5xx is 'failed'.

            Routes (--rules FILE, {"routes": [...]}, or tenant.json routes): each route is \
            {"name", "url", "domains" (optional), "username_env", "password_env"}. A message \
            goes to the routes whose domains hold its recipient's domain, then to those without \
            domains, in the order listed; a route that cannot be reached (connection refused, \
            a 4xx greeting, TLS or AUTH failing) is down for 30 s and the next route takes the \
            message at once. The outcome's "route" names the route that took it.

            Example:
              segment --tenant sos-expat --all avocat \\
                | render --campaign welcome-nov --templates samples/templates \\
                | inject smtp --concurrency 8 > outcomes.ndjson
            """)
        @OptionGroup var tenantFlags: TenantFlags
        @OptionGroup var streamFlags: StreamFlags
        @OptionGroup var delivery: DeliveryFlags
        @Option(help: ArgumentHelp("smtp://host:port or smtps://host (default: tenant.json smtp.url).", valueName: "url"))
        var url: String?
        @Option(help: ArgumentHelp("Routes with failover, {\"routes\": [...]} (default: tenant.json routes; see above).", valueName: "file"),
                completion: .file(extensions: ["json"]))
        var rules: String?
        @Option(help: ArgumentHelp("From address for records without one (default: tenant.json smtp.from).", valueName: "address"))
        var from: String?
        @Flag(help: "Require STARTTLS (the server's certificate is verified).")
        var starttls = false
        @Option(help: ArgumentHelp("PEM file of the CA to trust for the server's certificate (default: the system store).", valueName: "file"),
                completion: .file())
        var cacert: String?
        @Flag(help: "Do not verify the server's TLS certificate (tests only).")
        var insecure = false
        @Option(name: .customLong("username-env"), help: ArgumentHelp("Environment variable holding the SMTP user name.", valueName: "name"))
        var usernameEnv: String?
        @Option(name: .customLong("password-env"), help: ArgumentHelp("Environment variable holding the SMTP password.", valueName: "name"))
        var passwordEnv: String?
        @Argument(help: "Input files (default: standard input).", completion: .file())
        var inputs: [String] = []

        func run() throws {
            runStage("inject smtp", {
                try delivery.options(stage: "inject smtp", tenantFlags: tenantFlags, streamFlags: streamFlags, inputs: inputs)
            }, {
                var s = SmtpChannel.Settings(url: url, from: from)
                s.starttls = starttls; s.caFile = cacert; s.insecure = insecure; s.timeout = delivery.timeout
                s.username = try secret(usernameEnv, what: "--username-env")
                s.password = try secret(passwordEnv, what: "--password-env")
                s.now = tenantFlags.now == nil ? nil : try tenantFlags.clock()
                if rules != nil && url != nil { throw StageError.usage("--rules and --url both say where messages go: give one") }
                s.routes = try rules.map { try RouteConfig.load(path: $0) }
                return try SmtpChannel(settings: s)
            }, stats: streamFlags.stats)
        }
    }

    struct Mailwizz: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Contact records → subscribers of the tenant's MailWizz list (API v2).",
            discussion: """
            tenant.json: "mailwizz": {"url": "https://host/api", "list_uid": "…", \
            "api_key_env": "MW_KEY"} (the key itself only in that environment variable). \
            Contacts go in bulk calls; suppressed contacts (unsubscribed, bounced, complained, \
            blacklisted) are unsubscribed. The subscriber uid is the outcome's remote_id. \
            Journal campaign: --campaign, else list-<uid>.

            Example:
              account export --tenant sos-expat \\
                | inject mailwizz --tenant sos-expat --batch 200 | account record
            """)
        @OptionGroup var tenantFlags: TenantFlags
        @OptionGroup var streamFlags: StreamFlags
        @OptionGroup var delivery: DeliveryFlags
        @Option(help: ArgumentHelp("API base URL (default: tenant.json mailwizz.url).", valueName: "url"))
        var url: String?
        @Option(help: ArgumentHelp("List uid (default: tenant.json mailwizz.list_uid).", valueName: "uid"))
        var list: String?
        @Option(help: ArgumentHelp("Subscribers per bulk call (1 = one record per call, no bulk).", valueName: "n"))
        var batch = 100
        @Option(name: .customLong("max-input-vars"), help: ArgumentHelp("The server's PHP max_input_vars: no bulk body holds more form variables.", valueName: "n"))
        var maxInputVars = 1000
        @Argument(help: "Input files (default: standard input).", completion: .file())
        var inputs: [String] = []

        func validate() throws {
            guard batch >= 1 && batch <= 10_000 else { throw ValidationError("--batch must be 1…10000") }
            guard maxInputVars >= 10 else { throw ValidationError("--max-input-vars must be at least 10") }
        }

        func run() throws {
            runStage("inject mailwizz", {
                try delivery.options(stage: "inject mailwizz", tenantFlags: tenantFlags, streamFlags: streamFlags, inputs: inputs)
            }, {
                var s = MailwizzChannel.Settings()
                s.url = url; s.listUID = list; s.batch = batch; s.maxInputVars = maxInputVars; s.timeout = delivery.timeout
                return MailwizzChannel(settings: s)
            }, stats: streamFlags.stats)
        }
    }

    struct MailwizzCampaignCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mailwizz-campaign",
            abstract: "Create and schedule a campaign in MailWizz from a campaign's templates.",
            usage: "inject mailwizz-campaign --campaign <c> --templates <dir> --send-at <t>",
            discussion: """
            MailWizz then sends it to the list mailpipe synced (inject mailwizz). One campaign \
            per language when tenant.json mailwizz.language_lists splits the audience, else one \
            on mailwizz.list_uid in --language. Template variables become merge tags \
            ({firstName} → [FNAME] by mailwizz.fields, {email} → [EMAIL], {unsubscribe_url} → \
            [UNSUBSCRIBE_URL]). --send-at is the tenant's local time. A name that exists in \
            MailWizz is skipped, so a re-run creates nothing twice; a paused campaign (inject \
            pause) is deferred. One outcome record per campaign, its uid in remote_id.

            Example:
              inject mailwizz-campaign --tenant sos-expat --campaign welcome-nov \\
                --templates samples/templates --send-at '2026-12-01 09:00'
            """)
        @OptionGroup var tenantFlags: TenantFlags
        @Option(help: ArgumentHelp("The campaign (its templates' folder name).", valueName: "name"))
        var campaign: String
        @Option(help: ArgumentHelp("Templates folder (holding <campaign>/, or the campaign's own).", valueName: "dir"),
                completion: .directory)
        var templates: String
        @Option(name: .customLong("send-at"), help: ArgumentHelp("When MailWizz sends it: 'YYYY-MM-DD HH:MM' in the tenant's time zone, or RFC 3339.", valueName: "time"))
        var sendAt: String
        @Flag(help: "Create it as a draft (not scheduled).")
        var draft = false
        @Option(help: ArgumentHelp("Language of the campaign when the list is not split (default: the tenant's fallback).", valueName: "code"))
        var language: String?
        @Option(help: ArgumentHelp("API base URL (default: tenant.json mailwizz.url).", valueName: "url"))
        var url: String?
        @Option(help: ArgumentHelp("Write the summary as JSON to FILE.", valueName: "file"))
        var stats: String?

        func run() throws {
            StageMain.run("inject mailwizz-campaign") {
                let slug = try tenantFlags.choose().slug
                var output = OutputSink()
                let summary = try MailwizzCampaign.run(.init(
                    tenant: slug, state: tenantFlags.stateRoot, campaign: campaign,
                    templatesDirectory: RenderStage.campaignDirectory(root: templates, campaign: campaign), sendAt: sendAt,
                    status: draft ? "draft" : "pending-sending", language: language, url: url), output: &output)
                try summary.report(statsPath: stats)
                return summary["failed"] > 0 ? .failure : .success
            }
        }
    }

    struct Http: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Records → one JSON POST each to a URL, the body from a template.",
            discussion: """
            The template is JSON in which {{path}} becomes the record's JSON value at that dotted \
            path (null when absent) and {{.}} the whole record, e.g. \
            {"to": {{email}}, "subject": {{subject}}, "name": {{contact.first_name}}}. \
            2xx is 'sent'; 408, 429, 5xx and connection errors are retried; other statuses \
            'failed'.

            Example:
              segment --tenant sos-expat --all avocat \\
                | render --campaign welcome-nov --templates samples/templates \\
                | ESP_TOKEN=secret inject http --url "$ESP_URL" \\
                    --template samples/inject/http-body.json \\
                    --header-env "Authorization=ESP_TOKEN" --id-field data.id
            """)
        @OptionGroup var tenantFlags: TenantFlags
        @OptionGroup var streamFlags: StreamFlags
        @OptionGroup var delivery: DeliveryFlags
        @Option(help: ArgumentHelp("The endpoint.", valueName: "url"))
        var url: String
        @Option(help: ArgumentHelp("Body template file.", valueName: "file"), completion: .file(extensions: ["json"]))
        var template: String
        @Option(help: ArgumentHelp("An extra header 'Name: value' (not for secrets; repeatable).", valueName: "header"))
        var header: [String] = []
        @Option(name: .customLong("header-env"), help: ArgumentHelp("A secret header 'Name=ENV_VAR': its value from the environment (repeatable).", valueName: "name=var"))
        var headerEnv: [String] = []
        @Option(name: .customLong("id-field"), help: ArgumentHelp("Dotted path of the remote id in a JSON reply.", valueName: "path"))
        var idField: String?
        @Argument(help: "Input files (default: standard input).", completion: .file())
        var inputs: [String] = []

        func run() throws {
            runStage("inject http", {
                try delivery.options(stage: "inject http", tenantFlags: tenantFlags, streamFlags: streamFlags, inputs: inputs)
            }, {
                let text: String
                do { text = String(decoding: try FileSystem.readFile(template), as: UTF8.self) } catch {
                    throw StageError.configuration("cannot read the template \(template): \(error)")
                }
                var s = HttpChannel.Settings(url: url, template: try BodyTemplate(text))
                s.headers = header
                for spec in headerEnv {
                    guard let eq = spec.firstIndex(of: "="), eq != spec.startIndex else {
                        throw StageError.usage("--header-env takes Name=ENV_VAR, got '\(spec)'")
                    }
                    let name = String(spec[..<eq]), env = String(spec[spec.index(after: eq)...])
                    s.headers.append("\(name): \(try secret(env, what: "--header-env \(name)")!)")
                }
                s.idField = idField; s.timeout = delivery.timeout
                return try HttpChannel(settings: s)
            }, stats: streamFlags.stats)
        }
    }
}

extension Inject {
    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause a campaign (or, without --campaign, every campaign of the tenant).",
            usage: "inject pause [--tenant <slug>] [--campaign <id>] [--reason <text>]",
            discussion: """
            Writes state/<tenant>/pause/<campaign> (pause/ALL without --campaign). A running \
            inject of that campaign starts nothing more once it sees the file (it looks between \
            batches, every 200 ms at most); what it did not send is 'deferred'. After 'inject \
            resume', running the same pipeline again sends the rest: the journal skips what \
            was sent.

            Example:
              inject pause --tenant sos-expat --campaign welcome-nov --reason 'complaints'
            """)
        @OptionGroup var tenantFlags: TenantFlags
        @Option(help: ArgumentHelp("The campaign (default: every campaign of the tenant).", valueName: "id"))
        var campaign: String?
        @Option(help: ArgumentHelp("Why (kept in the file).", valueName: "text"))
        var reason: String?

        func run() throws {
            StageMain.run("inject pause") {
                let dir = StateRoot(explicit: tenantFlags.state).tenant(try tenantFlags.choose().slug)
                let changed = try PauseSwitch.set(true, dir, campaign: campaign, at: try tenantFlags.clock(), reason: reason)
                let what = campaign.map { "campaign \($0)" } ?? "every campaign of \(dir.slug)"
                try FileDescriptor.standardError.writeAll("inject pause: \(what) \(changed ? "paused" : "was already paused") (\(PauseSwitch.path(dir, campaign: campaign)))\n")
                return .success
            }
        }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lift a campaign's pause (or, without --campaign, the tenant-wide one).",
            usage: "inject resume [--tenant <slug>] [--campaign <id>] [<options>]",
            discussion: """
            Removes state/<tenant>/pause/<campaign> (pause/ALL without --campaign). Nothing is \
            sent by this command: run the campaign's pipeline again.

            Example:
              inject resume --tenant sos-expat --campaign welcome-nov
            """)
        @OptionGroup var tenantFlags: TenantFlags
        @Option(help: ArgumentHelp("The campaign (default: the tenant-wide pause).", valueName: "id"))
        var campaign: String?

        func run() throws {
            StageMain.run("inject resume") {
                let dir = StateRoot(explicit: tenantFlags.state).tenant(try tenantFlags.choose().slug)
                let changed = try PauseSwitch.set(false, dir, campaign: campaign, at: try tenantFlags.clock(), reason: nil)
                let what = campaign.map { "campaign \($0)" } ?? "the tenant-wide pause of \(dir.slug)"
                try FileDescriptor.standardError.writeAll("inject resume: \(what) \(changed ? "lifted" : "was not set")\n")
                return .success
            }
        }
    }
}
