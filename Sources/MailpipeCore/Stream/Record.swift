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
///
/// Keys and values are kept in buffers reused from record to record: setting the members a
/// stage sets on every record allocates nothing once they have grown. Copies of a patch share
/// those buffers (`ByteBuffer`s): each owner sets its own.
public struct RecordPatch {
    /// A key the patch was given: decoded, and written as a JSON string (ranges of `keyText`).
    private struct Key {
        var name: Range<Int>
        var quoted: Range<Int>
    }

    /// One member's change: its key (in `keys`) and its new serialised value (in `values`), or
    /// nil to remove it.
    private struct Change {
        var key: Int
        var value: Range<Int>?
    }

    /// The keys given so far, kept across `removeAll` (a stage sets the same few on every record).
    private var keys: [Key] = []
    private var keyText = ByteBuffer(capacity: 256)
    private var changes: [Change] = []
    private var values = ByteBuffer(capacity: 256)
    /// Keys kept at most across `removeAll`: a patch given ever new keys forgets them.
    private static let keptKeys = 64

    public init() {}

    public var isEmpty: Bool { changes.isEmpty }

    public mutating func removeAll() {
        changes.removeAll(keepingCapacity: true)
        values.removeAll()
        if keys.count > RecordPatch.keptKeys {
            keys.removeAll(keepingCapacity: true)
            keyText.removeAll()
        }
    }

    public mutating func set(_ key: String, _ value: JSONValue) {
        set(key) { value.write(into: &$0) }
    }

    public mutating func set(_ key: String, string: String) {
        set(key) { $0.appendJSONString(string) }
    }

    /// Sets a member to already serialised JSON.
    public mutating func set(_ key: String, rawJSON: [UInt8]) {
        set(key) { $0.append(rawJSON) }
    }

    /// Sets a member to already serialised JSON.
    public mutating func set(_ key: String, rawJSON: UnsafeRawBufferPointer) {
        set(key) { $0.append(rawJSON) }
    }

    /// Sets a member to the serialised JSON `value` appends to the buffer it is given.
    public mutating func set(_ key: String, writing value: (inout ByteBuffer) -> Void) {
        let i = change(for: key)
        let start = values.count
        value(&values)
        changes[i].value = start..<values.count
    }

    public mutating func remove(_ key: String) {
        changes[change(for: key)].value = nil
    }

    /// The index of `key`'s change, added when the key has none; its earlier value, if any, is
    /// dropped from `values`, so that setting one key again and again never grows them.
    private mutating func change(for key: String) -> Int {
        var key = key
        let k = key.withUTF8 { index(ofKey: UnsafeRawBufferPointer($0)) }
        for i in changes.indices where changes[i].key == k {
            if let old = changes[i].value { drop(old) }
            changes[i].value = nil
            return i
        }
        changes.append(Change(key: k, value: nil))
        return changes.count - 1
    }

    /// The index of `name` in `keys`, added when it is not there.
    private mutating func index(ofKey name: UnsafeRawBufferPointer) -> Int {
        for (i, key) in keys.enumerated() where same(keyText.bytes(key.name), name) { return i }
        let start = keyText.count
        keyText.append(name)
        let quoted = keyText.count
        keyText.appendJSONString(utf8: name)
        keys.append(Key(name: start..<quoted, quoted: quoted..<keyText.count))
        return keys.count - 1
    }

    /// Removes `range` from `values`, moving what follows it down.
    private mutating func drop(_ range: Range<Int>) {
        let count = values.count
        if range.upperBound < count {
            values.withUnsafeMutableBytes(range.lowerBound..<count) { b in
                _ = memmove(b.baseAddress!, b.baseAddress! + range.count, b.count - range.count)
            }
        }
        values.truncate(to: count - range.count)
        for i in changes.indices {
            guard let v = changes[i].value, v.lowerBound >= range.upperBound else { continue }
            changes[i].value = (v.lowerBound - range.count)..<(v.upperBound - range.count)
        }
    }

    @inline(__always) private func name(_ change: Change) -> UnsafeRawBufferPointer { keyText.bytes(keys[change.key].name) }
    @inline(__always) private func quoted(_ change: Change) -> UnsafeRawBufferPointer { keyText.bytes(keys[change.key].quoted) }

    /// Writes `record` with this patch applied as one compact line (no newline).
    public func write(_ record: Record, into buffer: inout ByteBuffer) {
        write(record.document, into: &buffer)
    }

    /// Writes `document` (an object) with this patch applied as one compact line (no newline):
    /// the root's members without white space between them, a changed one where it stands (its
    /// first occurrence; a later one is dropped), new ones appended in the order they were set.
    public func write(_ document: JSONDocument, into buffer: inout ByteBuffer) {
        if changes.isEmpty {
            buffer.append(document.bytes)
            return
        }
        withUnsafeTemporaryAllocation(of: Bool.self, capacity: changes.count) { applied in
            applied.initialize(repeating: false)
            var writer = JSONObjectWriter(into: &buffer)
            var run = CompactRun()
            for (key, value) in document.root.members {
                guard let i = indexOfChange(for: key) else {
                    run.add(key: key.raw, value: value.raw, writer: &writer, into: &buffer)
                    continue
                }
                run.flush(&writer, into: &buffer)
                if applied[i] { continue }  // a duplicated key in the input: the patch wins once
                applied[i] = true
                if let v = changes[i].value { writer.rawMember(key: key.raw, value: values.bytes(v), into: &buffer) }
            }
            run.flush(&writer, into: &buffer)
            for (i, change) in changes.enumerated() where !applied[i] {
                if let v = change.value { writer.rawMember(key: quoted(change), value: values.bytes(v), into: &buffer) }
            }
            writer.finish(into: &buffer)
        }
    }

