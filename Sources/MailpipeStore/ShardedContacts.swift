#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// How a tenant's `contacts/` folder is laid out (docs/scale-out.md).
///
/// - Flat (no `layout.json`): one store — `manifest.json` and its runs — in `contacts/`, guarded
///   by the tenant's `lock`. Every tenant starts so unless `account init --shards n` said otherwise.
/// - Sharded (`layout.json` = `{"format":1,"shards":n}`): one sub-store per shard in
///   `contacts/shard-<i>-of-<n>/`, each a complete store (manifest, runs) with its own `lock`.
///   A contact lives in shard `EmailKey.hash(email) % n`.
///
/// `layout.json` is the commit point of a layout change: `account reshard` writes the new
/// sub-stores beside the old ones and replaces this one file atomically, then deletes the old.
///
/// Locks, always taken in this order (no deadlock): `contacts/layout.lock` (shared by contact
/// writers, exclusive for a layout change or a compaction), the tenant's `lock` (flat stores
/// only), then shard locks by ascending index.
public enum StoreLayout {
    public static let fileName = "layout.json"
    public static let lockName = "layout.lock"

    /// The shard count of a store, or nil when it is flat.
    public static func shardCount(contactsPath: String) throws -> Int? {
        let path = "\(contactsPath)/\(fileName)"
        guard let bytes = try FileSystem.readFileIfPresent(path, options: .noFollow) else { return nil }
        let value = try StateJSON.decode(bytes, path: path, what: "layout")
        guard let n = value["shards"]?.int, n >= 1 else {
            throw StateDamage(file: path, problem: "the layout lacks a shard count ≥ 1", repair: .fsck)
        }
        return n
    }

    public static func shardFolder(_ index: Int, of count: Int) -> String { "shard-\(index)-of-\(count)" }

    /// (index, count) of a sub-store folder name (`shard-2-of-4`), or nil.
    static func shardCount(ofFolder name: String) -> (index: Int, count: Int)? {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "shard", parts[2] == "of", let i = Int(parts[1]), let n = Int(parts[3]),
              n >= 1, i >= 0, i < n, shardFolder(i, of: n) == name else { return nil }
        return (i, n)
    }

    static func layoutBytes(shards: Int) -> [UInt8] {
        StateJSON.encode([("shards", .int(shards))])
    }

    /// Removes a file, or a folder and everything in it; a missing path is fine.
    public static func removeTree(_ path: String) throws {
        // A link is removed itself, never followed: a link to a folder must not empty its target.
        if !FileSystem.isSymbolicLink(path) && FileSystem.isDirectory(path) {
            for name in try FileSystem.listDirectory(path) { try removeTree("\(path)/\(name)") }
            if rmdir(path) != 0 && currentErrno() != ENOENT { throw SystemError("rmdir", path: path) }
        } else {
            try FileSystem.remove(path)
        }
    }

    /// Removes what an interrupted layout change left in a sharded `contacts/` folder: sub-store
    /// folders of another shard count, flat-store files, temporaries. Needs the exclusive layout lock.
    static func removeLeftovers(contactsPath: String, shards: Int) throws {
        var live: Set<String> = [fileName, lockName]
        for i in 0..<shards { live.insert(shardFolder(i, of: shards)) }
        for name in try FileSystem.listDirectory(contactsPath) where !live.contains(name) {
            try removeTree("\(contactsPath)/\(name)")
        }
    }

