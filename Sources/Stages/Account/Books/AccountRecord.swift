import MailpipeCore
import MailpipeStore

/// `account record`: reads `inject`'s outcome records. A `sent` outcome sets the contact's status
/// to `injected` (with `mailwizz_uid` for the MailWizz channel, `last_campaign`, `last_sent_at`)
/// and counts a send for its campaign, day and vmta; `deferred` and `failed` are counted and
/// logged; `skipped` is only counted. Recording the same outcomes twice counts nothing twice.
public enum AccountRecord {
    public struct Options {
        public var tenant: TenantSlug
        public var state: StateRoot
        public var now: Timestamp
        public var stream: StreamOptions

        public init(tenant: TenantSlug, state: StateRoot, now: Timestamp, stream: StreamOptions) {
            self.tenant = tenant
            self.state = state
            self.now = now
            self.stream = stream
        }
    }

    public static func run(_ options: Options) throws -> (Summary, ExitStatus) {
        let dir = options.state.tenant(options.tenant)
        try dir.requireExisting()
        var summary = Summary(stage: "account record", headline: ["in", "sent", "deferred", "failed", "skipped", "duplicates", "rejected"])
        let rejects = try RejectSink(stage: "account record", path: options.stream.rejectsPath)
        var stream = try RecordStream(options: options.stream, rejects: rejects)
        defer { stream.close() }
        let tenantCheck = TenantCheck(expected: options.tenant.value)
        var batch: [BookEvent] = []
        var skipped = 0
        var suppressed = 0
        while let record = try stream.next() {
            if let refusal = tenantCheck.refusal(record["tenant"]) {
                rejects.reject(refusal, origin: record.origin, record: record.bytes)
                continue
            }
            guard let rawEmail = record.string("email"), !rawEmail.isEmpty else {
                rejects.reject(.missingEmail, "an outcome needs an email", origin: record.origin, record: record.bytes)
                continue
            }
            guard let outcome = record.string("outcome"), ["sent", "deferred", "failed", "skipped"].contains(outcome) else {
                rejects.reject(.invalidOutcome, "outcome must be sent, deferred, failed or skipped",
                               origin: record.origin, record: record.bytes)
                continue
            }
            if outcome == "skipped" {
                skipped += 1
                if record.string("reason") == "suppressed" { suppressed += 1 }
                continue
            }
            var at = options.now
            if let text = record.string("at") {
                guard let t = Timestamp(parsing: text) else {
                    rejects.reject(.invalidTime, "at '\(text)' is not a time", origin: record.origin, record: record.bytes)
                    continue
                }
                at = t
            }
            let email = EmailKey.normalize(rawEmail)
            let campaign = record.string("campaign")
            let channel = record.string("channel")
            let remoteID = record["remote_id"].flatMap { $0.string ?? $0.numberText }
            let vmta = record.string("vmta")
            let error = record.string("error")
            let code = record["code"].flatMap { $0.string ?? $0.numberText }
            let id = EventID.hash(["outcome", email, campaign ?? "", channel ?? "", outcome, at.rfc3339, remoteID ?? ""])
            var extra: [(String, JSONValue)] = []
            if let channel { extra.append(("channel", .string(channel))) }
            if let remoteID { extra.append(("remote_id", .string(remoteID))) }
            if let code { extra.append(("code", .string(code))) }
            if let variant = record.string("variant") { extra.append(("variant", .string(variant))) }
            var type = outcome
            var bounceClass: String? = nil
            if outcome == "sent" && channel == "mailwizz" {
                // A list sync (subscribe or unsubscribe in MailWizz), not a message sent.
                type = "synced"
                if let action = record.string("action") { extra.append(("action", .string(action))) }
            } else if outcome == "failed" && record.string("reason") == "permanent" {
                // Refused for good at send time: a bounce (suppressing when hard), not a send.
                type = "bounced"
                bounceClass = BounceClass.ofRefusal(code: record["code"]?.int, text: error).rawValue
                extra.append(("phase", .string("send")))
            }
            batch.append(BookEvent(id: id, email: email, type: type, bounceClass: bounceClass, reason: error, campaign: campaign,
                                   vmta: type == "bounced" ? nil : vmta, at: at, source: "outcome", extra: extra))
        }
        try rejects.finish()
        summary["in"] = stream.linesIn
        summary["rejected"] = rejects.count
        summary["skipped"] = skipped
        if suppressed > 0 { summary["skipped_suppressed"] = suppressed }
        summary.setGroup("reject_reasons", rejects.reasons)
        if options.stream.strict && rejects.count > 0 { return (summary, .rejectsUnderStrict) }
        let books = try Books(dir: dir, now: options.now, warn: warnToStderr)
        let result = try books.commit(batch, now: options.now)
        summary["duplicates"] = result.duplicates
        summary["unknown_contacts"] = result.unknown
        summary["contacts_changed"] = result.contactsChanged
        for type in ["sent", "deferred", "failed"] { summary[type] = result.types[type] ?? 0 }
        for type in ["synced", "bounced_hard", "bounced_soft", "bounced_policy"] where result.types[type] != nil { summary[type] = result.types[type]! }
        summary["suppressed"] = result.suppressedNew
        return (summary, .success)
    }
}
