#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// The contact store of one tenant: sorted gzip runs listed by a manifest (docs/design.md §4).
///
/// - `manifest.json` names the live runs, oldest first. Replacing it (atomically) is the one
///   commit point of every change, so a crash leaves the old or the new store, never a mix.
/// - A contact may appear in several runs; the newest run holds its current, fully merged
///   version. Reading merges the runs by email and yields each contact once.
/// - Files not named by the manifest are leftovers of an interrupted writer and are removed by
///   the next writer.
public final class ContactStore {
    public let directory: String
    public private(set) var runs: [RunInfo]
    private(set) var nextRun: Int

    static let manifestName = "manifest.json"

    /// A sub-store of a sharded tenant always has a manifest: a missing one means the layout
    /// changed under a reader (a reshard removed it), which then starts over.
    let requiresManifest: Bool

    /// Set by a writer (it holds the lock): a run index that fails its checks is rewritten from
    /// its run. A reader rebuilds it in memory and leaves the file alone.
    var repairsIndexes = false
    /// Indexes a reader rebuilt in memory, by run name (rebuilt once per process).
    private var rebuiltIndexes: [String: RunIndex] = [:]

    /// Opens the store for reading (a store never written to reads as empty; run files without a
    /// manifest are `StateDamage`). A sharded store (a `layout.json` in the folder) is refused:
    /// read it with `TenantContacts`.
    public init(directory: String) throws {
        self.directory = directory
        try FileSystem.requireFolder(directory)
        if FileSystem.entryExists("\(directory)/\(StoreLayout.fileName)") {
            throw StageError.configuration("\(directory) is a sharded contact store: open it with TenantContacts")
        }
        requiresManifest = false
        (runs, nextRun) = try ContactStore.readManifest(directory)
    }

    /// Opens one shard's sub-store; its manifest must exist (ENOENT otherwise).
    init(subStore directory: String) throws {
        self.directory = directory
        try FileSystem.requireFolder(directory)
        requiresManifest = true
        (runs, nextRun) = try ContactStore.readManifest(directory, required: true)
    }

    public var isEmpty: Bool { runs.isEmpty }
    public var recordCountUpperBound: Int { runs.reduce(0) { $0 + $1.records } }

    static func readManifest(_ directory: String, required: Bool = false) throws -> ([RunInfo], Int) {
        let path = "\(directory)/\(manifestName)"
        guard let bytes = try FileSystem.readFileIfPresent(path, options: .noFollow) else {
            if required { throw SystemError("open", path: path, errno: .noSuchFileOrDirectory) }
            try requireNothingWithoutManifest(directory)
            return ([], 1)
        }
        return try parseManifest(bytes, path: path)
    }

    static func parseManifest(_ bytes: [UInt8], path: String) throws -> ([RunInfo], Int) {
        let value = try StateJSON.decode(bytes, path: path, what: "manifest")
        guard let list = value["runs"]?.array, let next = value["next_run"]?.int else {
            throw StateDamage(file: path, problem: "the manifest lacks runs or next_run", repair: .fsck)
        }
        let runs = try list.map { item -> RunInfo in
            guard let name = item["name"]?.string, RunInfo.number(of: name) != nil,
                  let records = item["records"]?.int, let bytes = item["bytes"]?.int else {
                throw StateDamage(file: path, problem: "malformed run entry", repair: .fsck)
            }
            return RunInfo(name: name, records: records, bytes: bytes)
        }
        return (runs, next)
    }

    /// A store without a manifest is empty only when nothing else is there: run files (or the
    /// sub-store folders of a sharded store) without it mean the manifest was lost — reading them
    /// as an empty store would let the next writer delete every run as a leftover.
    static func requireNothingWithoutManifest(_ directory: String) throws {
        guard try FileSystem.entryKind(directory) == .folder else { return }
        let names = try FileSystem.listDirectory(directory)
        let runs = names.filter { RunInfo.number(of: RunInfo.runName(ofFile: $0) ?? "") != nil }
        let shards = names.filter { StoreLayout.shardCount(ofFolder: $0) != nil }
        guard !runs.isEmpty || !shards.isEmpty else { return }
        if FileSystem.entryExists("\(directory)/\(StoreLayout.fileName)") {
            // Resharded under a reader: the caller reads the layout again.
            throw StageError.configuration("\(directory) is a sharded contact store: open it with TenantContacts")
        }
        let what = runs.isEmpty
            ? "\(shards.count) shard folders (\(shards[0]) …) but no layout.json"
            : "\(runs.count) run files (\(runs[0]) …)"
        throw StateDamage(file: "\(directory)/\(runs.isEmpty ? StoreLayout.fileName : manifestName)",
                          problem: "missing, while the folder holds \(what): the list of live contact files is lost. Nothing was read or removed",
                          repair: .fsck)
    }

