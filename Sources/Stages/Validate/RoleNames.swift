import MailpipeCore

/// Local parts that name a function rather than a person (`info`, `bureau`, `vertrieb`, `客服`),
/// matched without a `+tag`, without case and without the separators people vary
/// (`no-reply`, `no.reply`, `no_reply` and `noreply` are one name).
public struct RoleNames: Sendable {
    private var names: ByteSet

    public init(_ list: [String]) {
        names = ByteSet(minimumCapacity: list.count)
        for name in list {
            var key = Array(name.lowercased().utf8)
            let length = key.withUnsafeMutableBytes { RoleNames.stripSeparators($0) }
            key.withUnsafeBytes { names.insert(UnsafeRawBufferPointer(rebasing: $0[..<length])) }
        }
    }

    /// Whether a local part (NFC) is a role name.
    @inline(__always)
    public func contains(_ local: UnsafeRawBufferPointer) -> Bool {
        var end = local.count
        if let plus = local.firstOffset(of: UInt8(ascii: "+")) { end = plus }
        guard end > 0, end <= 64 else { return false }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: end) { buffer in
            var ascii = true
            for i in 0..<end {
                let b = local[i]
                if b >= 0x80 { ascii = false }
                buffer[i] = b >= 65 && b <= 90 ? b + 32 : b
            }
            let key = UnsafeMutableRawBufferPointer(buffer)
            if ascii { return names.contains(UnsafeRawBufferPointer(rebasing: key[..<RoleNames.stripSeparators(key)])) }
            // Cyrillic, Greek… need Unicode case folding (rare: SMTPUTF8 local parts).
            var lower = Array(String(decoding: UnsafeRawBufferPointer(rebasing: local[..<end]), as: UTF8.self).lowercased().utf8)
            return lower.withUnsafeMutableBytes { names.contains(UnsafeRawBufferPointer(rebasing: $0[..<RoleNames.stripSeparators($0)])) }
        }
    }

    /// Removes `.`, `-` and `_` in place; the new length.
    private static func stripSeparators(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        var n = 0
        for b in bytes where b != UInt8(ascii: ".") && b != UInt8(ascii: "-") && b != UInt8(ascii: "_") {
            bytes[n] = b
            n += 1
        }
        return n
    }
}
