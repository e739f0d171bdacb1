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
          account reshard --tenant sos-expat --shards 4     # 4 sub-stores, 4 parallel writers
        """,
        version: mailpipeVersion,
        subcommands: [Init.self, Commit.self, Export.self, Compact.self, Reshard.self]
    )
}

extension Account {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant's state folder and tenant.json.",
            discussion: """
            With --shards n the contact store is kept as n sub-stores (contacts/shard-<i>-of-<n>/),
            each with its own lock, so n `account commit --shard i/n` run in parallel.

            Example: account init --tenant ulixai --config samples/ulixai/tenant.json --shards 4
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @Option(help: ArgumentHelp("A tenant.json to install (validated).", valueName: "file"))
        var config: String?
        @Option(help: ArgumentHelp("Keep the (empty) contact store in n shards.", valueName: "n"))
        var shards: Int?

        func run() throws {
            StageMain.run("account init") {
                let slug = try TenantSlug(try tenantFlags.requireTenant())
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
            New contacts are inserted, known ones merged (non-empty fields win, tags unioned,
            created_at kept, updated_at set), identical ones left alone. A suppressed status
            (bounced, unsubscribed, complained, blacklisted) is never lifted by a commit.
            Under --strict, a commit with any reject writes nothing and exits 3.
            With --shard i/n only contacts whose email hashes into shard i are taken (others are
            rejected as wrong_shard); on a store kept in n shards only that shard is locked, so
            n commits run in parallel.

            Example: ingest --tenant sos-expat contacts.csv | account commit --tenant sos-expat
                     … | dedupe --shard 1/4 | validate | account commit --tenant sos-expat --shard 1/4
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @OptionGroup var streamFlags: StreamFlags
        @Option(help: ArgumentHelp("Only contacts whose email hashes into shard i of n.", valueName: "i/n"))
        var shard: String?
        @Argument(help: "Input files (default: standard input; .gz read transparently).")
        var inputs: [String] = []

        func run() throws {
            StageMain.run("account commit") {
                let slug = try TenantSlug(try tenantFlags.requireTenant())
                let options = AccountCommit.Options(
                    tenant: slug, state: StateRoot(explicit: tenantFlags.state), now: try tenantFlags.clock(),
                    stream: streamFlags.options(stage: "account commit", inputs: inputs),
                    shard: try shard.map(Shard.init(parsing:)))
                let (summary, status) = try AccountCommit.run(options)
                try summary.report(statsPath: streamFlags.stats)
                return status
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the tenant's contacts as NDJSON, each once, in email order.",
            discussion: """
            A sharded store reads as the union of its shards. With --shard i/n only that shard's
            contacts (of a store kept in n shards, only that sub-store is read).

            Example: account export --tenant sos-expat | gzip > backup.ndjson.gz
            """)

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

    struct Reshard: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite the contact store into another number of shards.",
            discussion: """
            The new sub-stores are written beside the old ones and replace them with one atomic
            switch of contacts/layout.json; a crash leaves the old or the new layout, complete.
            Contact writers wait while it runs; readers keep reading.

            Example: account reshard --tenant sos-expat --shards 8
            """)

        @OptionGroup var tenantFlags: TenantFlags
        @Option(help: ArgumentHelp("The new number of shards.", valueName: "m"))
        var shards: Int

        func run() throws {
            StageMain.run("account reshard") {
                let slug = try TenantSlug(try tenantFlags.requireTenant())
                try AccountReshard.run(tenant: slug, state: StateRoot(explicit: tenantFlags.state), shards: shards).report(statsPath: nil)
                return .success
            }
        }
    }
}
