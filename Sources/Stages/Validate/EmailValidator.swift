import MailpipeCore
import CIdn2
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The three verdicts of docs/design.md §2.
public enum Verdict: String, Sendable, CaseIterable {
    case valid, risky, invalid

    /// The contact `status` a verdict gives.
    public var status: String {
        switch self {
        case .valid: return "validated"
        case .risky: return "risky"
        case .invalid: return "invalid"
        }
    }
}

/// Why a verdict was given. Each reason has a severity and a score penalty.
public enum Reason: String, Sendable, CaseIterable {
    /// Not an address bulk mail can go to: no `@`, bad characters, dots, lengths, no dotted
    /// domain, spaces or line breaks around it.
    case syntax
    /// A character that shows as nothing or as a blank (zero-width space, BOM, joiners, soft
    /// hyphen, bidi controls, non-ASCII spaces, controls, private-use or unassigned code points).
    case invisibleCharacter = "invisible_character"
    /// A domain that IDNA2008 refuses (libidn2, and RFC 5893's Bidi rule across labels).
    case idn
    /// A domain reserved for special use (`localhost`, `.test`, `.invalid`, `.local`…).
    case specialUse = "special_use_domain"
    /// A non-ASCII local part: needs SMTPUTF8 end to end.
    case smtputf8
    /// A local part over RFC 5321's 64 octets: many servers take it, some refuse it.
    case longLocalPart = "long_local_part"
    /// A throwaway-address provider (or a subdomain of one).
    case disposable
    /// A function, not a person (`info@`, `kontakt@`…).
    case role
    /// The domain looks like a typo of a provider; see the suggestion.
    case typo
    /// The typo was corrected (`--fix-typos`); the original is in `email_original`.
    case typoFixed = "typo_fixed"
    /// The domain takes no mail: NXDOMAIN, Null MX (RFC 7505), or neither MX nor address —
    /// from DNS (`--mx`), or known without asking for the documentation names (`example.com`).
    case noMX = "no_mx"
    /// DNS says the domain's MX hosts have no address (NXDOMAIN or neither A nor AAAA for each).
    case noMXAddress = "no_mx_address"
    /// DNS could not tell (timeout, SERVFAIL): never grounds for `invalid`.
    case dnsUnknown = "dns_unknown"

    var penalty: Int {
        switch self {
        case .syntax, .invisibleCharacter, .idn, .specialUse: return 100
        case .noMX, .noMXAddress: return 95
        case .disposable: return 50
        case .typo: return 40
        case .role: return 30
        case .smtputf8, .longLocalPart: return 25
        case .dnsUnknown: return 20
        case .typoFixed: return 5
        }
    }
}

/// What `validate` decided about one address.
public struct Assessment: Sendable, Equatable {
    public var reasons: [Reason] = []
    /// Reasons that make the address invalid (syntax, special use, no MX, strict disposable).
    public var fatal: Set<Reason> = []
    /// The whole corrected address, when a typo was found.
    public var suggestion: String?
    /// The address with its domain in ASCII (punycode), when it differs from the input.
    public var asciiEmail: String?
    /// The ASCII domain to look up in DNS, when the address is worth a lookup.
    public var lookupDomain: String?
    /// Whether DNS confirmed that the domain takes mail.
    public var mailConfirmed = false

    public var verdict: Verdict {
        if !fatal.isEmpty { return .invalid }
        return reasons.contains(where: { $0 != .typoFixed }) ? .risky : .valid
    }

    /// 0–100: 100 for a valid address whose domain DNS confirmed, 90 for a valid one not looked up,
    /// less for each risk; 0–5 for invalid ones.
    public var score: Int {
        switch verdict {
        case .invalid:
            return fatal.contains(.noMX) || fatal.contains(.noMXAddress) ? 5 : (fatal.contains(.disposable) ? 10 : 0)
        case .valid, .risky:
            let base = mailConfirmed ? 100 : 90
            let s = reasons.reduce(base) { $0 - $1.penalty }
            return verdict == .valid ? max(s, 60) : min(max(s, 10), 79)
        }
    }

    mutating func add(_ reason: Reason, fatal isFatal: Bool = false) {
        if !reasons.contains(reason) { reasons.append(reason) }
        if isFatal { fatal.insert(reason) }
    }
}

