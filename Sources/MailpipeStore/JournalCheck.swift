import MailpipeCore

/// inject's journal files as the store sees them (inject writes them; `account fsck` checks them).
public enum JournalFormat {
    /// The line a sealed journal (format 2) starts with, or gains when an older journal is sealed:
    /// a journal holding it whose seal is missing is damage.
    public static let line: [UInt8] = Array(#"{"journal":2}"#.utf8)

    /// The lock inject holds on a campaign's journal and dead letters: `<campaign>.lock`.
    static func lockPath(of path: String) -> String {
        for suffix in [".dead.ndjson", ".ndjson"] where path.hasSuffix(suffix) {
            return String(path.dropLast(suffix.count)) + ".lock"
        }
        return path + ".lock"
    }
}

/// The journals' part of `account fsck`: every journal and dead-letter file under
/// `journal/<channel>/` (and every seal, whose file must be there) checked against its seal
/// (`SealedLines`), under the campaign's lock — shared without `--repair`, only where the lock
/// file exists, so a running inject is waited for and a read-only state is checked as it is.
///
/// With `repair`: a torn last line is cut off; a damaged file (shorter than its seal, changed,
/// gone, a folder in its place) or a damaged seal is moved to `lost+found/` with its seal, and
/// the whole lines that still read as JSON objects are written to a new sealed file. Lost lines
/// cannot be known: a record whose journal line was lost may be sent again, a dead letter whose
/// line was lost is not replayed — fsck says so (`lost`).
public struct JournalCheck {
    public let tenant: TenantDirectory
    public let repair: Bool
    public private(set) var findings: [StateFinding] = []
    /// Files read and checked.
    public private(set) var checked = 0

    public init(tenant: TenantDirectory, repair: Bool) {
        self.tenant = tenant
        self.repair = repair
    }

    public mutating func run() throws {
        guard try FileSystem.requireFolder(tenant.journalPath) else { return }
        for channel in try FileSystem.listDirectory(tenant.journalPath).sorted() {
            let folder = "\(tenant.journalPath)/\(channel)"
            // Channel folders (a link among them is refused); a stray file is not a journal.
            guard try FileSystem.entryKind(folder) != .file, try FileSystem.requireFolder(folder) else { continue }
            var files = Set<String>()
            for name in try FileSystem.listDirectory(folder) {
                if name.hasSuffix(".ndjson") { files.insert(name) }
                if name.hasSuffix(".ndjson.seal") { files.insert(String(name.dropLast(".seal".count))) }
            }
            for name in files.sorted() { try check("\(folder)/\(name)") }
        }
    }

    private mutating func check(_ path: String) throws {
        checked += 1
        let lockPath = JournalFormat.lockPath(of: path)
        let lock: FileLock? = repair ? try FileLock(path: lockPath) : try FileLock.sharedIfPresent(path: lockPath)
        defer { lock?.unlock() }
        let isJournal = !path.hasSuffix(".dead.ndjson")
        do {
            let reading = try SealedLines.read(path: path, marker: JournalFormat.line)
            guard reading.torn > 0 else { return }
            var finding = StateFinding(file: path, problem: "a torn last line past the sealed part (\(reading.torn) bytes)", outcome: .repairable,
                                       action: "cut it off (a crash inside a write: nothing was sent on it)")
            if repair {
                _ = try SealedLines(path: path, marker: isJournal ? JournalFormat.line : nil, warn: { _ in })
                finding.outcome = .repaired
            }
            findings.append(finding)
        } catch let link as SymbolicLinkRefused {
            findings.append(StateFinding(file: link.path, problem: "a symbolic link (never followed in the state)", outcome: .lost,
                                         action: "remove the link and put the file itself there, or restore it from a backup"))
        } catch let damage as StateDamage {
            try rebuild(path, isJournal: isJournal, damage: damage)
        }
    }

    /// A damaged file or seal: both to `lost+found/`, the lines that still read kept in a new
    /// sealed file (with `repair`); said either way.
    private mutating func rebuild(_ path: String, isJournal: Bool, damage: StateDamage) throws {
        let seal = SealedLines.sealPath(path)
        let sealOnly = damage.file == seal
        let kept = keptLines(path)
        let risk = isJournal ? "a record whose line was lost may be sent again" : "a dead letter whose line was lost is not replayed"
        var finding = StateFinding(file: damage.file, problem: damage.problem, outcome: sealOnly ? .repairable : .lost, action: "")
        let what = sealOnly ? "seal the file again as it stands (the old seal to lost+found/): a cut made along with it could not be seen"
            : "move it and its seal to lost+found/ and keep the \(kept.count) whole lines that still read in a new sealed file: \(risk)"
        finding.action = repair ? what : "account fsck --repair: \(what)"
        if repair {
            for name in [path, seal] where FileSystem.entryExists(name) { try tenant.moveToLostAndFound(name) }
            let file = try SealedLines(path: path, marker: isJournal ? JournalFormat.line : nil, warn: { _ in })
            var bytes: [UInt8] = []
            for line in kept where !line.elementsEqual(JournalFormat.line) { bytes += line; bytes.append(0x0A) }
            try file.append(bytes)
            try file.sync()
            if sealOnly { finding.outcome = .repaired }
        }
        findings.append(finding)
    }

    /// The whole lines of a damaged file that still parse as JSON objects.
    private func keptLines(_ path: String) -> [ArraySlice<UInt8>] {
        guard (try? FileSystem.entryKind(path)) == .file, let all = try? FileSystem.readFile(path, options: .noFollow) else { return [] }
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        while let end = all[start...].firstIndex(of: 0x0A) {
            let line = all[start..<end]
            if (try? JSONValue.parse(Array(line), maxDepth: 64))?.object != nil { lines.append(line) }
            start = end + 1
        }
        return lines
    }
}