    /// Writes an empty store's manifest (`account init`): from then on, run files without a
    /// manifest are damage, never a first commit in progress.
    public static func writeEmptyManifest(folder: String) throws {
        try FileSystem.writeAtomically("\(folder)/\(manifestName)", manifestBytes(runs: [], nextRun: 1))
    }

    static func manifestBytes(runs: [RunInfo], nextRun: Int) -> [UInt8] {
        StateJSON.encode([
            ("next_run", .int(nextRun)),
            ("runs", .array(runs.map { .object(JSONObject([
                ("name", .string($0.name)), ("records", .int($0.records)), ("bytes", .int($0.bytes)),
            ])) })),
        ])
    }

    // MARK: reading

    /// Calls `body` with every contact line once (newest version), in email order.
    /// With `shard`, only the contacts whose email hashes into it.
    public func forEach(shard: Shard? = nil, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        if runs.isEmpty { return }
        if runs.count == 1 && shard == nil {
            let run = runs[0]
            let index = try openWithRetry { try withIndex(run, { try RunIndex.loadBlockOffsets(path: $0, dataSize: $1) }, orRebuilt: { $0 }) }
            try streamSingleRun(runs[0], index: index, body)
            return
        }
        let scanners = try openWithRetry { try runs.map { try RunScanner(directory: directory, info: $0) } }
        for s in scanners { try s.advance() }
        // Runs are few (compaction keeps them so): a linear pick of the smallest key is enough.
        while true {
            var best = -1
            for (i, s) in scanners.enumerated() where !s.done {
                if best < 0 { best = i; continue }
                let order = compare(s.key, scanners[best].key)
                // Equal keys: the newer run (higher index) wins.
                if order < 0 || order == 0 { best = i }
            }
            if best < 0 { return }
            let key = scanners[best].key
            if let shard {
                let inShard = key.withUnsafeBytes { shard.contains(hash: EmailKey.hash($0)) }
                if inShard { try body(scanners[best].line) }
            } else {
                try body(scanners[best].line)
            }
            for s in scanners where !s.done && s.key == key { try s.advance() }
        }
    }