    /// Creates the sub-stores of an empty layout and commits it (`account init --shards n`).
    /// Refuses a store that holds contacts or another shard count: that is `account reshard`.
    public static func initialise(contactsPath: String, shards: Int) throws -> Bool {
        guard shards >= 1 && shards <= 4096 else { throw StageError.usage("--shards takes 1…4096, got \(shards)") }
        try FileSystem.requireFolder(contactsPath, creating: true)
        let layoutLock = try FileLock(path: "\(contactsPath)/\(lockName)", shared: false)
        defer { layoutLock.unlock() }
        if let current = try shardCount(contactsPath: contactsPath) {
            if current == shards { return false }
            throw StageError.configuration("the contact store already has \(current) shards (change it with: account reshard --shards \(shards))")
        }
        let flat = try ContactStore(directory: contactsPath)
        if !flat.isEmpty {
            throw StageError.configuration("the contact store already holds contacts (shard it with: account reshard --shards \(shards))")
        }
        for i in 0..<shards {
            let folder = "\(contactsPath)/\(shardFolder(i, of: shards))"
            try removeTree(folder)
            try FileSystem.requireFolder(folder, creating: true)
            try FileSystem.writeAtomically("\(folder)/\(ContactStore.manifestName)", ContactStore.manifestBytes(runs: [], nextRun: 1))
        }
        try FileSystem.writeAtomically("\(contactsPath)/\(fileName)", layoutBytes(shards: shards))
        try removeLeftovers(contactsPath: contactsPath, shards: shards)
        return true
    }
}

// MARK: - Reading a tenant's contacts, flat or sharded

/// The tenant-level reader of the contact store: the union of the shards (or the flat store),
/// each contact once, newest version, in email order.
///
///     let contacts = try TenantContacts.open(tenantDirectory)
///     try contacts.forEach(shard: shard) { line in … }
public final class TenantContacts {
    public let contactsPath: String
    /// The store's shard count; nil for a flat store.
    public private(set) var shardCount: Int?
    private var flat: ContactStore?
    private var shards: [ContactStore] = []

    public static func open(_ tenant: TenantDirectory) throws -> TenantContacts {
        try TenantContacts(contactsPath: tenant.contactsPath)
    }

    public init(contactsPath: String) throws {
        self.contactsPath = contactsPath
        try load()
    }

    /// Reads the layout and the sub-stores' manifests; a reshard that removes a sub-store
    /// between the two reads makes it start over.
    private func load() throws {
        var attempt = 0
        while true {
            do {
                shardCount = try StoreLayout.shardCount(contactsPath: contactsPath)
                if let n = shardCount {
                    flat = nil
                    shards = try (0..<n).map { try ContactStore(subStore: "\(contactsPath)/\(StoreLayout.shardFolder($0, of: n))") }
                } else {
                    shards = []
                    flat = try ContactStore(directory: contactsPath)
                }
                return
            } catch let error as SystemError where error.errno == .noSuchFileOrDirectory {
                guard attempt < 5 else { throw Self.lost(error) }
                attempt += 1
            } catch let error as StageError where attempt < 5 {
                // A flat store turned sharded between the layout check and the manifest read.
                if case .configuration = error, StoreLayout.sharded(contactsPath) { attempt += 1 } else { throw error }
            }
        }
    }

    /// A file still missing with the layout and manifests read again (not a fold or a reshard
    /// under a reader): a shard's manifest (rebuilt from its runs by fsck) or a run it names (lost).
    private static func lost(_ error: SystemError) -> Error {
        guard let path = error.path else { return error }
        let name = FileSystem.basename(of: path)
        if name == ContactStore.manifestName {
            return StateDamage(file: path, problem: "missing, while layout.json names its shard", repair: .fsck)
        }
        guard RunInfo.runName(ofFile: name) != nil else { return error }
        return StateDamage(file: path, problem: "missing, though \(ContactStore.manifestName) names it", repair: .restore)
    }

