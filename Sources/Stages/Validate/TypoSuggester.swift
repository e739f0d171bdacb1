import MailpipeCore

/// Suggests the provider domain a person meant, from what they typed: the provider's name (the
/// first label) one slip away (`gmial`, `hotmal`, `yahooo`; two for names of 8 letters or more);
/// names that are common words or short (`free`, `orange`, `gmx`) only with a letter doubled or
/// typed as its neighbour in the word (`freee`, `frre`), or two letters swapped in names of 5
/// letters or more — their other neighbours are words too (`fred`, `globe`, `voile`) — and names
/// of two letters or digits only never. Then the ending, corrected by the provider's kind (see
/// `MailProvider.Kind`): `gmail.fr` → `gmail.com`, `hotmail.cm` → `hotmail.com`,
/// `orange.f` → `orange.fr`, `web.ed` → `web.de`, while `orange.es`, `hotmail.be` and `live.cl`
/// stay. Slips are weighed by how people type: a doubled or dropped double letter costs half a
/// slip; a substitution is one slip only between neighbouring keys (QWERTY, AZERTY, QWERTZ),
/// between vowels or between look-alikes (`0`/`o`, `1`/`l`), more otherwise. A suggestion is
/// made only when one provider and one ending are nearest (the default ending wins a tie);
/// real domains — every provider domain and a list of real look-alikes — are never touched.
public struct TypoSuggester: Sendable {
    private let providers: [MailProvider]
    private let names: ByteSet               // ordinal = index in `providers`
    private let real: ByteSet                 // provider domains and real look-alikes
    private let realTLDs: ByteSet
    private let byLength: [[Int]]             // name length → providers within reach of it
    private let masks: [UInt64]
    private let nameBytes: [[UInt8]]
    private let endingBytes: [[[UInt8]]]
    private let wordLike: [Bool]
    private let undotted: [String: String]    // "gmailcom" → "gmail.com"; "hotmail" → "hotmail.com"

    /// Slips in quarters: a slip is 4, half a slip 2. (Computed: a stored static would be a
    /// lazily initialised global, checked at every use.)
    @inline(__always) static var slip: Int { 4 }

    public init(providers: [MailProvider] = BuiltinLists.mailProviders,
                lookalikes: [String] = BuiltinLists.realLookalikeDomains) {
        self.providers = providers
        names = ByteSet(providers.map(\.name))
        real = ByteSet(providers.flatMap(\.domains) + lookalikes)
        realTLDs = ByteSet(TypoSuggester.topLevelDomains)
        masks = providers.map { TypoSuggester.mask($0.name.utf8) }
        nameBytes = providers.map { Array($0.name.utf8) }
        wordLike = providers.map(TypoSuggester.isWordLike)
        endingBytes = providers.map { $0.endings.map { Array($0.utf8) } }
        var byLength = [[Int]](repeating: [], count: 64)
        for (i, p) in providers.enumerated() where TypoSuggester.takesSlips(p) {
            let n = p.name.utf8.count, reach = TypoSuggester.nameSlips(n)
            for length in max(1, n - reach)...min(63, n + reach) { byLength[length].append(i) }
        }
        self.byLength = byLength
        var undotted: [String: String] = [:]
        for p in providers {
            for d in p.domains { undotted[d.replacingDots()] = d }
            if p.kind != .word && p.name.utf8.count >= 5 { undotted[p.name] = p.domains[0] }
        }
        self.undotted = undotted
    }

    /// How many slips (whole ones) a provider name of `length` letters may take.
    static func nameSlips(_ length: Int) -> Int { length >= 8 ? 2 : 1 }

    /// Names of two letters or of digits only are taken exactly (`qqq.com`, `162.com` are sites).
    static func takesSlips(_ p: MailProvider) -> Bool {
        p.name.utf8.count > 2 && p.name.utf8.contains(where: { $0 >= 97 && $0 <= 122 })
    }

    /// Common words and short names: only the slips that leave no word (see the type's comment).
    static func isWordLike(_ p: MailProvider) -> Bool { p.kind == .word || p.name.utf8.count <= 4 }

    public func suggest(_ domain: String) -> String? {
        var copy = domain
        return copy.withUTF8 { suggest(UnsafeRawBufferPointer($0)) }
    }

