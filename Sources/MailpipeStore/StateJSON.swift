import MailpipeCore

/// The JSON documents the store writes for itself — `ledger.json`, `contacts/manifest.json` (and
/// each shard's) and `contacts/layout.json` — check themselves: `"format": 2` comes first and a
/// `"checksum"` member last, the CRC-32 (hex) of the file's bytes read with the checksum's eight
/// digits as `00000000`. A bit flip that leaves valid JSON (a count, a log length, a run name) is
/// then `StateDamage`, never a value.
///
/// A file of format 1 (written before checksums; no checksum) is read as it is and gains one on
/// its next write. A single flip cannot pass a checked file off as an old one: format 2 without a
/// checksum, a checksum that does not match, or another format are all damage.
///
/// `tenant.json` is not one of them: it is the operator's file, edited by hand (its values are
/// checked one by one instead: docs/account.md, "tenant.json").
enum StateJSON {
    /// The format of a checked file.
    static let format = 2
    /// The format of the files written before the checksum.
    static let unchecked = 1
    static let checksumKey = "checksum"
    private static let digits = 8
    private static let placeholder = String(repeating: "0", count: digits)

    /// A file's bytes: `members` between the format and the checksum, two-space indented.
    static func encode(_ members: [(String, JSONValue)]) -> [UInt8] {
        var object = JSONObject([("format", .int(format))] + members)
        object.append(checksumKey, .string(placeholder))
        var bytes = JSONValue.object(object).prettyPrinted
        bytes.append(0x0A)
        // The placeholder is the document's last string.
        let at = valueOffset(of: placeholder, in: bytes)!
        let text = hex(checksum(bytes, valueAt: at))
        bytes.replaceSubrange(at..<(at + digits), with: text.utf8)
        return bytes
    }

    /// Parses a state file and checks it (`what` names it in the problem: "ledger", "manifest").
    /// Throws `StateDamage` (repair: fsck) for a file that is not JSON, fails its checksum, or has
    /// a format this version does not know.
    static func decode(_ bytes: [UInt8], path: String, what: String, maxDepth: Int = 128) throws -> JSONValue {
        func damage(_ problem: String) -> StateDamage {
            StateDamage(file: path, problem: problem, repair: .fsck)
        }
        let value: JSONValue
        do { value = try JSONValue.parse(bytes, maxDepth: maxDepth) } catch {
            throw damage("unreadable \(what): \(error)")
        }
        guard value.object != nil else { throw damage("unreadable \(what): not a JSON object") }
        let format = value["format"]
        let stored = value[checksumKey]
        if format == .int(Self.format) {
            guard stored != nil else { throw damage("a \(what) of format \(Self.format) without its checksum") }
        } else if let format, format != .int(unchecked) {
            throw damage("a \(what) of unknown format \(format)")
        }
        // Format 1 or none: written before checksums (a checksum there is still checked).
        guard let stored else { return value }
        guard let text = stored.string, text.utf8.count == digits, text.utf8.allSatisfy(isHexDigit),
              let at = valueOffset(of: text, in: bytes) else {
            throw damage("a \(what) with a malformed checksum \(stored)")
        }
        let actual = hex(checksum(bytes, valueAt: at))
        guard actual == text else {
            throw damage("\(what) checksum mismatch (stored \(text), the bytes give \(actual)): the file changed after it was written")
        }
        return value
    }

    /// The offset of the digits of the last `"text"` in the file.
    private static func valueOffset(of text: String, in bytes: [UInt8]) -> Int? {
        let quoted = [UInt8(ascii: "\"")] + Array(text.utf8) + [UInt8(ascii: "\"")]
        guard bytes.count >= quoted.count else { return nil }
        var start = bytes.count - quoted.count
        while start >= 0 {
            if bytes[start..<(start + quoted.count)].elementsEqual(quoted) { return start + 1 }
            start -= 1
        }
        return nil
    }

    private static func checksum(_ bytes: [UInt8], valueAt at: Int) -> UInt32 {
        var copy = bytes
        copy.replaceSubrange(at..<(at + digits), with: placeholder.utf8)
        return copy.withUnsafeBytes { CRC32.checksum($0) }
    }

    private static func hex(_ value: UInt32) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: digits - text.count) + text
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
    }
}
