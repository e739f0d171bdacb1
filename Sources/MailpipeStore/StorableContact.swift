#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// What the contact store refuses to keep: `account commit` rejects such a record with a reason
/// rather than store something no later stage can use, or quietly drop a part of it.
public enum StorableContact {
    /// The first problem of a record whose identity (`ContactIdentity`) is sound; `key` is its
    /// normalised email.
    public static func problem(_ record: Record, key: [UInt8]) -> RecordRefusal? {
        if let why = addressProblem(key) {
            return RecordRefusal(.invalidEmail, "'\(String(decoding: key.prefix(200), as: UTF8.self))' is not an e-mail address: \(why)")
        }
        if let tags = record["tags"], let why = tagsProblem(tags) {
            return RecordRefusal(.invalidTags, why)
        }
        if let number = firstUnrepresentableNumber(record.document) {
            return RecordRefusal(.invalidNumber,
                                 "\(String(decoding: number.prefix(60), as: UTF8.self)) is beyond what a 64-bit float holds; write it as a string")
        }
        return nil
    }

    /// Why a normalised email is not an address (`local@domain`), or nil. The full syntax is
    /// `validate`'s business; the store only refuses what cannot be an address at all.
    static func addressProblem(_ key: [UInt8]) -> String? {
        guard key.count <= 254 else { return "longer than 254 bytes" }
        guard let at = key.lastIndex(of: UInt8(ascii: "@")) else { return "no @" }
        let local = key[..<at], domain = key[(at + 1)...]
        if local.isEmpty { return "nothing before the @" }
        if domain.isEmpty { return "nothing after the @" }
        func plain(_ b: UInt8) -> Bool { b > 0x20 && b != 0x7F }
        if !domain.allSatisfy({ plain($0) && $0 != UInt8(ascii: "@") }) { return "a space, a control character or a second @ in the domain" }
        let quoted = local.count >= 2 && local.first == 0x22 && local.last == 0x22
        if !quoted && !local.allSatisfy(plain) { return "a space or a control character outside quotes" }
        return nil
    }

    /// Tags are strings (slugs): a tag of another kind would be dropped by the merge.
    static func tagsProblem(_ tags: JSONNode) -> String? {
        switch tags.kind {
        case .string, .null: return nil
        case .array:
            for (i, e) in tags.elements.enumerated() where e.kind != .string {
                return "tags must be strings; element \(i + 1) is \(String(decoding: e.raw.prefix(60), as: UTF8.self))"
            }
            return nil
        default:
            return "tags must be an array of strings, not \(String(decoding: tags.raw.prefix(60), as: UTF8.self))"
        }
    }

    /// The source text of the first number whose value overflows a Double (`1e400`): JSON
    /// readers (jq, Python, JavaScript) turn it into infinity or refuse it. Numbers are kept as
    /// their source text, so a long integer (an id) is fine.
    static func firstUnrepresentableNumber(_ document: JSONDocument) -> UnsafeRawBufferPointer? {
        let tape = Tape(document)
        for i in 0..<document.tokenCount where tape.kind(i) == .number {
            let text = tape.raw(i)
            // Only an exponent or a very long mantissa can reach the limit (about 1.8e308).
            guard text.count > 308 || memchr(text.baseAddress!, 0x65, text.count) != nil || memchr(text.baseAddress!, 0x45, text.count) != nil else { continue }
            var copy = [CChar](repeating: 0, count: text.count + 1)
            copy.withUnsafeMutableBytes { $0.copyMemory(from: text) }
            if !strtod(copy, nil).isFinite { return text }
        }
        return nil
    }
}
