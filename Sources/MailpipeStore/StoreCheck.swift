#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// One thing `account fsck` found in a tenant's state, and what became of it.
public struct StateFinding: Sendable {
    public enum Outcome: String, Sendable {
        /// Derived or recoverable: `--repair` fixes it (this run did not).
        case repairable
        /// Fixed by this run.
        case repaired
        /// The bytes are gone: restore the file from a backup.
        case lost
    }

    public var file: String
    public var problem: String
    public var outcome: Outcome
    /// What the repair did, or would do.
    public var action: String

    public init(file: String, problem: String, outcome: Outcome, action: String) {
        self.file = file
        self.problem = problem
        self.outcome = outcome
        self.action = action
    }
}

/// The contact store's part of `account fsck`: every file read and checked — each run inflated
/// whole, its email order checked, its index compared with one rebuilt from it — and, with
/// `repair`, what is derived or recoverable rebuilt: run indexes, a lost manifest (from the
/// runs, in run order), a lost `layout.json` (from complete sub-store folders), leftovers of
/// interrupted writers removed. A file that cannot be used is moved to `lost+found/` in the
/// tenant folder, never deleted. Runs under the locks a writer takes.
public struct ContactStoreCheck {
    public let tenant: TenantDirectory
    public let repair: Bool
    public private(set) var findings: [StateFinding] = []
    /// Files read and checked.
    public private(set) var checked = 0
    public private(set) var contacts = 0

    public init(tenant: TenantDirectory, repair: Bool) {
        self.tenant = tenant
        self.repair = repair
    }

    var lostAndFound: String { "\(tenant.path)/lost+found" }

    public mutating func run() throws {
        let contactsPath = tenant.contactsPath
        guard try FileSystem.requireFolder(contactsPath) else { return }
        // Writers are kept out while the store is read (and repaired): the layout lock, then the
        // tenant lock, the order every writer takes them in. A check without --repair is a
        // reader: it takes them shared, only where the lock files exist, and creates nothing (a
        // read-only state is checked as it is). A flat store has no layout lock; none is made.
        let layoutLockPath = "\(contactsPath)/\(StoreLayout.lockName)"
        let layoutLock = FileSystem.entryExists(layoutLockPath) ? try lock(layoutLockPath) : nil
        defer { layoutLock?.unlock() }
        let tenantLock = try lock(tenant.lockPath)
        defer { tenantLock?.unlock() }

        if let n = try layoutShardCount() {
            try checkShards(n)
        } else {
            try checkStore(contactsPath, isSubStore: false)
        }
    }

    private func lock(_ path: String) throws -> FileLock? {
        repair ? try FileLock(path: path) : try FileLock.sharedIfPresent(path: path)
    }

    private mutating func note(_ file: String, _ problem: String, _ outcome: StateFinding.Outcome, _ action: String) {
        findings.append(StateFinding(file: file, problem: problem, outcome: outcome, action: action))
    }

    private var fixed: StateFinding.Outcome { repair ? .repaired : .repairable }

    // MARK: layout

    /// The layout's shard count; a lost or unreadable `layout.json` beside complete sub-store
    /// folders of one count is rebuilt.
    private mutating func layoutShardCount() throws -> Int? {
        let contactsPath = tenant.contactsPath
        let layoutPath = "\(contactsPath)/\(StoreLayout.fileName)"
        do {
            if let n = try StoreLayout.shardCount(contactsPath: contactsPath) {
                checked += 1
                return n
            }
        } catch let damage as StateDamage {
            return try rebuildLayout(layoutPath, problem: damage.problem)
        }
        let names = try FileSystem.listDirectory(contactsPath)
        guard names.contains(where: { StoreLayout.shardCount(ofFolder: $0) != nil }) else { return nil }
        if FileSystem.entryExists("\(contactsPath)/\(ContactStore.manifestName)") {
            return nil   // a flat store with sub-store folders of an interrupted reshard (leftovers)
        }
        return try rebuildLayout(layoutPath, problem: "missing, while the folder holds sub-store folders")
    }

