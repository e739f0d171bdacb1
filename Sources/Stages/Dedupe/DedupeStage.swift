#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// `dedupe`: drops repeats inside the stream (the first occurrence wins and is written at once)
/// and marks each contact `"dedupe":"new"` or `"existing"` against the tenant's store, read-only.
///
/// How the store is known: `ContactStore.emailHashes()` gives the sorted FNV-1a 64 hashes of every
/// stored email (read from the runs' `.idx` files, no contact is inflated); they are kept in a
/// `StoreHashIndex` (8 bytes a contact + a bucket table). Repeats in the stream are found with a
/// `SeenTable` of 16-byte slots. With `--canonical` the store's emails are read and folded once
/// (their hashes on disk are of the exact addresses).
public enum DedupeStage {
    public struct Options {
        public var tenant: TenantSlug?
        public var state: StateRoot
        public var canonical: CanonicalForm
        public var keepRepeats: Bool
        public var dropExisting: Bool
        public var shard: Shard?
        /// Threads parsing records (nil: one per core, at most 4); the output does not depend on it.
        public var threads: Int
        public var stream: StreamOptions

        public init(tenant: TenantSlug?, state: StateRoot, canonical: CanonicalForm = .exact, keepRepeats: Bool = false,
                    dropExisting: Bool = false, shard: Shard? = nil, threads: Int? = nil, stream: StreamOptions) {
            self.threads = threads ?? Cores.workers
            self.tenant = tenant
            self.state = state
            self.canonical = canonical
            self.keepRepeats = keepRepeats
            self.dropExisting = dropExisting
            self.shard = shard
            self.stream = stream
        }
    }

    /// Loads the index of one tenant's store (optionally one shard of it).
    public static func loadIndex(tenant: TenantSlug, state: StateRoot, canonical: CanonicalForm, shard: Shard?) throws -> StoreHashIndex {
        let dir = state.tenant(tenant)
        try dir.requireExisting()
        let store = try TenantContacts.open(dir)
        var hashes: [UInt64]
        if canonical == .exact {
            hashes = try store.emailHashes()
            if let shard { hashes.removeAll { !shard.contains(hash: $0) } }
        } else {
            // Every stored address's exact hash, and the folded hash of each one the form
            // changes: a folded address from the stream then matches either its stored twin's
            // folded hash or (when folding changes nothing) its exact one. A stored address
            // that folding changes is never itself a folded form, so its exact hash matches
            // nothing extra.
            let folds = try store.foldedEmailHashes(canonical)
            var exact = try store.emailHashes()
            if let shard {
                exact.removeAll { !shard.contains(hash: $0) }
                hashes = StoreHashIndex.merge(exact, folds.filter { shard.contains(hash: $0) })
            } else {
                hashes = StoreHashIndex.merge(exact, folds)
            }
        }
        return StoreHashIndex(sorted: hashes)
    }

    /// What a worker thread finds in one record: everything but the decisions that depend on the
    /// records before it (the stream's tenant, repeats).
    struct Extracted {
        var problem: ContactIdentity.Problem?
        var hash: UInt64 = 0
        /// The record's tenant when it is not the --tenant one (nil: absent, or equal to --tenant).
        var otherTenant: String?
        var hasDedupeMember = false
        /// Whether the store holds the address, when its index was loaded before the stream (--tenant).
        var inStore: Bool?
    }

