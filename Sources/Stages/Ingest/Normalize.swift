@_spi(_Unicode) import Swift
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// Field normalisation (docs/design.md §2). Byte-level fast paths for ASCII; the rare non-ASCII value
/// goes through the standard library's NFC.
public enum Normalize {
    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    /// Bytes without leading and trailing white space (ASCII, U+00A0 no-break space) and
    /// invisible marks that exports leave at the edges of values (U+FEFF byte-order mark,
    /// U+200B–U+200D zero-width space and joiners, U+2060 word joiner).
    @inline(__always)
    static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        // Most values start and end with a letter or digit.
        let n = bytes.count
        if n > 0 {
            let first = bytes[0], last = bytes[n - 1]
            if first > 0x20 && first != 0xC2 && first != 0xE2 && first != 0xEF
                && last > 0x20 && last != 0xA0 && last != 0xBF && (last < 0x8B || last > 0x8D) { return bytes }
        }
        return trimmedEdges(bytes)
    }

    /// `trimmed` for a value whose first or last byte may be space or a mark: apart, so that the
    /// check above stays small enough to be inlined on every value.
    @inline(never)
    static func trimmedEdges(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var lo = 0, hi = bytes.count
        while true {
            if lo < hi && isSpace(bytes[lo]) { lo += 1; continue }
            if lo + 1 < hi && bytes[lo] == 0xC2 && bytes[lo + 1] == 0xA0 { lo += 2; continue }
            if lo + 2 < hi && isInvisible(bytes[lo], bytes[lo + 1], bytes[lo + 2]) { lo += 3; continue }
            break
        }
        while true {
            if hi > lo && isSpace(bytes[hi - 1]) { hi -= 1; continue }
            if hi - 1 > lo && bytes[hi - 2] == 0xC2 && bytes[hi - 1] == 0xA0 { hi -= 2; continue }
            if hi - 3 >= lo && isInvisible(bytes[hi - 3], bytes[hi - 2], bytes[hi - 1]) { hi -= 3; continue }
            break
        }
        return UnsafeRawBufferPointer(rebasing: bytes[lo..<hi])
    }

    /// U+FEFF, U+200B–U+200D, U+2060 in UTF-8.
    @inline(__always) static func isInvisible(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Bool {
        (a == 0xEF && b == 0xBB && c == 0xBF) || (a == 0xE2 && b == 0x80 && c >= 0x8B && c <= 0x8D)
            || (a == 0xE2 && b == 0x81 && c == 0xA0)
    }

    /// False when the (valid UTF-8) text is surely in NFC already — the quick check of UAX #15:
    /// no character that never survives NFC, none that may compose with what precedes it, and
    /// combining marks in canonical order. Saves building a String for nearly every name, city
    /// and company written in any script (Hindi's virama, for one, is a mark that composes with
    /// nothing).
    static func mayNeedNFC(_ t: UnsafeRawBufferPointer) -> Bool {
        // The row check on one value (invalid bytes, repaired by String, count as "may need").
        checkRow(t) != .surelyNFC
    }

    /// What a CSV row's bytes are, found in one pass: not UTF-8, or UTF-8 whose values may need
    /// NFC, or UTF-8 whose values surely are NFC (as `mayNeedNFC` judges each value: a value is a
    /// run of the row between ASCII delimiters and quotes, so the row passing means each passes).
    public enum RowText: Sendable { case invalidUTF8, mayNeedNFC, surelyNFC }

    public static func checkRow(_ t: UnsafeRawBufferPointer) -> RowText {
        guard let base = t.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return .surelyNFC }
        let n = t.count
        var i = 0
        var lastClass: UInt8 = 0
        while i < n {
            if base[i] < 0x80 {
                i = skipASCII(t, from: i + 1)
                lastClass = 0
                continue
            }
            if let length = starterSequenceLength(base, n, i) {
                // (Cyrillic runs four letters a word.)
                if length == 2 && base[i] >= 0xD0 { i = skipCyrillic(t, from: i + 2) } else { i += length }
                lastClass = 0
                continue
            }
            let start = i
            if let length = plainSequenceLength(base, n, i) {
                i += length
            } else {
                do { try JSONParser.validateUTF8Sequence(base, n, &i) } catch { return .invalidUTF8 }
            }
            if mayNeedNFC(scalar: decode(t, at: start, length: i - start), after: &lastClass) {
                return JSONParser.isValidUTF8(UnsafeRawBufferPointer(rebasing: t[i...])) ? .mayNeedNFC : .invalidUTF8
            }
        }
        return .surelyNFC
    }

    /// The length of the UTF-8 sequence at `i` when it is a letter that `mayNeedNFC(scalar:)`
    /// passes at once, as a starter (Latin below U+0300, Cyrillic U+0400–U+047F, Arabic
    /// U+0620–U+064A, Devanagari U+0905–U+0939 and U+093E–U+094C, Han U+4E00–U+9FFF), told by
    /// its bytes without decoding it; nil for any other sequence, valid or not.
    @inline(__always) static func starterSequenceLength(_ base: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Int? {
        let lead = base[i]
        if lead < 0xE0 {
            guard i + 1 < n else { return nil }
            let c = base[i + 1]
            guard c & 0xC0 == 0x80 else { return nil }
            if lead &- 0xC2 < 10 || lead &- 0xD0 < 2 || (lead == 0xD8 && c >= 0xA0) || (lead == 0xD9 && c <= 0x8A) { return 2 }
            return nil
        }
        guard lead < 0xF0, i + 2 < n else { return nil }
        let c = base[i + 1], d = base[i + 2]
        guard c & 0xC0 == 0x80 && d & 0xC0 == 0x80 else { return nil }
        if lead &- 0xE5 < 5 || (lead == 0xE4 && c >= 0xB8) { return 3 }
        if lead == 0xE0 && ((c == 0xA4 && ((d >= 0x85 && d <= 0xB9) || d >= 0xBE)) || (c == 0xA5 && d <= 0x8C)) { return 3 }
        return nil
    }

    /// The index of the first byte at or after `from` that does not begin four letters of
    /// U+0400–U+047F (lead D0 or D1, then a continuation byte), a word at a time.
    @inline(__always) static func skipCyrillic(_ t: UnsafeRawBufferPointer, from: Int) -> Int {
        var i = from
        while i + 8 <= t.count && UInt64(littleEndian: t.loadUnaligned(fromByteOffset: i, as: UInt64.self)) & 0xC0FE_C0FE_C0FE_C0FE == 0x80D0_80D0_80D0_80D0 { i += 8 }
        return i
    }

    /// The length of the UTF-8 sequence at `i` when it is one of the common forms that are valid
    /// whatever their continuation bytes hold (most Latin, Cyrillic, Arabic, Han letters): a lead
    /// byte C2–DF, or E1–EC / EE–EF (no overlong or surrogate rule), and its continuation bytes.
    /// Nil for any other: `JSONParser.validateUTF8Sequence` judges those.
    @inline(__always) static func plainSequenceLength(_ base: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Int? {
        let lead = base[i]
        if lead >= 0xC2 && lead <= 0xDF {
            return i + 1 < n && base[i + 1] & 0xC0 == 0x80 ? 2 : nil
        }
        if lead >= 0xE1 && lead <= 0xEF && lead != 0xED {
            return i + 2 < n && base[i + 1] & 0xC0 == 0x80 && base[i + 2] & 0xC0 == 0x80 ? 3 : nil
        }
        return nil
    }

    /// The index of the first byte at or after `from` that is not ASCII (or the end), a word at a time.
    @inline(__always) static func skipASCII(_ t: UnsafeRawBufferPointer, from: Int) -> Int {
        var i = from
        let n = t.count
        while i + 8 <= n && t.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i += 8 }
        while i < n && t[i] < 0x80 { i += 1 }
        return i
    }

    /// The scalar of the (valid) UTF-8 sequence of `length` bytes at `i`.
    @inline(__always) static func decode(_ t: UnsafeRawBufferPointer, at i: Int, length: Int) -> UInt32 {
        switch length {
        case 2: return UInt32(t[i] & 0x1F) << 6 | UInt32(t[i + 1] & 0x3F)
        case 3: return UInt32(t[i] & 0x0F) << 12 | UInt32(t[i + 1] & 0x3F) << 6 | UInt32(t[i + 2] & 0x3F)
        default: return UInt32(t[i] & 0x07) << 18 | UInt32(t[i + 1] & 0x3F) << 12 | UInt32(t[i + 2] & 0x3F) << 6 | UInt32(t[i + 3] & 0x3F)
        }
    }

    /// One non-ASCII scalar of the quick check; `lastClass` is the combining class of the one before.
    @inline(__always) static func mayNeedNFC(scalar v: UInt32, after lastClass: inout UInt8) -> Bool {
        if v < 0x300 { lastClass = 0; return false }
        // Letters of the common scripts: starters that never change under NFC.
        if (0x0400...0x0482).contains(v) || (0x048A...0x052F).contains(v) || (0x0620...0x064A).contains(v)
            || (0x0671...0x06D3).contains(v) || (0x0905...0x0939).contains(v) || (0x093E...0x094C).contains(v)
            || (0x4E00...0x9FFF).contains(v) || (0xAC00...0xD7A3).contains(v) {
            lastClass = 0
            return false
        }
        if NFCQuickCheck.changesOrComposes(v) { return true }
        guard let scalar = Unicode.Scalar(v) else { return true }
        let cc = scalar.properties.canonicalCombiningClass.rawValue
        if cc != 0 && lastClass > cc { return true }
        lastClass = cc
        return false
    }

    public static func mayNeedNFC(_ text: String) -> Bool {
        var copy = text
        return copy.withUTF8 { mayNeedNFC(UnsafeRawBufferPointer($0)) }
    }

    /// Canonical composition (NFC).
    public static func nfc(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: text._nfc)
        return String(scalars)
    }

    @inline(__always) static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool { ByteScan.isASCII(bytes) }

    /// Trimmed, NFC text (empty when nothing is left); `knownNFC`: the caller has checked.
    public static func text(_ bytes: UnsafeRawBufferPointer, into out: inout ByteBuffer, knownNFC: Bool = false) {
        let t = trimmed(bytes)
        if knownNFC || !mayNeedNFC(t) { out.append(t); return }
        out.append(nfc(String(decoding: t, as: UTF8.self)))
    }

    public static func text(_ value: String) -> String {
        var out = ByteBuffer(capacity: value.utf8.count)
        var copy = value
        copy.withUTF8 { text(UnsafeRawBufferPointer($0), into: &out) }
        return out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// Per byte of an address: 0 plain, 1 `@`, 2 never in an address (space, control, `,` `;`
    /// `<` `>` `"`, DEL), 3 non-ASCII.
    static let emailByteClass: [UInt8] = (0...255).map { b -> UInt8 in
        if b == 0x40 { return 1 }
        if b <= 0x20 || b == 0x2C || b == 0x3B || b == 0x3C || b == 0x3E || b == 0x22 || b == 0x7F { return 2 }
        return b >= 0x80 ? 3 : 0
    }

    /// An email: trimmed, `mailto:` and `Name <addr>` unwrapped, invisible characters dropped,
    /// lower-cased, NFC. False when what is left is not usable as an address (no single `@` with
    /// text on both sides, or spaces).
    public static func email(_ bytes: UnsafeRawBufferPointer, into out: inout ByteBuffer) -> Bool {
        var t = trimmed(bytes)
        // `Name <addr>`: the part between the last `<` and the `>` after it.
        if t.count > 1 && t[t.count - 1] == 0x3E, let open = lastIndex(of: 0x3C, in: UnsafeRawBufferPointer(rebasing: t[0..<(t.count - 1)])) {
            let close = t.count - 1
            t = trimmed(UnsafeRawBufferPointer(rebasing: t[(open + 1)..<close]))
        }
        if t.count >= 7 {
            let m = t
            if (m[0] | 0x20) == 0x6D && (m[1] | 0x20) == 0x61 && (m[2] | 0x20) == 0x69 && (m[3] | 0x20) == 0x6C
                && (m[4] | 0x20) == 0x74 && (m[5] | 0x20) == 0x6F && m[6] == 0x3A {
                t = trimmed(UnsafeRawBufferPointer(rebasing: t[7...]))
                if let q = firstIndex(of: 0x3F, in: t) { t = UnsafeRawBufferPointer(rebasing: t[0..<q]) }
            }
        }
        // Quotes or angle brackets left around the whole address.
        while t.count >= 2, (t[0] == 0x22 && t[t.count - 1] == 0x22) || (t[0] == 0x3C && t[t.count - 1] == 0x3E) || (t[0] == 0x27 && t[t.count - 1] == 0x27) {
            t = trimmed(UnsafeRawBufferPointer(rebasing: t[1..<(t.count - 1)]))
        }
        guard let (at, ascii) = addressShape(t), at > 0, at < t.count - 1 else { return false }
        if ascii {
            appendLowercasedASCII(t, into: &out)
        } else {
            // Invisible characters (format characters: zero-width space and joiners, the BOM,
            // the soft hyphen, direction marks) pasted into an address are dropped.
            var visible = String.UnicodeScalarView()
            for scalar in String(decoding: t, as: UTF8.self).unicodeScalars where scalar.properties.generalCategory != .format {
                visible.append(scalar)
            }
            let address = nfc(String(visible).lowercased())
            guard let at = address.firstIndex(of: "@"), at != address.startIndex, address.index(after: at) != address.endIndex else { return false }
            out.append(address)
        }
        return true
    }

    /// Where the address's single `@` is (-1: none) and whether it is all ASCII; nil when it
    /// holds a byte never in an address or a second `@` (`emailByteClass`). Eight bytes at a
    /// time: the verdict does not depend on the order the bytes are looked at.
    @inline(__always)
    static func addressShape(_ t: UnsafeRawBufferPointer) -> (at: Int, ascii: Bool)? {
        guard let p = t.baseAddress else { return (-1, true) }
        let n = t.count
        var at = -1
        var high: UInt64 = 0
        var i = 0
        while i + 8 <= n {
            let x = ByteScan.load(p, i)
            high |= x
            // Control bytes and space (below 0x21: ASCII only, as `below` is exact there), DEL,
            // `"` `,` `;` `<` `>`.
            let never = ByteScan.below(x, 0x21) | ByteScan.equal(x, 0x7F) | ByteScan.equal(x, 0x22) | ByteScan.equal(x, 0x2C)
                | ByteScan.equal(x, 0x3B) | ByteScan.equal(x, 0x3C) | ByteScan.equal(x, 0x3E)
            if never != 0 { return nil }
            let ats = ByteScan.equal(x, 0x40)
            if ats != 0 {
                if at >= 0 || ats & (ats &- 1) != 0 { return nil }
                at = i + ats.trailingZeroBitCount >> 3
            }
            i += 8
        }
        var ascii = high & 0x8080_8080_8080_8080 == 0
        while i < n {
            switch emailByteClass[Int(t[i])] {
            case 0: break
            case 1:
                if at >= 0 { return nil }
                at = i
            case 2: return nil
            default: ascii = false
            }
            i += 1
        }
        return (at, ascii)
    }

    /// Appends `t` with `A`–`Z` lower-cased.
    @inline(__always)
    static func appendLowercasedASCII(_ t: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        let start = out.count
        out.append(t)
        out.withUnsafeMutableBytes(start..<out.count) { ByteScan.lowercaseASCII($0) }
    }

    public static func email(_ value: String) -> String? {
        var out = ByteBuffer(capacity: value.utf8.count)
        var copy = value
        let ok = copy.withUTF8 { email(UnsafeRawBufferPointer($0), into: &out) }
        return ok ? out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } : nil
    }

    /// A web address with a scheme (`https://` when none was given) and a lower-case host;
    /// path, query and fragment are kept as they are.
    public static func website(_ bytes: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        let t = trimmed(bytes)
        if t.isEmpty { return }
        var i = 0
        // scheme://
        var schemeEnd = -1
        while i < t.count && i < 16 {
            let b = t[i]
            if b == 0x3A {
                if i + 2 < t.count && t[i + 1] == 0x2F && t[i + 2] == 0x2F { schemeEnd = i }
                break
            }
            if !((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A) && !(b >= 0x30 && b <= 0x39) && b != 0x2B && b != 0x2D && b != 0x2E { break }
            i += 1
        }
        var hostStart: Int
        if schemeEnd > 0 {
            appendLowercasedASCII(UnsafeRawBufferPointer(rebasing: t[0..<schemeEnd]), into: &out)   // (ASCII: told above)
            out.append("://" as StaticString)
            hostStart = schemeEnd + 3
        } else {
            out.append("https://" as StaticString)
            hostStart = 0
            if t.count >= 2 && t[0] == 0x2F && t[1] == 0x2F { hostStart = 2 }
        }
        let hostEnd = ByteScan.firstOf(0x2F, 0x3F, 0x23, in: t, from: hostStart)
        let host = UnsafeRawBufferPointer(rebasing: t[hostStart..<hostEnd])
        if isASCII(host) {
            appendLowercasedASCII(host, into: &out)
        } else {
            out.append(String(decoding: host, as: UTF8.self).lowercased())
        }
        out.append(UnsafeRawBufferPointer(rebasing: t[hostEnd...]))
    }

    @inline(__always) static func lastIndex(of byte: UInt8, in b: UnsafeRawBufferPointer) -> Int? {
        var i = b.count - 1
        while i >= 0 { if b[i] == byte { return i }; i -= 1 }
        return nil
    }

    @inline(__always) static func firstIndex(of byte: UInt8, in b: UnsafeRawBufferPointer) -> Int? {
        for i in 0..<b.count where b[i] == byte { return i }
        return nil
    }
}