    /// A writer may fold runs and delete the old files between our manifest read and our opens:
    /// then the manifest is read again (readers never block writers). A run file still missing
    /// after that is damage.
    private func openWithRetry<T>(_ open: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            do { return try open() } catch let error as SystemError where error.errno == .noSuchFileOrDirectory {
                guard attempt < 5 else {
                    throw StateDamage(file: error.path ?? directory, problem: "missing, though \(ContactStore.manifestName) names it", repair: .restore)
                }
                attempt += 1
                (runs, nextRun) = try ContactStore.readManifest(directory, required: requiresManifest)
            }
        }
    }

    /// Reads a run's index with `read` (given its path and the run file's size). When the file
    /// fails its checks, is missing, or predates checksums, the index is rebuilt from the run —
    /// rewritten by a writer, kept in memory by a reader — and answered by `fromMemory`.
    func withIndex<T>(_ run: RunInfo, _ read: (_ path: String, _ dataSize: Int) throws -> T,
                      orRebuilt fromMemory: (RunIndex) throws -> T) throws -> T {
        let path = "\(directory)/\(run.indexFile)"
        if let rebuilt = rebuiltIndexes[run.name] { return try fromMemory(rebuilt) }
        // The run file first: when it is gone (a fold under a reader), that is what to report.
        // A writer holds the lock: nobody folds under it, so a missing run is damage.
        let dataSize: Int
        do { dataSize = try FileSystem.fileSize("\(directory)/\(run.dataFile)") } catch let error as SystemError
            where repairsIndexes && error.errno == .noSuchFileOrDirectory {
            throw StateDamage(file: "\(directory)/\(run.dataFile)", problem: "missing, though \(ContactStore.manifestName) names it", repair: .restore)
        }
        let problem: String
        do { return try read(path, dataSize) } catch let damage as RunIndex.Damage {
            problem = damage.description
        } catch let error as SystemError where error.errno == .noSuchFileOrDirectory {
            problem = "\(path): missing"
        }
        let rebuilt = try RunIndex.rebuild(directory: directory, info: run)
        if repairsIndexes {
            try rebuilt.write(path: path, atomically: true)
            StateWarning.emit("\(problem); rebuilt it from \(run.dataFile)")
        } else {
            rebuiltIndexes[run.name] = rebuilt
            StateWarning.emit("\(problem); using an index rebuilt in memory from \(run.dataFile) (account fsck --tenant \(StateDamage(file: path, problem: "", repair: .fsck).tenant) --repair rewrites the file)")
        }
        return try fromMemory(rebuilt)
    }

    /// A run's whole index (point lookups, block reads), checked or rebuilt.
    func fullIndex(_ run: RunInfo) throws -> RunIndex {
        try withIndex(run, { try RunIndex.load(path: $0, dataSize: $1) }, orRebuilt: { $0 })
    }

    @inline(__always)
    func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                let n = min(x.count, y.count)
                let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                if c != 0 { return Int(c) }
                return x.count - y.count
            }
        }
    }

    /// One run and no filter: inflate members on every core and hand out their lines.
    private func streamSingleRun(_ run: RunInfo, index: RunIndex, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let path = "\(directory)/\(run.dataFile)"
        let fd = try FileDescriptor.openForReading(path, options: .noFollow)
        defer { fd.close() }
        let stream = try RunStream(path: path, descriptor: fd, blockOffsets: index.blockOffsets, workers: Cores.workers)
        try stream.forEachLine(body)
    }

    /// Point lookups, newest run first.
    public final class Lookup {
        private var lookups: [RunLookup]
        /// What `find` reads with (made again when a run is prepended).
        private var ownReader: Reader?

        init(store: ContactStore, runs: [RunInfo]) throws {
            lookups = try runs.reversed().map { try RunLookup(directory: store.directory, info: $0, index: try store.fullIndex($0)) }
        }

        func prepend(_ lookup: RunLookup) {
            lookups.insert(lookup, at: 0)
            ownReader = nil
        }

        /// The runs' indexes, newest first.
        var indexes: [RunIndex] { lookups.map(\.index) }

        /// Whether any run may hold this hash (exact for the store's purposes; a 64-bit collision
        /// would only cost a member inflate in `find`).
        public func mayContain(hash: UInt64) -> Bool {
            lookups.contains { $0.index.contains(hash: hash) }
        }

        /// The current stored line for a normalised email, or nil.
        public func find(key: UnsafeRawBufferPointer) throws -> [UInt8]? {
            try find(key: key, hash: EmailKey.hash(key))
        }

        /// The same, when the caller has the key's `EmailKey.hash` already.
        public func find(key: UnsafeRawBufferPointer, hash: UInt64) throws -> [UInt8]? {
            let reader = ownReader ?? Reader(lookups)
            ownReader = reader
            return try reader.find(key: key, hash: hash)
        }

        /// A reader of these runs for one thread (each thread its own: a commit's merging threads
        /// look the stored versions up at once). It sees the runs as they are now.
        func reader() -> Reader { Reader(lookups) }

        /// Finds over a fixed list of runs, with a cursor of its own in each and its own parser.
        final class Reader {
            private let lookups: [RunLookup]
            private var cursors: [RunLookup.Cursor]
            private var parser = JSONParser(maxDepth: 64)

            fileprivate init(_ lookups: [RunLookup]) {
                self.lookups = lookups
                cursors = Array(repeating: RunLookup.Cursor(), count: lookups.count)
            }

            deinit { parser.deallocate() }

            /// The current stored line for a normalised email and its `EmailKey.hash`, or nil.
            func find(key: UnsafeRawBufferPointer, hash: UInt64) throws -> [UInt8]? {
                for r in lookups.indices {
                    if let line = try lookups[r].find(key: key, hash: hash, parser: &parser, cursor: &cursors[r]) { return line }
                }
                return nil
            }
        }
    }

    public func lookup() throws -> Lookup {
        try openWithRetry { try Lookup(store: self, runs: runs) }
    }

    /// Sorted hashes of every email in the store (for membership tests in other stages).
    public func emailHashes() throws -> [UInt64] {
        var all: [UInt64] = []
        all.reserveCapacity(runs.reduce(0) { $0 + $1.records })
        try openWithRetry {
            all.removeAll(keepingCapacity: true)
            for run in runs {
                try withIndex(run, { path, _ in try RunIndex.appendHashes(path: path, to: &all) }, orRebuilt: { $0.appendHashes(to: &all) })
            }
        }
        if runs.count > 1 { all.sort() }   // each run's hashes are sorted already
        return all
    }

    /// Sorted hashes of the folded forms of the emails that `form` changes (see `RunIndex`).
    public func foldedEmailHashes(_ form: CanonicalForm) throws -> [UInt64] {
        var all: [UInt64] = []
        try openWithRetry {
            all.removeAll()
            for run in runs {
                try withIndex(run, { path, _ in try RunIndex.appendFoldedHashes(path: path, form: form, to: &all) },
                              orRebuilt: { $0.appendFoldedHashes(form: form, to: &all) })
            }
        }
        if runs.count > 1 { all.sort() }
        return all
    }
}

