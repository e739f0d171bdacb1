#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// One commit of contact records into a tenant's store (`account commit`): the records are
/// gathered in chunks (bounded memory), each chunk sorted by email, merged with the stored
/// versions (`ContactMerge`), and the new or changed contacts of each chunk become one sorted run
/// per (sub-)store. Nothing is visible until `commit()` replaces the manifests, so a commit lands
/// whole or not at all.
///
///     let commit = try ContactCommit(tenant: dir, shard: nil, now: now)
///     for each record: guard let slot = commit.slot(forHash: hash) … ; try commit.add(record, key: key, hash: hash, slot: slot)
///     try commit.finish(); try commit.commit()
public final class ContactCommit {
    /// The tenant lock (flat store) or the layout and shard locks (sharded store).
    public let session: TenantContactsWriter
    let tenant: String
    let nowText: String
    let chunkBytes: Int
    let threads: Int
    private let arena: ChunkArena
    private var entries: [Entry] = []
    /// The incoming records' parser depth (the stored lines' is `MergeWorker.storedDepth`).
    let maxDepth: Int
    public private(set) var counts = MergeCounts()
    /// The email hashes of this chunk's records: a record whose email came before in the chunk
    /// is merged from itself, never taken as a new contact's stored line.
    private var chunkHashes = SeenTable(initialCapacity: 1 << 12)
    /// Set by the first spilled chunk: its run holds contacts `NewContacts` did not see.
    private var spilled = false

    /// Input held in memory before a chunk is merged into a run. A commit larger than this spills
    /// runs and folds them at the end, which costs about a fifth more time than one chunk
    /// (writing and reading every spilled byte again): half a gigabyte holds a million typical
    /// contacts (~430 bytes each with their key), so such an import is merged in one go.
    public static let defaultChunkBytes = 512 << 20

    /// `heldTenantLock`: the books' session of this tenant, whose lock a flat store is written under.
    public init(tenant dir: TenantDirectory, shard: Shard?, now: Timestamp, chunkBytes: Int = ContactCommit.defaultChunkBytes,
                threads: Int = Cores.workers, maxDepth: Int = 64, heldTenantLock: FileLock? = nil) throws {
        session = try TenantContactsWriter(tenant: dir, shard: shard, heldTenantLock: heldTenantLock)
        tenant = dir.slug.value
        nowText = now.rfc3339
        self.chunkBytes = chunkBytes
        self.threads = threads
        // Grown a slab at a time as records come (a small commit stays small), up to about a chunk.
        arena = ChunkArena(slabBytes: min(ChunkArena.defaultSlabBytes, max(chunkBytes, 64 << 10)))
        self.maxDepth = maxDepth
    }

    deinit {
        chunkHashes.deallocate()
        session.unlock()
    }

    /// The writer slot of an email hash, or nil when the contact is not in this commit's shard.
    public func slot(forHash hash: UInt64) -> Int? { session.slot(forHash: hash) }

    /// Adds one record (its normalised email `key` and that key's hash); a full chunk is merged.
    ///
    /// `newContactLine`: what `newContactLine(…)` wrote for the record on a parsing thread, when
    /// `NewContacts` found no committed run holding its email. Unless the email came before in
    /// the commit, that line is kept as the contact's stored line: the record is not parsed again.
    public func add(_ record: UnsafeRawBufferPointer, newContactLine: UnsafeRawBufferPointer? = nil,
                    key: [UInt8], hash: UInt64, slot: Int) throws {
        let firstOfItsEmail = chunkHashes.insert(hash)
        var line = record
        var form = LineForm.record
        if let newContactLine, firstOfItsEmail, !spilled {
            line = newContactLine
            form = .newContact
        }
        let keyLength = key.count
        let keyStart = key.withUnsafeBytes { arena.append($0, line) }
        let (prefix, prefix2) = key.withUnsafeBytes { Entry.prefixes(of: $0) }
        entries.append(Entry(prefix: prefix, prefix2: prefix2, hash: hash, keyStart: keyStart, order: entries.count,
                             keyLength: Int32(keyLength), lineLength: Int32(line.count), slot: Int32(slot), form: form))
        if arena.count >= chunkBytes {
            spilled = true
            chunkHashes.removeAll()
            // More input may follow: this chunk's run is folded with the others at the end.
            Timing.mark("read a chunk of \(entries.count) contacts")
            ProgressLine.phase("merging a chunk of \(entries.count) contacts")
            try ContactCommit.flushChunk(arena, &entries, session.writers, maxDepth, tenant, nowText, &counts, spill: true, threads: threads)
            ProgressLine.phase(nil)
        }
    }

