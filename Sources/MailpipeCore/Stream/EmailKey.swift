/// The identity of a contact and the stable hash every stage and machine shards by.
public enum EmailKey {
    /// Trimmed and ASCII-lower-cased bytes of an address: the store's sort and identity key.
    /// (Ingest does the full normalisation — NFC, unwrapping; this only makes keys agree.)
    public static func normalize(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var lo = 0
        var hi = bytes.count
        while lo < hi && isSpace(bytes[lo]) { lo += 1 }
        while hi > lo && isSpace(bytes[hi - 1]) { hi -= 1 }
        for i in lo..<hi {
            let b = bytes[i]
            out.append(b >= 65 && b <= 90 ? b + 32 : b)
        }
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