    public static func run(_ options: Options, output: inout OutputSink) throws -> (Summary, ExitStatus) {
        var summary = Summary(stage: "dedupe", headline: ["in", "new", "existing", "repeats", "rejected"])
        let rejects = try RejectSink(stage: "dedupe", path: options.stream.rejectsPath)
        let flagTenant = options.tenant?.value
        let flagTenantBytes = flagTenant.map { Array($0.utf8) }
        let canonical = options.canonical
        // With --tenant the index is known before the first record: the parsing threads look
        // addresses up (a cache miss or two each) so the writing thread does not.
        var index: StoreHashIndex? = nil
        if let slug = options.tenant {
            index = try loadIndex(tenant: slug, state: options.state, canonical: options.canonical, shard: options.shard)
        }
        let preloaded = index
        let readers = (0..<Cores.capped(options.threads)).map { _ in IdentityReader() }
        var stream = try ParallelRecordStream<Extracted>(options: options.stream, rejects: rejects, threads: readers.count,
                                                         keeping: readers.map(\.slots)) { record, worker in
            let reader = readers[worker]
            let slots = reader.slots
            reader.identity.read(email: slots.node(IdentityReader.email, in: record.document),
                                 tenant: slots.node(IdentityReader.tenant, in: record.document), tenantOtherThan: flagTenantBytes)
            var x = Extracted()
            x.problem = reader.identity.problem
            if let t = reader.identity.tenant, t != flagTenant { x.otherTenant = t }
            if x.problem != nil { return x }
            canonical.apply(&reader.identity.key)
            x.hash = reader.identity.key.withUnsafeBytes { EmailKey.hash($0) }
            x.hasDedupeMember = slots[IdentityReader.dedupe] >= 0
            return x
        } finishSlice: { items in
            // The store look-ups of a slice at once (see `StoreHashIndex.contains(_:into:)`).
            guard let preloaded else { return }
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: StoreHashIndex.group) { hashes in
                withUnsafeTemporaryAllocation(of: Bool.self, capacity: StoreHashIndex.group) { found in
                    var lo = 0
                    while lo < items.count {
                        let hi = min(items.count, lo + StoreHashIndex.group)
                        var n = 0
                        for i in lo..<hi {
                            guard let x = items[i], x.problem == nil else { continue }
                            hashes[n] = x.hash
                            n += 1
                        }
                        preloaded.contains(UnsafeBufferPointer(rebasing: hashes[0..<n]), into: found)
                        n = 0
                        for i in lo..<hi {
                            guard let x = items[i], x.problem == nil else { continue }
                            items[i]!.inStore = found[n]
                            n += 1
                        }
                        lo = hi
                    }
                }
            }
        }
        defer { stream.close() }

        var tenant: String? = flagTenant
        var tenantCheck = flagTenant.map { TenantCheck(expected: $0) }
        var seen = SeenTable(initialCapacity: 1 << 20)
        defer { seen.deallocate() }
        var files: [String] = []
        var fileNumbers: [String: Int] = [:]
        var lastInput = -1
        var lastFileNumber = 0
        var patcher = Patcher(maxDepth: options.stream.maxDepth)
        defer { patcher.deallocate() }
        var counts = (new: 0, existing: 0, repeats: 0, out: 0, droppedExisting: 0, otherShard: 0)