/// Checks addresses: syntax for bulk mail, IDN, invisible characters, special-use domains,
/// disposable, role and typo. `assess` is a pure function of the address and the lists given
/// at initialisation.
public struct EmailValidator: Sendable {
    public var disposable: ByteSet
    public var allowed: ByteSet
    public var roles: RoleNames
    public var strictDisposable: Bool
    public var typos: TypoSuggester
    /// Fill `lookupDomain` (only worth its allocation when DNS will be asked).
    public var wantsLookupDomain = true
    private let specialTLDs: ByteSet
    private let nullMXNames: ByteSet

    public init(extraDisposable: [String] = [], allowed: [String] = [], strictDisposable: Bool = false) {
        disposable = ByteSet(BuiltinLists.disposableDomains + extraDisposable)
        self.allowed = ByteSet(allowed)
        roles = RoleNames(BuiltinLists.roleLocalParts)
        self.strictDisposable = strictDisposable
        typos = TypoSuggester()
        specialTLDs = ByteSet(BuiltinLists.specialUseTLDs)
        nullMXNames = ByteSet(BuiltinLists.documentationDomains)
    }

    public func assess(_ email: String) -> Assessment {
        var copy = email
        return copy.withUTF8 { assess(UnsafeRawBufferPointer($0)) }
    }

    /// Assesses one address (UTF-8 bytes, ASCII case folded in the domain).
    public func assess(_ input: UnsafeRawBufferPointer) -> Assessment {
        var a = Assessment()
        var lo = 0, hi = input.count
        while lo < hi && isSpace(input[lo]) { lo += 1 }
        while hi > lo && isSpace(input[hi - 1]) { hi -= 1 }
        if lo > 0 || hi < input.count {
            // Spaces or line breaks around an address are no part of it: refused, with the
            // address without them as the suggestion.
            a.add(.syntax, fatal: true)
            a.suggestion = suggestion(cleaned: String(decoding: input[lo..<hi], as: UTF8.self))
            return a
        }
        guard let at = input.lastOffset(of: UInt8(ascii: "@")), at > 0, at < input.count - 1 else {
            a.add(.syntax, fatal: true)
            return a
        }
        let local = UnsafeRawBufferPointer(rebasing: input[..<at])
        let rawDomain = UnsafeRawBufferPointer(rebasing: input[(at + 1)...])
        var (localOK, localASCII) = EmailValidator.dotAtom(local)
        var domainASCII = true
        for b in rawDomain where b >= 0x80 { domainASCII = false; break }

        if !localASCII || !domainASCII {
            // The rare non-ASCII address: invisible characters, NFC, IDNA.
            if UnicodeText.containsInvisible(input) {
                a.add(.invisibleCharacter, fatal: true)
                a.suggestion = suggestion(cleaned: UnicodeText.removingInvisible(input))
                return a
            }
            var normalLocal = Array(local)
            if !localASCII {
                guard let normal = UnicodeText.nfc(local),
                      let first = UnicodeText.decode(local).unicodeScalars.first, !UnicodeText.isMark(first) else {
                    a.add(.syntax, fatal: true)
                    return a
                }
                // Characters that normalise to ASCII must be valid as ASCII (U+037E → ';').
                localOK = localOK && normal.withUnsafeBytes { EmailValidator.dotAtom($0).ok }
                normalLocal = normal
            }
            var domain: [UInt8]
            if domainASCII {
                domain = rawDomain.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
            } else {
                guard let ascii = EmailValidator.idnaToASCII(rawDomain) else {
                    a.add(.idn, fatal: true)
                    return a
                }
                domain = ascii
            }
            normalLocal.withUnsafeBytes { l in
                domain.withUnsafeBytes { d in
                    assess(local: l, domain: d, localOK: localOK, localASCII: localASCII,
                           domainASCII: domainASCII, originalLength: input.count, into: &a)
                }
            }
            return a
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: rawDomain.count) { buffer in
            for (i, b) in rawDomain.enumerated() { buffer[i] = b >= 65 && b <= 90 ? b + 32 : b }
            let domain = UnsafeRawBufferPointer(start: buffer.baseAddress, count: rawDomain.count)
            assess(local: local, domain: domain, localOK: localOK, localASCII: true, domainASCII: true,
                   originalLength: input.count, into: &a)
        }
        return a
    }

