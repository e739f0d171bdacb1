/// Suggests the provider domain a person meant (one edit away; two for names of 8+ letters) (`gmial.com` → `gmail.com`, `hotmail.con` →
/// `hotmail.com`, `gmailcom` → `gmail.com`) without touching real domains that merely look
/// close: providers with short names (`gmx`, `web`, `sfr`, `bk`…) are never fuzzy targets, a
/// known provider name under a real top-level domain (`hotmail.be`, `yahoo.ca`) is left alone,
/// a list of real look-alikes (`ymail.com`, `mail.com`) is never touched, and a suggestion is
/// made only when exactly one provider is nearest.
public struct TypoSuggester: Sendable {
    struct Provider: Sendable {
        var domain: [UInt8]
        var mask: UInt64
        var maxDistance: Int
    }

    private let providers: ByteSet
    private let lookalikes: ByteSet
    private let providerNames: ByteSet
    private let realTLDs: ByteSet
    private let fuzzy: [Provider]
    private let byLength: [[Int]]          // domain length → indexes of fuzzy providers within reach
    private let endings: [(wrong: [UInt8], right: [UInt8])]
    private let undotted: [([UInt8], String)]   // "gmailcom" → "gmail.com"; "gmail" → "gmail.com"

    public init(providers list: [String] = BuiltinLists.providerDomains,
                lookalikes: [String] = BuiltinLists.realLookalikeDomains) {
        providers = ByteSet(list)
        self.lookalikes = ByteSet(lookalikes)
        var names = ByteSet()
        var fuzzy: [Provider] = []
        var undotted: [([UInt8], String)] = []
        var nameCount: [String: [String]] = [:]
        for domain in list {
            let bytes = Array(domain.utf8)
            let lastDot = bytes.lastIndex(of: UInt8(ascii: "."))!
            names.insert(String(decoding: bytes[..<lastDot], as: UTF8.self))
            let firstLabel = bytes.prefix { $0 != UInt8(ascii: ".") }
            if firstLabel.count >= 5 {
                fuzzy.append(Provider(domain: bytes, mask: TypoSuggester.mask(bytes[...]),
                                      maxDistance: firstLabel.count >= 8 ? 2 : 1))
            }
            undotted.append((bytes.filter { $0 != UInt8(ascii: ".") }, domain))
            nameCount[String(decoding: firstLabel, as: UTF8.self), default: []].append(domain)
        }
        for (name, domains) in nameCount where domains.count == 1 && name.utf8.count >= 5 {
            undotted.append((Array(name.utf8), domains[0]))
        }
        providerNames = names
        self.fuzzy = fuzzy
        self.undotted = undotted
        var byLength = [[Int]](repeating: [], count: 64)
        for (i, p) in fuzzy.enumerated() {
            for len in max(0, p.domain.count - p.maxDistance)...min(63, p.domain.count + p.maxDistance) {
                byLength[len].append(i)
            }
        }
        self.byLength = byLength
        endings = BuiltinLists.endingFixes.map { (Array($0.wrong.utf8), Array($0.right.utf8)) }
        realTLDs = ByteSet(TypoSuggester.topLevelDomains)
    }

    /// The domain to suggest for `domain` (ASCII, lower case), or nil.
    public func suggest(_ domain: UnsafeRawBufferPointer) -> String? {
        if domain.count < 4 || providers.contains(domain) || lookalikes.contains(domain) { return nil }
        guard let lastDot = domain.lastIndex(of: UInt8(ascii: ".")) else {
            for (flat, full) in undotted where flat.count == domain.count && flat.elementsEqual(domain) { return full }
            return nil
        }
        let tld = UnsafeRawBufferPointer(rebasing: domain[(lastDot + 1)...])
        var fixedEnding: [UInt8]?
        for (wrong, right) in endings where wrong.elementsEqual(tld) {
            let fixed = Array(domain[...lastDot]) + right
            if fixed.withUnsafeBytes({ providers.contains($0) }) {
                return String(decoding: fixed, as: UTF8.self)
            }
            fixedEnding = fixed
            break
        }
        // A provider's name under a real top-level domain is a regional domain, not a typo.
        let name = UnsafeRawBufferPointer(rebasing: domain[..<lastDot])
        if providerNames.contains(name) && realTLDs.contains(tld) { return nil }
        var best = Int.max, bestIndex = -1, tie = false
        func search(_ candidate: UnsafeRawBufferPointer) {
            let firstLabel = candidate.firstIndex(of: UInt8(ascii: ".")) ?? candidate.count
            guard firstLabel >= 4, candidate.count < 64 else { return }
            let mask = TypoSuggester.mask(candidate)
            for i in byLength[candidate.count] {
                let p = fuzzy[i]
                if (p.mask & ~mask).nonzeroBitCount > p.maxDistance || (mask & ~p.mask).nonzeroBitCount > p.maxDistance { continue }
                let d = p.domain.withUnsafeBytes { TypoSuggester.distance(candidate, $0, cap: p.maxDistance) }
                guard d <= p.maxDistance else { continue }
                if d < best { best = d; bestIndex = i; tie = false } else if d == best { tie = true }
            }
        }
        if let fixedEnding { fixedEnding.withUnsafeBytes { search($0) } } else { search(domain) }
        guard bestIndex >= 0, !tie else { return nil }
        return String(decoding: fuzzy[bestIndex].domain, as: UTF8.self)
    }

    public func suggest(_ domain: String) -> String? {
        var copy = domain
        return copy.withUTF8 { suggest(UnsafeRawBufferPointer($0)) }
    }

    /// Which characters occur: a-z, 0-9, '.', '-' (one bit each); anything else shares bit 63.
    static func mask<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
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

    /// Optimal-string-alignment distance (edits: insert, delete, substitute, swap neighbours),
    /// giving up above `cap`.
    static func distance(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, cap: Int) -> Int {
        let n = a.count, m = b.count
        if abs(n - m) > cap { return cap + 1 }
        if n == 0 || m == 0 { return max(n, m) }
        var prev2 = [Int](repeating: 0, count: m + 1)
        var prev = Array(0...m)
        var cur = [Int](repeating: 0, count: m + 1)
        for i in 1...n {
            cur[0] = i
            var rowMin = i
            for j in 1...m {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] { v = min(v, prev2[j - 2] + 1) }
                cur[j] = v
                rowMin = min(rowMin, v)
            }
            if rowMin > cap { return cap + 1 }
            swap(&prev2, &prev)
            swap(&prev, &cur)
        }
        return prev[m]
    }

    /// Generic and country-code top-level domains in common use (for telling a regional
    /// provider domain from a typo of an ending).
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