    private mutating func rebuildLayout(_ layoutPath: String, problem: String) throws -> Int? {
        let names = try FileSystem.listDirectory(tenant.contactsPath)
        var byCount: [Int: Set<Int>] = [:]
        for name in names {
            if let (i, n) = StoreLayout.shardCount(ofFolder: name) { byCount[n, default: []].insert(i) }
        }
        let complete = byCount.filter { $0.value.count == $0.key }.keys.sorted()
        guard complete.count == 1, let n = complete.first else {
            note(layoutPath, problem, .lost, "no single complete set of shard folders to rebuild it from (found counts \(byCount.keys.sorted())); restore layout.json from a backup")
            return nil
        }
        note(layoutPath, problem, fixed, "rewrite it for the \(n) complete sub-store folders")
        if repair { try FileSystem.writeAtomically(layoutPath, StoreLayout.layoutBytes(shards: n)) }
        return n
    }

    private mutating func checkShards(_ n: Int) throws {
        let contactsPath = tenant.contactsPath
        for i in 0..<n {
            let folder = "\(contactsPath)/\(StoreLayout.shardFolder(i, of: n))"
            guard try FileSystem.requireFolder(folder) else {
                note(folder, "missing: layout.json names \(n) shards", .lost, "restore the folder from a backup")
                continue
            }
            try checkStore(folder, isSubStore: true)
        }
        var live: Set<String> = [StoreLayout.fileName, StoreLayout.lockName]
        for i in 0..<n { live.insert(StoreLayout.shardFolder(i, of: n)) }
        for name in try FileSystem.listDirectory(contactsPath) where !live.contains(name) {
            try leftover("\(contactsPath)/\(name)")
        }
    }

    // MARK: one store (flat, or a shard's sub-store)

    private mutating func checkStore(_ directory: String, isSubStore: Bool) throws {
        let manifestPath = "\(directory)/\(ContactStore.manifestName)"
        let names = try FileSystem.listDirectory(directory)
        let present = Set(names.compactMap(RunInfo.runName(ofFile:)))
        var manifest: (runs: [RunInfo], next: Int)?
        var manifestProblem: String?
        do {
            if let bytes = try FileSystem.readFileIfPresent(manifestPath, options: .noFollow) {
                checked += 1
                manifest = try ContactStore.parseManifest(bytes, path: manifestPath)
            } else if !present.isEmpty || isSubStore {
                manifestProblem = "missing"
            }
        } catch let damage as StateDamage {
            manifestProblem = damage.problem
        }

        var live: Set<String> = [ContactStore.manifestName, "lock", StoreLayout.lockName]
        if let manifest {
            var runs: [RunInfo] = []
            var changed = false
            for run in manifest.runs {
                live.insert(run.dataFile)
                live.insert(run.indexFile)
                if let records = try checkRun(directory, run, moveAsideWhenLost: false) {
                    if records != run.records { changed = true }
                    runs.append(RunInfo(name: run.name, records: records, bytes: run.bytes))
                } else {
                    runs.append(run)
                }
            }
            if changed {
                note(manifestPath, "a run's contact count differs from the count in the manifest", fixed, "rewrite the counts")
                if repair { try FileSystem.writeAtomically(manifestPath, ContactStore.manifestBytes(runs: runs, nextRun: manifest.next)) }
            }
        } else if let manifestProblem {
            // The runs in the folder, oldest first: a fold always writes a higher number than
            // the runs it replaces, so run order is the order of the lost manifest.
            var runs: [RunInfo] = []
            for name in present.sorted(by: { RunInfo.number(of: $0)! < RunInfo.number(of: $1)! }) {
                let bytes = (try? FileSystem.fileSize("\(directory)/\(name).ndjson.gz")) ?? 0
                let info = RunInfo(name: name, records: 0, bytes: bytes)
                live.insert(info.dataFile)
                live.insert(info.indexFile)
                if let records = try checkRun(directory, info, moveAsideWhenLost: true) {
                    runs.append(RunInfo(name: name, records: records, bytes: bytes))
                }
            }
            let next = (present.compactMap(RunInfo.number(of:)).max() ?? 0) + 1
            note(manifestPath, manifestProblem, fixed,
                 "rebuild it from the \(runs.count) complete runs in the folder (a run an interrupted commit had written but not yet committed would count as committed)")
            if repair { try FileSystem.writeAtomically(manifestPath, ContactStore.manifestBytes(runs: runs, nextRun: next)) }
        }
        for name in names where !live.contains(name) {
            try leftover("\(directory)/\(name)")
        }
    }