    /// The checks on the (NFC) local part and the lower-cased ASCII domain.
    private func assess(local: UnsafeRawBufferPointer, domain d: UnsafeRawBufferPointer, localOK: Bool,
                        localASCII: Bool, domainASCII: Bool, originalLength: Int, into a: inout Assessment) {
        let problem = EmailValidator.domainProblem(d)
        if localOK && problem == .noDot && specialTLDs.contains(d) {
            a.add(.specialUse, fatal: true)     // "localhost", "local"
            return
        }
        if !localOK || problem != nil || originalLength > 254 || local.count + 1 + d.count > 254 {
            a.add(.syntax, fatal: true)
            // "gmailcom", "gmail,com": a missing or mistyped dot that a provider explains.
            if localOK, let fixed = typos.suggest(invalidDomain: d) {
                a.suggestion = String(decoding: local, as: UTF8.self) + "@" + fixed
            }
            return
        }
        // IDNA2008 for ASCII domains too: A-labels that do not round-trip (`xn--0`), `--` in
        // positions 3–4 of any other label (`yy--0`); and the Bidi rule across labels.
        let labels = EmailValidator.hyphenLabels(d)
        if labels.reserved {
            // (A non-ASCII domain was converted by libidn2 already.)
            let refused = domainASCII && EmailValidator.idnaToASCII(d) == nil
            if refused || labels.aLabel && !(EmailValidator.idnaToUnicode(d).map(UnicodeText.satisfiesBidiRule) ?? false) {
                a.add(.idn, fatal: true)
                return
            }
        }
        if !domainASCII {
            a.asciiEmail = String(decoding: local, as: UTF8.self) + "@" + String(decoding: d, as: UTF8.self)
        }
        if !localASCII { a.add(.smtputf8) }
        if local.count > 64 { a.add(.longLocalPart) }

        // Special-use names: the last label. The documentation names (example.com/.net/.org
        // publish a Null MX, .example is never delegated) take no mail: known without asking.
        let lastDot = d.lastOffset(of: UInt8(ascii: "."))!
        let tld = UnsafeRawBufferPointer(rebasing: d[(lastDot + 1)...])
        if specialTLDs.contains(tld) {
            a.add(.specialUse, fatal: true)
            return
        }
        if nullMXNames.contains(tld) || nullMXNames.containsDomainOrParent(d) {
            a.add(.noMX, fatal: true)
            return
        }
        let listed = disposable.containsDomainOrParent(d)
        let allow = allowed.containsDomainOrParent(d)
        if listed && !allow { a.add(.disposable, fatal: strictDisposable) }
        if roles.contains(local) { a.add(.role) }
        // A domain of the allow list is good: never "corrected". A disposable one may be a typo
        // squatter catching a provider's mistyped mail (`gmial.com`): both are said.
        if !allow, let fixed = typos.suggest(d) {
            a.add(.typo)
            a.suggestion = String(decoding: local, as: UTF8.self) + "@" + fixed
        }
        if wantsLookupDomain && a.fatal.isEmpty { a.lookupDomain = String(decoding: d, as: UTF8.self) }
    }

    /// The suggestion for an address refused for what surrounded or hid in it: the cleaned
    /// address (or its own suggestion) when that one is not refused.
    private func suggestion(cleaned: String) -> String? {
        let again = assess(cleaned)
        return again.suggestion ?? (again.fatal.isEmpty && !cleaned.isEmpty ? cleaned : nil)
    }