/// Encodings of exports: single-byte ones are transcoded to UTF-8 here, UTF-16 by the input
/// reader (`InputReader.utf16`).
public enum TextEncoding: String, CaseIterable, Sendable {
    case utf8 = "utf-8", latin1, cp1252, utf16le = "utf-16le", utf16be = "utf-16be"

    /// `--encoding` names: these and common spellings (`utf8`, `windows-1252`, `iso-8859-1`).
    public init?(name: String) {
        switch String(name.lowercased().map { $0 == "_" ? "-" : $0 }) {
        case "utf-8", "utf8": self = .utf8
        case "latin1", "latin-1", "iso-8859-1", "iso8859-1": self = .latin1
        case "cp1252", "windows-1252", "win1252": self = .cp1252
        case "utf-16le", "utf16le", "utf-16", "utf16": self = .utf16le
        case "utf-16be", "utf16be": self = .utf16be
        default: return nil
        }
    }

    /// Windows-1252's 0x80–0x9F (0 where the code page leaves a hole).
    static let cp1252High: [UInt32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
        0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ]

    /// Appends `bytes` as UTF-8 to `out`.
    func transcode(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        for b in bytes {
            if b < 0x80 { out.append(b); continue }
            var scalar = UInt32(b)
            if self == .cp1252 && b < 0xA0 {
                let mapped = TextEncoding.cp1252High[Int(b - 0x80)]
                if mapped != 0 { scalar = mapped }
            }
            JSONNode.appendUTF8(scalar, to: &out)
        }
    }
}

