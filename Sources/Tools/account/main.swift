import AccountStage
import ArgumentParser
import MailpipeCLI
import MailpipeCore
import MailpipeHTTP
import MailpipeStore
import ServeStage

/// `account`: the ledger — the only writer of a tenant's contacts, suppression, events and ledger.
@main
struct Account: MailpipeCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Keep a tenant's books: its contact store, suppression, events and ledger.",
        discussion: """
        The tenant: --tenant, else $MAILPIPE_TENANT, else (commit, record, events) the tenant \
        the records name, else the state folder's only tenant; the summary says when it was not \
        given.

        Examples:
          account init --tenant sos-expat --config samples/sos-expat/tenant.json
          ingest --tenant sos-expat samples/import/contacts.csv | dedupe | validate \\
            | account commit
          account export --tenant sos-expat | jq -r .email
          account reshard --tenant sos-expat --shards 4     # 4 sub-stores, 4 writers
        """,
        version: mailpipeVersionText,
        subcommands: [Init.self, Commit.self, Export.self, Compact.self, Reshard.self, Fsck.self,
                      Record.self, Events.self, Suppress.self, Warmup.self, Report.self, Health.self, AlertTelegram.self, PmtaConfig.self, Serve.self]
    )
}

extension Account {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant's state folder and tenant.json.",
            usage: "account init [--tenant <slug>] [--config <file>] [--shards <n>]",
            discussion: """
            With --shards n the contact store is kept as n sub-stores (contacts/shard-<i>-of-<n>/), \
            each with its own lock, so n `account commit --shard i/n` run in parallel. Run again on \
            an initialised tenant, it installs the --config given and leaves the contacts alone.

            With --check FILE, FILE is read as tenant.json and nothing is written: a misspelt or \
            unknown key, or a value of the wrong kind, is named (exit 2).

            Examples:
              account init --tenant acme --shards 4
              account init --check samples/ulixai/tenant.json
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @Option(help: ArgumentHelp("A tenant.json to install (validated).", valueName: "file"),
                completion: .file(extensions: ["json"]))
        var config: String?
        @Option(help: ArgumentHelp("Check FILE as tenant.json; write nothing.", valueName: "file"),
                completion: .file(extensions: ["json"]))
        var check: String?
        @Option(help: ArgumentHelp("Keep the (empty) contact store in n shards.", valueName: "n"))
        var shards: Int?

        func run() throws {
            StageMain.run("account init") {
                if let check {
                    let message = try AccountInit.check(path: check, tenant: try tenantFlags.slug())
                    try FileDescriptor.standardError.writeAll(message + "\n")
                    return .success
                }
                let slug = try tenantFlags.requireTenant()
                let message = try AccountInit.run(.init(tenant: slug, state: StateRoot(explicit: tenantFlags.state),
                                                        configPath: config, shards: shards))
                try FileDescriptor.standardError.writeAll(message + "\n")
                return .success
            }
        }
    }

    struct Commit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge contact records into the tenant's store (all or nothing).",
            discussion: """
            New contacts are inserted, known ones merged (non-empty fields win, tags unioned, \
            created_at kept, updated_at set), identical ones left alone. A suppressed status \
            (bounced, unsubscribed, complained, blacklisted) is never lifted by a commit. Under \
            --strict, a commit with any reject writes nothing and exits 3.

            With --shard i/n only contacts whose email hashes into shard i are taken (others are \
            rejected as wrong_shard); on a store kept in n shards only that shard is locked, so n \
            commits run in parallel.

            Examples:
              ingest --tenant sos-expat samples/import/contacts.csv | account commit
              ingest --tenant sos-expat samples/import/contacts.csv | dedupe --shard 1/4 \\
                | validate | account commit --tenant sos-expat --shard 1/4
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @OptionGroup var streamFlags: StreamFlags
        @Option(help: ArgumentHelp("Only contacts whose email hashes into shard i of n.", valueName: "i/n"))
        var shard: String?
        @OptionGroup var threadsFlag: ThreadsFlag
        @Argument(help: "Input files (default: standard input; .gz read transparently).", completion: .file())
        var inputs: [String] = []

