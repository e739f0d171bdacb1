/// Tag slugs per DESIGN.md §2: lower case, Latin diacritics folded (`Expatrié` → `expatrie`),
/// letters of other scripts kept as they are (`эмиграция`, `移民`), digits, and words joined by
/// single hyphens. A tag that slugs to nothing gives "".
///
/// Internal twin of `MailpipeCore.Slug.make` (being added in parallel); to be unified at merge.
enum TagSlug {
    static func make(_ text: String) -> String {
        // Fast path: already a slug of [a-z0-9-] with single inner hyphens.
        if isASCIISlug(text.utf8) { return text }
        var out = String.UnicodeScalarView()
        var pendingHyphen = false
        var lastWasLatin = false
        for scalar in text.unicodeScalars {
            let v = scalar.value
            // Combining marks after a Latin letter are diacritics: fold them away.
            if (0x0300...0x036F).contains(v) && lastWasLatin { continue }
            if let folded = latinFold(v) {
                append(folded, &out, &pendingHyphen)
                lastWasLatin = true
                continue
            }
            lastWasLatin = false
            let p = scalar.properties
            let keep = p.isAlphabetic || p.numericType != nil
                || p.generalCategory == .nonspacingMark || p.generalCategory == .spacingMark
                || p.generalCategory == .enclosingMark
            if keep {
                if p.generalCategory == .nonspacingMark || p.generalCategory == .spacingMark || p.generalCategory == .enclosingMark {
                    if !out.isEmpty && !pendingHyphen { out.append(scalar) }   // a mark joins its letter
                    continue
                }
                if pendingHyphen && !out.isEmpty { out.append("-") }
                pendingHyphen = false
                for l in p.lowercaseMapping.unicodeScalars { out.append(l) }
            } else {
                pendingHyphen = true
            }
        }
        return String(out)
    }

    private static func append(_ ascii: String, _ out: inout String.UnicodeScalarView, _ pendingHyphen: inout Bool) {
        if pendingHyphen && !out.isEmpty { out.append("-") }
        pendingHyphen = false
        out.append(contentsOf: ascii.unicodeScalars)
    }

    private static func isASCIISlug(_ bytes: String.UTF8View) -> Bool {
        var previous: UInt8 = UInt8(ascii: "-")
        var count = 0
        for b in bytes {
            let alnum = (b >= 97 && b <= 122) || (b >= 48 && b <= 57)
            if !alnum && !(b == UInt8(ascii: "-") && previous != b) { return false }
            previous = b
            count += 1
        }
        return count > 0 && previous != UInt8(ascii: "-")
    }

    /// ASCII letters (lower-cased) and Latin letters with diacritics → their base letters.
    private static func latinFold(_ v: UInt32) -> String? {
        if v < 0x80 {
            if v >= 65 && v <= 90 { return String(UnicodeScalar(UInt8(v + 32))) }
            if (v >= 97 && v <= 122) || (v >= 48 && v <= 57) { return String(UnicodeScalar(UInt8(v))) }
            return nil
        }
        if v >= 0xC0 && v <= 0x24F, let mapped = latinTable[v] { return mapped }
        if v >= 0x1E00 && v <= 0x1EFF, let mapped = latinExtendedAdditional(v) { return mapped }
        return nil
    }

    private static let latinTable: [UInt32: String] = {
        var t: [UInt32: String] = [:]
        func map(_ chars: String, _ base: String) { for s in chars.unicodeScalars { t[s.value] = base } }
        map("ÀÁÂÃÄÅàáâãäåĀāĂăĄąǍǎǺǻȀȁȂȃ", "a"); map("ÆæǼǽ", "ae")
        map("ÇçĆćĈĉĊċČč", "c"); map("ĎďĐđÐð", "d")
        map("ÈÉÊËèéêëĒēĔĕĖėĘęĚěȄȅȆȇ", "e"); map("ĜĝĞğĠġĢģ", "g"); map("ĤĥĦħ", "h")
        map("ÌÍÎÏìíîïĨĩĪīĬĭĮįİıǏǐȈȉȊȋ", "i"); map("Ĳĳ", "ij"); map("Ĵĵ", "j"); map("Ķķĸ", "k")
        map("ĹĺĻļĽľĿŀŁł", "l"); map("ÑñŃńŅņŇňŉŊŋ", "n")
        map("ÒÓÔÕÖØòóôõöøŌōŎŏŐőƠơǑǒǾǿȌȍȎȏ", "o"); map("Œœ", "oe")
        map("ŔŕŖŗŘř", "r"); map("ŚśŜŝŞşŠšȘș", "s"); map("ß", "ss"); map("ŢţŤťŦŧȚț", "t")
        map("Þþ", "th"); map("ÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲųƯưǓǔǕǖǗǘǙǚǛǜȔȕȖȗ", "u"); map("Ŵŵ", "w")
        map("ÝýÿŶŷŸ", "y"); map("ŹźŻżŽž", "z")
        return t
    }()

    /// Vietnamese and other letters of U+1E00–U+1EFF: their base letter, from the block's layout.
    private static func latinExtendedAdditional(_ v: UInt32) -> String? {
        switch v {
        case 0x1EA0...0x1EB7: return "a"
        case 0x1EB8...0x1EC7: return "e"
        case 0x1EC8...0x1ECB: return "i"
        case 0x1ECC...0x1EE3: return "o"
        case 0x1EE4...0x1EF1: return "u"
        case 0x1EF2...0x1EF9: return "y"
        case 0x1E0C...0x1E13: return "d"
        case 0x1E24...0x1E2B: return "h"
        case 0x1E36...0x1E3D: return "l"
        case 0x1E40...0x1E43: return "m"
        case 0x1E44...0x1E4B: return "n"
        case 0x1E58...0x1E5F: return "r"
        case 0x1E60...0x1E69: return "s"
        case 0x1E6A...0x1E71: return "t"
        case 0x1E92...0x1E95: return "z"
        default: return nil
        }
    }
}
