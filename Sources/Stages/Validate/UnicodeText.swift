import CUnistring

/// The Unicode checks an address needs beyond what IDNA does, on libunistring's data (the
/// library libidn2 itself takes its tables from). Only non-ASCII addresses come here.
enum UnicodeText {
    /// General categories of characters that cannot be seen or told apart: controls, format
    /// characters (zero-width space and joiners, BOM, soft hyphen, bidi controls), surrogates,
    /// private-use and unassigned code points, and spaces and separators other than ASCII's.
    private static let invisibleCategories: UInt32 = {
        let masks = [UC_CATEGORY_MASK_Cc, UC_CATEGORY_MASK_Cf, UC_CATEGORY_MASK_Cs, UC_CATEGORY_MASK_Co,
                     UC_CATEGORY_MASK_Cn, UC_CATEGORY_MASK_Zs, UC_CATEGORY_MASK_Zl, UC_CATEGORY_MASK_Zp]
        return masks.reduce(0) { $0 | UInt32($1) }
    }()

    /// Whether a non-ASCII code point shows as nothing (or as a blank): the categories above and
    /// Unicode's other default-ignorable code points (variation selectors, Hangul fillers…).
    /// ASCII is left to the syntax rules.
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 { return false }
        return uc_is_general_category_withtable(v, invisibleCategories)
            || uc_is_property_default_ignorable_code_point(v)
    }

    /// A combining mark: it cannot start a local part (it would combine with what precedes it).
    static func isMark(_ scalar: Unicode.Scalar) -> Bool {
        uc_is_general_category_withtable(scalar.value, UInt32(UC_CATEGORY_MASK_M))
    }

    /// Whether valid UTF-8 holds an invisible code point.
    static func containsInvisible(_ bytes: UnsafeRawBufferPointer) -> Bool {
        decode(bytes).unicodeScalars.contains(where: isInvisible)
    }

    /// The text without its invisible code points.
    static func removingInvisible(_ bytes: UnsafeRawBufferPointer) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: decode(bytes).unicodeScalars.lazy.filter { !isInvisible($0) })
        return String(scalars)
    }

    /// Normalisation form C of valid UTF-8 (nil only when libunistring is out of memory).
    static func nfc(_ bytes: UnsafeRawBufferPointer) -> [UInt8]? {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return [] }
        var length = 0
        guard let result = u8_normalize(mailpipe_uninorm_nfc(), base, bytes.count, nil, &length) else { return nil }
        defer { free(result) }
        return Array(UnsafeBufferPointer(start: result, count: length))
    }

    /// RFC 5893 §2, the Bidi rule, over a whole domain in Unicode: when any label holds a
    /// right-to-left character (bidi class R, AL or AN) — a "Bidi domain name" — every label
    /// must satisfy the six conditions. libidn2 checks each label on its own, so `1.אב.com`
    /// (a label `1` in a Bidi domain, which displays like `אב.1.com`) passes it; not this.
    static func satisfiesBidiRule(_ domain: String) -> Bool {
        let labels = domain.split(separator: ".").map { $0.unicodeScalars.map { Int(uc_bidi_class($0.value)) } }
        let rightToLeft: Set<Int> = [Int(UC_BIDI_R), Int(UC_BIDI_AL), Int(UC_BIDI_AN)]
        guard labels.contains(where: { $0.contains(where: rightToLeft.contains) }) else { return true }
        let nsm = Int(UC_BIDI_NSM)
        for label in labels {
            guard let first = label.first else { continue }
            let end = label.last(where: { $0 != nsm }) ?? first
            switch first {
            case Int(UC_BIDI_R), Int(UC_BIDI_AL):
                // 2: only these classes; 3: ends in R, AL, EN or AN (then NSMs); 4: not both EN and AN.
                if !label.allSatisfy(bidiRTLAllowed.contains) { return false }
                if ![Int(UC_BIDI_R), Int(UC_BIDI_AL), Int(UC_BIDI_EN), Int(UC_BIDI_AN)].contains(end) { return false }
                if label.contains(Int(UC_BIDI_EN)) && label.contains(Int(UC_BIDI_AN)) { return false }
            case Int(UC_BIDI_L):
                // 5: only these classes; 6: ends in L or EN (then NSMs).
                if !label.allSatisfy(bidiLTRAllowed.contains) { return false }
                if end != Int(UC_BIDI_L) && end != Int(UC_BIDI_EN) { return false }
            default:
                return false    // 1: the first character is L, R or AL
            }
        }
        return true
    }

    private static let bidiRTLAllowed: Set<Int> = [
        Int(UC_BIDI_R), Int(UC_BIDI_AL), Int(UC_BIDI_AN), Int(UC_BIDI_EN), Int(UC_BIDI_ES), Int(UC_BIDI_CS),
        Int(UC_BIDI_ET), Int(UC_BIDI_ON), Int(UC_BIDI_BN), Int(UC_BIDI_NSM),
    ]
    private static let bidiLTRAllowed: Set<Int> = [
        Int(UC_BIDI_L), Int(UC_BIDI_EN), Int(UC_BIDI_ES), Int(UC_BIDI_CS), Int(UC_BIDI_ET), Int(UC_BIDI_ON),
        Int(UC_BIDI_BN), Int(UC_BIDI_NSM),
    ]

    static func decode(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }
}