/// Several values in one field, as Google Contacts writes them: `a@x.org ::: b@y.org`.
enum MultiValue {
    /// Calls `body` with each trimmed, non-empty piece of `t` (the whole of `t` when it holds no ` ::: `).
    @inline(__always)
    static func forEach(in t: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard t.count >= 3, hasTripleColon(t) else {
            body(t)
            return
        }
        var start = 0
        var i = 0
        while i + 2 < t.count {
            if t[i] == 0x3A && t[i + 1] == 0x3A && t[i + 2] == 0x3A {
                let piece = Normalize.trimmed(UnsafeRawBufferPointer(rebasing: t[start..<i]))
                if !piece.isEmpty { body(piece) }
                i += 3
                start = i
                continue
            }
            i += 1
        }
        let piece = Normalize.trimmed(UnsafeRawBufferPointer(rebasing: t[start...]))
        if !piece.isEmpty { body(piece) }
    }

    @inline(__always) static func hasTripleColon(_ t: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let base = t.baseAddress!
        while i + 2 < t.count, let hit = memchr(base + i, 0x3A, t.count - 2 - i) {
            let at = base.distance(to: UnsafeRawPointer(hit))
            if t[at + 1] == 0x3A && t[at + 2] == 0x3A { return true }
            i = at + 1
        }
        return false
    }

