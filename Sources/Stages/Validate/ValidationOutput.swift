import MailpipeCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The members `validate` sets on a record, written over the record's own bytes without a
/// per-record allocation: the same result as a `RecordPatch` setting them in this order
/// (a member already present is replaced where it stands, its first occurrence only; the
/// others are appended in slot order; untouched members are copied as raw bytes).
///
/// `set` works out the values; `writeSpliced` writes a compact record as its bytes around
/// them, `writePatched` any record from its full parse.
struct ValidationOutput {
    enum Slot: Int, CaseIterable {
        case validation, status, emailOriginal, email, emailASCII
    }
    private static let names: [StaticString] = ["validation", "status", "email_original", "email", "email_ascii"]
    private static let quotedKeys: [StaticString] = ["\"validation\"", "\"status\"", "\"email_original\"", "\"email\"", "\"email_ascii\""]

    /// The slots' serialised values, one after another.
    var values = ByteBuffer(capacity: 1024)
    private var lower = [Int](repeating: -1, count: Slot.allCases.count)
    private var upper = [Int](repeating: 0, count: Slot.allCases.count)

    private mutating func reset() {
        values.removeAll()
        for i in lower.indices { lower[i] = -1 }
    }

    /// Marks the bytes appended to `values` since `start` as the slot's value.
    private mutating func set(_ slot: Slot, from start: Int) {
        lower[slot.rawValue] = start
        upper[slot.rawValue] = values.count
    }

    /// The root members to keep when parsing a record for validate: the slots, at the indices
    /// of `Slot` (what it reads is among them), watching for repeated keys (`writeSpliced`).
    static func memberSlots() -> FieldSlots {
        let slots = FieldSlots()
        for name in names { _ = slots.slot(name.description) }
        slots.noticesRepeatedKeys = true
        return slots
    }

    /// Works out the members an assessment sets on `record`: `validation`, `status` (unless the
    /// record's is one validate keeps), and after a typo fix `email` and `email_original`; for an
    /// IDN domain `email_ascii`. What it reads of the record is among `memberSlots`.
    mutating func set(_ record: Record, _ a: Assessment, fixed: String?) {
        reset()
        var start = values.count
        let verdict = a.verdict
        switch verdict {
        case .valid: values.append("{\"verdict\":\"valid\",\"score\":")
        case .risky: values.append("{\"verdict\":\"risky\",\"score\":")
        case .invalid: values.append("{\"verdict\":\"invalid\",\"score\":")
        }
        values.appendDecimal(a.score)
        values.append(",\"reasons\":[")
        for (i, r) in a.reasons.enumerated() {
            if i > 0 { values.append(UInt8(ascii: ",")) }
            values.append(UInt8(ascii: "\""))
            values.append(r.rawValue)
            values.append(UInt8(ascii: "\""))
        }
        values.append(UInt8(ascii: "]"))
        if let s = a.suggestion, fixed == nil {
            values.append(",\"suggestion\":")
            values.appendJSONString(s)
        }
        values.append(UInt8(ascii: "}"))
        set(.validation, from: start)

        let current = record["status"]
        if current == nil || !Validate.keptStatuses.contains(where: { current!.stringEquals($0) }) {
            start = values.count
            switch verdict {
            case .valid: values.append("\"validated\"")
            case .risky: values.append("\"risky\"")
            case .invalid: values.append("\"invalid\"")
            }
            set(.status, from: start)
        }
        if let fixed {
            if record["email_original"] == nil, let original = record["email"] {
                start = values.count
                values.append(original.raw)
                set(.emailOriginal, from: start)
            }
            start = values.count
            values.appendJSONString(fixed)
            set(.email, from: start)
        }
        if let ascii = a.asciiEmail {
            start = values.count
            values.appendJSONString(ascii)
            set(.emailASCII, from: start)
        }
    }

