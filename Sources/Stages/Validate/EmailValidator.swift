import CIdn2
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The three verdicts of DESIGN.md §2.
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
    /// Not an address bulk mail can go to: no `@`, bad characters, dots, lengths, no dotted domain.
    case syntax
    /// An internationalised domain that IDNA (libidn2) refuses.
    case idn
    /// A domain reserved for special use (`localhost`, `.test`, `.invalid`, `example.com`…).
    case specialUse = "special_use_domain"
    /// A non-ASCII local part: needs SMTPUTF8 end to end.
    case smtputf8
    /// A throwaway-address provider (or a subdomain of one).
    case disposable
    /// A function, not a person (`info@`, `kontakt@`…).
    case role
    /// The domain looks like a typo of a provider; see the suggestion.
    case typo
    /// The typo was corrected (`--fix-typos`); the original is in `email_original`.
    case typoFixed = "typo_fixed"
    /// DNS says the domain takes no mail: NXDOMAIN, Null MX (RFC 7505), or neither MX nor address.
    case noMX = "no_mx"
    /// DNS says the domain's MX hosts have no address (NXDOMAIN or neither A nor AAAA for each).
    case noMXAddress = "no_mx_address"
    /// DNS could not tell (timeout, SERVFAIL): never grounds for `invalid`.
    case dnsUnknown = "dns_unknown"

    var penalty: Int {
        switch self {
        case .syntax, .idn, .specialUse: return 100
        case .noMX, .noMXAddress: return 95
        case .disposable: return 50
        case .typo: return 40
        case .role: return 30
        case .smtputf8: return 25
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

/// Checks addresses: syntax for bulk mail, IDN, special-use domains, disposable, role and typo.
public struct EmailValidator: Sendable {
    public var disposable: ByteSet
    public var allowed: ByteSet
    public var roles: ByteSet
    public var strictDisposable: Bool
    public var typos: TypoSuggester
    /// Fill `lookupDomain` (only worth its allocation when DNS will be asked).
    public var wantsLookupDomain = true
    private let specialTLDs: ByteSet
    private let specialDomains: ByteSet

    public init(extraDisposable: [String] = [], allowed: [String] = [], strictDisposable: Bool = false) {
        disposable = ByteSet(BuiltinLists.disposableDomains + extraDisposable)
        self.allowed = ByteSet(allowed)
        roles = ByteSet(BuiltinLists.roleLocalParts)
        self.strictDisposable = strictDisposable
        typos = TypoSuggester()
        specialTLDs = ByteSet(BuiltinLists.specialUseTLDs)
        specialDomains = ByteSet(BuiltinLists.specialUseDomains)
    }

    public func assess(_ email: String) -> Assessment {
        var copy = email
        return copy.withUTF8 { assess(UnsafeRawBufferPointer($0)) }
    }

    /// Assesses one address (UTF-8 bytes; surrounding spaces ignored, ASCII case folded).
    public func assess(_ input: UnsafeRawBufferPointer) -> Assessment {
        var a = Assessment()
        var lo = 0, hi = input.count
        while lo < hi && isSpace(input[lo]) { lo += 1 }
        while hi > lo && isSpace(input[hi - 1]) { hi -= 1 }
        guard hi > lo, let at = input[lo..<hi].lastIndex(of: UInt8(ascii: "@")), at > lo, at < hi - 1 else {
            a.add(.syntax, fatal: true)
            return a
        }
        let local = UnsafeRawBufferPointer(rebasing: input[lo..<at])
        let rawDomain = UnsafeRawBufferPointer(rebasing: input[(at + 1)..<hi])

        // Local part: dot-atom only (no quoted strings, comments); non-ASCII → SMTPUTF8.
        var localOK = local.count <= 64
        var localASCII = true
        var previous: UInt8 = UInt8(ascii: ".")
        let atext = EmailValidator.atext
        for b in local {
            if b >= 0x80 { localASCII = false }
            else if b == UInt8(ascii: ".") { if previous == b { localOK = false } }
            else if !atext[Int(b)] { localOK = false }
            previous = b
        }
        if previous == UInt8(ascii: ".") { localOK = false }

        // Domain: lower-cased ASCII (in a stack buffer), IDNA for anything else.
        var domainASCII = true
        for b in rawDomain where b >= 0x80 { domainASCII = false; break }
        if !domainASCII {
            guard let ascii = EmailValidator.idnaToASCII(rawDomain) else {
                a.add(.idn, fatal: true)
                return a
            }
            ascii.withUnsafeBytes { assess(local: local, domain: $0, localOK: localOK, localASCII: localASCII,
                                           domainASCII: false, into: &a) }
            return a
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(rawDomain.count, 1)) { buffer in
            for (i, b) in rawDomain.enumerated() { buffer[i] = b >= 65 && b <= 90 ? b + 32 : b }
            let domain = UnsafeRawBufferPointer(start: buffer.baseAddress, count: rawDomain.count)
            assess(local: local, domain: domain, localOK: localOK, localASCII: localASCII, domainASCII: true, into: &a)
        }
        return a
    }

    /// The checks on the lower-cased ASCII domain.
    private func assess(local: UnsafeRawBufferPointer, domain d: UnsafeRawBufferPointer, localOK: Bool,
                        localASCII: Bool, domainASCII: Bool, into a: inout Assessment) {
        let problem = EmailValidator.domainProblem(d)
        let totalLength = local.count + 1 + d.count
        if localOK && problem == .noDot && specialTLDs.contains(d) {
            a.add(.specialUse, fatal: true)     // "localhost", "local"
            return
        }
        if !localOK || problem != nil || totalLength > 254 {
            a.add(.syntax, fatal: true)
            // "gmailcom", "hotmail": a missing dot that a provider explains.
            if localOK && problem == .noDot, let fixed = typos.suggest(d) {
                a.suggestion = String(decoding: local, as: UTF8.self) + "@" + fixed
            }
            return
        }
        if !domainASCII {
            a.asciiEmail = String(decoding: local, as: UTF8.self) + "@" + String(decoding: d, as: UTF8.self)
        }
        if !localASCII { a.add(.smtputf8) }

        // Special-use names: the last label, or a reserved second-level domain.
        let lastDot = d.lastIndex(of: UInt8(ascii: "."))!
        if specialTLDs.contains(UnsafeRawBufferPointer(rebasing: d[(lastDot + 1)...]))
            || specialDomains.containsDomainOrParent(d) {
            a.add(.specialUse, fatal: true)
            return
        }
        let listed = disposable.containsDomainOrParent(d)
        let allow = allowed.containsDomainOrParent(d)
        if listed && !allow { a.add(.disposable, fatal: strictDisposable) }
        if isRole(local) { a.add(.role) }
        // A domain named in a list is real: never "corrected" towards a provider.
        if !listed && !allow, let fixed = typos.suggest(d) {
            a.add(.typo)
            a.suggestion = String(decoding: local, as: UTF8.self) + "@" + fixed
        }
        if wantsLookupDomain && a.fatal.isEmpty { a.lookupDomain = String(decoding: d, as: UTF8.self) }
    }

    /// Role local parts match without a `+tag` and with ASCII case folded.
    @inline(__always)
    private func isRole(_ local: UnsafeRawBufferPointer) -> Bool {
        var end = local.count
        if let plus = local.firstIndex(of: UInt8(ascii: "+")) { end = plus }
        guard end > 0, end <= 32 else { return false }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: end) { buffer in
            for i in 0..<end {
                let b = local[i]
                buffer[i] = b >= 65 && b <= 90 ? b + 32 : b
            }
            return roles.contains(UnsafeRawBufferPointer(buffer))
        }
    }

    @inline(__always) private func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }

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

    /// RFC 5322 `atext`.
    static let atext: [Bool] = {
        var t = [Bool](repeating: false, count: 128)
        for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-".utf8 {
            t[Int(c)] = true
        }
        return t
    }()

    /// IDNA 2008 / UTS #46 non-transitional lookup conversion by libidn2.
    public static func idnaToASCII(_ domain: UnsafeRawBufferPointer) -> [UInt8]? {
        var input = [CChar](repeating: 0, count: domain.count + 1)
        for i in 0..<domain.count { input[i] = CChar(bitPattern: domain[i]) }
        var output: UnsafeMutablePointer<CChar>? = nil
        let flags = Int32(IDN2_NFC_INPUT.rawValue | IDN2_NONTRANSITIONAL.rawValue)
        let rc = idn2_to_ascii_8z(input, &output, flags)
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
}
