import AccountStage
import ArgumentParser
import MailpipeCLI
import MailpipeCore
import MailpipeStore

/// `account`: the ledger — the only writer of a tenant's contacts, suppression, events and ledger.
@main
struct Account: MailpipeCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Keep a tenant's books: its contact store, suppression, events and ledger.",
        discussion: """
        Example:
          account init --tenant sos-expat --config samples/sos-expat/tenant.json
          ingest --tenant sos-expat contacts.csv | dedupe | validate | account commit
          account export --tenant sos-expat | jq -r .email
        """,
        version: mailpipeVersion,
        subcommands: [Init.self, Commit.self, Export.self, Compact.self]
    )
}

extension Account {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant's state folder and tenant.json.",
            discussion: "Example: account init --tenant ulixai --config samples/ulixai/tenant.json")

        @OptionGroup var tenantFlags: TenantFlags
        @Option(help: ArgumentHelp("A tenant.json to install (validated).", valueName: "file"))
        var config: String?

        func run() throws {
            StageMain.run("account init") {
                let slug = try TenantSlug(try tenantFlags.requireTenant())
                let message = try AccountInit.run(.init(tenant: slug, state: StateRoot(explicit: tenantFlags.state), configPath: config))
                try FileDescriptor.standardError.writeAll(message + "\n")
                return .success
            }
        }
    }

    struct Commit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge contact records into the tenant's store (all or nothing).",
            discussion: """
            New contacts are inserted, known ones merged (non-empty fields win, tags unioned,
            created_at kept, updated_at set), identical ones left alone. A suppressed status
            (bounced, unsubscribed, complained, blacklisted) is never lifted by a commit.
            Under --strict, a commit with any reject writes nothing and exits 3.

            Example: ingest --tenant sos-expat contacts.csv | account commit --tenant sos-expat
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @OptionGroup var streamFlags: StreamFlags
        @Argument(help: "Input files (default: standard input; .gz read transparently).")
        var inputs: [String] = []

        func run() throws {
            StageMain.run("account commit") {
                let slug = try TenantSlug(try tenantFlags.requireTenant())
                let options = AccountCommit.Options(
                    tenant: slug, state: StateRoot(explicit: tenantFlags.state), now: try tenantFlags.clock(),
                    stream: streamFlags.options(stage: "account commit", inputs: inputs))
                let (summary, status) = try AccountCommit.run(options)
                try summary.report(statsPath: streamFlags.stats)
                return status
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the tenant's contacts as NDJSON, each once, in email order.",
            discussion: "Example: account export --tenant sos-expat | gzip > backup.ndjson.gz")

        @OptionGroup var tenantFlags: TenantFlags
        @Option(help: ArgumentHelp("Only contacts whose email hashes into shard i of n.", valueName: "i/n"))
        var shard: String?
        @Option(help: ArgumentHelp("Write the summary as JSON to FILE.", valueName: "file"))
        var stats: String?

        func run() throws {
            StageMain.run("account export") {
                let slug = try TenantSlug(try tenantFlags.requireTenant())
                var output = OutputSink()
                let summary = try AccountExport.run(
                    .init(tenant: slug, state: StateRoot(explicit: tenantFlags.state), shard: try shard.map(Shard.init(parsing:))),
                    output: &output)
                try summary.report(statsPath: stats)
                return .success
            }
        }
    }

    struct Compact: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fold every run of the contact store into one.",
            discussion: "Example: account compact --tenant sos-expat")

        @OptionGroup var tenantFlags: TenantFlags

        func run() throws {
            StageMain.run("account compact") {
                let slug = try TenantSlug(try tenantFlags.requireTenant())
                try AccountCompact.run(tenant: slug, state: StateRoot(explicit: tenantFlags.state)).report(statsPath: nil)
                return .success
            }
        }
    }
}