    /// Writes `record`, parsed keeping `memberSlots` (`members`), with the values `set` gave as
    /// its own bytes around them — what `writePatched` writes, when the record is compact
    /// (`FieldSlots.rootIsCompact`, what the stages before validate write) with no slot key
    /// repeated. False, writing nothing, for any other record.
    func writeSpliced(_ record: Record, _ members: FieldSlots, into buffer: inout ByteBuffer) -> Bool {
        guard members.rootIsCompact, !members.repeatedKey else { return false }
        let bytes = record.bytes, tokens = record.document.tokens
        values.withUnsafeBytes { v in
            // The values replaced where they stand, in the order they come (a few at most: the
            // next one found by looking at each slot).
            var from = 0
            var appended = false
            while true {
                var next = -1, nextStart = Int.max
                for s in 0..<lower.count where lower[s] >= 0 {
                    let value = members[s]
                    if value < 0 { appended = true; continue }
                    let start = Int(tokens[value].start)
                    if start >= from && start < nextStart { next = s; nextStart = start }
                }
                if next < 0 { break }
                buffer.append(UnsafeRawBufferPointer(rebasing: bytes[from..<nextStart]))
                buffer.append(UnsafeRawBufferPointer(rebasing: v[lower[next]..<upper[next]]))
                from = Int(tokens[members[next]].end)
            }
            guard appended else {
                buffer.append(UnsafeRawBufferPointer(rebasing: bytes[from...]))
                return
            }
            // Before the closing brace: the new members in slot order, after a comma unless
            // the record was `{}`.
            buffer.append(UnsafeRawBufferPointer(rebasing: bytes[from..<(bytes.count - 1)]))
            var first = bytes.count == 2
            for s in 0..<lower.count where lower[s] >= 0 && members[s] < 0 {
                if !first { buffer.append(UInt8(ascii: ",")) }
                first = false
                let key = ValidationOutput.quotedKeys[s]
                buffer.append(UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
                buffer.append(UInt8(ascii: ":"))
                buffer.append(UnsafeRawBufferPointer(rebasing: v[lower[s]..<upper[s]]))
            }
            buffer.append(UInt8(ascii: "}"))
        }
        return true
    }

    /// Writes `record` (parsed whole) with the values `set` gave.
    func writePatched(_ record: Record, into buffer: inout ByteBuffer) {
        var writer = JSONObjectWriter(into: &buffer)
        var applied = 0
        values.withUnsafeBytes { v in
            // Untouched members that follow each other with no whitespace (`"a":1,"b":2`) are
            // copied as one run: its first key, then everything from that key's value to the
            // run's last byte, which is exactly what member-by-member copying would write.
            var runKey = UnsafeRawBufferPointer(start: nil, count: 0)
            var runValue: UnsafeRawPointer? = nil
            var runEnd: UnsafeRawPointer? = nil
            func flushRun() {
                if let start = runValue {
                    writer.rawMember(key: runKey, value: UnsafeRawBufferPointer(start: start, count: runEnd! - start), into: &buffer)
                    runValue = nil
                }
            }
            for (key, value) in record.root.members {
                let s = ValidationOutput.slot(of: key)
                if s >= 0 && lower[s] >= 0 {
                    flushRun()
                    if applied & (1 << s) != 0 { continue }   // a duplicated key: the new value once
                    applied |= 1 << s
                    writer.rawMember(key: key.raw, value: UnsafeRawBufferPointer(rebasing: v[lower[s]..<upper[s]]), into: &buffer)
                    continue
                }
                let k = key.raw, val = value.raw
                let compact = val.baseAddress! == k.baseAddress! + k.count + 1         // `"key":value`
                if compact, runValue != nil, k.baseAddress! == runEnd! + 1 {          // `…,"key"`
                    runEnd = val.baseAddress! + val.count
                } else if compact {
                    flushRun()
                    runKey = k
                    runValue = val.baseAddress!
                    runEnd = val.baseAddress! + val.count
                } else {
                    flushRun()
                    writer.rawMember(key: k, value: val, into: &buffer)
                }
            }
            flushRun()
            for s in 0..<lower.count where lower[s] >= 0 && applied & (1 << s) == 0 {
                let key = ValidationOutput.quotedKeys[s]
                writer.rawMember(key: UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount),
                                 value: UnsafeRawBufferPointer(rebasing: v[lower[s]..<upper[s]]), into: &buffer)
            }
        }
        writer.finish(into: &buffer)
    }

    /// The slot a member key names, or -1.
    @inline(__always)
    static func slot(of key: JSONNode) -> Int {
        if key.isEscaped {
            guard let text = key.string else { return -1 }
            for (i, name) in names.enumerated() where text == name.description { return i }
            return -1
        }
        let content = key.rawContent
        let i: Int
        switch content.count {       // the names' lengths all differ
        case 10: i = 0
        case 6: i = 1
        case 14: i = 2
        case 5: i = 3
        case 11: i = 4
        default: return -1
        }
        let name = names[i]
        return memcmp(content.baseAddress!, name.utf8Start, content.count) == 0 ? i : -1
    }
}
