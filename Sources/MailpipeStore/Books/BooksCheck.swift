import MailpipeCore

/// The books' part of `account fsck`: the event log (every append checked against its seal,
/// every line an event), the suppression list (sealed, as long as the ledger says, holding every
/// address the events put on it) and the ledger (readable, reflecting the logs). With `repair`, a
/// session of the books does what a writer does on opening — torn tails cut off, pending events
/// applied, a short list or a lost ledger rebuilt from the event log — after an unreadable ledger
/// is moved to `lost+found/`. Events whose bytes are damaged cannot be rebuilt: they are `lost`.
public struct BooksCheck {
    public let tenant: TenantDirectory
    public let repair: Bool
    public private(set) var findings: [StateFinding] = []
    /// Files read and checked.
    public private(set) var checked = 0

    public init(tenant: TenantDirectory, repair: Bool) {
        self.tenant = tenant
        self.repair = repair
    }

    public mutating func run(now: Timestamp) throws {
        // The logs and the ledger are read under the tenant lock, shared (a reader's: only where
        // the lock file exists, nothing created): a writer's append and its ledger save land
        // between two reads otherwise, and a running `account events` looks like an interrupted
        // one ("events the ledger does not reflect"). The repair's session takes it exclusively.
        let tenantLock = try FileLock.sharedIfPresent(path: tenant.lockPath)
        defer { tenantLock?.unlock() }
        try check()
        tenantLock?.unlock()
        guard repair, findings.contains(where: { $0.outcome == .repairable }) else { return }
        if unreadableLedger { try tenant.moveToLostAndFound(tenant.ledgerPath) }
        if damagedList { try tenant.moveToLostAndFound(tenant.suppressionPath) }
        _ = try Books(dir: tenant, now: now, rebuild: rebuildList, warn: { _ in })
        for i in findings.indices where findings[i].outcome == .repairable { findings[i].outcome = .repaired }
    }

    /// What the repair does: the ledger moved aside first, the list rebuilt from the events.
    private var unreadableLedger = false
    private var rebuildList = false
    /// The list's appends are damaged: it goes to lost+found/ and is rebuilt from the events.
    private var damagedList = false

    private mutating func check() throws {
        let dir = tenant
        var lengths: [String: Int] = [:]
        var eventsLost = false
        for path in [dir.eventsPath, dir.suppressionPath] {
            lengths[path] = 0
            guard FileSystem.entryExists(path) else { continue }
            checked += 1
            let length = try AppendLog.readableLength(path: path)  // a link is refused here
            lengths[path] = length
            let size = try FileSystem.fileSize(path)
            if length < size {
                note(path, "a torn last append: \(size - length) bytes after offset \(length) were never sealed",
                     "cut them off (what they held was never committed)")
            }
            var damage: String? = nil
            do {
                if let bad = try AppendLog.firstDamagedAppend(path: path, length: length) {
                    damage = "the append at offset \(bad) does not match its seal's checksum"
                }
            } catch {
                damage = (error as? StateDamage)?.problem ?? "\(error)"
            }
            if let damage {
                if path == dir.eventsPath {
                    lost(path, damage)
                    eventsLost = true
                } else {
                    // The list is derived: every entry is an event.
                    damagedList = true
                    note(path, damage, "move it to lost+found/ and rebuild it from the event log")
                }
            }
        }
        let eventsLength = lengths[dir.eventsPath]!, listLength = lengths[dir.suppressionPath]!
        if !eventsLost {
            do {
                try SuppressionRule.forEachBatch(eventsPath: dir.eventsPath, length: eventsLength) { _ in }
            } catch {
                lost(dir.eventsPath, "\(error)")
                eventsLost = true
            }
        }
        var ledger: Ledger? = nil
        if FileSystem.entryExists(dir.ledgerPath) {
            checked += 1
            do { ledger = try Ledger.load(path: dir.ledgerPath) } catch let damage as StateDamage {
                unreadableLedger = true
                note(dir.ledgerPath, damage.problem,
                     "move it to lost+found/ and recount it from the event log (each vmta's warm-up week starts again from the configuration)")
            }
        } else if eventsLength > 0 {
            note(dir.ledgerPath, "missing while the event log holds events", "recount it from the event log")
        }
        if let ledger {
            if eventsLength > ledger.eventsLength {
                note(dir.eventsPath, "\(eventsLength - ledger.eventsLength) bytes of events the ledger does not reflect (an interrupted run)",
                     "apply them: statuses, suppression list, counters")
            } else if eventsLength < ledger.eventsLength {
                note(dir.eventsPath, "shorter than the ledger says (\(eventsLength) < \(ledger.eventsLength)): events were lost",
                     "recount the ledger and the suppression list from the events that remain (addresses on the list stay on it)")
            }
            if listLength < ledger.suppressionLength {
                note(dir.suppressionPath, "shorter than the ledger says (\(listLength) < \(ledger.suppressionLength))",
                     "rebuild it from the event log (addresses still on it stay)")
            } else if findings.isEmpty && !eventsLost {
                // Every address the events leave on the list is on it.
                let rule = SuppressionRule(config: try dir.loadConfig())
                let expected = try rule.suppressedHashes(eventsPath: dir.eventsPath, from: 0, length: eventsLength,
                                                         softBounces: [:], removals: true)
                let list = try SuppressionList.load(path: dir.suppressionPath)
                let missing = expected.filter { !list.contains(hash: $0) }.count
                if missing > 0 {
                    rebuildList = true
                    note(dir.suppressionPath, "\(missing) addresses the event log puts on the list are not on it", "add them from the event log")
                }
            }
        }
    }

    private mutating func note(_ file: String, _ problem: String, _ action: String) {
        findings.append(StateFinding(file: file, problem: problem, outcome: .repairable, action: action))
    }

    private mutating func lost(_ file: String, _ problem: String) {
        findings.append(StateFinding(file: file, problem: problem, outcome: .lost, action: "restore the file from a backup"))
    }
}
