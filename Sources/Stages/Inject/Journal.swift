import MailpipeCore
import MailpipeStore

/// The idempotency journal of one (tenant, channel, campaign):
/// `state/<tenant>/journal/<channel>/<campaign>.ndjson.gz`, an `AppendLog` (sealed gzip members,
/// each append fsynced; `zcat | jq` reads it).
///
/// Lines: `{"email":…,"state":"begin","message_id":…}` written (and fsynced) before the first
/// attempt of a record starts; `{"email":…,"state":"sent","code":…,"remote_id":…,"vmta":…,"at":…}`
/// once the remote side accepted it, or `"failed"` / `"deferred"` when it ended otherwise. The
/// caller writes a batch and syncs before it starts anything new on a connection, so after a
/// SIGKILL only records whose last line is `begin` can have been in flight: a re-run sends them
/// again (same Message-ID) and counts them as `resent`; records whose last line is `sent` are
/// `skipped`.
public final class Journal {
    public enum State: Equatable { case begun, sent(code: Int?, remoteID: String?, vmta: String?), ended }

    public let path: String
    private let log: AppendLog
    private let lock: FileLock
    private var entries: [String: State] = [:]
    private var pending = ByteBuffer(capacity: 1 << 14)

    public init(tenant: TenantDirectory, channel: String, campaign: String, warn: (String) -> Void) throws {
        let dir = "\(tenant.journalPath)/\(channel)"
        try FileSystem.createDirectory(tenant.journalPath)
        try FileSystem.createDirectory(dir)
        let name = Journal.fileName(campaign)
        path = "\(dir)/\(name).ndjson.gz"
        // One inject per journal at a time; `account` never touches journals, so the tenant lock
        // is not taken (a pipeline `inject | account record` must not wait on itself).
        lock = try FileLock(path: "\(dir)/\(name).lock")
        log = try AppendLog(path: path, warn: warn)
        try load()
    }

    deinit { lock.unlock() }

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

    private func load() throws {
        let length = try AppendLog.readableLength(path: path)
        guard length > 0 else { return }
        let input = try InputReader(path: path, limit: length)
        var lines = LineReader(input: input, maxLine: 1 << 20)
        defer { lines.deallocate() }
        var parser = JSONParser(maxDepth: 8)
        defer { parser.deallocate() }
        while let event = try lines.next() {
            guard case .line(let bytes, _) = event, !bytes.isEmpty,
                  let doc = try? parser.parse(bytes), let email = doc.root["email"]?.string,
                  let state = doc.root["state"] else { continue }
            if state.stringEquals("begin") {
                if entries[email] == nil || entries[email] == .ended { entries[email] = .begun }
            } else if state.stringEquals("sent") {
                entries[email] = .sent(code: doc.root["code"]?.int, remoteID: doc.root["remote_id"]?.string,
                                       vmta: doc.root["vmta"]?.string)
            } else {
                if case .sent = entries[email] { continue }
                entries[email] = .ended
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

    public func end(email: String, outcome: String, code: Int?, remoteID: String?, vmta: String?, at: String) {
        var w = JSONLine(&pending)
        w.string("email", email, &pending); w.string("state", outcome, &pending)
        if let code { w.int("code", code, &pending) }
        if let remoteID { w.string("remote_id", remoteID, &pending) }
        if let vmta { w.string("vmta", vmta, &pending) }
        w.string("at", at, &pending)
        w.end(&pending)
        entries[email] = outcome == "sent" ? .sent(code: code, remoteID: remoteID, vmta: vmta) : .ended
    }

    public var hasPending: Bool { !pending.isEmpty }

    /// Appends what was written since the last sync as one member and fsyncs it.
    public func sync() throws {
        guard !pending.isEmpty else { return }
        try log.append(pending.bytes, level: 1)
        pending.removeAll()
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

    mutating func int(_ name: StaticString, _ value: Int?, _ buffer: inout ByteBuffer) {
        key(name, &buffer)
        if let value { buffer.appendDecimal(value) } else { buffer.append("null") }
    }

    func end(_ buffer: inout ByteBuffer) { buffer.append("}\n") }
}