    /// Merges what is left (the last chunk). The runs are written but not yet visible.
    public func finish() throws {
        Timing.mark("read \(entries.count) contacts")
        ProgressLine.phase("merging \(entries.count) contacts into the store")
        try ContactCommit.flushChunk(arena, &entries, session.writers, maxDepth, tenant, nowText, &counts, spill: false, threads: threads)
        // The chunk buffers (up to a chunk's worth) are not needed by the fold that may follow.
        arena.release()
        entries = []
    }

    /// Lets the store's locks go (a sharded store's; a borrowed tenant lock stays with its owner).
    public func unlock() { session.unlock() }

    /// Makes the merged runs the store's (each (sub-)store atomically).
    public func commit() throws {
        ProgressLine.phase("writing the new runs and the manifest")
        try session.commit()
        Timing.mark("commit and fold")
    }

    /// Which contacts no committed run holds: read on the parsing threads (the indexes do not
    /// change while the commit reads its input).
    public struct NewContacts: @unchecked Sendable {
        let indexes: [RunIndex]

        /// True when no committed run holds this email hash: the contact is new to the store.
        public func contains(hash: UInt64) -> Bool {
            !indexes.contains { $0.contains(hash: hash) }
        }
    }

    /// The committed runs' indexes, for `newContactLine`'s callers.
    public func newContacts() throws -> NewContacts {
        NewContacts(indexes: try session.writers.flatMap { try $0.lookup().indexes })
    }

    /// Writes the line a new contact is stored as (`ContactMerge.insert`), on a parsing thread,
    /// and returns true; or writes nothing and returns false when the record must be merged from
    /// itself (a do-not-contact status, which the merge notes for the suppression list).
    public static func newContactLine(_ record: JSONNode, key: UnsafeRawBufferPointer, tenant: String, createdAt: String,
                                      into out: inout ByteBuffer) -> Bool {
        ContactMerge.insert(record, key: key, tenant: tenant, createdAt: createdAt, refusingStickyStatus: true, into: &out)
    }

    /// What an entry's line is: the incoming record, or already the new contact's stored line.
    enum LineForm: UInt8 { case record, newContact }

    /// One incoming record in the chunk arena: its key, then its line right after it.
    struct Entry {
        var prefix: UInt64     // first 8 key bytes, big-endian: most comparisons end here
        var prefix2: UInt64    // the next 8 (addresses often share their first 8 bytes)
        var hash: UInt64       // EmailKey.hash of the key: unequal hashes, unequal keys
        var keyStart: UnsafeRawPointer
        var order: Int         // input order in the chunk: equal keys merge in it
        var keyLength: Int32
        var lineLength: Int32
        var slot: Int32
        var form: LineForm