        func run() throws {
            StageMain.run("account commit") {
                guard let tenant = try tenantFlags.choose(records: inputs, maxLine: streamFlags.maxLine) else {
                    try TenantFlags.nothingToDo(stage: "account commit", headline: ["in", "new", "updated", "unchanged", "rejected"])
                        .report(statsPath: streamFlags.stats)
                    return .success
                }
                let slug = tenant.slug
                let options = AccountCommit.Options(
                    tenant: slug, state: StateRoot(explicit: tenantFlags.state), now: try tenantFlags.clock(),
                    stream: streamFlags.options(stage: "account commit", inputs: inputs),
                    shard: try shard.map(Shard.init(parsing:)), threads: try threadsFlag.parsed())
                var (summary, status) = try AccountCommit.run(options)
                tenant.remark(in: &summary)
                try summary.report(statsPath: streamFlags.stats)
                return status
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the tenant's contacts as NDJSON, each once, in email order.",
            usage: "account export [--tenant <slug>] [--shard <i/n>] [--csv] [<options>]",
            discussion: """
            A sharded store reads as the union of its shards. With --shard i/n only that shard's \
            contacts (of a store kept in n shards, only that sub-store is read).

            --csv writes the contacts for a spreadsheet: fixed columns (email, names, company, \
            …, tags joined by ', ', verdict, score, custom as JSON), CRLF line ends; --delimiter \
            ';' and --bom suit Excel in locales where the decimal mark is a comma.

            Examples:
              account export --tenant sos-expat | gzip > backup.ndjson.gz
              account export --tenant sos-expat --csv --delimiter ';' --bom > contacts.csv
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @Option(help: ArgumentHelp("Only contacts whose email hashes into shard i of n.", valueName: "i/n"))
        var shard: String?
        @Option(help: ArgumentHelp("Write the summary as JSON to FILE.", valueName: "file"), completion: .file())
        var stats: String?
        @OptionGroup var csvFlags: CSVFlags

        func run() throws {
            StageMain.run("account export") {
                let slug = try tenantFlags.choose().slug
                let csv = try csvFlags.start()
                var output = OutputSink()
                let summary = try AccountExport.run(
                    .init(tenant: slug, state: StateRoot(explicit: tenantFlags.state), shard: try shard.map(Shard.init(parsing:))),
                    output: &output)
                try csv?.finish()
                try summary.report(statsPath: stats)
                return .success
            }
        }
    }

    struct Compact: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fold every run of the contact store into one.",
            discussion: """
            Example:
              account compact --tenant sos-expat
            """)

        @OptionGroup var tenantFlags: TenantFlags

        func run() throws {
            StageMain.run("account compact") {
                let slug = try tenantFlags.choose().slug
                try AccountCompact.run(tenant: slug, state: StateRoot(explicit: tenantFlags.state)).report(statsPath: nil)
                return .success
            }
        }
    }

    struct Reshard: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite the contact store into another number of shards.",
            usage: "account reshard [--tenant <slug>] --shards <m> [<options>]",
            discussion: """
            The new sub-stores are written beside the old ones and replace them with one atomic \
            switch of contacts/layout.json; a crash leaves the old or the new layout, complete. \
            Contact writers wait while it runs; readers keep reading.

            Example:
              account reshard --tenant sos-expat --shards 8
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @Option(help: ArgumentHelp("The new number of shards.", valueName: "m"))
        var shards: Int

        func run() throws {
            StageMain.run("account reshard") {
                let slug = try tenantFlags.choose().slug
                try AccountReshard.run(tenant: slug, state: StateRoot(explicit: tenantFlags.state), shards: shards).report(statsPath: nil)
                return .success
            }
        }
    }
}

extension Account {
    struct Fsck: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every state file of a tenant; with --repair, rebuild what can be rebuilt.",
            usage: "account fsck [--tenant <slug>] [--repair] [<options>]",
            discussion: """
            Reads the contact store whole: the manifest (or layout.json), every run (each gzip \
            member inflated, the email order checked) and every run index (compared with one \
            rebuilt from its run); then the books: the event log (each append against its seal, \
            every line an event), the suppression list (as long as the ledger says, holding every \
            address the events put on it) and the ledger (readable, reflecting the logs). Each problem is a line of NDJSON: file, problem, outcome \
            (repairable, repaired, lost) and action. With --repair, run indexes are rebuilt, a \
            lost manifest or layout.json is rebuilt from the files beside it, leftovers of \
            interrupted writes are removed, and unusable runs are moved to <tenant>/lost+found/ \
            (never deleted); torn log tails are cut off, pending events applied, and a short \
            suppression list or a lost ledger is rebuilt from the event log (an unreadable ledger \
            goes to lost+found/ first). Exit 0 when nothing is left to do, 1 otherwise.

            Examples:
              account fsck --tenant sos-expat             # check only
              account fsck --tenant sos-expat --repair    # after damage
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @Flag(help: "Rebuild what is derived or recoverable.") var repair = false

        func run() throws {
            StageMain.run("account fsck") {
                let slug = try tenantFlags.choose().slug
                let result = try AccountFsck.run(.init(tenant: slug, state: StateRoot(explicit: tenantFlags.state), repair: repair,
                                                          now: try tenantFlags.clock()))
                var output = OutputSink()
                try AccountFsck.write(result.findings, to: &output)
                try result.summary.report(statsPath: nil)
                return result.status
            }
        }
    }
}

// MARK: - Bookkeeping (issue 7): record, events, suppress, warmup, report, pmta-config
// (kept in main.swift: a second file would make SwiftPM compile main.swift as top-level code)


extension Account {
    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record inject's outcomes: contact statuses, counters, per-vmta sends, events.",
            usage: "account record [--tenant <slug>] [<options>] [<inputs> ...]",
            discussion: """
            A sent outcome marks the contact `injected` (with mailwizz_uid for MailWizz) and counts \
            a send for its campaign, day and vmta; deferred and failed are counted and logged. \
            Recording the same outcomes twice counts nothing twice.