        // The seen table's slots of the records a little ahead are read in bursts of
        // `warmLead`, so that those slots' cache misses overlap each other and the records in
        // between (a whole batch read at once was evicted again, by the copying of the batch's
        // records, before its turn came; one read per record waited for each miss in turn: a
        // used load is no prefetch, it holds up the thread until its line arrives).
        var upcoming = UnsafeBufferPointer<Extracted?>(start: nil, count: 0)
        var nextToWarm = 0
        var warmedAhead = 0
        var warmed: UInt64 = 0
        func warmAhead(_ records: Int) {
            var k = 0
            var sum: UInt64 = 0
            while k < records && nextToWarm < upcoming.count {
                if let x = upcoming[nextToWarm], x.problem == nil { sum &+= seen.warm(x.hash); k += 1 }
                nextToWarm += 1
            }
            warmed &+= sum
            warmedAhead += k
        }
        try stream.forEach(willDeliver: { items in
            upcoming = items
            nextToWarm = 0
            warmedAhead = 0
            warmAhead(2 * SeenTable.warmLead)
        }) { record, x in
            warmedAhead -= 1
            if warmedAhead < SeenTable.warmLead { warmAhead(SeenTable.warmLead) }
            if let problem = x.problem, problem != .emptyEmail {
                problem.reject(record.bytes, origin: record.origin, to: rejects)
                return
            }
            if let value = x.otherTenant {
                if let check = tenantCheck {
                    if let refusal = check.refusal(tenant: value) {
                        rejects.reject(refusal, origin: record.origin, record: record.bytes)
                        return
                    }
                } else {
                    // No --tenant: the first record's tenant is the stream's.
                    let slug: TenantSlug
                    do { slug = try TenantSlug(value) } catch {
                        rejects.reject(.invalidTenant, "'\(value)' is not a tenant slug", origin: record.origin, record: record.bytes)
                        return
                    }
                    tenant = value
                    tenantCheck = TenantCheck(expected: value, source: "a stream of tenant '\(value)'")
                    index = try loadIndex(tenant: slug, state: options.state, canonical: options.canonical, shard: options.shard)
                }
            } else if tenant == nil {
                throw StageError.usage("line \(record.line): the record has no tenant and no --tenant was given")
            }
            if let problem = x.problem {   // an empty email, judged after the tenant
                problem.reject(record.bytes, origin: record.origin, to: rejects)
                return
            }
            let hash = x.hash
            if let shard = options.shard, !shard.contains(hash: hash) {
                counts.otherShard += 1
                return
            }
            // 0 = standard input, else 1 + the file's place in `files` (named in duplicate rejects).
            var fileNumber = 0
            if let file = record.file {
                if record.input == lastInput { fileNumber = lastFileNumber } else {
                    if let n = fileNumbers[file] { fileNumber = n } else {
                        fileNumber = files.count + 1
                        files.append(file)
                        fileNumbers[file] = fileNumber
                    }
                    lastInput = record.input
                    lastFileNumber = fileNumber
                }
            }
            let mark: StaticString
            if let first = seen.insertOrFind(hash, value: UInt64(fileNumber) << 48 | UInt64(record.line)) {
                counts.repeats += 1
                if !options.keepRepeats {
                    let firstFile = Int(first >> 48)
                    var extra: [(String, JSONValue)] = [("first_line", .int(Int(first & 0xFFFF_FFFF_FFFF)))]
                    if firstFile > 0 { extra.append(("first_file", .string(files[firstFile - 1]))) }
                    rejects.reject(.duplicate, "repeats the address first seen on line \(first & 0xFFFF_FFFF_FFFF)",
                                   origin: record.origin, extra: extra, record: record.bytes)
                    return
                }
                if options.dropExisting { counts.droppedExisting += 1; return }
                mark = "existing"
            } else if x.inStore ?? index!.contains(hash) {
                counts.existing += 1
                if options.dropExisting { counts.droppedExisting += 1; return }
                mark = "existing"
            } else {
                counts.new += 1
                mark = "new"
            }
            if x.hasDedupeMember {
                patcher.write(record.bytes, mark: mark, into: &output.buffer)
            } else {
                append(record.bytes, mark: mark, into: &output.buffer)
            }
            output.buffer.append(0x0A)
            counts.out += 1
            try output.flushIfNeeded()
        }
        try output.flush()
        try rejects.finish()
        summary["in"] = stream.linesIn
        summary["new"] = counts.new
        summary["existing"] = counts.existing
        summary["repeats"] = counts.repeats
        summary["rejected"] = rejects.count
        summary["out"] = counts.out
        summary["dropped_existing"] = counts.droppedExisting
        if options.shard != nil { summary["other_shard"] = counts.otherShard }
        summary["store_hashes"] = index?.count ?? 0
        summary["blank_lines"] = stream.blankLines
        summary.setGroup("reject_reasons", rejects.reasons)
        let status: ExitStatus = options.stream.strict && rejects.count > 0 ? .rejectsUnderStrict : .success
        return (summary, status)
    }

    /// One parsing thread's own state: the root members its parse builds — the line is still
    /// validated whole (`JSONParser.parse(_:keeping:)`), the other members without tokens — and
    /// the identity it reads records into (its key's storage reused).
    final class IdentityReader {
        /// The slots of the members read, in the order `init` names them.
        static let email = 0, tenant = 1, dedupe = 2
        let slots = FieldSlots()
        var identity = ContactIdentity()
        init() { for key in ["email", "tenant", "dedupe"] { _ = slots.slot(key) } }
    }

    /// Replaces a record's own `dedupe` member (rare: a record marked by an earlier run).
    struct Patcher {
        var parser: JSONParser
        var patch = RecordPatch()
        init(maxDepth: Int) { parser = JSONParser(maxDepth: maxDepth) }
        func deallocate() { parser.deallocate() }
        mutating func write(_ bytes: UnsafeRawBufferPointer, mark: StaticString, into buffer: inout ByteBuffer) {
            guard let document = try? parser.parse(bytes) else { buffer.append(bytes); return }
            patch.removeAll()
            patch.set("dedupe", string: mark.description)
            patch.write(Record(document: document, line: 0, file: nil), into: &buffer)
        }
    }

    /// Appends `"dedupe":"…"` before the record's closing brace (it has no such member yet).
    @inline(__always)
    static func append(_ bytes: UnsafeRawBufferPointer, mark: StaticString, into buffer: inout ByteBuffer) {
        var end = bytes.count
        while end > 0 && bytes[end - 1] != UInt8(ascii: "}") { end -= 1 }
        buffer.append(UnsafeRawBufferPointer(rebasing: bytes[0..<(end - 1)]))
        // `{}` has no members: no comma. (A contact always has an email, but stay correct.)
        var k = end - 2
        while k >= 0 && (bytes[k] == 0x20 || bytes[k] == 0x09) { k -= 1 }
        if k >= 0 && bytes[k] != UInt8(ascii: "{") { buffer.append(UInt8(ascii: ",")) }
        // Typed: an untyped literal would take the String overload, a call and a copy per record.
        buffer.append("\"dedupe\":\"" as StaticString)
        buffer.append(mark)
        buffer.append("\"}" as StaticString)
    }
}