    /// The domain to suggest for a valid `domain` (ASCII, lower case), or nil.
    public func suggest(_ domain: UnsafeRawBufferPointer) -> String? {
        guard domain.count >= 3, domain.count < 64, !real.contains(domain),
              let dot = domain.firstOffset(of: UInt8(ascii: ".")) else { return nil }
        let name = UnsafeRawBufferPointer(rebasing: domain[..<dot])
        let ending = UnsafeRawBufferPointer(rebasing: domain[(dot + 1)...])
        if let exact = names.ordinal(of: name) { return fixEnding(exact, ending, nameCost: 0) }

        // The nearest provider names; several at one cost are told apart by the ending.
        var best = Int.max
        var nearest: [Int] = []
        let mask = TypoSuggester.mask(name)
        for i in byLength[name.count] {
            let slips = TypoSuggester.nameSlips(nameBytes[i].count)
            if (masks[i] & ~mask).nonzeroBitCount > slips || (mask & ~masks[i]).nonzeroBitCount > slips { continue }
            let cost: Int = nameBytes[i].withUnsafeBytes { meant in
                if wordLike[i] {
                    let swaps = meant.count >= 5
                    return TypoSuggester.isWordSlip(typed: name, meant: meant, swaps: swaps) ? TypoSuggester.slip : Int.max
                }
                return TypoSuggester.distance(typed: name, meant: meant, cap: slips * TypoSuggester.slip)
            }
            if cost > slips * TypoSuggester.slip { continue }
            if cost < best { best = cost; nearest = [i] } else if cost == best { nearest.append(i) }
        }
        var found: String?
        for i in nearest {
            guard let fixed = fixEnding(i, ending, nameCost: best) else { continue }
            if found != nil { return nil }   // two providers fit as well: no guess
            found = fixed
        }
        return found
    }

    /// The ending for provider `index` after a name that cost `nameCost` (0: typed exactly).
    private func fixEnding(_ index: Int, _ ending: UnsafeRawBufferPointer, nameCost: Int) -> String? {
        let p = providers[index], slip = TypoSuggester.slip
        if let e = endingBytes[index].firstIndex(where: { $0.elementsEqual(ending) }) {
            return nameCost > 0 ? p.domains[e] : nil
        }
        // A word-like name with a slip must come with its own ending; anything but a plausible
        // ending (`com`, `co.uk`, `cmo`, `comm`) is a subdomain or another site.
        if nameCost > 0 && TypoSuggester.isWordLike(p) { return nil }
        guard TypoSuggester.looksLikeEnding(ending) else { return nil }
        let realEnding = isRealEnding(ending)
        if p.kind == .word && realEnding { return nil }
        // A real top-level domain after a regional name: only a left-out, added, doubled or
        // swapped letter (it may be a country domain this table lacks).
        let substitutions = !(realEnding && p.kind == .regional)
        var best = Int.max, choice = -1, tie = false
        for (i, e) in endingBytes[index].enumerated() {
            let cost = e.withUnsafeBytes { TypoSuggester.distance(typed: ending, meant: $0, cap: slip, substitutions: substitutions) }
            if cost < best { best = cost; choice = i; tie = false } else if cost == best && choice != 0 { tie = true }
        }
        if best <= slip && nameCost + best <= 2 * slip && !tie { return p.domains[choice] }
        if p.kind == .global && nameCost == 0 { return p.domains[0] }
        return nil
    }