    /// Reads a run whole and checks its index; returns its contact count, or nil when the run
    /// cannot be read (lost; moved to lost+found with `moveAsideWhenLost` under repair).
    private mutating func checkRun(_ directory: String, _ run: RunInfo, moveAsideWhenLost: Bool) throws -> Int? {
        let dataPath = "\(directory)/\(run.dataFile)"
        let indexPath = "\(directory)/\(run.indexFile)"
        guard FileSystem.entryExists(dataPath) else {
            note(dataPath, "missing, though the manifest names it", .lost, "restore it from a backup (its index cannot bring back contacts)")
            return nil
        }
        checked += 1
        let rebuilt: RunIndex
        do {
            rebuilt = try RunIndex.rebuild(directory: directory, info: run)
        } catch let damage as StateDamage {
            if moveAsideWhenLost {
                note(dataPath, damage.problem, repair ? .repaired : .repairable,
                     "leave it out of the rebuilt manifest and move it to \(lostAndFound)/ (its readable contacts can be taken from there)")
                if repair {
                    try moveAside(dataPath)
                    if FileSystem.entryExists(indexPath) { try moveAside(indexPath) }
                }
            } else {
                note(dataPath, damage.problem, .lost, "restore it from a backup; the contacts in its damaged part cannot be read")
            }
            return nil
        }
        contacts += rebuilt.hashes.count
        checked += 1
        let dataSize = Int(rebuilt.blockOffsets.last ?? 0)
        var problem: String?
        do {
            let stored = try RunIndex.load(path: indexPath, dataSize: dataSize)
            if stored.hashes != rebuilt.hashes || stored.locations != rebuilt.locations || stored.blockOffsets != rebuilt.blockOffsets
                || stored.gmailFolds != rebuilt.gmailFolds || stored.plusFolds != rebuilt.plusFolds {
                problem = "does not match its run"
            }
        } catch let damage as RunIndex.Damage {
            problem = damage.problem
        } catch let error as SystemError where error.errno == .noSuchFileOrDirectory {
            problem = "missing"
        }
        if let problem {
            note(indexPath, problem, fixed, "rebuild it from \(run.dataFile)")
            if repair { try rebuilt.write(path: indexPath, atomically: true) }
        }
        return rebuilt.hashes.count
    }

    /// A file no manifest or layout names: what an interrupted writer left (the next writer
    /// removes it too).
    private mutating func leftover(_ path: String) throws {
        note(path, "not part of the store (left by an interrupted write)", fixed, "remove it")
        if repair { try StoreLayout.removeTree(path) }
    }

    private func moveAside(_ path: String) throws { try tenant.moveToLostAndFound(path) }
}

extension TenantDirectory {
    /// Moves a file `account fsck --repair` cannot use to `lost+found/` in the tenant folder —
    /// never deleted (a name already there gets a number).
    public func moveToLostAndFound(_ path: String) throws {
        let folder = "\(self.path)/lost+found"
        try FileSystem.requireFolder(folder, creating: true)
        var target = "\(folder)/\(FileSystem.basename(of: path))"
        var n = 1
        while FileSystem.entryExists(target) {
            n += 1
            target = "\(folder)/\(FileSystem.basename(of: path)).\(n)"
        }
        try FileSystem.rename(path, to: target)
    }
}
