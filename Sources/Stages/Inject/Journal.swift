#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// The idempotency journal of one (tenant, channel, campaign):
/// `state/<tenant>/journal/<channel>/<campaign>.ndjson`, an append-only NDJSON file (`jq` reads
/// it) sealed by `<campaign>.ndjson.seal` (`SealedLines`: its length and CRC-32, rewritten after
/// every batch, before anything new is sent). Each batch of lines is one `write(2)` before
/// anything new starts, so it survives the process being killed at any instant; an `fdatasync`
/// is started every `syncInterval` seconds on a background thread (group commit; the delivery
/// loop does not wait on the disk) and done synchronously at the end, which bounds what a power
/// loss can take. A torn last line (a crash inside a write) is cut off on the next open, with a
/// warning; a journal shorter than its seal, changed, or gone is `StateDamage` (fsck), never a
/// journal with fewer sends in it — that would send them again.
///
/// Lines: `{"journal":2}` first (a sealed journal; its seal missing is damage);
/// `{"email":…,"state":"begin","message_id":…}` written before the first attempt of a record
/// starts; `{"email":…,"state":"sent","code":…,"remote_id":…,"vmta":…,"at":…}` once the remote
/// side accepted it, or `"failed"` / `"deferred"` when it ended otherwise. The caller writes a
/// batch and seals it before it starts anything new on a connection, so after a SIGKILL only
/// records whose last line is `begin` can have been in flight: a re-run sends them again (same
/// Message-ID) and counts them as `resent`; records whose last line is `sent` are `skipped`.
public final class Journal {
    public enum State: Equatable {
        case begun
        /// Done (`action`: what was done, for channels that do more than one thing).
        case sent(code: Int?, remoteID: String?, vmta: String?, action: String?)
        /// Refused by the recipient's side for good: final (tried again only with --retry-failed).
        case failed(code: Int?, error: String?)
        /// Ended otherwise (deferred, or a failure of ours): tried again by the next run.
        case ended
    }

    public let path: String
    private let file: SealedLines
    private let lock: FileLock
    private var unsynced = false
    private var lastSync = monotonicNow()
    /// Seconds between background fdatasyncs (0: a synchronous one after every batch).
    public var syncInterval: Double = 0.1
    private var entries: [String: State] = [:]
    private var pending = ByteBuffer(capacity: 1 << 14)
    private let syncer: BackgroundSync
    /// `<campaign>.dead.ndjson` beside the journal: the records that failed, as they came (with
    /// their tenant and campaign), for `inject --replay` once the cause is fixed.
    public let deadLetterPath: String
    private var deadLetters: SealedLines?
    private var pendingDead = ByteBuffer(capacity: 0)
    private let warn: (String) -> Void

    public init(tenant: TenantDirectory, channel: String, campaign: String, warn: @escaping (String) -> Void) throws {
        let dir = "\(tenant.journalPath)/\(channel)"
        try FileSystem.requireFolder(tenant.journalPath, creating: true)
        try FileSystem.requireFolder(dir, creating: true)
        let name = Journal.fileName(campaign)
        path = "\(dir)/\(name).ndjson"
        deadLetterPath = "\(dir)/\(name).dead.ndjson"
        self.warn = warn
        // One inject per journal at a time; `account` never touches journals, so the tenant lock
        // is not taken (a pipeline `inject | account record` must not wait on itself).
        lock = try FileLock(path: "\(dir)/\(name).lock")
        file = try SealedLines(path: path, marker: JournalFormat.line, warn: warn)
        syncer = BackgroundSync(descriptors: file.descriptors)
        load(file.lines)
        file.dropLines()
        // The dead letters are checked now, not at the first failure halfway through a run.
        if FileSystem.entryExists(deadLetterPath) || FileSystem.entryExists(SealedLines.sealPath(deadLetterPath)) {
            deadLetters = try SealedLines(path: deadLetterPath, warn: warn)
            deadLetters!.dropLines()
        }
    }

    deinit {
        syncer.stop()
        try? file.sync()
        if let d = deadLetters { try? d.sync() }
        lock.unlock()
    }

    /// Keeps a failed record for the dead-letter file (written with the next batch).
    public func deadLetter(_ record: [UInt8]) {
        pendingDead.append(record)
        pendingDead.append(0x0A)
    }

    private func writeDeadLetters() throws {
        guard !pendingDead.isEmpty else { return }
        if deadLetters == nil {
            // A torn last line (a crash inside a write) is cut off: the record is still in the
            // journal as begun, so the next run sends it again.
            deadLetters = try SealedLines(path: deadLetterPath, warn: warn)
            deadLetters!.dropLines()
        }
        try pendingDead.withUnsafeBytes { try deadLetters!.append($0) }
        pendingDead.removeAll()
    }

