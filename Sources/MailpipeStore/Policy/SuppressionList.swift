import MailpipeCore

/// The tenant's do-not-contact list, `suppression.ndjson.gz` (an append log written by `account`
/// only), as a set of 64-bit email hashes (8 bytes per entry, a million entries in about 16 MB).
/// A hash collision could only hold back one more address — never let a suppressed one through.
///
/// Lines are applied in order: an entry with `"action":"remove"` or `"removed":true` lifts an
/// earlier one. `refresh()` picks up what was appended (or rewritten) since it was read, so a
/// long `inject` sees an unsubscribe made while it runs.
public struct SuppressionList: Sendable {
    public private(set) var hashes: Set<UInt64> = []
    let path: String?
    let maxLine: Int
    /// The log length read so far (sealed appends only), and the file's identity then.
    private var readLength = 0
    private var readIdentity: FileIdentity?

    public init() {
        path = nil
        maxLine = 1 << 20
    }

    /// Reads the list up to its last sealed append.
    public static func load(path: String, maxLine: Int = 1 << 20) throws -> SuppressionList {
        var list = SuppressionList(path: path, maxLine: maxLine)
        try list.refresh()
        return list
    }

    private init(path: String, maxLine: Int) {
        self.path = path
        self.maxLine = maxLine
    }

    /// Reads what was appended since the last read; a file rewritten (an entry removed) or cut
    /// shorter is read again from the start.
    public mutating func refresh() throws {
        guard let path else { return }
        let identity = FileIdentity(path: path)
        let length = try AppendLog.readableLength(path: path)
        let size = FileSystem.entryExists(path) ? try FileSystem.fileSize(path) : 0
        if length == 0 && size > 0 {
            // Bytes but no sealed append: not written by `account`. Refuse rather than contact
            // people who may be on it.
            throw StateDamage(file: path, problem: "no sealed append in the suppression list (torn, or not written by account); refusing to select contacts without it",
                              repair: .fsck)
        }
        if identity != readIdentity || length < readLength {
            hashes.removeAll(keepingCapacity: true)
            readLength = 0
        }
        readIdentity = identity
        guard length > readLength else { return }
        var updated = hashes
        try SuppressionList.forEachEntry(path: path, from: readLength, length: length, maxLine: maxLine) { email, removal, _ in
            let hash = EmailKey.hash(EmailKey.normalize(email))
            if removal { updated.remove(hash) } else { updated.insert(hash) }
        }
        hashes = updated
        readLength = length
    }

    /// Calls `body` with each entry's address, whether it lifts an earlier entry, and its line,
    /// for the appends in `from..<length`. A line that is not JSON is an error (never skipped: a
    /// skipped line could be someone who must not be mailed).
    public static func forEachEntry(path: String, from: Int = 0, length: Int, maxLine: Int = 1 << 20,
                                    _ body: (String, Bool, UnsafeRawBufferPointer) throws -> Void) throws {
        var parser = JSONParser(maxDepth: 64)
        defer { parser.deallocate() }
        for range in try AppendLog.appendRanges(path: path, length: length) where range.lowerBound >= from {
            var number = 0
            try AppendLog.forEachLine(path: path, range: range) { line in
                number += 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
                let root: JSONNode
                do { root = try parser.parse(line).root } catch {
                    throw StageError.runtime("\(path): append at \(range.lowerBound), line \(number): \(error)")
                }
                guard let email = root["email"]?.string else { return }
                let removal = root["action"]?.stringEquals("remove") == true || root["removed"]?.bool == true
                try body(email, removal, line)
            }
        }
    }

    public mutating func insert(_ email: String) {
        hashes.insert(EmailKey.hash(EmailKey.normalize(email)))
    }

    @inline(__always)
    public func contains(hash: UInt64) -> Bool { hashes.contains(hash) }

    public func contains(_ email: String) -> Bool { hashes.contains(EmailKey.hash(EmailKey.normalize(email))) }

    public var count: Int { hashes.count }

    /// The length of the file read (its sealed appends).
    public var length: Int { readLength }
}

/// A file's device and inode: a rewrite (rename over it) changes them.
struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64

    init?(path: String) {
        guard let (d, i) = FileSystem.identity(path) else { return nil }
        device = d
        inode = i
    }
}
