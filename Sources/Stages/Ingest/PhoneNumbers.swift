import CPhoneNumber
import MailpipeCore

/// Phone numbers → E.164, with libphonenumber as the authority and fast paths for the common
/// forms (its full parse costs 15 µs and more a number).
///
/// Each region's facts are read once from libphonenumber's metadata (calling code, national
/// prefix, international prefix, possible lengths of a national number). Then:
/// - `+` (or the region's international prefix) and digits whose calling code is known and
///   whose national part has a possible length → `+` and the digits;
/// - the national prefix and a national number of a possible length → `+`, the calling code,
///   the national number (for regions whose prefix is stripped as it is: no pattern of its own);
/// - a national number of a possible length typed without its prefix (Excel drops leading
///   zeros) → the same;
/// - anything else (extensions, letters, `(0)`, unusual lengths, regions with complex prefix
///   rules) → the full parse, cached by region and text.
/// Each shape a fast path proposes — its form, region or calling code, the national number's
/// length and first two digits — is judged by the full parse on the first number of that shape
/// met; a shape where they disagree (Israel's `01x` carrier prefixes, say) is left to the parser,
/// unless the parse only dropped digits the shape fixes (Mexico's legacy mobile `1`: `+52 1 55…`
/// is `+5255…`): that rewrite, once a second number of the shape confirms it, is the shape's fast
/// path.
/// `RealWorldInputTests.testPhoneFastPathsAgreeWithTheFullParse` compares the two on random
/// numbers of fifty regions.
///
/// A value that is not a possible number stays as given. One instance per thread.
public struct PhoneNumbers {
    /// What is known of a region, from its metadata.
    struct Region {
        var callingCode: [UInt8] = []
        var lengths: UInt32 = 0
        var nationalPrefix: [UInt8] = []
        var internationalPrefix: [UInt8] = []
        var prefixedFast = false
        var unprefixedFast = false
        /// Digits of the national number a shape is told by: 2 where the prefix rule is plain,
        /// 4 where it is a pattern (Argentina's `15`, Mexico's `01`, Brazil's carrier codes).
        var leadDigits = 2
        /// The international prefix is a pattern: numbers are checked against it.
        var iddPattern = false
        var id: (CChar, CChar) = (0, 0)
    }

    /// What the full parse said of a shape's proposal.
    enum Verdict: Equatable {
        case agrees
        case disagrees
        /// The parse wrote the proposal without `count` digits at `offset` of the national number,
        /// digits within those the shape's key fixes; `confirmed` once a second number agreed.
        case drops(offset: Int, count: Int, confirmed: Bool)
    }

    /// How `fast` took a number.
    private enum Path {
        case fast
        /// Written as the full parse gave it (a shape judged on this number, the parse differing).
        case parsed
        /// Not written: the full parse must decide.
        case neither
    }

    /// A fast path's proposal: the shape's key, the calling code, the national number, and how
    /// many of its first digits the key fixes (0: the key is told by other digits).
    private typealias Proposal = (key: UInt64, code: [UInt8], national: ArraySlice<UInt8>, lead: Int)

    private var regions: [UInt16: Region] = [:]
    /// Shape of a number → what the full parse said of the fast path on it.
    private var verdicts: [UInt64: Verdict] = [:]
    /// Calling code → (possible lengths, national prefix digit or -1); lengths 0: not a code.
    private var callingCodes: [Int32: (lengths: UInt32, prefixDigit: Int32)] = [:]
    private var cache = BytesCache(limit: 100_000)
    private var digits = ByteBuffer(capacity: 32)
    private var key = ByteBuffer(capacity: 48)

    /// How each value was turned (for tests and the benchmark's honesty).
    public private(set) var fastPathCount = 0
    public private(set) var fullParseCount = 0
    /// Shapes judged by the full parse so far (each cost one parse).
    public var shapesJudged: Int { verdicts.count }

    public init() {}

