import MailpipeCore

/// Byte lookups validate makes per address: a domain or its parents in a list, a byte's first
/// or last offset. Addresses and domains are short: loops inline.
extension ByteSet {
    /// Whether `domain` or any of its parent domains (not the bare top-level label) is in the set:
    /// `a.b.mailinator.com` matches an entry `mailinator.com`.
    @inline(__always)
    func containsDomainOrParent(_ domain: UnsafeRawBufferPointer) -> Bool {
        if count == 0 { return false }
        var start = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: domain[start...])
            guard let dot = rest.firstOffset(of: UInt8(ascii: ".")) else { return false }  // a bare TLD
            if contains(rest) { return true }
            start += dot + 1
        }
    }
}

extension UnsafeRawBufferPointer {
    /// The offset of the first `byte`, or nil: a loop inline, where the generic `firstIndex(of:)`
    /// cost about a hundred instructions a call.
    @inline(__always)
    func firstOffset(of byte: UInt8) -> Int? {
        guard let base = baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var i = 0
        while i < count {
            if base[i] == byte { return i }
            i &+= 1
        }
        return nil
    }

    /// The offset of the last `byte`, or nil.
    @inline(__always)
    func lastOffset(of byte: UInt8) -> Int? {
        guard let base = baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var i = count
        while i > 0 {
            i &-= 1
            if base[i] == byte { return i }
        }
        return nil
    }
}