    /// A suggestion for a domain refused for its syntax: a missing dot (`gmailcom`, `hotmail`),
    /// a comma for a dot or a doubled or trailing dot (`gmail,com`, `gmail..com`, `gmail.com.`).
    public func suggest(invalidDomain domain: UnsafeRawBufferPointer) -> String? {
        guard domain.count < 64 else { return nil }
        var text = String(decoding: domain, as: UTF8.self)
        if !text.contains(".") && !text.contains(",") { return undotted[text] }
        text = text.replacing(",", with: ".")
        while text.contains("..") { text = text.replacing("..", with: ".") }
        while text.hasPrefix(".") { text.removeFirst() }
        while text.hasSuffix(".") { text.removeLast() }
        // Letters, digits and hyphens in dotted labels, whatever the ending (`gmail.c0m`, `orange.f`).
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(TypoSuggester.isLDH) }) else {
            return nil
        }
        return real.contains(text) ? text : suggest(text)
    }

    static func isLDH(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == UInt8(ascii: "-") }

    /// `com`, `co.uk`, `cmo`, `comm`: at most two labels of at most four letters or digits.
    static func looksLikeEnding(_ ending: UnsafeRawBufferPointer) -> Bool {
        var labels = 1, run = 0
        for b in ending {
            if b == UInt8(ascii: ".") {
                if run == 0 { return false }
                labels += 1
                run = 0
            } else {
                run += 1
                if run > 4 { return false }
            }
        }
        return run > 0 && labels <= 2
    }

    /// A top-level domain in use, alone or under a common second level (`co.uk`, `com.br`).
    private func isRealEnding(_ ending: UnsafeRawBufferPointer) -> Bool {
        guard let dot = ending.firstOffset(of: UInt8(ascii: ".")) else { return realTLDs.contains(ending) }
        let second = String(decoding: ending[..<dot], as: UTF8.self)
        return TypoSuggester.secondLevels.contains(second)
            && realTLDs.contains(UnsafeRawBufferPointer(rebasing: ending[(dot + 1)...]))
    }

    static let secondLevels: Set<String> = ["co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "gob", "nic"]

    /// The slips taken in common words and short names: a letter doubled (`freee`), a letter
    /// typed as its neighbour in the word on a neighbouring key (`frre`), and with `swaps` two
    /// neighbours swapped (`oragne`). Not a letter left out or changed: `fre`, `fred`, `tree`,
    /// `globe` and `voile` are words.
    static func isWordSlip(typed a: UnsafeRawBufferPointer, meant b: UnsafeRawBufferPointer, swaps: Bool) -> Bool {
        let n = a.count, m = b.count
        if n == m + 1 {
            // One letter more: it repeats its neighbour, and the rest is `meant`.
            for i in 0..<n where (i > 0 && a[i] == a[i - 1]) || (i + 1 < n && a[i] == a[i + 1]) {
                var j = 0, same = true
                for k in 0..<n where k != i {
                    if a[k] != b[j] { same = false; break }
                    j += 1
                }
                if same { return true }
            }
            return false
        }
        guard n == m else { return false }
        var first = -1, second = -1, count = 0
        for i in 0..<n where a[i] != b[i] {
            count += 1
            if first < 0 { first = i } else { second = i }
        }
        if count == 2 {
            return swaps && second == first + 1 && a[first] == b[second] && a[second] == b[first]
        }
        guard count == 1 else { return false }
        let i = first
        let repeated = (i > 0 && a[i] == a[i - 1]) || (i + 1 < n && a[i] == a[i + 1])
        return repeated && Keyboard.adjacent(a[i], b[i])
    }

    /// Which characters occur: a-z, 0-9, '.', '-' (one bit each); anything else shares bit 63.
    static func mask<C: Sequence>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var m: UInt64 = 0
        for b in bytes {
            switch b {
            case 97...122: m |= 1 << UInt64(b - 97)
            case 48...57: m |= 1 << UInt64(26 + b - 48)
            case UInt8(ascii: "."): m |= 1 << 36
            case UInt8(ascii: "-"): m |= 1 << 37
            default: m |= 1 << 63
            }
        }
        return m
    }

    /// Weighted optimal-string-alignment distance from what was meant to what was typed, in
    /// quarter slips: a letter added or left out 4 (2 when it doubles, or is one of, a double),
    /// two neighbours swapped 4, a substitution 4 between neighbouring keys, vowels or
    /// look-alikes, else 5 (none at all without `substitutions`). Gives up above `cap`.
    static func distance(typed a: UnsafeRawBufferPointer, meant b: UnsafeRawBufferPointer, cap: Int,
                         substitutions: Bool = true) -> Int {
        let n = a.count, m = b.count
        if abs(n - m) * 2 > cap { return cap + 1 }
        let none = cap + 1
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 3 * (m + 1)) { rows in
            var prev2 = rows.baseAddress!, prev = prev2 + (m + 1), cur = prev + (m + 1)
            prev[0] = 0
            for j in stride(from: 1, through: m, by: 1) { prev[j] = prev[j - 1] + dropCost(b, j - 1) }
            for i in stride(from: 1, through: n, by: 1) {
                cur[0] = prev[0] + addCost(a, i - 1)
                var rowMin = cur[0]
                for j in stride(from: 1, through: m, by: 1) {
                    var v = min(prev[j] + addCost(a, i - 1), cur[j - 1] + dropCost(b, j - 1))
                    if a[i - 1] == b[j - 1] { v = min(v, prev[j - 1]) }
                    else if substitutions { v = min(v, prev[j - 1] + substitutionCost(a[i - 1], b[j - 1])) }
                    if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && a[i - 1] != a[i - 2] {
                        v = min(v, prev2[j - 2] + slip)
                    }
                    cur[j] = min(v, none)
                    rowMin = min(rowMin, cur[j])
                }
                if rowMin > cap { return none }
                (prev2, prev, cur) = (prev, cur, prev2)
            }
            return min(prev[m], none)
        }
    }

    /// A typed letter that is not in the word: half a slip when it repeats its neighbour.
    @inline(__always)
    private static func addCost(_ a: UnsafeRawBufferPointer, _ i: Int) -> Int {
        (i > 0 && a[i] == a[i - 1]) || (i + 1 < a.count && a[i] == a[i + 1]) ? slip / 2 : slip
    }

    /// A letter of the word left out: half a slip when it is one of a double.
    @inline(__always)
    private static func dropCost(_ b: UnsafeRawBufferPointer, _ j: Int) -> Int {
        (j > 0 && b[j] == b[j - 1]) || (j + 1 < b.count && b[j] == b[j + 1]) ? slip / 2 : slip
    }

    @inline(__always)
    private static func substitutionCost(_ x: UInt8, _ y: UInt8) -> Int {
        Keyboard.adjacent(x, y) || (Keyboard.isVowel(x) && Keyboard.isVowel(y)) || Keyboard.lookAlike(x, y) ? slip : slip + 1
    }

    /// Generic and country-code top-level domains in common use (for telling a country domain
    /// from a mistyped ending).
    static let topLevelDomains: [String] = {
        let generic = ["com", "net", "org", "info", "biz", "edu", "gov", "mil", "int", "eu", "asia", "me", "io",
                       "co", "app", "dev", "email", "online", "site", "xyz", "pro", "name", "mobi", "tv", "cat"]
        let cc = """
        ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs bt bw by bz \
        ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg er es et fi fj fk \
        fm fo fr ga gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq \
        ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mg \
        mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg \
        ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sk sl sm sn so sr ss st sv sx \
        sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye \
        yt za zm zw
        """
        return generic + cc.split(separator: " ").map(String.init)
    }()
}