        var key: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: keyStart, count: Int(keyLength)) }

        /// A key's first 8 and next 8 bytes as big-endian numbers (zeros past its end).
        @inline(__always)
        static func prefixes(of key: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
            var bytes: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &bytes) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: key.prefix(16))) }
            return (UInt64(bigEndian: bytes.0), UInt64(bigEndian: bytes.1))
        }
        var line: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: keyStart + Int(keyLength), count: Int(lineLength)) }

        /// Key order; equal keys in input order (later records merge last).
        @inline(__always)
        static func precedes(_ a: Entry, _ b: Entry) -> Bool {
            if a.prefix != b.prefix { return a.prefix < b.prefix }
            if a.prefix2 != b.prefix2 { return a.prefix2 < b.prefix2 }
            let n = Int(min(a.keyLength, b.keyLength))
            let c = n == 0 ? 0 : memcmp(a.keyStart, b.keyStart, n)
            if c != 0 { return c < 0 }
            if a.keyLength != b.keyLength { return a.keyLength < b.keyLength }
            return a.order < b.order
        }

        @inline(__always)
        static func sameKey(_ a: Entry, _ b: Entry) -> Bool {
            a.hash == b.hash && a.keyLength == b.keyLength && memcmp(a.keyStart, b.keyStart, Int(a.keyLength)) == 0
        }
    }

    /// Sorts a chunk's entries (`Entry.precedes`, a total order) on `threads` threads, dealt into
    /// buckets by their first two key bytes (`BucketSort`); a small chunk on the calling thread.
    static func sort(_ entries: inout [Entry], threads: Int) throws {
        entries = try BucketSort.sorted(entries, bucket: \.prefix, workers: threads, by: Entry.precedes)
    }

    private static func flushChunk(_ arena: ChunkArena, _ entries: inout [Entry], _ writers: [ContactStoreWriter],
                                   _ maxDepth: Int, _ tenant: String, _ nowText: String,
                                   _ total: inout MergeCounts, spill: Bool, threads: Int) throws {
        guard !entries.isEmpty else { return }
        try sort(&entries, threads: threads)
        Timing.mark("sort")
        // One run per writer (shard), from its entries; equal keys share a shard, so each
        // group of equal keys is whole in one pass. Groups are merged in batches on every
        // thread, each looking its groups' stored versions up with a reader of its own, and
        // the merged lines are added to the run in key order.
        var groups: [Group] = []
        var counts = MergeCounts()
        for (slot, writer) in writers.enumerated() {
            let lookup = try writer.lookup()
            let crew = (0..<max(1, threads)).map { _ in
                MergeWorker(stored: lookup.reader(), maxDepth: maxDepth, tenant: tenant, nowText: nowText)
            }
            try writer.addRun(spill: spill, workers: threads, batches: { add in
                var i = 0
                while i < entries.count {
                    var j = i
                    while j + 1 < entries.count && Entry.sameKey(entries[j + 1], entries[i]) { j += 1 }
                    if entries[i].slot == Int32(slot) { groups.append(Group(first: i, last: j)) }
                    i = j + 1
                    if groups.count == mergeBatch || (i >= entries.count && !groups.isEmpty) {
                        try mergeGroups(&groups, entries, crew, &counts, add)
                    }
                }
            })
        }
        total.add(counts)
        Timing.mark("merge and write the run")
        arena.removeAll()
        entries.removeAll(keepingCapacity: true)
    }

    /// Records sharing one email inside a chunk (entries first…last), and the stored version.
    struct Group {
        var first: Int
        var last: Int
    }

    /// What a commit did to the contacts it was given.
    public struct MergeCounts: Sendable {
        public var new = 0
        public var updated = 0
        public var unchanged = 0
        /// Contacts this commit made not contactable: an incoming do-not-contact status
        /// (`ContactStatus.isSticky`, in any spelling) where the store had none. They go on the
        /// suppression list too (`account commit`).
        public var blocked: [(email: String, status: String)] = []
        mutating func add(_ other: MergeCounts) {
            new += other.new; updated += other.updated; unchanged += other.unchanged
            blocked += other.blocked
        }
    }

    /// Notes an incoming sticky status on a contact whose stored one (`stored`: nil when new) is not.
    static func noteBlocked(_ incoming: JSONNode, stored: JSONNode?, key: UnsafeRawBufferPointer, _ counts: inout MergeCounts) {
        guard let status = incoming["status"], ContactStatus.isSticky(status) else { return }
        if let old = stored?["status"], ContactStatus.isSticky(old) { return }
        counts.blocked.append((String(decoding: key, as: UTF8.self), status.string ?? ""))
    }

    /// Groups merged per hand-over: bounds the merged lines held in memory (about 4 MB).
    static let mergeBatch = 8192

    /// Merges each group's records (in input order) into its stored version, on every thread of
    /// `crew` (a share of consecutive groups each), then calls `add` once with the changed
    /// groups' new lines and their index keys (computed there too), in group order; empties `groups`.
    private static func mergeGroups(_ groups: inout [Group], _ entries: [Entry], _ crew: [MergeWorker],
                                    _ counts: inout MergeCounts,
                                    _ add: ([UnsafeRawBufferPointer], [RunIndexKey]) throws -> Void) throws {
        let n = groups.count < 256 ? 1 : crew.count
        let all = groups
        try WorkCrew.perform(workers: n) { w in
            crew[w].merge(all[(all.count * w / n)..<(all.count * (w + 1) / n)], entries)
        }
        if let failure = crew[0..<n].lazy.compactMap(\.failure).first { throw failure }
        var changed: [UnsafeRawBufferPointer] = [], indexKeys: [RunIndexKey] = []
        changed.reserveCapacity(all.count)
        indexKeys.reserveCapacity(all.count)
        for worker in crew[0..<n] {
            counts.add(worker.counts)
            for m in worker.merged {
                switch m.line {
                case .unchanged: continue
                case .firstEntrysLine: changed.append(entries[m.group.first].line)
                case .written(let range): changed.append(worker.lines.bytes(range))
                }
                indexKeys.append(m.indexKey)
            }
        }
        // The workers' buffers hold the written lines until `add` has taken them.
        try withExtendedLifetime(crew) { try add(changed, indexKeys) }
        groups.removeAll(keepingCapacity: true)
    }

    /// One merging thread's state, kept from batch to batch of a chunk: its parsers, its reader
    /// of the stored versions, and what it merged in the batch under way.
    final class MergeWorker {
        /// Stored lines are written by the store, but may nest deeper than incoming records do.
        static let storedDepth = 256
        private var parsers: (incoming: JSONParser, stored: JSONParser)
        private let stored: ContactStore.Lookup.Reader
        private let tenant: String
        private let nowText: String
        /// The batch's merged lines, back to back (valid until the next batch).
        private(set) var lines = ByteBuffer(capacity: 1 << 20)
        /// The batch's changed groups: what their line is, and its index key.
        private(set) var merged: [(group: Group, line: MergedLine, indexKey: RunIndexKey)] = []
        private(set) var counts = MergeCounts()
        private(set) var failure: Error?
        private var scratch = ByteBuffer(capacity: 4096)
        private var folded: [UInt8] = []

        init(stored: ContactStore.Lookup.Reader, maxDepth: Int, tenant: String, nowText: String) {
            self.stored = stored
            self.tenant = tenant
            self.nowText = nowText
            parsers = (JSONParser(maxDepth: maxDepth), JSONParser(maxDepth: MergeWorker.storedDepth))
        }

        deinit {
            parsers.incoming.deallocate()
            parsers.stored.deallocate()
        }

        /// Merges a share of a batch's groups, each with its stored version looked up here.
        func merge(_ groups: ArraySlice<Group>, _ entries: [Entry]) {
            lines.removeAll()
            merged.removeAll(keepingCapacity: true)
            counts = MergeCounts()
            failure = nil
            do {
                for group in groups {
                    let first = entries[group.first]
                    let storedLine = try stored.find(key: first.key, hash: first.hash)
                    let line = try ContactCommit.merge(group, stored: storedLine, entries, &parsers, tenant, nowText, &counts,
                                                       scratch: &scratch, into: &lines)
                    if case .unchanged = line { continue }
                    merged.append((group, line, RunIndexKey(key: first.key, hash: first.hash, folded: &folded)))
                }
            } catch {
                failure = error
            }
        }
    }

    /// A group's line for the run, as `merge` leaves it.
    enum MergedLine {
        /// Nothing changed: the stored version stays.
        case unchanged
        /// The group's one entry is a new contact's stored line already: it goes in as it is.
        case firstEntrysLine
        /// Written into the share's buffer, at this range.
        case written(Range<Int>)
    }

    /// One group: its records merged in input order into the stored version (or inserted).
    /// Appends a new line to `out` when one is written.
    fileprivate static func merge(_ group: Group, stored: [UInt8]?, _ entries: [Entry],
                              _ parsers: inout (incoming: JSONParser, stored: JSONParser),
                              _ tenant: String, _ nowText: String, _ counts: inout MergeCounts,
                              scratch: inout ByteBuffer, into out: inout ByteBuffer) throws -> MergedLine {
        let start = out.count
        let first = entries[group.first]
        let key = first.key
        if stored == nil && group.first == group.last {
            // The usual case of an import: one new contact, written straight into the output.
            let line = first.line
            counts.new += 1
            if first.form == .newContact { return .firstEntrysLine }
            let incoming = try parsers.incoming.parse(line).root
            ContactMerge.insert(incoming, key: key, tenant: tenant, createdAt: nowText, into: &out)
            noteBlocked(incoming, stored: nil, key: key, &counts)
            return .written(start..<out.count)
        }
        var current: [UInt8]? = stored
        for e in entries[group.first...group.last] {
            let line = e.line
            if e.form == .newContact {
                // Only ever the first record of a group with no stored version (see `add`).
                current = Array(line)
                counts.new += 1
                continue
            }
            let incoming = try parsers.incoming.parse(line).root
            if let existing = current {
                let storedNode = try existing.withUnsafeBytes { try parsers.stored.parse($0).root }
                noteBlocked(incoming, stored: storedNode, key: key, &counts)
                scratch.removeAll()
                ContactMerge.merge(stored: storedNode, incoming: incoming, updatedAt: nil, into: &scratch)
                if scratch.equals(existing) {
                    counts.unchanged += 1
                } else {
                    scratch.removeAll()
                    ContactMerge.merge(stored: storedNode, incoming: incoming, updatedAt: nowText, into: &scratch)
                    current = scratch.bytes
                    counts.updated += 1
                }
            } else {
                noteBlocked(incoming, stored: nil, key: key, &counts)
                scratch.removeAll()
                ContactMerge.insert(incoming, key: key, tenant: tenant, createdAt: nowText, into: &scratch)
                current = scratch.bytes
                counts.new += 1
            }
        }
        guard let current, current != stored else { return .unchanged }
        current.withUnsafeBytes { out.append($0) }
        return .written(start..<out.count)
    }
}

