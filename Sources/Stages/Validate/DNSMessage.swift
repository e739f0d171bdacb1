/// Just enough of a DNS message (RFC 1035 §4) for `validate --mx`: the MX, A and AAAA records
/// of a reply's answer section and the host addresses of its additional section, read in place
/// from the bytes c-ares hands over (names decompressed, ASCII lower-cased).
public struct DNSReply {
    /// MX records of the answer section: preference and exchange ("" for the root, a Null MX).
    public var mx: [(preference: UInt16, host: String)] = []
    /// Whether the answer section holds a record of the type asked (A or AAAA replies).
    public var hasAddress = false
    /// Owner names of the A/AAAA records of the additional section.
    public var addressedHosts: [String] = []

    /// Reads a reply; nil when it is malformed (counts running past the end, pointer loops).
    public init?(_ message: UnsafeRawBufferPointer, addressType: UInt16 = 0) {
        let m = message
        guard m.count >= 12 else { return nil }
        func u16(_ at: Int) -> Int { Int(m[at]) << 8 | Int(m[at + 1]) }
        let qd = u16(4), an = u16(6), ns = u16(8), ar = u16(10)
        var at = 12
        var name: [UInt8] = []
        name.reserveCapacity(64)
        for _ in 0..<qd {
            guard DNSReply.skipName(m, &at), at + 4 <= m.count else { return nil }
            at += 4
        }
        for section in 0..<3 {
            let count = section == 0 ? an : (section == 1 ? ns : ar)
            for _ in 0..<count {
                let owner = at
                guard DNSReply.skipName(m, &at), at + 10 <= m.count else { return nil }
                let type = UInt16(u16(at))
                let length = u16(at + 8)
                let data = at + 10
                at = data + length
                guard at <= m.count else { return nil }
                switch section {
                case 0:
                    if type == 15 {
                        guard length >= 3 else { return nil }
                        var p = data + 2
                        name.removeAll(keepingCapacity: true)
                        guard DNSReply.readName(m, &p, into: &name), p <= at else { return nil }
                        mx.append((UInt16(u16(data)), String(decoding: name, as: UTF8.self)))
                    } else if addressType != 0 && type == addressType {
                        hasAddress = true
                    }
                case 2:
                    if (type == 1 && length == 4) || (type == 28 && length == 16) {
                        var p = owner
                        name.removeAll(keepingCapacity: true)
                        guard DNSReply.readName(m, &p, into: &name) else { return nil }
                        addressedHosts.append(String(decoding: name, as: UTF8.self))
                    }
                default:
                    break
                }
            }
        }
    }

    /// Moves `at` past a (possibly compressed) name.
    static func skipName(_ m: UnsafeRawBufferPointer, _ at: inout Int) -> Bool {
        while at < m.count {
            let l = Int(m[at])
            if l == 0 { at += 1; return true }
            if l & 0xC0 == 0xC0 { at += 2; return at <= m.count }
            if l & 0xC0 != 0 { return false }
            at += 1 + l
        }
        return false
    }

    /// Appends the dotted, lower-cased name at `at` (no trailing dot; "" for the root) and moves
    /// `at` past it in the record.
    static func readName(_ m: UnsafeRawBufferPointer, _ at: inout Int, into out: inout [UInt8]) -> Bool {
        var p = at
        var jumped = false
        var hops = 0
        while p < m.count {
            let l = Int(m[p])
            if l == 0 {
                if !jumped { at = p + 1 }
                return true
            }
            if l & 0xC0 == 0xC0 {
                guard p + 1 < m.count, hops < 64 else { return false }
                hops += 1
                if !jumped { at = p + 2 }
                jumped = true
                p = (l & 0x3F) << 8 | Int(m[p + 1])
                continue
            }
            guard l & 0xC0 == 0, p + 1 + l <= m.count, out.count + l < 256 else { return false }
            if !out.isEmpty { out.append(UInt8(ascii: ".")) }
            for i in (p + 1)..<(p + 1 + l) {
                let b = m[i]
                out.append(b >= 65 && b <= 90 ? b + 32 : b)
            }
            p += 1 + l
        }
        return false
    }
}
