import MailpipeCore
import MailpipeStore

/// `account commit`: contact records in, merged into the tenant's store by email. The stage reads
/// and checks the records (identity, tenant, shard); the store's `ContactCommit` merges them and
/// lands them whole or not at all.
public enum AccountCommit {
    public struct Options {
        public var tenant: TenantSlug
        public var state: StateRoot
        public var now: Timestamp
        public var stream: StreamOptions
        /// Input bytes held in memory before a chunk is sorted and written as a run.
        public var chunkBytes: Int
        /// `--shard i/n`: commit only this shard's contacts (others are rejected as `wrong_shard`);
        /// on a sharded store, only that shard's lock is taken, so n such commits run in parallel.
        public var shard: Shard?
        /// Threads parsing the incoming records and merging them with their stored versions (the
        /// merged lines are added to the run in key order on one thread).
        public var threads: Int

        public init(tenant: TenantSlug, state: StateRoot, now: Timestamp, stream: StreamOptions,
                    chunkBytes: Int = ContactCommit.defaultChunkBytes, shard: Shard? = nil, threads: Int? = nil) {
            self.threads = Cores.capped(threads ?? Cores.workers)
            self.tenant = tenant
            self.state = state
            self.now = now
            self.stream = stream
            self.chunkBytes = chunkBytes
            self.shard = shard
        }
    }

    /// What a parsing thread finds in one incoming record.
    struct Incoming {
        var id: ContactIdentity
        var hash: UInt64 = 0
        /// What the store would refuse to keep (an email that is no address, tags that are
        /// not strings, a number beyond a Double).
        var unstorable: RecordRefusal?
        /// `Line.written` holds the record as a new contact is stored (`ContactCommit.newContactLine`):
        /// no committed run holds its email.
        var newContactLine = false
    }

    /// The store as the parsing threads see it: set once the store is open, before the first
    /// record is parsed, then only read.
    final class OpenStore: @unchecked Sendable {
        var newContacts: ContactCommit.NewContacts?
    }

    public static func run(_ options: Options) throws -> (Summary, ExitStatus) {
        Timing.mark("start")
        let dir = options.state.tenant(options.tenant)
        try dir.requireExisting()
        var summary = Summary(stage: "account commit", headline: ["in", "new", "updated", "unchanged", "rejected"])
        let rejects = try RejectSink(stage: "account commit", path: options.stream.rejectsPath)
        let tenant = options.tenant.value
        let createdAt = options.now.rfc3339
        let store = OpenStore()
        var stream = try ParallelRecordStream<Incoming>(options: options.stream, rejects: rejects, threads: options.threads,
                                                        writing: { record, _, written in
            var x = Incoming(id: ContactIdentity(record))
            if x.id.problem == nil {
                x.hash = x.id.key.withUnsafeBytes { EmailKey.hash($0) }
                x.unstorable = StorableContact.problem(record, key: x.id.key)
                // A new contact's stored line is written here, on every thread, from this parse.
                if x.unstorable == nil, let newContacts = store.newContacts, newContacts.contains(hash: x.hash) {
                    x.newContactLine = x.id.key.withUnsafeBytes {
                        ContactCommit.newContactLine(record.root, key: $0, tenant: tenant, createdAt: createdAt, into: &written)
                    }
                }
            }
            return x
        })
        defer { stream.close() }

        // A flat store is written under the books' session (the tenant lock), so that imported
        // do-not-contact statuses are on the suppression list before the contacts land; a sharded
        // store's shards are locked on their own (n commits in parallel) and the books follow.
        let sharded = StoreLayout.sharded(dir.contactsPath)
        let books: Books? = sharded ? nil : try Books(dir: dir, now: options.now, warn: warnToStderr)
        let commit = try ContactCommit(tenant: dir, shard: options.shard, now: options.now, chunkBytes: options.chunkBytes,
                                       threads: options.threads, maxDepth: options.stream.maxDepth, heldTenantLock: books?.lock)
        let tenantCheck = TenantCheck(expected: tenant)
        store.newContacts = try commit.newContacts()

        try stream.forEach { record, x in
            if let problem = x.id.problem, problem != .emptyEmail {
                problem.reject(record.bytes, origin: record.origin, to: rejects)
                return
            }
            if let refusal = tenantCheck.refusal(tenant: x.id.tenant) {
                rejects.reject(refusal, origin: record.origin, record: record.bytes)
                return
            }
            if let problem = x.id.problem {   // an empty email, judged after the tenant
                problem.reject(record.bytes, origin: record.origin, to: rejects)
                return
            }
            if let problem = x.unstorable {
                rejects.reject(problem, origin: record.origin, record: record.bytes)
                return
            }
            guard let slot = commit.slot(forHash: x.hash) else {
                rejects.reject(.wrongShard,
                               "email hashes into shard \(commit.session.describeShard(ofHash: x.hash)), not \(options.shard.map(String.init(describing:)) ?? "?")",
                               origin: record.origin, record: record.bytes)
                return
            }
            try commit.add(record.bytes, newContactLine: x.newContactLine ? record.written : nil, key: x.id.key, hash: x.hash, slot: slot)
        }
        try commit.finish()
        summary["new"] = commit.counts.new
        summary["updated"] = commit.counts.updated
        summary["unchanged"] = commit.counts.unchanged

        summary["in"] = stream.linesIn
        summary["rejected"] = rejects.count
        summary.setGroup("reject_reasons", rejects.reasons)
        summary["blank_lines"] = stream.blankLines
        try rejects.finish()
        if options.stream.strict && rejects.count > 0 {
            // Under --strict a commit with rejects changes nothing.
            summary["committed"] = 0
            return (summary, .rejectsUnderStrict)
        }
        let blocked = suppressionEvents(commit.counts.blocked, now: options.now)
        // The contacts are known (this commit holds them): the store, not committed yet, is not read.
        if let books, !blocked.isEmpty { summary["suppressed"] = try books.commit(blocked, now: options.now, markUnknown: false).suppressedNew }
        try commit.commit()
        if sharded && !blocked.isEmpty {
            commit.unlock()
            summary["suppressed"] = try Books(dir: dir, now: options.now, warn: warnToStderr).commit(blocked, now: options.now).suppressedNew
        }
        summary["committed"] = 1
        summary["runs"] = commit.session.runCount
        if let n = commit.session.shardCount { summary["shards"] = n }
        return (summary, .success)
    }

    /// Imported do-not-contact statuses as `suppressed` events (source `import`): on the
    /// suppression list like any other, so that a record carrying no status is held too.
    static func suppressionEvents(_ blocked: [(email: String, status: String)], now: Timestamp) -> [BookEvent] {
        blocked.map { email, status in
            let canonical = ContactStatus(parsing: status)?.rawValue ?? "blacklisted"
            return BookEvent(id: EventID.hash(["import", email, status, now.rfc3339]), email: email, type: "suppressed",
                             reason: "imported status: \(status)", at: now, source: "import", extra: [("status", .string(canonical))])
        }
    }
}