            Example:
              account record samples/account/outcomes.ndjson   # tenant from the records
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @OptionGroup var streamFlags: StreamFlags
        @Argument(help: "Outcome files (default: standard input).", completion: .file())
        var inputs: [String] = []

        func run() throws {
            StageMain.run("account record") {
                guard let tenant = try tenantFlags.choose(records: inputs, maxLine: streamFlags.maxLine) else {
                    try TenantFlags.nothingToDo(stage: "account record", headline: ["in", "sent", "rejected"]).report(statsPath: streamFlags.stats)
                    return .success
                }
                var (summary, status) = try AccountRecord.run(.init(
                    tenant: tenant.slug, state: StateRoot(explicit: tenantFlags.state), now: try tenantFlags.clock(),
                    stream: streamFlags.options(stage: "account record", inputs: inputs)))
                tenant.remark(in: &summary)
                try summary.report(statsPath: streamFlags.stats)
                return status
            }
        }
    }

    struct Events: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import delivery events: PowerMTA accounting CSV, MailWizz webhooks or polling, or event NDJSON.",
            discussion: """
            Hard bounces, complaints and unsubscribes put the address on the suppression list and \
            set the contact's status; N soft bounces within D days do too (tenant.json \
            bounces.soft_limit / soft_window_days, default 3 in 15). Importing the same file twice \
            counts nothing twice. Events for addresses not in the store are kept and counted. \
            --mailwizz-pull asks MailWizz (tenant.json mailwizz) for the unsubscribes and bounces \
            it recorded since the last pull (the cursor is kept in the ledger).

            Examples:
              account events --tenant books-demo --pmta samples/pmta/acct-2026-11-23.csv
              account events --tenant books-demo \\
                --mailwizz samples/account/mailwizz-webhooks.json
              account events < samples/account/events.ndjson    # tenant from the records
              MAILPIPE_UNSUB_SECRET=example-secret account events --tenant books-demo \\
                --unsubscribe-mbox samples/account/unsubscribe.mbox
              account events --tenant sos-expat --mailwizz-pull    # hourly, from cron
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @OptionGroup var streamFlags: StreamFlags
        @Option(parsing: .upToNextOption, help: ArgumentHelp("PowerMTA accounting CSV files (.gz too).", valueName: "file"),
                completion: .file())
        var pmta: [String] = []
        @Option(parsing: .upToNextOption, help: ArgumentHelp("MailWizz open/click webhook JSON files.", valueName: "file"),
                completion: .file(extensions: ["json", "ndjson"]))
        var mailwizz: [String] = []
        @Option(name: .customLong("unsubscribe-mbox"), parsing: .upToNextOption,
                help: ArgumentHelp("Mbox files or Maildir folders of unsubscribe requests sent by mail (the token in the subject is checked).",
                                   valueName: "path"),
                completion: .file())
        var unsubscribeMailboxes: [String] = []
        @Flag(name: .customLong("mailwizz-pull"),
              help: "Poll MailWizz (tenant.json mailwizz) for the list and campaign unsubscribes and the bounces it recorded since the last pull.")
        var mailwizzPull = false
        @Argument(help: "Event NDJSON files (default: standard input, when no other source is given).", completion: .file())
        var inputs: [String] = []

        func run() throws {
            StageMain.run("account events") {
                let readsRecords = (pmta.isEmpty && mailwizz.isEmpty && unsubscribeMailboxes.isEmpty && !mailwizzPull) || !inputs.isEmpty
                let chosen = readsRecords ? try tenantFlags.choose(records: inputs, maxLine: streamFlags.maxLine) : try tenantFlags.choose()
                guard let tenant = chosen else {
                    try TenantFlags.nothingToDo(stage: "account events", headline: ["in", "new", "rejected"]).report(statsPath: streamFlags.stats)
                    return .success
                }
                let stream = streamFlags.options(stage: "account events", inputs: inputs)
                StageInputs.watch(pmta + mailwizz + unsubscribeMailboxes.filter { !FileSystem.isDirectory($0) } + (readsRecords ? (inputs.isEmpty ? ["-"] : inputs) : []))
                var (summary, status) = try AccountEvents.run(.init(
                    tenant: tenant.slug, state: StateRoot(explicit: tenantFlags.state), now: try tenantFlags.clock(),
                    pmta: pmta, mailwizz: mailwizz, unsubscribeMailboxes: unsubscribeMailboxes,
                    mailwizzPull: mailwizzPull, stream: stream))
                tenant.remark(in: &summary)
                try summary.report(statsPath: streamFlags.stats)
                return status
            }
        }
    }

    struct Suppress: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add or remove do-not-contact entries, or list them.",
            usage: "account suppress (--add | --remove | --list) [<options>] [<emails> ...]",
            discussion: """
            --add puts addresses on the suppression list (contact status `unsubscribed` when the \
            reason mentions an unsubscribe, else `blacklisted`, or --status); --remove takes them \
            off and lifts the contact's status (to --status, default `validated`). Each change is an \
            audit event in the event log.