    /// `format` on Strings: `region` an ISO alpha-2 code, or nil when none is known.
    public mutating func format(_ text: String, region: String?) -> String {
        var out = ByteBuffer(capacity: text.utf8.count + 4)
        var copy = text
        let r = region.flatMap { $0.utf8.count == 2 ? ($0.utf8.first!, $0.utf8.last!) : nil }
        copy.withUTF8 { format(UnsafeRawBufferPointer($0), region: r, into: &out, knownNFC: false) }
        return out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// libphonenumber's own answer (the full parse, no fast path, no cache), for comparisons.
    public static func fullParse(_ text: String, region: String?) -> String? {
        var copy = text
        let r = region.flatMap { $0.utf8.count == 2 ? ($0.utf8.first!, $0.utf8.last!) : nil }
        return copy.withUTF8 { fullParse(UnsafeRawBufferPointer($0), region: r) }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes `text` as E.164 when it is a possible number (of `region`, when it is not written
    /// internationally), else as given (trimmed, NFC).
    mutating func format(_ text: UnsafeRawBufferPointer, region: (UInt8, UInt8)?, into out: inout ByteBuffer, knownNFC: Bool) {
        let t = Normalize.trimmed(text)
        if t.isEmpty { return }
        switch fast(t, region: region, into: &out) {
        case .fast: fastPathCount += 1; return
        case .parsed: fullParseCount += 1; return
        case .neither: break
        }
        // The full parse, cached by region and text.
        key.removeAll()
        if let region { key.append(region.0); key.append(region.1) } else { key.append("ZZ" as StaticString) }
        key.append(t)
        var parsed = false
        let written = key.withUnsafeBytes { k in
            cache.value(for: k, make: { _ in parsed = true; return PhoneNumbers.fullParse(t, region: region) }) { result -> Bool in
                guard let result else { return false }
                out.append(result)
                return true
            }
        }
        if parsed { fullParseCount += 1 }
        if written { return }
        // Digits that are no number of the region but are one with a `+` before them: a
        // number stored with its calling code and no `+` (Brevo's SMS: `33612345678`).
        // (At least 10 digits: a calling code and a national number; no leading 0.)
        if region != nil, t.first != 0x2B, t.first != 0x30, t.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x20 }), digits.count >= 10 {
            let plus = digits.withUnsafeBytes { [0x2B] + Array($0) }
            let start = out.count
            if plus.withUnsafeBytes({ fast($0, region: nil, into: &out) }) != .neither { return }
            out.truncate(to: start)
            if let e164 = plus.withUnsafeBytes({ PhoneNumbers.fullParse($0, region: nil) }) { out.append(e164); return }
        }
        Normalize.text(t, into: &out, knownNFC: knownNFC)
    }

    /// The fast paths; `.neither` when the full parse must decide.
    private mutating func fast(_ t: UnsafeRawBufferPointer, region: (UInt8, UInt8)?, into out: inout ByteBuffer) -> Path {
        // Digits, the separators people type, and a leading `+`; anything else is for the parser.
        digits.removeAll()
        var plus = false
        for i in 0..<t.count {
            let b = t[i]
            if b >= 0x30 && b <= 0x39 { digits.append(b); continue }
            if b == 0x2B && i == 0 { plus = true; continue }
            if b == 0x20 || b == 0x2D || b == 0x2E || b == 0x2F { continue }
            if b == 0x28 || b == 0x29 {
                // `(0)` after a calling code is a national prefix the parser knows how to drop.
                if plus { return .neither }
                continue
            }
            return .neither
        }
        let d = digits.withUnsafeBytes { Array($0) }
        // Each shape (the form, its region or calling code, the lengths and first digits) is judged
        // once by the full parse, on the first number that has it.
        guard let (key, code, national, lead) = proposal(d[...], plus: plus, region: region) else { return .neither }
        let verdict = verdicts[key]
        switch verdict {
        case .agrees?:
            write(code, national, into: &out)
            return .fast
        case .disagrees?:
            return .neither
        case let .drops(offset, count, true)?:
            write(code, national, dropping: offset..<(offset + count), into: &out)
            return .fast
        case .drops(_, _, false)?, nil:
            break
        }
        // (Without a country, `00` was read as `+`: the parser is asked about `+` and the rest,
        // and a number it does not agree on stays as given.)
        let rewritten = region == nil && !plus
        let asked: [UInt8] = rewritten ? [0x2B] + d.dropFirst(2) : Array(t)
        guard let parsed = asked.withUnsafeBytes({ PhoneNumbers.fullParse($0, region: region) }) else {
            verdicts[key] = .disagrees
            return .neither
        }
        var proposed = ByteBuffer(capacity: 24)
        if case let .drops(offset, count, false)? = verdict {
            write(code, national, dropping: offset..<(offset + count), into: &proposed)
            verdicts[key] = proposed.bytes == parsed ? .drops(offset: offset, count: count, confirmed: true) : .disagrees
        } else {
            write(code, national, into: &proposed)
            if proposed.bytes == parsed {
                verdicts[key] = .agrees
            } else if let (offset, count) = PhoneNumbers.dropped(from: national, code: code, lead: lead, parsed: parsed) {
                verdicts[key] = .drops(offset: offset, count: count, confirmed: false)
            } else {
                verdicts[key] = .disagrees
            }
        }
        if rewritten && verdicts[key] == .disagrees { return .neither }
        out.append(parsed)
        return verdicts[key] == .agrees ? .fast : .parsed
    }

    /// Where `parsed` is `+`, `code` and `national` without a run of its first `lead` digits: that
    /// run (the digits a shape's key fixes, so every number of the shape has the same ones).
    private static func dropped(from national: ArraySlice<UInt8>, code: [UInt8], lead: Int, parsed: [UInt8]) -> (Int, Int)? {
        let head = 1 + code.count
        guard lead > 0, parsed.count > head, parsed[0] == 0x2B, parsed[1..<head].elementsEqual(code) else { return nil }
        let count = national.count - (parsed.count - head)
        guard count > 0, count < lead else { return nil }
        let kept = parsed[head...]
        for offset in 0...(lead - count) {
            let n = national.startIndex
            if kept.prefix(offset).elementsEqual(national[n..<(n + offset)]),
               kept.dropFirst(offset).elementsEqual(national[(n + offset + count)...]) {
                return (offset, count)
            }
        }
        return nil
    }

    /// A shape's key: its form (2 bits), region or calling code, the typed digits' length (where
    /// the form rewrites them), the national number's length, the first `lead` digits of `told`.
    private static func key(form: UInt64, of place: UInt64, typed: Int = 0, national: Int,
                            told: ArraySlice<UInt8>, lead: Int) -> UInt64? {
        guard told.count >= lead, national < 256, typed < 256 else { return nil }
        var digits: UInt64 = 0
        for b in told.prefix(lead) { digits = digits * 10 + UInt64(b - 0x30) }
        return form << 62 | place << 40 | UInt64(typed) << 32 | UInt64(national) << 24 | digits
    }

    /// What the fast paths would make of digits `d`: the shape's key, the calling code, the
    /// national number and how many of its first digits the key fixes; nil when no fast path
    /// applies.
    private mutating func proposal(_ d: ArraySlice<UInt8>, plus: Bool, region: (UInt8, UInt8)?) -> Proposal? {
        if plus { return international(d) }
        guard let region else {
            // No country known: `00` is the international prefix of most of the world.
            return d.count > 2 && d.starts(with: [0x30, 0x30]) ? international(d.dropFirst(2)) : nil
        }
        let r = facts(region)
        guard !r.callingCode.isEmpty else { return nil }
        let id = UInt64(region.0) << 8 | UInt64(region.1)
        if !r.internationalPrefix.isEmpty && d.starts(with: r.internationalPrefix) {
            return international(d.dropFirst(r.internationalPrefix.count))
        }
        if r.iddPattern && d.withUnsafeBufferPointer({ p in
            p.withMemoryRebound(to: CChar.self) { c in
                withUnsafeBytes(of: r.id) { mp_phone_starts_with_idd($0.baseAddress!.assumingMemoryBound(to: CChar.self), c.baseAddress, Int32(c.count)) }
            }
        }) != 0 {
            return nil   // a number dialled abroad through the region's prefix: the parser's
        }
        if r.leadDigits > 2, let national = stripNationalPrefix(d, region: r), national.count != d.count, let first = national.first,
           first != 0x30 || r.nationalPrefix.isEmpty, national.count < 32, r.lengths & (1 << UInt32(national.count)) != 0 {
            // The region's own prefix pattern (Mexico's legacy mobile `1`, Argentina's `15`): the
            // shape is still told by the digits as typed, so the key is the typed number's.
            guard let key = PhoneNumbers.key(form: 0, of: id, typed: d.count, national: national.count, told: d, lead: r.leadDigits) else { return nil }
            return (key, r.callingCode, national[...], 0)
        }
        if r.prefixedFast && d.starts(with: r.nationalPrefix) {
            let national = d.dropFirst(r.nationalPrefix.count)
            guard let first = national.first, first != 0x30, first != r.nationalPrefix[0], national.count < 32,
                  r.lengths & (1 << UInt32(national.count)) != 0 else { return nil }
            guard let key = PhoneNumbers.key(form: 2, of: id, national: national.count, told: national, lead: r.leadDigits) else { return nil }
            return (key, r.callingCode, national, r.leadDigits)
        }
        // (A leading 0 is the number's own where there is no national prefix: Italy, Côte d'Ivoire.)
        if r.unprefixedFast, let first = d.first, first != 0x30 || r.nationalPrefix.isEmpty, r.nationalPrefix.first != first,
           !d.starts(with: r.callingCode), d.count < 32, r.lengths & (1 << UInt32(d.count)) != 0 {
            guard let key = PhoneNumbers.key(form: 3, of: id, national: d.count, told: d, lead: r.leadDigits) else { return nil }
            return (key, r.callingCode, d, r.leadDigits)
        }
        return nil
    }

    /// `d` without the region's national prefix, as its pattern and transform rule say.
    private func stripNationalPrefix(_ d: ArraySlice<UInt8>, region r: Region) -> [UInt8]? {
        var out = [CChar](repeating: 0, count: 40)
        let n = d.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { c in
                withUnsafeBytes(of: r.id) { id in
                    mp_phone_strip_national_prefix(id.baseAddress!.assumingMemoryBound(to: CChar.self), c.baseAddress, Int32(c.count), &out, Int32(out.count))
                }
            }
        }
        guard n > 0 else { return nil }
        let national = out[0..<Int(n)].map { UInt8(bitPattern: $0) }
        return national.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } ? national : nil
    }

    /// `+` and digits: the calling code when it is known and the national part has a possible
    /// length and does not start with the code's national prefix.
    private mutating func international(_ d: ArraySlice<UInt8>) -> Proposal? {
        guard d.count >= 3, d.count <= 17, d.first != 0x30 else { return nil }
        var code: Int32 = 0
        for length in 1...3 {
            code = code * 10 + Int32(d[d.startIndex + length - 1] - 0x30)
            let info = callingCode(code)
            guard info.lengths != 0 else { continue }
            let national = d.dropFirst(length)
            // (A national number may start with 0 only where 0 is no national prefix: +39 06…, +225 07….)
            guard let first = national.first, first != 0x30 || info.prefixDigit == -1, Int32(first - 0x30) != info.prefixDigit,
                  national.count < 32, info.lengths & (1 << UInt32(national.count)) != 0 else { return nil }
            guard let key = PhoneNumbers.key(form: 1, of: UInt64(code), national: national.count, told: national, lead: 2) else { return nil }
            return (key, Array(d.prefix(length)), national, 2)
        }
        return nil
    }

    private func write(_ code: [UInt8], _ national: ArraySlice<UInt8>, dropping dropped: Range<Int> = 0..<0, into out: inout ByteBuffer) {
        out.append(0x2B)
        for b in code { out.append(b) }
        let n = national.startIndex
        for i in national.indices where !dropped.contains(i - n) { out.append(national[i]) }
    }

    private mutating func callingCode(_ code: Int32) -> (lengths: UInt32, prefixDigit: Int32) {
        if let known = callingCodes[code] { return known }
        var prefixDigit: Int32 = -1
        let lengths = mp_phone_calling_code_lengths(code, &prefixDigit)
        callingCodes[code] = (lengths, prefixDigit)
        return (lengths, prefixDigit)
    }

    /// A region's facts, read the first time it is met.
    private mutating func facts(_ region: (UInt8, UInt8)) -> Region {
        let id = UInt16(region.0) << 8 | UInt16(region.1)
        if let known = regions[id] { return known }
        var r = Region()
        var f = mp_region_facts()
        let name = [CChar(bitPattern: region.0), CChar(bitPattern: region.1), 0]
        if mp_phone_region_facts(name, &f) != 0, f.country_code > 0 {
            r.callingCode = Array(String(f.country_code).utf8)
            r.lengths = f.possible_lengths
            r.nationalPrefix = PhoneNumbers.digits(of: f.national_prefix)
            r.internationalPrefix = PhoneNumbers.digits(of: f.international_prefix)
            // A number after the national prefix, or without it, is the national number — where
            // the prefix rule is plain, or nothing is stripped; where it is a pattern, shapes are
            // told by four digits (and judged by the parser like every shape).
            let plain = f.plain_national_prefix != 0 || f.no_prefix_rule != 0
            r.prefixedFast = !r.nationalPrefix.isEmpty
            r.unprefixedFast = true
            r.leadDigits = plain ? 2 : 4
            r.iddPattern = f.idd_pattern != 0
            r.id = (CChar(bitPattern: region.0), CChar(bitPattern: region.1))
        }
        regions[id] = r
        return r
    }

    private static func digits<T>(of tuple: T) -> [UInt8] {
        withUnsafeBytes(of: tuple) { raw in Array(raw.prefix { $0 != 0 }) }
    }

    /// libphonenumber's parse and E.164 format; nil when the text is not a possible number.
    static func fullParse(_ t: UnsafeRawBufferPointer, region: (UInt8, UInt8)?) -> [UInt8]? {
        var out = [CChar](repeating: 0, count: 40)
        let name: [CChar]? = region.map { [CChar(bitPattern: $0.0), CChar(bitPattern: $0.1), 0] }
        let n = t.withMemoryRebound(to: CChar.self) { text in
            out.withUnsafeMutableBufferPointer { o in
                if let name {
                    return name.withUnsafeBufferPointer { mp_phone_e164(text.baseAddress, Int32(text.count), $0.baseAddress, o.baseAddress, Int32(o.count), nil) }
                }
                return mp_phone_e164(text.baseAddress, Int32(text.count), nil, o.baseAddress, Int32(o.count), nil)
            }
        }
        guard n > 0 else { return nil }
        return out[0..<Int(n)].map { UInt8(bitPattern: $0) }
    }
}
