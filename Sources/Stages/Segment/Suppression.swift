import MailpipeCore
import MailpipeStore

/// The tenant's do-not-contact list, held as a set of 64-bit email hashes (8 bytes per entry, a
/// million entries in about 16 MB). A hash collision could only hold back one more address —
/// never let a suppressed one through.
public struct SuppressionList {
    public private(set) var hashes: Set<UInt64> = []

    public init() {}

    /// Reads `suppression.ndjson.gz` up to its last sealed append (an append log written by
    /// `account`). Lines are applied in order: an entry with `"action":"remove"` or
    /// `"removed":true` lifts an earlier one.
    public static func load(path: String, maxLine: Int = 1 << 20) throws -> SuppressionList {
        var list = SuppressionList()
        let length = try AppendLog.readableLength(path: path)
        let size = FileSystem.exists(path) ? try FileSystem.fileSize(path) : 0
        if length == 0 && size > 0 {
            // Bytes but no sealed append: not written by `account`. Refuse rather than contact
            // people who may be on it.
            throw StageError.runtime("\(path): no sealed append in the suppression file (not written by account?); refusing to select contacts without it")
        }
        guard length > 0 else { return list }
        var reader = LineReader(input: try InputReader(path: path, limit: length), maxLine: maxLine)
        defer { reader.deallocate() }
        var parser = JSONParser(maxDepth: 64)
        defer { parser.deallocate() }
        var key: [UInt8] = []
        while let event = try reader.next() {
            guard case .line(let bytes, let number) = event else { continue }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let root: JSONNode
            do { root = try parser.parse(bytes).root } catch {
                throw StageError.runtime("\(path): line \(number): \(error)")
            }
            guard let email = root["email"], email.kind == .string else { continue }
            var decoded: [UInt8] = []
            email.appendDecodedString(to: &decoded)
            key.removeAll(keepingCapacity: true)
            decoded.withUnsafeBytes { EmailKey.normalize($0, into: &key) }
            let hash = key.withUnsafeBytes { EmailKey.hash($0) }
            let removal = root["action"]?.stringEquals("remove") == true || root["removed"]?.bool == true
            if removal { list.hashes.remove(hash) } else { list.hashes.insert(hash) }
        }
        return list
    }

    public mutating func insert(_ email: String) {
        hashes.insert(EmailKey.hash(EmailKey.normalize(email)))
    }

    @inline(__always)
    public func contains(hash: UInt64) -> Bool { hashes.contains(hash) }

    public var count: Int { hashes.count }
}