            Examples:
              account suppress --tenant sos-expat --add ana@example.org \\
                --reason "unsubscribed by e-mail"
              account suppress --tenant sos-expat --list | jq -r .email
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @Flag(help: "Add the addresses.") var add = false
        @Flag(help: "Remove the addresses.") var remove = false
        @Flag(help: "List the suppression entries as NDJSON.") var list = false
        @Option(help: ArgumentHelp("Why (required with --add).", valueName: "text")) var reason: String?
        @Option(help: ArgumentHelp("The contact status to set.", valueName: "status"),
                completion: .list(["pending", "validated", "invalid", "risky", "injected", "bounced", "unsubscribed", "complained", "blacklisted"]))
        var status: String?
        @Argument(help: "E-mail addresses.", completion: .file()) var emails: [String] = []

        func run() throws {
            StageMain.run("account suppress") {
                guard [add, remove, list].filter({ $0 }).count == 1 else { throw StageError.usage("give one of --add, --remove, --list") }
                if let status, !["pending", "validated", "invalid", "risky", "injected", "bounced", "unsubscribed", "complained", "blacklisted"].contains(status) {
                    throw StageError.usage("--status '\(status)' is not a contact status")
                }
                let slug = try tenantFlags.choose().slug
                var output = OutputSink()
                let summary = try AccountSuppress.run(.init(
                    tenant: slug, state: StateRoot(explicit: tenantFlags.state), now: try tenantFlags.clock(),
                    action: add ? .add : remove ? .remove : .list, emails: emails, reason: reason, status: status), output: &output)
                try summary.report(statsPath: nil)
                return .success
            }
        }
    }

    struct Warmup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show (or, with --advance, move) the warm-up of each vmta.",
            usage: "account warmup [--tenant <slug>] [--advance] [--json] [<options>]",
            discussion: """
            Per vmta: week of the schedule, today's quota, sends today, yesterday's bounce rate. \
            --advance, run once a day, moves a vmta to the next week after 7 days under the week's \
            bounce ceiling, holds it otherwise, and steps it back a week when yesterday's rate \
            reached twice the ceiling. Running it twice a day changes nothing the second time.

            Example:
              account warmup --tenant books-demo --advance
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @Flag(help: "Apply today's advance/hold/step-back decision.") var advance = false
        @Flag(help: "NDJSON output even on a terminal (elsewhere it always is).") var json = false

        func run() throws {
            StageMain.run("account warmup") {
                let slug = try tenantFlags.choose().slug
                let rows = try AccountWarmup.run(.init(tenant: slug, state: StateRoot(explicit: tenantFlags.state),
                                                       now: try tenantFlags.clock(), advance: advance))
                var output = OutputSink()
                if FileDescriptor.standardOutput.isTerminal && !json {
                    output.buffer.append(AccountWarmup.Row.table(rows))
                } else {
                    for r in rows { r.json.write(into: &output.buffer); output.buffer.append(0x0A) }
                }
                try output.flush()
                return .success
            }
        }
    }

    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report contacts, campaigns, events per day and warm-up.",
            usage: "account report [--tenant <slug>] [--html <file>] [--json] [<options>]",
            discussion: """
            Text tables by default, NDJSON with --json; --html FILE also writes a self-contained \
            page with SVG charts (sends and bounces over time, warm-up per vmta, audience by \
            language).

            Example:
              account report --tenant books-demo --since 2026-11-01 --html report.html
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @Flag(help: "NDJSON rows instead of text tables.") var json = false
        @Option(help: ArgumentHelp("Write an HTML report to FILE.", valueName: "file"), completion: .file(extensions: ["html"]))
        var html: String?
        @Option(help: ArgumentHelp("Only events at or after this time (RFC 3339 or a date).", valueName: "time")) var since: String?
        @Option(help: ArgumentHelp("Only this campaign's events.", valueName: "name")) var campaign: String?

        func run() throws {
            StageMain.run("account report") {
                let slug = try tenantFlags.choose().slug
                var sinceTime: Timestamp?
                if let since {
                    guard let t = Timestamp(parsing: since) else { throw StageError.usage("--since takes a time or a date, got '\(since)'") }
                    sinceTime = t
                }
                let report = try AccountReport.build(.init(tenant: slug, state: StateRoot(explicit: tenantFlags.state),
                                                           now: try tenantFlags.clock(), since: sinceTime, campaign: campaign))
                if let html { try FileSystem.writeAtomically(html, Array(report.html.utf8), mode: 0o644) }
                var output = OutputSink()
                if json { output.buffer.append(report.ndjson) } else if html == nil || FileDescriptor.standardOutput.isTerminal {
                    output.buffer.append(report.text)
                }
                try output.flush()
                return .success
            }
        }
    }

    struct Health: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score the tenant's sending health 0–100 with its reasons; exit 0 ok, 1 warn, 2 critical.",
            usage: "account health [--tenant <slug>] [--json] [<options>]",
            discussion: """
            From the figures of account report over the last health.window_days days (default 7): \
            bounce and complaint rates against the tenant's ceilings, Gmail's 0.3 % spam-rate line, \
            the warm-up of each vmta, list hygiene (shares of bounced, unvalidated and suppressed \
            contacts) and the unsubscribe trend (docs/account.md "Health" gives the formula). A \
            tenant that never sent is "ok, no data", without a score. Damaged books are an error \
            (exit 1, nothing on standard output), never a score. Reads only: no lock, nothing \
            written (but --prometheus's file).

            --prometheus FILE writes the score, each check's figure, the books' counters, \
            contacts by status, suppression and warm-up as a node_exporter textfile (whole or not \
            at all: a temporary file renamed over FILE); damaged books write \
            mailpipe_books_readable 0 and nothing else.

            Example:
              account health --tenant sos-expat || echo "exit $?: 1 warn, 2 critical"
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @Flag(help: "One JSON object instead of the text.") var json = false
        @Option(name: .customLong("alert-command"),
                help: ArgumentHelp("On warn or critical, pipe the health JSON to this command (sh -c).", valueName: "command"))
        var alertCommand: String?
        @Option(help: ArgumentHelp("Also write Prometheus metrics to this file (node_exporter's textfile collector).", valueName: "file"),
                completion: .file())
        var prometheus: String?

        func run() throws {
            StageMain.run("account health", exitCode: {
                let slug = try tenantFlags.choose().slug
                let options = AccountHealth.Options(tenant: slug, state: StateRoot(explicit: tenantFlags.state), now: try tenantFlags.clock())
                let result: AccountHealth.Result
                do {
                    let assessment = try AccountHealth.assessment(options)
                    result = assessment.result
                    if let prometheus { try TenantMetrics.writeTextfile(prometheus, TenantMetrics.families(assessment)) }
                } catch let damage as StateDamage {
                    // The collector must not keep showing the last good figures.
                    if let prometheus { try TenantMetrics.writeTextfile(prometheus, TenantMetrics.unreadable(slug.value)) }
                    throw damage
                }
                var output = OutputSink()
                if json { output.buffer.append(result.jsonLine) } else { output.buffer.append(result.text) }
                try output.flush()
                if let alertCommand, let problem = try AccountHealth.alert(result, command: alertCommand) {
                    try FileDescriptor.standardError.writeAll("account health: error: \(problem)\n")
                }
                return result.level.exitCode
            })
        }
    }

    struct AlertTelegram: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "alert-telegram",
            abstract: "Send an account health alert (JSON on standard input) to a Telegram chat.",
            usage: "account alert-telegram --chat-id <id> [--token-file <file>] < alert.json",
            discussion: """
            Made for account health --alert-command. The bot token is read from $TELEGRAM_BOT_TOKEN \
            (or the variable --token-env names, or the first line of --token-file), never from the \
            command line, and never printed. Exit 1 when Telegram refuses the message or cannot be \
            reached, saying why; exit 2 without a token.

            Example:
              account health --tenant sos-expat \\
                --alert-command 'account alert-telegram --chat-id -1001234567' \\
                || echo "exit $?"
            """)

        @Option(parsing: .unconditional, help: ArgumentHelp("The chat to send to (a user, group or channel id; groups are negative).", valueName: "id"))
        var chatId: String
        @Option(help: ArgumentHelp("The variable holding the bot token.", valueName: "name")) var tokenEnv = "TELEGRAM_BOT_TOKEN"
        @Option(help: ArgumentHelp("A file whose first line is the bot token.", valueName: "file"), completion: .file())
        var tokenFile: String?
        @Option(help: ArgumentHelp("The Bot API's address (a test's local double).", valueName: "url")) var apiUrl = "https://api.telegram.org"

        func run() throws {
            StageMain.run("account alert-telegram") {
                try TelegramAlert.send(alert: try FileSystem.readStandardInput(),
                                       .init(chatID: chatId, tokenEnv: tokenEnv, tokenFile: tokenFile, apiURL: apiUrl))
                return .success
            }
        }
    }

    struct PmtaConfig: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pmta-config",
            abstract: "Print PowerMTA virtual-mta/pool blocks and the DNS records of the sending domain.",
            usage: "account pmta-config [--tenant <slug>] [<options>] > pmta.txt",
            discussion: """
            Each vmta is capped at today's warm-up quota (max-msg-rate quota/24 per hour); \
            regenerate it daily after account warmup --advance.

            Example:
              account pmta-config --tenant sos-expat > pmta-sos-expat.txt
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @Option(help: ArgumentHelp("DKIM public key (PEM) for a DKIM record.", valueName: "file"), completion: .file())
        var dkimPublicKey: String?
        @Option(help: ArgumentHelp("DKIM selector.", valueName: "name")) var dkimSelector = "mp"
        @Option(help: ArgumentHelp("DMARC policy: none, quarantine or reject.", valueName: "p"),
                completion: .list(["none", "quarantine", "reject"]))
        var dmarcPolicy = "none"
        @Option(help: ArgumentHelp("DMARC aggregate report address.", valueName: "email")) var dmarcReport: String?

        func run() throws {
            StageMain.run("account pmta-config") {
                let slug = try tenantFlags.choose().slug
                let text = try AccountPmtaConfig.run(.init(tenant: slug, state: StateRoot(explicit: tenantFlags.state),
                                                           now: try tenantFlags.clock(),
                                                           dkimPublicKey: dkimPublicKey, dkimSelector: dkimSelector,
                                                           dmarcPolicy: dmarcPolicy, dmarcReport: dmarcReport))
                try FileDescriptor.standardOutput.writeAll(text)
                return .success
            }
        }
    }

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Answer one-click unsubscribes (RFC 8058), ESP event webhooks and tracked clicks and opens over HTTP.",
            usage: "account serve --tenant <slug>... --listen <host:port>... [<limits>]",
            discussion: """
            Routes: POST and GET on the path of each tenant's unsubscribe.url (RFC 8058 one-click; a \
            GET shows a page with a button, never unsubscribes); POST /webhooks/<tenant>/sendgrid, \
            /postmark, /ses (signatures or credentials from tenant.json webhooks; another tenant's \
            events counted, not written); POST /webhooks/<tenant>/mailwizz?secret=… (MailWizz's \
            open/click webhooks: the secret of webhooks.mailwizz.secret_env; events of a list that \
            is not the tenant's refuse the request); GET <path of tracking.url>/click and /open \
            (render --track's signed links: a click is recorded, then redirected (302) to the \
            signed URL only; an open answers a 1x1 GIF; proxies, scanners and too-early fetches are \
            marked "machine": true); GET /healthz; GET /metrics (Prometheus: each tenant's health and \
            books as account health --prometheus writes them, and the server's requests, refused \
            tokens, rate-limited requests and group commits; not rate-limited).

            Each append goes through the books of `account events`, under the tenant lock, and a request is answered 200 only \
            once it is durable. One JSON access-log line per request goes to standard error \
            (no query strings, no bodies). SIGTERM stops it after the requests under way.

            Example:
              account serve --tenant sos-expat --listen 127.0.0.1:8025 &
              curl -s --retry 30 --retry-connrefused http://127.0.0.1:8025/healthz
              kill $!
            """)

        @Option(name: .customLong("tenant"), help: ArgumentHelp("A tenant to serve (repeatable; default: $MAILPIPE_TENANT).",
                                                                valueName: "slug"))
        var tenants: [String] = []
        @Option(help: ArgumentHelp("State folder (default: $MAILPIPE_STATE, else ./state).", valueName: "dir"))
        var state: String?
        @Option(help: ArgumentHelp("Address to listen on (repeatable).", valueName: "host:port"))
        var listen: [String] = ["127.0.0.1:8025"]
        @Option(help: ArgumentHelp("Requests per second one client address may make (0: no limit).", valueName: "n"))
        var clientRate: Double = 50
        @Option(help: ArgumentHelp("Requests one client may make at once before the rate applies.", valueName: "n"))
        var clientBurst: Double = 200
        @Option(help: ArgumentHelp("Seconds a client has to send a request.", valueName: "s"))
        var requestTimeout: Double = 10
        @Option(help: ArgumentHelp("Seconds an idle keep-alive connection stays open.", valueName: "s"))
        var idleTimeout: Double = 60
        @Option(help: ArgumentHelp("Open connections at most.", valueName: "n"))
        var maxConnections = 1024
        @Option(help: ArgumentHelp("Seconds a stop waits for the requests under way.", valueName: "s"))
        var stopDeadline: Double = 30
        @Flag(help: "No access log on standard error.")
        var noAccessLog = false

        func validate() throws {
            guard clientRate >= 0, clientBurst >= 1 else { throw ValidationError("--client-rate must be ≥ 0 and --client-burst ≥ 1") }
            guard requestTimeout > 0, idleTimeout > 0, stopDeadline >= 0 else { throw ValidationError("timeouts must be positive") }
            guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        }

        func run() throws {
            StageMain.run("account serve") {
                var slugs = try tenants.map(TenantSlug.init)
                if slugs.isEmpty, let env = FileSystem.environment("MAILPIPE_TENANT"), !env.isEmpty { slugs = [try TenantSlug(env)] }
                var limits = HTTPServer.Limits()
                limits.clientRate = clientRate
                limits.clientBurst = clientBurst
                limits.requestTimeout = requestTimeout
                limits.idleTimeout = idleTimeout
                limits.maxConnections = maxConnections
                let summary = try ServeStage.run(.init(tenants: slugs, state: StateRoot(explicit: state),
                                                       listen: try listen.map(HTTPServer.Address.init(parsing:)), limits: limits,
                                                       stopDeadline: stopDeadline, accessLog: !noAccessLog))
                try summary.report(statsPath: nil)
                return .success
            }
        }
    }
}