    @inline(__always) private func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }

    /// Whether a local part is a dot-atom (RFC 5322 `atext` and single inner dots; any non-ASCII
    /// byte allowed, RFC 6531), and whether it is ASCII.
    @inline(__always)
    static func dotAtom(_ local: UnsafeRawBufferPointer) -> (ok: Bool, ascii: Bool) {
        var ok = !local.isEmpty
        var ascii = true
        var previous = UInt8(ascii: ".")
        let atext = EmailValidator.atext
        for b in local {
            if b >= 0x80 { ascii = false }
            else if b == UInt8(ascii: ".") { if previous == b { ok = false } }
            else if !atext[Int(b)] { ok = false }
            previous = b
        }
        if previous == UInt8(ascii: ".") { ok = false }
        return (ok, ascii)
    }

    enum DomainProblem { case noDot, bad }

    /// RFC 1035/5321 host name rules for bulk mail: labels of 1–63 letters, digits and inner
    /// hyphens, 253 characters at most, at least two labels, the last one letters only (or an
    /// IDNA `xn--` label). IP literals and trailing dots are refused.
    static func domainProblem(_ d: [UInt8]) -> DomainProblem? {
        d.withUnsafeBytes { domainProblem($0) }
    }

    static func domainProblem(_ d: UnsafeRawBufferPointer) -> DomainProblem? {
        if d.isEmpty || d.count > 253 { return .bad }
        var labelStart = 0
        var labels = 0
        var lastDot = -1
        var i = 0
        while i <= d.count {
            if i == d.count || d[i] == UInt8(ascii: ".") {
                let length = i - labelStart
                if length < 1 || length > 63 { return .bad }
                if d[labelStart] == UInt8(ascii: "-") || d[i - 1] == UInt8(ascii: "-") { return .bad }
                labels += 1
                if i < d.count { lastDot = i }
                labelStart = i + 1
            } else {
                let b = d[i]
                let ok = (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == UInt8(ascii: "-")
                if !ok { return .bad }
            }
            i += 1
        }
        if labels < 2 { return .noDot }
        let tld = lastDot + 1
        let tldLength = d.count - tld
        if tldLength >= 4 && d[tld] == UInt8(ascii: "x") && d[tld + 1] == UInt8(ascii: "n")
            && d[tld + 2] == UInt8(ascii: "-") && d[tld + 3] == UInt8(ascii: "-") {
            return tldLength > 4 ? nil : .bad
        }
        if tldLength < 2 { return .bad }
        for j in tld..<d.count where !(d[j] >= 97 && d[j] <= 122) { return .bad }
        return nil
    }

    /// Labels with `--` in positions 3–4 (IDNA2008 reserves them): `reserved` for any such label,
    /// `aLabel` for an `xn--` one. A valid LDH domain without either needs no IDNA check.
    @inline(__always)
    static func hyphenLabels(_ d: UnsafeRawBufferPointer) -> (reserved: Bool, aLabel: Bool) {
        var reserved = false, aLabel = false
        var start = 0
        let dash = UInt8(ascii: "-")
        while start + 3 < d.count {
            if d[start + 2] == dash && d[start + 3] == dash {
                reserved = true
                if d[start] == UInt8(ascii: "x") && d[start + 1] == UInt8(ascii: "n") { aLabel = true }
            }
            guard let dot = UnsafeRawBufferPointer(rebasing: d[start...]).firstOffset(of: UInt8(ascii: ".")) else { break }
            start += dot + 1    // (an offset into the rebased slice)
        }
        return (reserved, aLabel)
    }

    /// RFC 5322 `atext`.
    static let atext: [Bool] = {
        var t = [Bool](repeating: false, count: 128)
        for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-".utf8 {
            t[Int(c)] = true
        }
        return t
    }()

    /// The libidn2 flags of a lookup: IDNA2008 with UTS #46 non-transitional mapping, NFC, and
    /// A-labels checked by decoding and encoding them again.
    private static let idnaFlags = Int32(IDN2_NFC_INPUT.rawValue | IDN2_NONTRANSITIONAL.rawValue
                                         | IDN2_ALABEL_ROUNDTRIP.rawValue)

    /// IDNA 2008 / UTS #46 non-transitional lookup conversion by libidn2.
    public static func idnaToASCII(_ domain: UnsafeRawBufferPointer) -> [UInt8]? {
        var input = [CChar](repeating: 0, count: domain.count + 1)
        for i in 0..<domain.count { input[i] = CChar(bitPattern: domain[i]) }
        var output: UnsafeMutablePointer<CChar>? = nil
        let rc = idn2_to_ascii_8z(input, &output, idnaFlags)
        guard rc == Int32(IDN2_OK.rawValue), let output else {
            if let output { idn2_free(output) }
            return nil
        }
        defer { idn2_free(output) }
        let length = strlen(output)
        return (0..<length).map { UInt8(bitPattern: output[$0]) }
    }

    public static func idnaToASCII(_ domain: String) -> String? {
        var copy = domain
        return copy.withUTF8 { idnaToASCII(UnsafeRawBufferPointer($0)) }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The Unicode form of an ASCII domain whose A-labels libidn2 accepted.
    static func idnaToUnicode(_ domain: UnsafeRawBufferPointer) -> String? {
        var input = [CChar](repeating: 0, count: domain.count + 1)
        for i in 0..<domain.count { input[i] = CChar(bitPattern: domain[i]) }
        var output: UnsafeMutablePointer<CChar>? = nil
        let rc = idn2_to_unicode_8z8z(input, &output, 0)
        guard rc == Int32(IDN2_OK.rawValue), let output else {
            if let output { idn2_free(output) }
            return nil
        }
        defer { idn2_free(output) }
        return String(cString: output)
    }
}