    /// Runs `body` again over a freshly read layout when a reshard removed files under it.
    private func withLayoutRetry<T>(_ body: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            do { return try body() } catch let error as SystemError where error.errno == .noSuchFileOrDirectory {
                // Still missing with the layout and manifests read again: not a fold or a
                // reshard under us, a run file its manifest names is gone.
                guard attempt < 5 else {
                    throw Self.lost(error)
                }
                attempt += 1
                try load()
            }
        }
    }

    public var isEmpty: Bool { flat?.isEmpty ?? shards.allSatisfy(\.isEmpty) }
    public var recordCountUpperBound: Int { flat?.recordCountUpperBound ?? shards.reduce(0) { $0 + $1.recordCountUpperBound } }

    /// The sub-stores that may hold contacts of `shard` (all of them without one), and whether
    /// their lines must still be filtered by hash.
    private func candidates(_ shard: Shard?) -> ([ContactStore], Bool) {
        guard let shard else { return (shards, false) }
        let n = shards.count
        // h % n = j and h % c = i are compatible iff j ≡ i (mod gcd(n, c)); when c divides n,
        // every contact of those sub-stores is in the shard.
        var a = n, b = shard.count
        while b != 0 { (a, b) = (b, a % b) }
        let g = a
        let picked = shards.indices.filter { $0 % g == shard.index % g }.map { shards[$0] }
        return (picked, g != shard.count)
    }

    /// Calls `body` with every contact line once (newest version), in email order. With `shard`,
    /// only the contacts whose email hashes into it; when its count equals the store's, only that
    /// sub-store is read.
    public func forEach(shard: Shard? = nil, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let flat { return try flat.forEach(shard: shard, body) }
        try withLayoutRetry {
            let (stores, filter) = candidates(shard)
            if stores.count == 1 { return try stores[0].forEach(shard: filter ? shard : nil, body) }
            try MergedScan(stores: stores).run { key, line in
                if filter, let shard, !key.withUnsafeBytes({ shard.contains(hash: EmailKey.hash($0)) }) { return }
                try body(line)
            }
        }
    }

    /// Like `forEach`, with each line's normalised email (always a run-by-run merge).
    func forEachKeyed(_ body: ([UInt8], UnsafeRawBufferPointer) throws -> Void) throws {
        let stores = flat.map { [$0] } ?? shards
        try withLayoutRetry { try MergedScan(stores: stores).run(body) }
    }

    /// Sorted hashes of every email of the tenant.
    public func emailHashes() throws -> [UInt64] {
        if let flat { return try flat.emailHashes() }
        return try withLayoutRetry {
            var all: [UInt64] = []
            for store in shards { all.append(contentsOf: try store.emailHashes()) }
            all.sort()
            return all
        }
    }

    /// Sorted folded hashes (see `ContactStore.foldedEmailHashes`).
    public func foldedEmailHashes(_ form: CanonicalForm) throws -> [UInt64] {
        if let flat { return try flat.foldedEmailHashes(form) }
        return try withLayoutRetry {
            var all: [UInt64] = []
            for store in shards { all.append(contentsOf: try store.foldedEmailHashes(form)) }
            all.sort()
            return all
        }
    }

    /// Point lookups across the shards (each address is looked up in its own shard only).
    public final class Lookup {
        private let lookups: [ContactStore.Lookup]

        init(_ lookups: [ContactStore.Lookup]) { self.lookups = lookups }

        @inline(__always) private func of(_ hash: UInt64) -> ContactStore.Lookup {
            lookups.count == 1 ? lookups[0] : lookups[Int(hash % UInt64(lookups.count))]
        }

        public func mayContain(hash: UInt64) -> Bool { of(hash).mayContain(hash: hash) }

        /// The current stored line for a normalised email, or nil.
        public func find(key: UnsafeRawBufferPointer) throws -> [UInt8]? {
            try of(EmailKey.hash(key)).find(key: key)
        }
    }

    public func lookup() throws -> Lookup {
        if let flat { return Lookup([try flat.lookup()]) }
        return try withLayoutRetry { Lookup(try shards.map { try $0.lookup() }) }
    }
}

extension StoreLayout {
    public static func sharded(_ contactsPath: String) -> Bool { FileSystem.entryExists("\(contactsPath)/\(fileName)") }
}

/// A k-way merge of the runs of several stores, by email: a binary heap of run scanners. Within
/// a store a newer run wins an equal key; different shards never share a key.
final class MergedScan {
    private var scanners: [RunScanner] = []
    private var heap: [Int] = []