    /// Google's system groups are written `* starred`: the mark is not part of the label.
    static func withoutSystemGroupMark(_ t: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard t.count > 2, t[0] == UInt8(ascii: "*"), t[1] == 0x20 else { return t }
        return Normalize.trimmed(UnsafeRawBufferPointer(rebasing: t[2...]))
    }

    /// `myContacts`: the group every Google contact is in, which says nothing about it.
    static func isMyContacts(_ t: UnsafeRawBufferPointer) -> Bool {
        let name: StaticString = "mycontacts"   // (not an Array: this runs for every tag)
        guard t.count == name.utf8CodeUnitCount else { return false }
        for i in 0..<t.count where (t[i] | 0x20) != name.utf8Start[i] { return false }
        return true
    }
}

/// Social networks told by a URL's host: a profile given as a website goes to its own field.
enum SocialHost {
    static func field(ofURL t: UnsafeRawBufferPointer) -> ContactField? {
        // The host: after `scheme://`, up to the first `/`, `?` or `#` (compared without case).
        var start = 0
        let s = ByteScan.firstOf(0x3A, 0x3A, 0x3A, in: t, from: 0)
        if s + 2 < t.count, t[s + 1] == 0x2F, t[s + 2] == 0x2F { start = s + 3 }
        let end = ByteScan.firstOf(0x2F, 0x3F, 0x23, in: t, from: start)
        let host = UnsafeRawBufferPointer(rebasing: t[start..<end])
        // Every domain below ends in `com` (`x.com`, the shortest, is five bytes).
        let n = host.count
        guard n >= 5, host[n - 1] | 0x20 == 0x6D, host[n - 2] | 0x20 == 0x6F, host[n - 3] | 0x20 == 0x63 else { return nil }
        if endsWith(host, "linkedin.com") { return .linkedinURL }
        if endsWith(host, "facebook.com") || endsWith(host, "fb.com") { return .facebookURL }
        if endsWith(host, "instagram.com") { return .instagramURL }
        if endsWith(host, "twitter.com") || endsWith(host, "x.com") { return .twitterURL }
        return nil
    }

    /// `host` is `domain` or a subdomain of it.
    private static func endsWith(_ host: UnsafeRawBufferPointer, _ domain: StaticString) -> Bool {
        let n = domain.utf8CodeUnitCount
        guard host.count >= n else { return false }
        let offset = host.count - n
        for i in 0..<n where host[offset + i] | 0x20 != domain.utf8Start[i] { return false }
        return offset == 0 || host[offset - 1] == UInt8(ascii: ".")
    }
}
