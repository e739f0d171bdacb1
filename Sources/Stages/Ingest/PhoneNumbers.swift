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
    /// What is known of a region, from its metadata (plain values: copying one costs nothing).
    struct Region {
        /// 0: a region libphonenumber does not know (or not read yet).
        var callingCode: Int32 = 0
        var lengths: UInt32 = 0
        var nationalPrefix = DigitPrefix()
        var internationalPrefix = DigitPrefix()
        var prefixedFast = false
        var unprefixedFast = false
        /// Digits of the national number a shape is told by: 2 where the prefix rule is plain,
        /// 4 where it is a pattern (Argentina's `15`, Mexico's `01`, Brazil's carrier codes).
        var leadDigits = 2
        /// The international prefix is a pattern: numbers are checked against it.
        var iddPattern = false
        /// The most digits that pattern can match (0: not bounded): its answer on a number's
        /// first that many digits is its answer on the number, so answers are kept by those.
        var iddMaxLength = 0
        var id: (CChar, CChar) = (0, 0)
        var known = false
    }

    /// A prefix of at most 8 digits (the metadata's national and international prefixes), held
    /// in a word.
    struct DigitPrefix {
        private var packed: UInt64 = 0
        private(set) var count = 0

        init() {}

        init?(_ digits: [UInt8]) {
            guard digits.count <= 8 else { return nil }
            for (i, b) in digits.enumerated() { packed |= UInt64(b) << (8 * UInt64(i)) }
            count = digits.count
        }

        var isEmpty: Bool { count == 0 }
        /// The first digit (0 when empty: no digit is 0 as a byte).
        var first: UInt8 { UInt8(truncatingIfNeeded: packed) }

        func isPrefix(of d: ArraySlice<UInt8>) -> Bool {
            guard count > 0, d.count >= count else { return false }
            var i = d.startIndex
            for k in 0..<count {
                if d[i] != UInt8(truncatingIfNeeded: packed >> (8 * UInt64(k))) { return false }
                i += 1
            }
            return true
        }
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
    private typealias Proposal = (key: UInt64, code: Int32, national: ArraySlice<UInt8>, lead: Int)

    /// Regions by their two letters A–Z (`Region.known` false: not read yet); a region of other
    /// letters is read each time (no such ISO code exists).
    private var regions = [Region](repeating: Region(), count: 26 * 26)
    /// Shape of a number → what the full parse said of the fast path on it.
    private var verdicts = VerdictTable()
    /// By calling code (1–999): possible lengths (0: not a code), national prefix digit or -1,
    /// and whether it was read.
    private var callingCodes = [(lengths: UInt32, prefixDigit: Int32, read: Bool)](repeating: (0, -1, false), count: 1000)
    private var cache = BytesCache(limit: 100_000)
    /// Region and a number's first digits → whether they start with the region's international
    /// prefix pattern (see `startsWithIDD`).
    private var iddAnswers: [UInt64: Bool] = [:]
    /// The digits of the number at hand, its first `digitCount` (reused: no allocation per
    /// number; written through one pointer, not appended one by one).
    private var digits = [UInt8](repeating: 0, count: 64)
    private var digitCount = 0
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
        if region != nil, t.first != 0x2B, t.first != 0x30, t.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x20 }), digitCount >= 10 {
            let plus = [0x2B] + digits[0..<digitCount]
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
        if digits.count < t.count { digits = [UInt8](repeating: 0, count: t.count) }
        var plus = false
        var count = 0
        let typed = digits.withUnsafeMutableBufferPointer { d -> Bool in
            for i in 0..<t.count {
                let b = t[i]
                if b >= 0x30 && b <= 0x39 { d[count] = b; count += 1; continue }
                if b == 0x2B && i == 0 { plus = true; continue }
                if b == 0x20 || b == 0x2D || b == 0x2E || b == 0x2F { continue }
                if b == 0x28 || b == 0x29 {
                    // `(0)` after a calling code is a national prefix the parser knows how to drop.
                    if plus { return false }
                    continue
                }
                return false
            }
            return true
        }
        digitCount = count
        guard typed else { return .neither }
        let d = digits[0..<count]
        // Each shape (the form, its region or calling code, the lengths and first digits) is judged
        // once by the full parse, on the first number that has it.
        guard let (key, code, national, lead) = proposal(d, plus: plus, region: region) else { return .neither }
        let verdict = verdicts.find(key)
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
            verdicts.set(key, .disagrees)
            return .neither
        }
        let judged: Verdict
        var proposed = ByteBuffer(capacity: 24)
        if case let .drops(offset, count, false)? = verdict {
            write(code, national, dropping: offset..<(offset + count), into: &proposed)
            judged = proposed.bytes == parsed ? .drops(offset: offset, count: count, confirmed: true) : .disagrees
        } else {
            write(code, national, into: &proposed)
            if proposed.bytes == parsed {
                judged = .agrees
            } else if let (offset, count) = PhoneNumbers.dropped(from: national, code: code, lead: lead, parsed: parsed) {
                judged = .drops(offset: offset, count: count, confirmed: false)
            } else {
                judged = .disagrees
            }
        }
        verdicts.set(key, judged)
        if rewritten && judged == .disagrees { return .neither }
        out.append(parsed)
        return judged == .agrees ? .fast : .parsed
    }

    /// Where `parsed` is `+`, `code` and `national` without a run of its first `lead` digits: that
    /// run (the digits a shape's key fixes, so every number of the shape has the same ones).
    private static func dropped(from national: ArraySlice<UInt8>, code: Int32, lead: Int, parsed: [UInt8]) -> (Int, Int)? {
        let code = Array(String(code).utf8)
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
        guard r.callingCode != 0 else { return nil }
        let id = UInt64(region.0) << 8 | UInt64(region.1)
        if r.internationalPrefix.isPrefix(of: d) {
            return international(d.dropFirst(r.internationalPrefix.count))
        }
        if r.iddPattern && startsWithIDD(d, region: r) {
            return nil   // a number dialled abroad through the region's prefix: the parser's
        }
        if r.leadDigits > 2, let national = stripNationalPrefix(d, region: r), national.count != d.count, let first = national.first,
           first != 0x30 || r.nationalPrefix.isEmpty, national.count < 32, r.lengths & (1 << UInt32(national.count)) != 0 {
            // The region's own prefix pattern (Mexico's legacy mobile `1`, Argentina's `15`): the
            // shape is still told by the digits as typed, so the key is the typed number's.
            guard let key = PhoneNumbers.key(form: 0, of: id, typed: d.count, national: national.count, told: d, lead: r.leadDigits) else { return nil }
            return (key, r.callingCode, national[...], 0)
        }
        if r.prefixedFast && r.nationalPrefix.isPrefix(of: d) {
            let national = d.dropFirst(r.nationalPrefix.count)
            guard let first = national.first, first != 0x30, first != r.nationalPrefix.first, national.count < 32,
                  r.lengths & (1 << UInt32(national.count)) != 0 else { return nil }
            guard let key = PhoneNumbers.key(form: 2, of: id, national: national.count, told: national, lead: r.leadDigits) else { return nil }
            return (key, r.callingCode, national, r.leadDigits)
        }
        // (A leading 0 is the number's own where there is no national prefix: Italy, Côte d'Ivoire.)
        if r.unprefixedFast, let first = d.first, first != 0x30 || r.nationalPrefix.isEmpty, r.nationalPrefix.first != first,
           !PhoneNumbers.startsWithCode(d, r.callingCode), d.count < 32, r.lengths & (1 << UInt32(d.count)) != 0 {
            guard let key = PhoneNumbers.key(form: 3, of: id, national: d.count, told: d, lead: r.leadDigits) else { return nil }
            return (key, r.callingCode, d, r.leadDigits)
        }
        return nil
    }

    /// Whether `d` starts with the region's international prefix pattern: libphonenumber's pattern
    /// asked once per run of the first `iddMaxLength` digits (the pattern cannot see further).
    private mutating func startsWithIDD(_ d: ArraySlice<UInt8>, region r: Region) -> Bool {
        let seen = min(d.count, r.iddMaxLength)
        guard r.iddMaxLength > 0, r.iddMaxLength <= 12 else { return PhoneNumbers.asksIDD(d, region: r) }
        var value: UInt64 = 0
        for b in d.prefix(seen) { value = value * 10 + UInt64(b &- 0x30) }
        let key = (UInt64(UInt8(bitPattern: r.id.0)) << 8 | UInt64(UInt8(bitPattern: r.id.1))) << 48 | UInt64(seen) << 40 | value
        if let known = iddAnswers[key] { return known }
        let answer = PhoneNumbers.asksIDD(d.prefix(seen), region: r)
        if iddAnswers.count < 100_000 { iddAnswers[key] = answer }
        return answer
    }

    /// libphonenumber's international prefix pattern, asked (a regular expression: ~1 µs).
    static func asksIDD(_ d: ArraySlice<UInt8>, region r: Region) -> Bool {
        d.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { c in
                withUnsafeBytes(of: r.id) { mp_phone_starts_with_idd($0.baseAddress!.assumingMemoryBound(to: CChar.self), c.baseAddress, Int32(c.count)) }
            }
        } != 0
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
            return (key, code, national, 2)
        }
        return nil
    }

    /// Whether `d` starts with the digits of calling code `code`.
    private static func startsWithCode(_ d: ArraySlice<UInt8>, _ code: Int32) -> Bool {
        let width = code >= 100 ? 3 : code >= 10 ? 2 : 1
        guard d.count >= width else { return false }
        var value: Int32 = 0
        for b in d.prefix(width) { value = value * 10 + Int32(b &- 0x30) }
        return value == code
    }

    private func write(_ code: Int32, _ national: ArraySlice<UInt8>, dropping dropped: Range<Int> = 0..<0, into out: inout ByteBuffer) {
        out.append(0x2B)
        if code >= 100 { out.append(UInt8(truncatingIfNeeded: 0x30 + code / 100)) }
        if code >= 10 { out.append(UInt8(truncatingIfNeeded: 0x30 + code / 10 % 10)) }
        out.append(UInt8(truncatingIfNeeded: 0x30 + code % 10))
        if dropped.isEmpty {
            national.withUnsafeBytes { out.append($0) }
            return
        }
        let n = national.startIndex
        for i in national.indices where !dropped.contains(i - n) { out.append(national[i]) }
    }

    private mutating func callingCode(_ code: Int32) -> (lengths: UInt32, prefixDigit: Int32) {
        guard code > 0 && code < 1000 else { return (0, -1) }
        let known = callingCodes[Int(code)]
        if known.read { return (known.lengths, known.prefixDigit) }
        var prefixDigit: Int32 = -1
        let lengths = mp_phone_calling_code_lengths(code, &prefixDigit)
        callingCodes[Int(code)] = (lengths, prefixDigit, true)
        return (lengths, prefixDigit)
    }

    /// A region's facts, read the first time it is met.
    private mutating func facts(_ region: (UInt8, UInt8)) -> Region {
        let letters = region.0 >= 0x41 && region.0 <= 0x5A && region.1 >= 0x41 && region.1 <= 0x5A
        let index = letters ? Int(region.0 - 0x41) * 26 + Int(region.1 - 0x41) : -1
        if index >= 0 && regions[index].known { return regions[index] }
        var r = Region()
        r.known = true
        var f = mp_region_facts()
        let name = [CChar(bitPattern: region.0), CChar(bitPattern: region.1), 0]
        if mp_phone_region_facts(name, &f) != 0, f.country_code > 0,
           let nationalPrefix = DigitPrefix(PhoneNumbers.digits(of: f.national_prefix)),
           let internationalPrefix = DigitPrefix(PhoneNumbers.digits(of: f.international_prefix)) {
            r.callingCode = f.country_code
            r.lengths = f.possible_lengths
            r.nationalPrefix = nationalPrefix
            r.internationalPrefix = internationalPrefix
            // A number after the national prefix, or without it, is the national number — where
            // the prefix rule is plain, or nothing is stripped; where it is a pattern, shapes are
            // told by four digits (and judged by the parser like every shape).
            let plain = f.plain_national_prefix != 0 || f.no_prefix_rule != 0
            r.prefixedFast = !r.nationalPrefix.isEmpty
            r.unprefixedFast = true
            r.leadDigits = plain ? 2 : 4
            r.iddPattern = f.idd_pattern != 0
            r.iddMaxLength = Int(f.idd_max_length)
            r.id = (CChar(bitPattern: region.0), CChar(bitPattern: region.1))
        }
        if index >= 0 { regions[index] = r }
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

extension PhoneNumbers {
    /// libphonenumber's one-time start-up — its metadata parsed and its ~30 ICU patterns
    /// compiled: 33 M instructions, about 8 ms, that the first number of a run otherwise waits
    /// for. Safe on any thread at any time, any number of times: a number that comes while it
    /// runs waits for it (`mp_phone_prepare`); ingest runs it on a side thread as it starts
    /// (`MailpipeCommand.startUpWork`).
    public static func prepare() {
        mp_phone_prepare()
    }
}

/// Shape keys → verdicts: open addressing on a multiplicative hash, at most half full (a
/// `Dictionary` hashes each key with SipHash, one look-up per phone number).
struct VerdictTable {
    /// No shape's key: its form (2 bits) and region or calling code (at most 22 bits) leave bits free.
    private static let empty = UInt64.max
    private var keys = [UInt64](repeating: VerdictTable.empty, count: 64)
    private var values = [PhoneNumbers.Verdict](repeating: .disagrees, count: 64)
    private(set) var count = 0

    @inline(__always) private func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & (keys.count - 1)
    }

    func find(_ key: UInt64) -> PhoneNumbers.Verdict? {
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == VerdictTable.empty { return nil }
            i = (i + 1) & (keys.count - 1)
        }
    }

    mutating func set(_ key: UInt64, _ verdict: PhoneNumbers.Verdict) {
        precondition(key != VerdictTable.empty)
        var i = slot(key)
        while keys[i] != VerdictTable.empty && keys[i] != key { i = (i + 1) & (keys.count - 1) }
        if keys[i] == key { values[i] = verdict; return }
        if (count + 1) * 2 > keys.count {
            grow()
            set(key, verdict)
            return
        }
        keys[i] = key
        values[i] = verdict
        count += 1
    }

    private mutating func grow() {
        let (oldKeys, oldValues) = (keys, values)
        keys = [UInt64](repeating: VerdictTable.empty, count: oldKeys.count * 2)
        values = [PhoneNumbers.Verdict](repeating: .disagrees, count: oldKeys.count * 2)
        count = 0
        for (k, v) in zip(oldKeys, oldValues) where k != VerdictTable.empty { set(k, v) }
    }
}
