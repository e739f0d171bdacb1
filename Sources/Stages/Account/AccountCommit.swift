#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// `account commit`: merges contact records into the tenant's store by email.
///
/// Records are gathered in chunks (bounded memory), sorted by email, merged with their stored
/// versions, and the new or changed contacts of each chunk become one sorted run. The runs become
/// visible together when the manifest is replaced, so a commit lands whole or not at all.
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
        /// Threads parsing the incoming records (the merge itself is one thread).
        public var threads: Int

        public init(tenant: TenantSlug, state: StateRoot, now: Timestamp, stream: StreamOptions,
                    chunkBytes: Int = 192 << 20, shard: Shard? = nil, threads: Int? = nil) {
            self.threads = threads ?? min(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
            self.tenant = tenant
            self.state = state
            self.now = now
            self.stream = stream
            self.chunkBytes = chunkBytes
            self.shard = shard
        }
    }

    /// One incoming record in the chunk arena.
    struct Entry {
        var prefix: UInt64     // first 8 key bytes, big-endian: most comparisons end here
        var keyStart: Int
        var keyLength: Int
        var lineStart: Int
        var lineLength: Int
        var slot: Int          // which writer (shard) of the session takes it
    }

    /// What a parsing thread finds in one incoming record.
    struct Incoming {
        enum Problem { case none, noEmail, tenantNotString, otherTenant(String), emptyEmail }
        var problem = Problem.none
        /// The normalised email.
        var key: [UInt8] = []
        var hash: UInt64 = 0
    }

    public static func run(_ options: Options) throws -> (Summary, ExitStatus) {
        let dir = options.state.tenant(options.tenant)
        try dir.requireExisting()
        var summary = Summary(stage: "account commit", headline: ["in", "new", "updated", "unchanged", "rejected"])
        let rejects = try RejectSink(stage: "account commit", path: options.stream.rejectsPath)
        let tenant = options.tenant.value
        var stream = try ParallelRecordStream<Incoming>(options: options.stream, rejects: rejects, threads: options.threads) { record in
            var x = Incoming()
            guard let email = record["email"], email.kind == .string else { x.problem = .noEmail; return x }
            if let t = record["tenant"] {
                guard let value = t.string else { x.problem = .tenantNotString; return x }
                if value != tenant { x.problem = .otherTenant(value); return x }
            }
            var emailBytes: [UInt8] = []
            email.appendDecodedString(to: &emailBytes)
            x.key.reserveCapacity(emailBytes.count)
            emailBytes.withUnsafeBytes { EmailKey.normalize($0, into: &x.key) }
            if x.key.isEmpty { x.problem = .emptyEmail; return x }
            x.hash = x.key.withUnsafeBytes { EmailKey.hash($0) }
            return x
        }
        defer { stream.close() }

        // The tenant lock (flat store) or the layout and shard locks (sharded store).
        let session = try TenantContactsWriter(tenant: dir, shard: options.shard)
        defer { session.unlock() }

        var arena: [UInt8] = []
        arena.reserveCapacity(min(options.chunkBytes, 1 << 26) + 4096)
        var entries: [Entry] = []
        var parsers = (incoming: JSONParser(maxDepth: options.stream.maxDepth), stored: JSONParser(maxDepth: 256))
        defer { parsers.incoming.deallocate(); parsers.stored.deallocate() }
        let nowText = options.now.rfc3339

        try stream.forEach { record, x in
            switch x.problem {
            case .none: break
            case .noEmail:
                rejects.reject(reason: "missing_email", detail: "a contact needs an email string", origin: record.origin, record: record.bytes)
                return
            case .tenantNotString:
                rejects.reject(reason: "invalid_tenant", detail: "tenant must be a string", origin: record.origin, record: record.bytes)
                return
            case .otherTenant(let value):
                rejects.reject(reason: "tenant_mismatch", detail: "record of tenant '\(value)' given to --tenant \(tenant)",
                               origin: record.origin, record: record.bytes)
                return
            case .emptyEmail:
                rejects.reject(reason: "missing_email", detail: "email is empty", origin: record.origin, record: record.bytes)
                return
            }
            let hash = x.hash
            guard let slot = session.slot(forHash: hash) else {
                rejects.reject(reason: "wrong_shard",
                               detail: "email hashes into shard \(session.describeShard(ofHash: hash)), not \(options.shard.map(String.init(describing:)) ?? "?")",
                               origin: record.origin, record: record.bytes)
                return
            }
            let keyStart = arena.count
            let keyLength = x.key.count
            arena.append(contentsOf: x.key)
            let lineStart = arena.count
            arena.append(contentsOf: record.bytes)
            var prefix: UInt64 = 0
            for i in 0..<8 { prefix = prefix << 8 | UInt64(i < keyLength ? arena[keyStart + i] : 0) }
            entries.append(Entry(prefix: prefix, keyStart: keyStart, keyLength: keyLength,
                                 lineStart: lineStart, lineLength: record.bytes.count, slot: slot))
            if arena.count >= options.chunkBytes {
                // More input may follow: this chunk's run is folded with the others at the end.
                try flushChunk(&arena, &entries, session.writers, &parsers, tenant, options.now, nowText, &summary, spill: true)
            }
        }
        try flushChunk(&arena, &entries, session.writers, &parsers, tenant, options.now, nowText, &summary, spill: false)

        summary["in"] = stream.linesIn
        summary["rejected"] = rejects.count
        summary.setGroup("reject_reasons", rejects.reasons)
        summary["blank_lines"] = stream.blankLines
        rejects.flush()
        if options.stream.strict && rejects.count > 0 {
            // Under --strict a commit with rejects changes nothing.
            summary["committed"] = 0
            return (summary, .rejectsUnderStrict)
        }
        try session.commit()
        summary["committed"] = 1
        summary["runs"] = session.runCount
        if let n = session.shardCount { summary["shards"] = n }
        return (summary, .success)
    }

    private static func flushChunk(_ arena: inout [UInt8], _ entries: inout [Entry], _ writers: [ContactStoreWriter],
                                   _ parsers: inout (incoming: JSONParser, stored: JSONParser),
                                   _ tenant: String, _ now: Timestamp, _ nowText: String,
                                   _ summary: inout Summary, spill: Bool) throws {
        guard !entries.isEmpty else { return }
        try arena.withUnsafeBytes { base in
            @inline(__always) func key(_ e: Entry) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(rebasing: base[e.keyStart..<(e.keyStart + e.keyLength)])
            }
            @inline(__always) func compare(_ a: Entry, _ b: Entry) -> Int {
                if a.prefix != b.prefix { return a.prefix < b.prefix ? -1 : 1 }
                let n = min(a.keyLength, b.keyLength)
                let c = n == 0 ? 0 : Int(memcmp(base.baseAddress! + a.keyStart, base.baseAddress! + b.keyStart, n))
                return c != 0 ? c : a.keyLength - b.keyLength
            }
            // Equal keys keep input order (lineStart grows with input order): later records merge last.
            entries.sort { a, b in
                let c = compare(a, b)
                return c != 0 ? c < 0 : a.lineStart < b.lineStart
            }
            var out = ByteBuffer(capacity: 4096)
            var candidate = ByteBuffer(capacity: 4096)
            // One run per writer (shard), from its entries; equal keys share a shard, so each
            // group of equal keys is whole in one pass.
            for (slot, writer) in writers.enumerated() {
                let lookup = try writer.lookup()
                try writer.addRun(spill: spill) { add in
                    var i = 0
                    while i < entries.count {
                        var j = i
                        while j + 1 < entries.count && compare(entries[j + 1], entries[i]) == 0 { j += 1 }
                        if entries[i].slot != slot { i = j + 1; continue }
                        let k = key(entries[i])
                        let keyText = String(decoding: k, as: UTF8.self)
                        let stored = try lookup.find(key: k)
                        var current: [UInt8]? = stored
                        for e in entries[i...j] {
                            let line = UnsafeRawBufferPointer(rebasing: base[e.lineStart..<(e.lineStart + e.lineLength)])
                            let incoming = try parsers.incoming.parse(line).root
                            if let existing = current {
                                let storedNode = try existing.withUnsafeBytes { try parsers.stored.parse($0).root }
                                candidate.removeAll()
                                ContactMerge.merge(stored: storedNode, incoming: incoming, updatedAt: nil, into: &candidate)
                                if candidate.equals(existing) {
                                    summary.add("unchanged")
                                } else {
                                    out.removeAll()
                                    ContactMerge.merge(stored: storedNode, incoming: incoming, updatedAt: nowText, into: &out)
                                    current = out.bytes
                                    summary.add("updated")
                                }
                            } else {
                                out.removeAll()
                                ContactMerge.insert(incoming, key: keyText, tenant: tenant, now: now, into: &out)
                                current = out.bytes
                                summary.add("new")
                            }
                        }
                        if let current, current != stored {
                            try current.withUnsafeBytes { try add($0, k) }
                        }
                        i = j + 1
                    }
                }
            }
        }
        arena.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
    }
}