    /// Writes `record` with this patch applied, as `write(_:into:)` does, for a record parsed
    /// keeping `members` (`JSONParser.parse(_:keeping:)`, repeated keys noticed) whose slots
    /// name every key the patch changes.
    ///
    /// When its root is compact (`FieldSlots.rootIsCompact`) with none of those keys repeated,
    /// that is the record's own bytes with the values set spliced in where they stand and new
    /// members before its closing brace: what the stages write, so most records go this way.
    /// Any other record (or a patch removing a member it has) is parsed whole again with
    /// `reparser` and written by `write`; the refusal, if that parse fails, cannot happen for a
    /// record `reparser`'s depth limit parsed once already.
    public func write(_ record: Record, keeping members: FieldSlots, reparser: inout JSONParser,
                      into buffer: inout ByteBuffer) -> RecordRefusal? {
        if changes.isEmpty {
            buffer.append(record.bytes)
            return nil
        }
        if splice(record, members, into: &buffer) { return nil }
        do throws(JSONParseError) {
            write(try reparser.parse(record.bytes), into: &buffer)
            return nil
        } catch {
            return RecordRefusal(error.rejectReason, error.description)
        }
    }

    /// The spliced write of `write(_:keeping:reparser:into:)`, or false, writing nothing, when
    /// the record is not laid out for it.
    private func splice(_ record: Record, _ members: FieldSlots, into buffer: inout ByteBuffer) -> Bool {
        guard members.noticesRepeatedKeys, members.rootIsCompact, !members.repeatedKey else { return false }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: changes.count) { at in
            // Each change's member value on the tape, or -1 when the record has none.
            let slotKeys = members.keys
            for (i, change) in changes.enumerated() {
                let key = name(change)
                guard let slot = slotKeys.firstIndex(where: { k in k.withUnsafeBytes { same(key, $0) } }) else { return false }
                at[i] = members[slot]
                if change.value == nil && at[i] >= 0 { return false }
            }
            let source = record.bytes, tokens = record.document.tokens
            // The values replaced in the order they stand (a few at most: the next one found
            // by looking at each change).
            var from = 0
            while true {
                var next = -1, nextStart = Int.max
                for i in 0..<changes.count where at[i] >= 0 {
                    let start = Int(tokens[at[i]].start)
                    if start >= from && start < nextStart { next = i; nextStart = start }
                }
                if next < 0 { break }
                buffer.append(UnsafeRawBufferPointer(rebasing: source[from..<nextStart]))
                buffer.append(values.bytes(changes[next].value!))
                from = Int(tokens[at[next]].end)
            }
            let appended = changes.indices.contains { at[$0] < 0 && changes[$0].value != nil }
            guard appended else {
                buffer.append(UnsafeRawBufferPointer(rebasing: source[from...]))
                return true
            }
            // The new members before the closing brace, after a comma unless the record is `{}`.
            buffer.append(UnsafeRawBufferPointer(rebasing: source[from..<(source.count - 1)]))
            var first = source.count == 2
            for (i, change) in changes.enumerated() where at[i] < 0 {
                guard let v = change.value else { continue }
                if !first { buffer.append(UInt8(ascii: ",")) }
                first = false
                buffer.append(quoted(change))
                buffer.append(UInt8(ascii: ":"))
                buffer.append(values.bytes(v))
            }
            buffer.append(UInt8(ascii: "}"))
            return true
        }
    }

    @inline(__always)
    private func indexOfChange(for key: JSONNode) -> Int? {
        if key.isEscaped {
            guard let decoded = key.string else { return nil }
            var k = decoded
            return k.withUTF8 { d in changes.firstIndex { same(name($0), UnsafeRawBufferPointer(d)) } }
        }
        let content = key.rawContent
        return changes.firstIndex { same(name($0), content) }
    }
}

/// Whether `a` and `b` hold the same bytes.
@inline(__always)
private func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
}

/// Untouched members that follow each other with no white space (`"a":1,"b":2`), copied as one
/// run: its first key, then everything from that key's value to the run's last byte, which is
/// exactly what copying them one by one writes.
private struct CompactRun {
    private var key = UnsafeRawBufferPointer(start: nil, count: 0)
    private var value: UnsafeRawPointer?
    private var end: UnsafeRawPointer?

    /// Adds the next untouched member: to the run when it follows it as `,"key":value`.
    @inline(__always)
    mutating func add(key k: UnsafeRawBufferPointer, value v: UnsafeRawBufferPointer,
                      writer: inout JSONObjectWriter, into buffer: inout ByteBuffer) {
        let compact = v.baseAddress! == k.baseAddress! + k.count + 1        // `"key":value`
        if compact, value != nil, k.baseAddress! == end! + 1 {              // `…,"key"`
            end = v.baseAddress! + v.count
            return
        }
        flush(&writer, into: &buffer)
        if compact {
            key = k
            value = v.baseAddress!
            end = v.baseAddress! + v.count
        } else {
            writer.rawMember(key: k, value: v, into: &buffer)
        }
    }

    @inline(__always)
    mutating func flush(_ writer: inout JSONObjectWriter, into buffer: inout ByteBuffer) {
        guard let start = value else { return }
        writer.rawMember(key: key, value: UnsafeRawBufferPointer(start: start, count: end! - start), into: &buffer)
        value = nil
    }
}