/// A writer's session on a store: the tenant lock is held by the caller for its whole life.
///
/// New runs are written beside the live ones and become visible together when `commit()`
/// replaces the manifest; replaced runs are removed only after that.
public final class ContactStoreWriter {
    public let store: ContactStore
    private var added: [RunInfo] = []
    private var spilled = false
    private var lookupCache: ContactStore.Lookup?
    public var compressionLevel: Int32 = 1
    /// Size-tiered compaction: fold the two newest runs while the older is at most this many
    /// times larger, and fold everything past `maxRuns`.
    public var foldRatio = 4
    public var maxRuns = 12

    /// Opens for writing: removes what an interrupted writer left behind. A sharded store is
    /// refused (write it through `TenantContactsWriter`).
    public init(directory: String) throws {
        try FileSystem.requireFolder(directory, creating: true)
        store = try ContactStore(directory: directory)
        store.repairsIndexes = true
        try removeLeftovers()
    }

    /// Opens one shard's sub-store for writing (the caller holds its lock).
    init(subStore directory: String) throws {
        store = try ContactStore(subStore: directory)
        store.repairsIndexes = true
        try removeLeftovers()
    }

    private func removeLeftovers() throws {
        // Lock files stay: removing one that another writer waits on would let two writers in.
        var live: Set<String> = [ContactStore.manifestName, "lock", StoreLayout.lockName]
        for run in store.runs { live.insert(run.dataFile); live.insert(run.indexFile) }
        for name in try FileSystem.listDirectory(store.directory) where !live.contains(name) {
            // Sub-store folders left by an interrupted `account reshard` of this flat store.
            try StoreLayout.removeTree("\(store.directory)/\(name)")
        }
    }

