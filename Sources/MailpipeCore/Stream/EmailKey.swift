#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
/// The identity of a contact and the stable hash every stage and machine shards by.
public enum EmailKey {
    /// Trimmed and ASCII-lower-cased bytes of an address: the store's sort and identity key.
    /// (Ingest does the full normalisation — NFC, unwrapping; this only makes keys agree.)
    public static func normalize(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var lo = 0
        var hi = bytes.count
        while lo < hi && isSpace(bytes[lo]) { lo += 1 }
        while hi > lo && isSpace(bytes[hi - 1]) { hi -= 1 }
        // Copied whole, then lower-cased in place a word at a time (byte by byte was ~20
        // instructions a byte in dedupe's profile).
        let start = out.count
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[lo..<hi]))
        out.withUnsafeMutableBytes { ByteScan.lowercaseASCII(UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
    }

    public static func normalize(_ text: String) -> String {
        var copy = text
        var out: [UInt8] = []
        copy.withUTF8 { normalize(UnsafeRawBufferPointer($0), into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }

    /// FNV-1a, 64 bits, over the normalised address's UTF-8 bytes. Chosen because it is trivial
    /// to reproduce anywhere (Python, Spark, awk) and the same on every machine and run.
    @inline(__always)
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    public static func hash(_ text: String) -> UInt64 {
        var copy = text
        return copy.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }
}

/// `--shard i/n`: keep the contacts whose address hashes into shard i of n (0 ≤ i < n).
public struct Shard: Equatable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else {
            throw StageError.usage("a shard is i/n with 0 ≤ i < n, got \(index)/\(count)")
        }
        self.index = index
        self.count = count
    }

    /// Parses `i/n`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw StageError.usage("--shard takes i/n (for example 0/4), got '\(text)'")
        }
        try self.init(index: i, count: n)
    }

    @inline(__always)
    public func contains(hash: UInt64) -> Bool { Int(hash % UInt64(count)) == index }

    public var description: String { "\(index)/\(count)" }
}

/// Identity folding for `dedupe --canonical`. The store's run indexes keep the folded hashes of
/// the addresses a form changes, so dedupe need not read the contacts to fold them.
public enum CanonicalForm: String, CaseIterable, Sendable {
    /// The normalised email as it is.
    case exact
    /// Gmail and Googlemail: dots and `+tags` of the local part ignored, googlemail.com = gmail.com.
    case gmail
    /// `+tags` stripped for every domain.
    case plus

    /// Writes the folded form of a normalised address (trimmed, lower case) into `out` and
    /// returns true, or returns false (and leaves `out` alone) when the form does not change it.
    public func fold(_ key: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Bool {
        if self == .exact { return false }
        var at = key.count - 1
        while at >= 0 && key[at] != 0x40 { at -= 1 }
        guard at >= 0 else { return false }
        let domain = UnsafeRawBufferPointer(rebasing: key[(at + 1)...])
        @inline(__always) func isDomain(_ name: StaticString) -> Bool {
            domain.count == name.utf8CodeUnitCount && memcmp(domain.baseAddress!, name.utf8Start, domain.count) == 0
        }
        let googlemail = isDomain("googlemail.com")
        let gmail = self == .gmail && (googlemail || isDomain("gmail.com"))
        // Where the local part's `+tag` starts (a local part that starts with `+` is kept whole).
        var localEnd = at
        if self == .plus || gmail {
            var i = 0
            while i < at && key[i] != 0x2B { i += 1 }
            if i > 0 && i < at { localEnd = i }
        }
        let dropsDots = gmail && memchr(key.baseAddress!, 0x2E, localEnd) != nil
        if localEnd == at && !dropsDots && !(gmail && googlemail) { return false }
        out.removeAll(keepingCapacity: true)
        for i in 0..<localEnd where !(gmail && key[i] == 0x2E) { out.append(key[i]) }
        if gmail {
            out.append(contentsOf: "@gmail.com".utf8)
        } else {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: key[at...]))
        }
        return true
    }

    /// Rewrites a normalised address (trimmed, lower case) in place.
    public func apply(_ key: inout [UInt8]) {
        var out: [UInt8] = []
        if key.withUnsafeBytes({ fold($0, into: &out) }) { key = out }
    }
}