    init(stores: [ContactStore]) throws {
        for store in stores {
            for run in store.runs { scanners.append(try RunScanner(directory: store.directory, info: run)) }
        }
    }

    /// True when scanner a comes before b: smaller key, or equal key and newer (higher index).
    @inline(__always) private func before(_ a: Int, _ b: Int) -> Bool {
        let c = compareKeys(scanners[a].key, scanners[b].key)
        return c != 0 ? c < 0 : a > b
    }

    @inline(__always) private func compareKeys(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                let n = min(x.count, y.count)
                let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                return c != 0 ? Int(c) : x.count - y.count
            }
        }
    }

    private func push(_ s: Int) {
        heap.append(s)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !before(heap[i], heap[parent]) { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private func pop() -> Int {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && before(heap[l], heap[m]) { m = l }
                if r < heap.count && before(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return top
    }

    func run(_ body: ([UInt8], UnsafeRawBufferPointer) throws -> Void) throws {
        for (i, s) in scanners.enumerated() {
            try s.advance()
            if !s.done { push(i) }
        }
        while !heap.isEmpty {
            let winner = pop()
            let key = scanners[winner].key
            // Older versions of the same contact: skip them.
            while let top = heap.first, scanners[top].key == key {
                let s = pop()
                try scanners[s].advance()
                if !scanners[s].done { push(s) }
            }
            try body(key, scanners[winner].line)
            try scanners[winner].advance()
            if !scanners[winner].done { push(winner) }
        }
    }
}

// MARK: - Writing

/// A writer's session on a tenant's contacts, flat or sharded: takes the locks its part of the
/// store needs, and gives one `ContactStoreWriter` per shard it writes.
///
/// - flat store: the tenant's lock; one writer. With `shard`, only that shard's contacts are
///   accepted (the commit is filtered, not parallel).
/// - sharded store, `shard` i/n (n must be the store's count): the layout lock shared and shard
///   i's lock — n such sessions run in parallel.
/// - sharded store, no `shard`: the layout lock shared and every shard lock in index order;
///   each record goes to its shard. Each shard commits atomically; a crash between two shards'
///   commits leaves some shards committed — running the same commit again completes it (a merge
///   of a record already merged changes nothing).
public final class TenantContactsWriter {
    /// The store's shard count (nil: flat).
    public let shardCount: Int?
    /// One writer per slot; `slot(forHash:)` says which slot a contact goes to.
    public let writers: [ContactStoreWriter]
    private let accepted: Shard?
    private var locks: [FileLock] = []
    private var tenantLock: FileLock?

    /// `heldTenantLock`: the caller already holds the tenant lock (the books): a flat store is
    /// written under it (and it is not released here).
    public init(tenant: TenantDirectory, shard: Shard?, heldTenantLock: FileLock? = nil) throws {
        let contacts = tenant.contactsPath
        try FileSystem.requireFolder(contacts, creating: true)
        var attempt = 0
        while true {
            if !StoreLayout.sharded(contacts) {
                if heldTenantLock != nil {
                    shardCount = nil
                    accepted = shard
                    writers = [try ContactStoreWriter(directory: contacts)]
                    return
                }
                let lock = try tenant.lock()
                if StoreLayout.sharded(contacts) && attempt < 3 {
                    // Resharded while we waited for the lock.
                    lock.unlock(); attempt += 1; continue
                }
                tenantLock = lock
                shardCount = nil
                accepted = shard
                writers = [try ContactStoreWriter(directory: contacts)]
                return
            }
            let layoutLock = try FileLock(path: "\(contacts)/\(StoreLayout.lockName)", shared: true)
            guard let n = try StoreLayout.shardCount(contactsPath: contacts) else {
                layoutLock.unlock()
                attempt += 1
                if attempt > 3 { throw StageError.runtime("\(contacts): the store layout keeps changing") }
                continue
            }
            locks = [layoutLock]
            shardCount = n
            let indices: [Int]
            if let shard {
                guard shard.count == n else {
                    throw StageError.configuration("the contact store of tenant '\(tenant.slug)' has \(n) shards; --shard \(shard) must be i/\(n) (or run: account reshard --shards \(shard.count))")
                }
                indices = [shard.index]
                accepted = shard
            } else {
                indices = Array(0..<n)
                accepted = nil
            }
            var opened: [ContactStoreWriter] = []
            for i in indices {
                let folder = "\(contacts)/\(StoreLayout.shardFolder(i, of: n))"
                locks.append(try FileLock(path: "\(folder)/lock", shared: false))
                opened.append(try Self.openShard(folder))
            }
            writers = opened
            return
        }
    }

    /// Under the layout lock no reshard can remove a shard's files, and under the shard's lock no
    /// fold: a manifest missing here is damage (fsck rebuilds it from the runs), never a retry.
    static func openShard(_ folder: String) throws -> ContactStoreWriter {
        do {
            return try ContactStoreWriter(subStore: folder)
        } catch let error as SystemError where error.errno == .noSuchFileOrDirectory
                    && error.path == "\(folder)/\(ContactStore.manifestName)" {
            throw StateDamage(file: "\(folder)/\(ContactStore.manifestName)",
                              problem: "missing, while layout.json names its shard", repair: .fsck)
        }
    }

    /// The writer slot for an email hash, or nil when the contact is not in this session's shard.
    @inline(__always)
    public func slot(forHash hash: UInt64) -> Int? {
        if let accepted { return accepted.contains(hash: hash) ? 0 : nil }
        return writers.count == 1 ? 0 : Int(hash % UInt64(writers.count))
    }

    /// The shard a hash belongs to, as "k/n" (for the wrong_shard reject).
    public func describeShard(ofHash hash: UInt64) -> String {
        let n = accepted?.count ?? shardCount ?? 1
        return "\(hash % UInt64(n))/\(n)"
    }

    public var runCount: Int { writers.reduce(0) { $0 + $1.store.runs.count } }

    /// Commits every writer (each shard atomically, in index order).
    public func commit() throws {
        for w in writers { try w.commit() }
    }

    /// Status and field updates of bookkeeping, each shard's as one new run (committed here).
    public func apply(_ updates: [ContactFieldUpdate], updatedAt: String) throws -> ContactStatusUpdate.Result {
        var total = ContactStatusUpdate.Result()
        var bySlot = [[ContactFieldUpdate]](repeating: [], count: writers.count)
        for u in updates {
            guard let slot = slot(forHash: u.key.withUnsafeBytes { EmailKey.hash($0) }) else { continue }
            bySlot[slot].append(u)
        }
        for (slot, list) in bySlot.enumerated() where !list.isEmpty {
            let r = try ContactStatusUpdate.apply(list, writer: writers[slot], updatedAt: updatedAt)
            total.changed += r.changed
            total.unchanged += r.unchanged
            total.missing += r.missing
        }
        return total
    }

    public func unlock() {
        for lock in locks.reversed() { lock.unlock() }
        locks = []
        tenantLock?.unlock()
        tenantLock = nil
    }

    deinit { unlock() }
}

/// `account compact` for either layout: folds every run of each (sub-)store into one; on a
/// sharded store also removes what an interrupted reshard left.
public enum ContactCompaction {
    public static func run(tenant: TenantDirectory) throws -> (before: Int, after: Int, contacts: Int) {
        let contacts = tenant.contactsPath
        if !StoreLayout.sharded(contacts) {
            let lock = try tenant.lock()
            defer { lock.unlock() }
            if !StoreLayout.sharded(contacts) {
                let writer = try ContactStoreWriter(directory: contacts)
                let before = writer.store.runs.count
                try writer.compact(all: true)
                return (before, writer.store.runs.count, writer.store.recordCountUpperBound)
            }
        }
        let layoutLock = try FileLock(path: "\(contacts)/\(StoreLayout.lockName)", shared: false)
        defer { layoutLock.unlock() }
        guard let n = try StoreLayout.shardCount(contactsPath: contacts) else {
            throw StageError.runtime("\(contacts): the store layout changed during compaction; run it again")
        }
        try StoreLayout.removeLeftovers(contactsPath: contacts, shards: n)
        var before = 0, after = 0, count = 0
        for i in 0..<n {
            let writer = try TenantContactsWriter.openShard("\(contacts)/\(StoreLayout.shardFolder(i, of: n))")
            before += writer.store.runs.count
            try writer.compact(all: true)
            after += writer.store.runs.count
            count += writer.store.recordCountUpperBound
        }
        return (before, after, count)
    }
}

/// `account reshard`: rewrites the store into another shard count without losing or
/// duplicating a contact, crash-safe.
///
/// 1. takes the layout lock exclusively (and the tenant lock when the store is flat), so no
///    contact writer runs; removes what an earlier interrupted reshard left;
/// 2. streams the union of the store in email order and routes each line, unchanged, to a new
///    sorted run in `shard-<j>-of-<m>/` (every new sub-store receives its contacts in order);
///    fsyncs the runs and writes each sub-store's manifest;
/// 3. replaces `layout.json` atomically — the one commit point: before it the old layout is the
///    store, after it the new one;
/// 4. deletes the old sub-stores (or the flat store's files).
public enum ContactReshard {
    public static func run(tenant: TenantDirectory, shards m: Int, compressionLevel: Int32 = 1) throws -> (from: Int, to: Int, contacts: Int) {
        guard m >= 1 && m <= 4096 else { throw StageError.usage("--shards takes 1…4096, got \(m)") }
        let contacts = tenant.contactsPath
        try FileSystem.requireFolder(contacts, creating: true)
        let layoutLock = try FileLock(path: "\(contacts)/\(StoreLayout.lockName)", shared: false)
        defer { layoutLock.unlock() }
        // A flat store's writers hold only the tenant lock.
        let tenantLock = try tenant.lock()
        defer { tenantLock.unlock() }
        let current = try StoreLayout.shardCount(contactsPath: contacts)
        if let n = current {
            try StoreLayout.removeLeftovers(contactsPath: contacts, shards: n)
        } else {
            // Folds the flat store's own leftovers, and sub-store folders of an interrupted reshard.
            _ = try ContactStoreWriter(directory: contacts)
        }
        let source = try TenantContacts(contactsPath: contacts)
        if current == m {
            return (m, m, source.recordCountUpperBound)
        }
        var writers: [RunWriter] = []
        var folders: [String] = []
        for j in 0..<m {
            let folder = "\(contacts)/\(StoreLayout.shardFolder(j, of: m))"
            try StoreLayout.removeTree(folder)
            try FileSystem.requireFolder(folder, creating: true)
            folders.append(folder)
            writers.append(try RunWriter(directory: folder, name: "run-000001", level: compressionLevel))
        }
        var count = 0
        do {
            try source.forEachKeyed { key, line in
                let j = key.withUnsafeBytes { Int(EmailKey.hash($0) % UInt64(m)) }
                try key.withUnsafeBytes { try writers[j].add(line: line, key: $0) }
                count += 1
            }
        } catch {
            for w in writers { w.abandon() }
            throw error
        }
        for (j, w) in writers.enumerated() {
            let info = try w.finish()
            if info.records == 0 {
                try FileSystem.remove("\(folders[j])/\(info.dataFile)")
                try FileSystem.remove("\(folders[j])/\(info.indexFile)")
            }
            try FileSystem.writeAtomically("\(folders[j])/\(ContactStore.manifestName)",
                                           ContactStore.manifestBytes(runs: info.records > 0 ? [info] : [], nextRun: 2))
        }
        // The commit point (its folder fsync also makes the new sub-store folders durable).
        try FileSystem.writeAtomically("\(contacts)/\(StoreLayout.fileName)", StoreLayout.layoutBytes(shards: m))
        try StoreLayout.removeLeftovers(contactsPath: contacts, shards: m)
        return (current ?? 1, m, count)
    }
}
