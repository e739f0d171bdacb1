import MailpipeCore
import MailpipeStore

/// `account suppress`: manual do-not-contact entries. `--add` puts addresses on the suppression
/// list (and the contact's status to `unsubscribed` when the reason says so, else `blacklisted`);
/// `--remove` takes them off and lifts the contact's status (the only way to); each change is an
/// audit event (`suppressed` / `unsuppressed`, source `manual`) in the event log. `--list` prints
/// the list as NDJSON.
public enum AccountSuppress {
    public enum Action { case add, remove, list }

    public struct Options {
        public var tenant: TenantSlug
        public var state: StateRoot
        public var now: Timestamp
        public var action: Action
        public var emails: [String]
        public var reason: String?
        /// The contact status after `--remove` (default `validated`).
        public var status: String?

        public init(tenant: TenantSlug, state: StateRoot, now: Timestamp, action: Action, emails: [String],
                    reason: String? = nil, status: String? = nil) {
            self.tenant = tenant
            self.state = state
            self.now = now
            self.action = action
            self.emails = emails
            self.reason = reason
            self.status = status
        }
    }

    public static func run(_ options: Options, output: inout OutputSink) throws -> Summary {
        let dir = options.state.tenant(options.tenant)
        try dir.requireExisting()
        // Listing writes nothing: it works on a read-only state, without the lock.
        let books = try Books(dir: dir, now: options.now, access: options.action == .list ? .read : .write, warn: warnToStderr)
        switch options.action {
        case .list:
            var summary = Summary(stage: "account suppress", headline: ["out"])
            for line in books.suppressionEntries {
                try line.withUnsafeBytes { try output.writeLine($0) }
                summary.add("out")
            }
            try output.flush()
            return summary
        case .add, .remove:
            var summary = Summary(stage: "account suppress", headline: options.action == .add ? ["added", "already"] : ["removed", "absent"])
            guard !options.emails.isEmpty else { throw StageError.usage("give the addresses to \(options.action == .add ? "add" : "remove")") }
            if options.action == .add && (options.reason ?? "").isEmpty {
                throw StageError.usage("--add needs --reason (e.g. --reason 'unsubscribed by e-mail')")
            }
            var batch: [BookEvent] = []
            for raw in options.emails {
                let email = EmailKey.normalize(raw)
                guard email.contains("@") else { throw StageError.usage("'\(raw)' is not an e-mail address") }
                let reason = options.reason ?? "manual removal"
                let type = options.action == .add ? "suppressed" : "unsuppressed"
                if options.action == .add {
                    summary.add(books.isSuppressed(email) ? "already" : "added")
                } else {
                    summary.add(books.isSuppressed(email) ? "removed" : "absent")
                }
                var status = options.status
                if status == nil && options.action == .add {
                    status = reason.lowercased().contains("unsub") ? "unsubscribed" : "blacklisted"
                }
                let id = EventID.hash(["manual", type, email, options.now.rfc3339, reason])
                var extra: [(String, JSONValue)] = []
                if let status { extra.append(("status", .string(status))) }
                batch.append(BookEvent(id: id, email: email, type: type, reason: reason, at: options.now, source: "manual", extra: extra))
            }
            _ = try books.commit(batch, now: options.now)
            return summary
        }
    }
}