/// A chunk's keys and lines, in slabs of a fixed size: what is held never moves as the chunk
/// grows (an Array doubling copies everything so far and touches about twice the pages), and a
/// small commit takes one slab. Nothing is reserved up front (`ulimit -v` runs stay small).
final class ChunkArena {
    static let defaultSlabBytes = 4 << 20
    let slabBytes: Int
    private var slabs: [UnsafeMutableRawBufferPointer] = []
    /// The slab being filled, and how much of it is used.
    private var current = 0
    private var used = 0
    /// Bytes held (what a chunk's size is counted in).
    private(set) var count = 0

    init(slabBytes: Int) { self.slabBytes = slabBytes }

    deinit { release() }

    /// Copies `a` then `b` right after it; returns where `a` starts. Valid until `removeAll`.
    func append(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> UnsafeRawPointer {
        let n = a.count + b.count
        while current < slabs.count && slabs[current].count - used < n {
            current += 1
            used = 0
        }
        if current == slabs.count {
            // A line longer than a slab gets a slab of its own size.
            slabs.append(.allocate(byteCount: max(slabBytes, n), alignment: 16))
            used = 0
        }
        let start = slabs[current].baseAddress! + used
        if a.count > 0 { start.copyMemory(from: a.baseAddress!, byteCount: a.count) }
        if b.count > 0 { (start + a.count).copyMemory(from: b.baseAddress!, byteCount: b.count) }
        used += n
        count += n
        return UnsafeRawPointer(start)
    }

    /// Forgets what is held; the slabs are kept for the next chunk.
    func removeAll() {
        current = 0
        used = 0
        count = 0
    }

    /// Forgets what is held and frees the slabs.
    func release() {
        for slab in slabs { slab.deallocate() }
        slabs = []
        removeAll()
    }
}