    private func newRunName() -> String {
        let number = store.nextRun
        store.advanceRunCounter()
        let digits = String(number)
        return "run-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// Point lookups over the committed runs and the runs this session added.
    public func lookup() throws -> ContactStore.Lookup {
        if let lookupCache { return lookupCache }
        let l = try ContactStore.Lookup(store: store, runs: store.runs)
        lookupCache = l
        return l
    }

    /// Writes a new run from lines in email order. `lines` calls its argument per line with
    /// (line, key).
    ///
    /// `spill: true` is for a run this session will fold again before it ends (a commit larger
    /// than one in-memory chunk): it is written as stored gzip (level 0), so the data is
    /// compressed once, by the fold, instead of twice. So is the last run of a session that
    /// spilled, since the fold takes it too.
    public func addRun(spill: Bool = false, _ produce: ((UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try addRun(spill: spill, writing: { writer in try produce { line, key in try writer.add(line: line, key: key) } })
    }

    /// The same, from batches of lines given with their index keys (a commit computes them on
    /// its merging threads); each batch's blocks are gathered and compressed on `workers` threads.
    func addRun(spill: Bool, workers: Int,
                batches produce: (([UnsafeRawBufferPointer], [RunIndexKey]) throws -> Void) throws -> Void) throws {
        try addRun(spill: spill, workers: workers, writing: { writer in try produce { lines, keys in try writer.add(lines: lines, indexKeys: keys) } })
    }

    private func addRun(spill: Bool, workers: Int = Cores.workers, writing: (RunWriter) throws -> Void) throws {
        let writer = try RunWriter(directory: store.directory, name: newRunName(), level: spill || spilled ? 0 : compressionLevel,
                                   workers: workers)
        if spill { spilled = true }
        do {
            try writing(writer)
        } catch {
            writer.abandon()
            throw error
        }
        let info = try writer.finish()
        if info.records == 0 {
            try FileSystem.remove("\(store.directory)/\(info.dataFile)")
            try FileSystem.remove("\(store.directory)/\(info.indexFile)")
            return
        }
        added.append(info)
        // The index just written, as it is in memory: not read back and checked again.
        try lookup().prepend(try RunLookup(directory: store.directory, info: info, index: writer.finishedIndex ?? store.fullIndex(info)))
    }

    public var hasChanges: Bool { !added.isEmpty }

    /// Makes the added runs part of the store (one atomic manifest replace), then folds runs as
    /// the compaction policy asks.
    public func commit() throws {
        guard !added.isEmpty else { return }
        let count = added.count
        try store.replaceRuns(store.runs + added)   // the commit point
        added = []
        lookupCache = nil
        // Spilled runs are folded into one compressed run at once; a crash before the fold
        // leaves a complete store whose newest runs are merely uncompressed. The commit has
        // landed: a fold that fails now (a full disk) is put off, not reported as a failed commit.
        do {
            if spilled { try fold(count) }
            spilled = false
            try foldIfNeeded()
        } catch {
            spilled = false
            StateWarning.emit("the commit landed, but folding the store's runs failed (\(error)); the next commit or account compact folds them")
        }
    }

    /// Folds runs together: all of them (`account compact`), or as the size-tiered policy asks.
    public func compact(all: Bool) throws {
        if all {
            if store.runs.count > 1 {
                try fold(store.runs.count)
            } else {
                // A single run stays; an index of it that fails its checks is rewritten.
                for run in store.runs { _ = try store.fullIndex(run) }
            }
        } else {
            try foldIfNeeded()
        }
    }

    private func foldIfNeeded() throws {
        if store.runs.count > maxRuns { try fold(store.runs.count); return }
        while store.runs.count >= 2 {
            let n = store.runs.count
            if store.runs[n - 2].bytes <= foldRatio * store.runs[n - 1].bytes {
                // Fold the newest runs that are of similar size.
                var k = 2
                while k < n && store.runs[n - k - 1].bytes <= foldRatio * store.runs[(n - k)...].reduce(0) { $0 + $1.bytes } { k += 1 }
                try fold(k)
            } else {
                break
            }
        }
    }

    /// Merges the newest `count` runs into one and commits the result.
    private func fold(_ count: Int) throws {
        let n = store.runs.count
        let folded = Array(store.runs[(n - count)...])
        let sub = try ContactStore(directory: store.directory, runs: folded)
        sub.repairsIndexes = true
        let writer = try RunWriter(directory: store.directory, name: newRunName(), level: compressionLevel)
        var parser = JSONParser(maxDepth: 64)
        defer { parser.deallocate() }
        var key: [UInt8] = []
        do {
            try sub.forEach { line in
                key.removeAll(keepingCapacity: true)
                try StoredContact.key(of: line, parser: &parser, into: &key)
                try key.withUnsafeBytes { try writer.add(line: line, key: $0) }
            }
        } catch {
            writer.abandon()
            throw error
        }
        let info = try writer.finish()
        let keep = Array(store.runs[..<(n - count)])
        try store.replaceRuns(info.records > 0 ? keep + [info] : keep)
        for run in folded {
            try FileSystem.remove("\(store.directory)/\(run.dataFile)")
            try FileSystem.remove("\(store.directory)/\(run.indexFile)")
        }
    }
}

extension ContactStore {
    /// A read view of some runs (for folding).
    convenience init(directory: String, runs: [RunInfo]) throws {
        try self.init(directory: directory)
        self.runs = runs
    }

    func advanceRunCounter() { nextRun += 1 }

    /// The commit point: the manifest is replaced atomically (temp, fsync, rename, fsync folder).
    func replaceRuns(_ newRuns: [RunInfo]) throws {
        try FileSystem.writeAtomically("\(directory)/\(ContactStore.manifestName)",
                                       ContactStore.manifestBytes(runs: newRuns, nextRun: nextRun))
        runs = newRuns
    }
}
