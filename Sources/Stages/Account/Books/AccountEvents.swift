import MailpipeCore
import MailpipeStore
import RenderStage

/// `account events`: imports delivery events — PowerMTA accounting CSV (`--pmta`), MailWizz
/// open/click webhook JSON (`--mailwizz`), unsubscribe requests sent by mail
/// (`--unsubscribe-mbox`), what MailWizz recorded since the last pull (`--mailwizz-pull`), or
/// event NDJSON on standard input — into the log,
/// the ledger, the suppression list and the contacts' statuses. Re-importing counts nothing twice.
/// Accounting files and webhooks may be shared by several tenants: only this tenant's rows are
/// written (`EventScope`), the others are counted as `other_tenant`.
public enum AccountEvents {
    public struct Options {
        public var tenant: TenantSlug
        public var state: StateRoot
        public var now: Timestamp
        public var pmta: [String]
        public var mailwizz: [String]
        /// Mbox files or Maildir folders of the requests sent to List-Unsubscribe's mailto.
        public var unsubscribeMailboxes: [String]
        /// Poll MailWizz for the unsubscribes and bounces it recorded since the last pull.
        public var mailwizzPull: Bool
        /// NDJSON event inputs (standard input when no source is given).
        public var stream: StreamOptions

        public init(tenant: TenantSlug, state: StateRoot, now: Timestamp, pmta: [String] = [], mailwizz: [String] = [],
                    unsubscribeMailboxes: [String] = [], mailwizzPull: Bool = false, stream: StreamOptions) {
            self.tenant = tenant
            self.state = state
            self.now = now
            self.pmta = pmta
            self.mailwizz = mailwizz
            self.unsubscribeMailboxes = unsubscribeMailboxes
            self.mailwizzPull = mailwizzPull
            self.stream = stream
        }
    }

    /// The unsubscribe requests of `--unsubscribe-mbox`, each token checked with the tenant's
    /// secret (the one render signs with).
    static func readMailboxes(_ options: Options, dir: TenantDirectory, rejects: RejectSink, _ emit: (BookEvent) -> Void) throws -> Int {
        let config = try dir.loadConfig()
        let secretEnv = config.unsubscribe.secretEnv ?? RenderStage.defaultSecretEnv
        guard let secret = FileSystem.environment(secretEnv), !secret.isEmpty else {
            throw StageError.configuration("the unsubscribe secret is missing: set the environment variable \(secretEnv) (unsubscribe.secret_env in tenant.json)")
        }
        let verifier = UnsubscribeToken.Verifier(secret: secret)
        // For subjects holding the token alone: the campaigns the books know.
        let campaigns = try Ledger.load(path: dir.ledgerPath).campaigns.keys.sorted()
        var count = 0
        for path in options.unsubscribeMailboxes {
            guard FileSystem.exists(path) else { throw StageError.usage("\(path): no such file or folder") }
            count += try UnsubscribeMailbox.read(path: path, tenant: options.tenant.value, verifier: verifier, campaigns: campaigns,
                                                 now: options.now, rejects: rejects, emit)
        }
        return count
    }

