@_spi(_Unicode) import Swift

/// Tag slugs (docs/design.md §2): lower case, Latin diacritics folded (`Expatrié` → `expatrie`),
/// letters and marks of other scripts kept as they are (`эмиграция`, `移民`, `हिंदी`), digits,
/// words joined by single hyphens. Anything that is not a letter or digit separates words.
///
///     Slug.make("Expatrié Français")  // "expatrie-francais"
///     Slug.make("  Avocat / Lawyer ") // "avocat-lawyer"
///     Slug.make("!!!")                // "" — the caller reports it, never drops it silently
///
/// Pure Swift (no Foundation): decomposition and composition use the standard library's
/// normalisation.
public enum Slug {
    public static func make(_ text: String) -> String {
        var ascii = true
        for b in text.utf8 where b >= 0x80 { ascii = false; break }
        return ascii ? makeASCII(text) : makeUnicode(text)
    }

    private static func makeASCII(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var pendingHyphen = false
        for var b in text.utf8 {
            if b >= 65 && b <= 90 { b += 32 }
            if (b >= 97 && b <= 122) || (b >= 48 && b <= 57) {
                if pendingHyphen && !out.isEmpty { out.append(45) }
                pendingHyphen = false
                out.append(b)
            } else {
                pendingHyphen = true
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func makeUnicode(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var pendingHyphen = false
        var lastBaseLatin = false
        var wordOpen = false
        func emit(_ s: Unicode.Scalar) {
            if pendingHyphen && !scalars.isEmpty { scalars.append("-") }
            pendingHyphen = false
            scalars.append(s)
            wordOpen = true
        }
        for scalar in text._nfd {
            let properties = scalar.properties
            switch properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark:
                // A mark on a Latin letter is a diacritic to fold; on any other script it is part
                // of the letter (Devanagari vowel signs, Cyrillic breve of й…).
                if wordOpen && !pendingHyphen && !lastBaseLatin { scalars.append(scalar) }
                continue
            default:
                break
            }
            if let folded = latinFold[scalar.value] {
                for s in folded.unicodeScalars { emit(s) }
                lastBaseLatin = true
                continue
            }
            if properties.isAlphabetic || properties.generalCategory == .decimalNumber {
                let latin = isLatin(scalar.value)
                if properties.changesWhenLowercased {
                    for s in properties.lowercaseMapping.unicodeScalars { emit(s) }
                } else {
                    emit(scalar)
                }
                lastBaseLatin = latin
            } else {
                pendingHyphen = wordOpen || pendingHyphen
                wordOpen = false
                lastBaseLatin = false
            }
        }
        var composed = String.UnicodeScalarView()
        composed.append(contentsOf: String(scalars)._nfc)
        return String(composed)
    }

    @inline(__always)
    static func isLatin(_ v: UInt32) -> Bool {
        (v < 0x80) || (v >= 0xC0 && v <= 0x24F) || (v >= 0x1E00 && v <= 0x1EFF)
            || (v >= 0x2C60 && v <= 0x2C7F) || (v >= 0xA720 && v <= 0xA7FF) || (v >= 0xFF21 && v <= 0xFF5A)
    }

    /// Latin letters that do not decompose into a base letter and a mark.
    static let latinFold: [UInt32: String] = [
        0xDF: "ss", 0x1E9E: "ss", 0xE6: "ae", 0xC6: "ae", 0x153: "oe", 0x152: "oe", 0xF8: "o", 0xD8: "o",
        0x111: "d", 0x110: "d", 0xF0: "d", 0xD0: "d", 0x142: "l", 0x141: "l", 0xFE: "th", 0xDE: "th",
        0x131: "i", 0x127: "h", 0x126: "h", 0x140: "l", 0x13F: "l", 0x167: "t", 0x166: "t", 0x14B: "n", 0x14A: "n",
        0x180: "b", 0x188: "c", 0x192: "f", 0x1B6: "z", 0x1E5: "g",
    ]
}
