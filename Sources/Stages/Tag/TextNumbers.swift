import MailpipeCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Texts (UTF-8 bytes) → numbers, looked up straight from a record's bytes: no `String` made,
/// no hashing of one. The keys sit back to back in one array; an open-addressed table (at most
/// half full) holds each one's FNV-1a hash (`EmailKey.hash`), place and number.
///
/// Keys are compared as bytes: two texts that differ in bytes are two keys, even when Swift
/// would find them equal as strings (canonically equivalent Unicode).
struct TextNumbers {
    private struct Entry {
        var hash: UInt64 = 0
        var start: Int32 = -1     // -1: empty
        var count: Int32 = 0
        var number: Int = 0
    }

    private var keys: [UInt8] = []
    private var entries = [Entry](repeating: Entry(), count: 64)
    private(set) var count = 0

    /// The number of `text`, or nil when it has none.
    @inline(__always)
    func number(of text: UnsafeRawBufferPointer) -> Int? {
        let hash = EmailKey.hash(text)
        let mask = entries.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        return entries.withUnsafeBufferPointer { table in
            keys.withUnsafeBytes { k in
                while true {
                    let e = table[i]
                    if e.start < 0 { return nil }
                    if e.hash == hash && Int(e.count) == text.count
                        && (text.count == 0 || memcmp(k.baseAddress! + Int(e.start), text.baseAddress!, text.count) == 0) {
                        return e.number
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }

    /// Gives `text` (which has none yet) its number.
    mutating func insert(_ text: UnsafeRawBufferPointer, _ number: Int) {
        if (count + 1) * 2 > entries.count { grow() }
        let start = keys.count
        keys.append(contentsOf: text)
        put(Entry(hash: EmailKey.hash(text), start: Int32(start), count: Int32(text.count), number: number))
        count += 1
    }

    private mutating func put(_ entry: Entry) {
        let mask = entries.count - 1
        var i = Int(truncatingIfNeeded: entry.hash) & mask
        while entries[i].start >= 0 { i = (i + 1) & mask }
        entries[i] = entry
    }

    private mutating func grow() {
        let old = entries
        entries = [Entry](repeating: Entry(), count: old.count * 2)
        for e in old where e.start >= 0 { put(e) }
    }
}