    public static func run(_ options: Options) throws -> (Summary, ExitStatus) {
        let dir = options.state.tenant(options.tenant)
        try dir.requireExisting()
        var summary = Summary(stage: "account events", headline: ["in", "new", "duplicates", "unknown_contacts", "suppressed", "rejected"])
        let rejects = try RejectSink(stage: "account events", path: options.stream.rejectsPath)
        Timing.mark("start")
        var batch: [BookEvent] = []
        var ignored: [String: Int] = [:]
        var inCount = 0
        for path in options.pmta {
            guard FileSystem.exists(path) else { throw StageError.usage("\(path): no such file") }
            inCount += try PMTAAccounting.read(path: path, rejects: rejects, ignored: &ignored, into: &batch)
        }
        for path in options.mailwizz {
            guard FileSystem.exists(path) else { throw StageError.usage("\(path): no such file") }
            inCount += try MailWizzWebhook.read(path: path, rejects: rejects) { batch.append($0) }
        }
        if !options.unsubscribeMailboxes.isEmpty {
            inCount += try readMailboxes(options, dir: dir, rejects: rejects) { batch.append($0) }
        }
        var pulled: MailWizzPull.Result? = nil
        if options.mailwizzPull {
            // Over the network before the lock is taken; the cursor is written with the events.
            let result = try MailWizzPull.pull(config: try dir.loadConfig(), cursor: try Ledger.load(path: dir.ledgerPath).mailwizzPull,
                                               now: options.now, configPath: dir.configPath)
            inCount += result.events.count
            batch += result.events
            pulled = result
        }
        let sourceGiven = !options.pmta.isEmpty || !options.mailwizz.isEmpty || !options.unsubscribeMailboxes.isEmpty || options.mailwizzPull
        if !sourceGiven || !options.stream.inputs.isEmpty {
            inCount += try readNDJSON(options.stream, tenant: options.tenant.value, rejects: rejects) { batch.append($0) }
        }
        try rejects.finish()
        Timing.mark("read inputs")
        if options.stream.strict && rejects.count > 0 {
            summary["in"] = inCount
            summary["rejected"] = rejects.count
            summary.setGroup("reject_reasons", rejects.reasons)
            return (summary, .rejectsUnderStrict)
        }
        let books = try Books(dir: dir, now: options.now, warn: warnToStderr)
        // Rows of a shared accounting file or MailWizz install that are another tenant's are
        // counted, never written.
        let (ours, otherTenant) = try books.scoped(batch)
        batch = []
        Timing.mark("tenant scope")
        if let pulled { books.ledger.mailwizzPull = pulled.cursor }
        let outcome = try books.commit(ours, now: options.now)
        if let pulled {
            // A pull that brought nothing new still moves its cursor.
            if outcome.appended == 0 { try books.saveLedger() }
            summary["mailwizz_requests"] = pulled.requests
            summary["mailwizz_campaigns"] = pulled.campaigns
            if pulled.reread > 0 { summary["mailwizz_logs_reread"] = pulled.reread }
        }
        summary["in"] = inCount
        summary["new"] = outcome.appended
        summary["duplicates"] = outcome.duplicates
        summary["unknown_contacts"] = outcome.unknown
        summary["suppressed"] = outcome.suppressedNew
        summary["contacts_changed"] = outcome.contactsChanged
        summary["ignored"] = ignored.values.reduce(0, +)
        summary["other_tenant"] = otherTenant.values.reduce(0, +)
        if !otherTenant.isEmpty {
            summary.setGroup("other_tenant_by", Dictionary(uniqueKeysWithValues: otherTenant.map { ($0.key.rawValue, $0.value) }))
        }
        if books.recovered > 0 { summary["recovered"] = books.recovered }
        summary["rejected"] = rejects.count
        summary.setGroup("types", outcome.types)
        if !ignored.isEmpty { summary.setGroup("ignored_types", ignored) }
        summary.setGroup("reject_reasons", rejects.reasons)
        return (summary, .success)
    }

    /// Event records (docs/design.md §2). The id is the record's `id` (16 hex digits) or a hash of its fields.
    static func readNDJSON(_ options: StreamOptions, tenant: String, rejects: RejectSink, _ emit: (BookEvent) -> Void) throws -> Int {
        var stream = try RecordStream(options: options, rejects: rejects)
        defer { stream.close() }
        let tenantCheck = TenantCheck(expected: tenant)
        while let record = try stream.next() {
            if let refusal = tenantCheck.refusal(record["tenant"]) {
                rejects.reject(refusal, origin: record.origin, record: record.bytes)
                continue
            }
            guard let rawEmail = record.string("email"), !rawEmail.isEmpty else {
                rejects.reject(.missingEmail, "an event needs an email", origin: record.origin, record: record.bytes)
                continue
            }
            guard let type = record.string("type"), BookEvent.types.contains(type) else {
                rejects.reject(.invalidType, "type must be one of \(BookEvent.types.sorted().joined(separator: " "))",
                               origin: record.origin, record: record.bytes)
                continue
            }
            var at = Timestamp(seconds: 0)
            if let text = record.string("at") {
                guard let t = Timestamp(parsing: text) else {
                    rejects.reject(.invalidTime, "at '\(text)' is not a time", origin: record.origin, record: record.bytes)
                    continue
                }
                at = t
            } else {
                rejects.reject(.missingTime, "an event needs `at`", origin: record.origin, record: record.bytes)
                continue
            }
            var bounceClass = record.string("bounce_class")
            if type == "bounced" {
                if bounceClass == nil { bounceClass = "soft" }
                guard ["hard", "soft", "policy"].contains(bounceClass!) else {
                    rejects.reject(.invalidBounceClass, "bounce_class must be hard, soft or policy",
                                   origin: record.origin, record: record.bytes)
                    continue
                }
            } else {
                bounceClass = nil
            }
            let email = EmailKey.normalize(rawEmail)
            let campaign = record.string("campaign")
            let vmta = record.string("vmta")
            let reason = record.string("reason")
            let source = record.string("source") ?? "webhook"
            let id = record.string("id").flatMap(EventID.parse)
                ?? EventID.hash([source, type, email, at.rfc3339, campaign ?? "", vmta ?? "", reason ?? "", bounceClass ?? ""])
            var extra: [(String, JSONValue)] = []
            for key in ["channel", "remote_id", "url"] {
                if let v = record[key]?.string { extra.append((key, .string(v))) }
            }
            // An open or click a machine made (a privacy proxy fetching the pixel, a scanner
            // following links): kept, never counted as a person's engagement.
            if record["machine"]?.bool == true { extra.append(("machine", .bool(true))) }
            emit(BookEvent(id: id, email: email, type: type, bounceClass: bounceClass, reason: reason, campaign: campaign,
                           vmta: vmta, at: at, source: source, extra: extra))
        }
        return stream.linesIn
    }
}

func warnToStderr(_ message: String) {
    try? FileDescriptor.standardError.writeAll("account: warning: \(message)\n")
}