    /// A campaign name as a file name: `[a-z0-9_-]` and inner dots kept, every other byte `%XX`.
    public static func fileName(_ campaign: String) -> String {
        var out: [UInt8] = []
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        for (i, b) in campaign.utf8.enumerated() {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                out.append(b)
            case UInt8(ascii: ".") where i > 0:
                out.append(b)
            default:
                out.append(UInt8(ascii: "%")); out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)])
            }
        }
        return out.isEmpty ? "%" : String(decoding: out, as: UTF8.self)
    }

    /// The longest journal file name a campaign may have: a file-system name holds 255 bytes,
    /// `.ndjson` included.
    static let maxFileNameBytes = 255 - ".ndjson".utf8.count

    /// Why a campaign cannot have a journal (its name, escaped for a file name, is too long),
    /// or nil. The record is refused; the rest of the run goes on.
    public static func campaignProblem(_ campaign: String) -> String? {
        let length = fileName(campaign).utf8.count
        guard length > maxFileNameBytes else { return nil }
        return "campaign name too long: \(length) bytes as a journal file name (at most \(maxFileNameBytes); bytes other than a-z 0-9 - _ . take 3)"
    }

    /// Takes in the journal's whole lines (the format line and any line that is not a record's
    /// are passed over).
    private func load(_ all: [UInt8]) {
        let valid = all.count
        var parser = JSONParser(maxDepth: 8)
        defer { parser.deallocate() }
        all.withUnsafeBytes { raw in
        var start = 0
        while start < valid {
            var end = start
            while all[end] != 0x0A { end += 1 }
            defer { start = end + 1 }
            let bytes = UnsafeRawBufferPointer(rebasing: raw[start..<end])
            guard !bytes.isEmpty,
                  let doc = try? parser.parse(bytes), let email = doc.root["email"]?.string,
                  let state = doc.root["state"] else { continue }
            if state.stringEquals("begin") {
                if entries[email] == nil || entries[email] == .ended { entries[email] = .begun }
            } else if state.stringEquals("sent") {
                entries[email] = .sent(code: doc.root["code"]?.int, remoteID: doc.root["remote_id"]?.string,
                                       vmta: doc.root["vmta"]?.string, action: doc.root["action"]?.string)
            } else if state.stringEquals("failed") && doc.root["final"]?.bool == true {
                entries[email] = .failed(code: doc.root["code"]?.int, error: doc.root["error"]?.string)
            } else {
                if case .sent = entries[email] { continue }
                entries[email] = .ended
            }
        }
        }
    }

    public func state(of email: String) -> State? { entries[email] }

    public var count: Int { entries.count }

    public func begin(email: String, messageID: String?) {
        var w = JSONLine(&pending)
        w.string("email", email, &pending); w.string("state", "begin", &pending)
        if let messageID { w.string("message_id", messageID, &pending) }
        w.end(&pending)
        if case .sent = entries[email] {} else { entries[email] = .begun }
    }

    public func end(email: String, outcome: Outcome, vmta: String?, action: String?, at: String) {
        let final = outcome.outcome == .failed && outcome.reason == .permanent
        var w = JSONLine(&pending)
        w.string("email", email, &pending); w.string("state", outcome.outcome.rawValue, &pending)
        if let code = outcome.code { w.int("code", code, &pending) }
        if let remoteID = outcome.remoteID { w.string("remote_id", remoteID, &pending) }
        if let vmta { w.string("vmta", vmta, &pending) }
        if let action { w.string("action", action, &pending) }
        if final {
            w.bool("final", true, &pending)
            w.string("error", outcome.error, &pending)
        }
        w.string("at", at, &pending)
        w.end(&pending)
        switch outcome.outcome {
        case .sent: entries[email] = .sent(code: outcome.code, remoteID: outcome.remoteID, vmta: vmta, action: action)
        case .failed where final: entries[email] = .failed(code: outcome.code, error: outcome.error)
        default: entries[email] = .ended
        }
    }

    public var hasPending: Bool { !pending.isEmpty }

    /// Writes the pending lines (one write) and seals them, then, when the interval has passed,
    /// has the background thread fdatasync them.
    public func sync() throws {
        try writeDeadLetters()
        if !pending.isEmpty {
            try pending.withUnsafeBytes { try file.append($0) }
            pending.removeAll()
            unsynced = true
        }
        if unsynced {
            let now = monotonicNow()
            if syncInterval <= 0 {
                try file.sync()   // 0: each batch durable before anything new starts
                lastSync = now
                unsynced = false
            } else if now - lastSync >= syncInterval {
                do { try syncer.request() } catch {
                    throw StageError.runtime("\(path): \(error)")
                }
                lastSync = now
                unsynced = false
            }
        }
    }

    /// Makes everything written durable now.
    public func syncNow() throws {
        try sync()
        if unsynced { try file.sync(); unsynced = false; lastSync = monotonicNow() }
        try deadLetters?.sync()
    }
}

/// Writes one flat JSON object line into a ByteBuffer.
struct JSONLine {
    private var first = true

    init(_ buffer: inout ByteBuffer) { buffer.append(UInt8(ascii: "{")) }

    mutating func key(_ name: StaticString, _ buffer: inout ByteBuffer) {
        if !first { buffer.append(UInt8(ascii: ",")) }
        first = false
        buffer.append(UInt8(ascii: "\""))
        buffer.append(name)
        buffer.append("\":")
    }
}

extension JSONLine {
    // The buffer is passed again per call; these helpers keep call sites short.
    mutating func string(_ name: StaticString, _ value: String?, _ buffer: inout ByteBuffer) {
        key(name, &buffer)
        if let value { buffer.appendJSONString(value) } else { buffer.append("null") }
    }

    mutating func bool(_ name: StaticString, _ value: Bool, _ buffer: inout ByteBuffer) {
        key(name, &buffer)
        buffer.append(value ? "true" : "false")
    }

    mutating func int(_ name: StaticString, _ value: Int?, _ buffer: inout ByteBuffer) {
        key(name, &buffer)
        if let value { buffer.appendDecimal(value) } else { buffer.append("null") }
    }

    func end(_ buffer: inout ByteBuffer) { buffer.append("}\n") }
}