/// Which keys neighbour each other on the keyboards people type addresses on: QWERTY (English,
/// Spanish, Portuguese, and the Latin layer of Russian, Arabic, Hindi and Chinese keyboards),
/// AZERTY (French) and QWERTZ (German).
enum Keyboard {
    private static let table: [Bool] = {
        var t = [Bool](repeating: false, count: 128 * 128)
        let layouts = [["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"],
                       ["1234567890", "azertyuiop", "qsdfghjklm", "wxcvbn"],
                       ["1234567890", "qwertzuiop", "asdfghjkl", "yxcvbnm"]]
        func link(_ x: Character, _ y: Character) {
            let a = Int(x.asciiValue!), b = Int(y.asciiValue!)
            t[a * 128 + b] = true
            t[b * 128 + a] = true
        }
        for rows in layouts {
            let keys = rows.map(Array.init)
            for (r, row) in keys.enumerated() {
                for c in row.indices {
                    if c + 1 < row.count { link(row[c], row[c + 1]) }
                    // Rows are staggered: a key touches the one below it and the one below-left.
                    if r + 1 < keys.count {
                        let below = keys[r + 1]
                        for k in [c - 1, c] where k >= 0 && k < below.count { link(row[c], below[k]) }
                    }
                }
            }
        }
        return t
    }()

    @inline(__always)
    static func adjacent(_ x: UInt8, _ y: UInt8) -> Bool { x < 128 && y < 128 && table[Int(x) * 128 + Int(y)] }

    @inline(__always)
    static func isVowel(_ x: UInt8) -> Bool {
        x == UInt8(ascii: "a") || x == UInt8(ascii: "e") || x == UInt8(ascii: "i") || x == UInt8(ascii: "o") || x == UInt8(ascii: "u")
    }

    /// `0`/`o`, `1`/`l`, `1`/`i`.
    @inline(__always)
    static func lookAlike(_ x: UInt8, _ y: UInt8) -> Bool {
        let pair = (min(x, y), max(x, y))
        return pair == (UInt8(ascii: "0"), UInt8(ascii: "o")) || pair == (UInt8(ascii: "1"), UInt8(ascii: "l"))
            || pair == (UInt8(ascii: "1"), UInt8(ascii: "i"))
    }
}

extension String {
    func replacingDots() -> String { String(unicodeScalars.filter { $0 != "." }.map(Character.init)) }
}
