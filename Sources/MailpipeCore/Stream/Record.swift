#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One input record: a JSON object parsed in place, with where it came from.
///
/// It borrows the reader's buffers: use it before asking the stream for the next record.
public struct Record {
    public let document: JSONDocument
    public let line: Int
    public let file: String?

    public init(document: JSONDocument, line: Int, file: String?) {
        self.document = document
        self.line = line
        self.file = file
    }

    public var root: JSONNode { document.root }
    /// The record's original bytes.
    public var bytes: UnsafeRawBufferPointer { document.bytes }

    public subscript(key: StaticString) -> JSONNode? { document.root[key] }
    public subscript(key: String) -> JSONNode? { document.root[key] }

    /// The decoded string at `key`, or nil when absent or not a string.
    public func string(_ key: StaticString) -> String? { document.root[key]?.string }

    public var origin: RejectSink.Origin { RejectSink.Origin(line: line, file: file) }
}

/// The changes a stage makes to one record: members set (replaced in place, or appended) and
/// members removed. Everything else is copied from the original bytes untouched.
public struct RecordPatch {
    public enum Change {
        case set([UInt8])   // serialised JSON value
        case remove
    }

    public private(set) var changes: [(key: [UInt8], change: Change)] = []

    public init() {}

    public var isEmpty: Bool { changes.isEmpty }

    public mutating func removeAll() { changes.removeAll(keepingCapacity: true) }

    public mutating func set(_ key: String, _ value: JSONValue) {
        put(key, .set(value.serialized))
    }

    public mutating func set(_ key: String, string: String) {
        var buffer = ByteBuffer(capacity: string.utf8.count + 2)
        buffer.appendJSONString(string)
        put(key, .set(buffer.bytes))
    }

    /// Sets a member to already serialised JSON.
    public mutating func set(_ key: String, rawJSON: [UInt8]) {
        put(key, .set(rawJSON))
    }

    public mutating func remove(_ key: String) {
        put(key, .remove)
    }

    private mutating func put(_ key: String, _ change: Change) {
        let k = Array(key.utf8)
        if let i = changes.firstIndex(where: { $0.key == k }) { changes[i].change = change }
        else { changes.append((k, change)) }
    }

    /// Writes `record` with this patch applied as one compact line (no newline).
    public func write(_ record: Record, into buffer: inout ByteBuffer) {
        write(record.document, into: &buffer)
    }

    /// Writes `document` (an object) with this patch applied as one compact line (no newline).
    public func write(_ document: JSONDocument, into buffer: inout ByteBuffer) {
        if changes.isEmpty {
            buffer.append(document.bytes)
            return
        }
        var applied = [Bool](repeating: false, count: changes.count)
        var writer = JSONObjectWriter(into: &buffer)
        for (key, value) in document.root.members {
            if let i = indexOfChange(for: key) {
                if applied[i] { continue }  // a duplicated key in the input: the patch wins once
                applied[i] = true
                if case .set(let bytes) = changes[i].change {
                    bytes.withUnsafeBytes { writer.rawMember(key: key.raw, value: $0, into: &buffer) }
                }
            } else {
                writer.rawMember(key: key.raw, value: value.raw, into: &buffer)
            }
        }
        for (i, (key, change)) in changes.enumerated() where !applied[i] {
            if case .set(let bytes) = change {
                var keyBytes = ByteBuffer(capacity: key.count + 2)
                key.withUnsafeBytes { keyBytes.appendJSONString(utf8: $0) }
                keyBytes.withUnsafeBytes { k in
                    bytes.withUnsafeBytes { writer.rawMember(key: k, value: $0, into: &buffer) }
                }
            }
        }
        writer.finish(into: &buffer)
    }

    @inline(__always)
    private func indexOfChange(for key: JSONNode) -> Int? {
        if key.isEscaped {
            guard let decoded = key.string else { return nil }
            let k = Array(decoded.utf8)
            return changes.firstIndex(where: { $0.key == k })
        }
        let content = key.rawContent
        for (i, change) in changes.enumerated() where change.key.count == content.count {
            let equal = change.key.withUnsafeBytes { memcmp($0.baseAddress!, content.baseAddress!, content.count) == 0 }
            if equal { return i }
        }
        return nil
    }
}
