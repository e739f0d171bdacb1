#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// A contact's status (docs/design.md §2), read from whatever an import or a person wrote: the
/// nine names, and the other spellings of the do-not-contact ones that exports carry
/// (`blocklisted`, `opted-out`, `désabonné`, `spam`…). A status is *sticky* when only
/// `account suppress --remove` may lift it, and *mailable* when a message may go to the contact.
public enum ContactStatus: String, Sendable, CaseIterable {
    case pending, validated, invalid, risky, injected, bounced, unsubscribed, complained, blacklisted

    /// Other spellings, after folding (lower case; spaces, `-` and `.` as `_`).
    static let aliases: [String: ContactStatus] = {
        var table: [String: ContactStatus] = [:]
        let groups: [(ContactStatus, [String])] = [
            (.blacklisted, ["blocklisted", "block_listed", "black_listed", "blacklist", "blocklist", "blocked", "banned",
                            "do_not_contact", "do_not_mail", "do_not_email", "dnc", "donotcontact", "donotmail", "suppressed",
                            "gesperrt", "bloqueado", "bloque", "bloqué", "заблокирован"]),
            (.unsubscribed, ["unsubscribe", "unsub", "opted_out", "opt_out", "optout", "optedout", "opted_out_email",
                             "desabonne", "désabonné", "desinscrit", "désinscrit", "abgemeldet", "ausgetragen", "baja",
                             "dado_de_baja", "descadastrado", "descadastrada", "отписан", "отписался", "退订", "已退订", "إلغاء_الاشتراك"]),
            (.complained, ["complaint", "spam", "spam_complaint", "abuse", "marked_as_spam", "spamreport", "spam_report", "plainte"]),
            (.bounced, ["bounce", "hard_bounce", "hard_bounced", "hardbounce", "hardbounced", "rebote", "rejeté"]),
            (.validated, ["valid", "verified", "active", "subscribed", "confirmed", "ok", "opted_in", "opt_in", "optin"]),
            (.pending, ["new", "unverified", "unconfirmed", "unknown_yet"]),
            (.injected, ["sent", "mailed"]),
        ]
        for (status, names) in groups { for n in names { table[n] = status } }
        for s in ContactStatus.allCases { table[s.rawValue] = s }
        return table
    }()

    /// The status a text names, or nil when it names none.
    public init?(parsing text: String) {
        if let exact = ContactStatus(rawValue: text) { self = exact; return }
        var folded = ""
        for ch in text.lowercased() { folded.append(ch == " " || ch == "-" || ch == "." ? "_" : ch) }
        while folded.hasPrefix("_") { folded.removeFirst() }
        while folded.hasSuffix("_") { folded.removeLast() }
        guard let s = ContactStatus.aliases[folded] else { return nil }
        self = s
    }

    /// Never lifted by a merge or a bookkeeping update (only by `account suppress --remove`).
    public var isSticky: Bool {
        switch self {
        case .bounced, .unsubscribed, .complained, .blacklisted: return true
        default: return false
        }
    }

    /// A message may go to a contact of this status.
    public var isMailable: Bool {
        switch self {
        case .pending, .validated, .risky, .injected: return true
        case .invalid, .bounced, .unsubscribed, .complained, .blacklisted: return false
        }
    }

    /// The status a plain (unescaped) string's bytes name exactly, or nil: the common case of a
    /// commit's records, read without making a String.
    init?(exactName bytes: UnsafeRawBufferPointer) {
        let candidate: ContactStatus
        switch (bytes.count, bytes.first ?? 0) {
        case (7, UInt8(ascii: "p")): candidate = .pending
        case (9, UInt8(ascii: "v")): candidate = .validated
        case (7, UInt8(ascii: "i")): candidate = .invalid
        case (5, UInt8(ascii: "r")): candidate = .risky
        case (8, UInt8(ascii: "i")): candidate = .injected
        case (7, UInt8(ascii: "b")): candidate = .bounced
        case (12, UInt8(ascii: "u")): candidate = .unsubscribed
        case (10, UInt8(ascii: "c")): candidate = .complained
        case (11, UInt8(ascii: "b")): candidate = .blacklisted
        default: return nil
        }
        var name = candidate.rawValue
        guard name.withUTF8({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) else { return nil }
        self = candidate
    }

    /// True for a member value that names a sticky status (in any spelling); false for a
    /// non-string.
    public static func isSticky(_ value: JSONNode) -> Bool {
        guard value.kind == .string else { return false }
        if !value.isEscaped, let status = ContactStatus(exactName: value.rawContent) { return status.isSticky }
        guard let text = value.string else { return false }
        return isSticky(text)
    }

    /// True for a status text that names a sticky status (in any spelling).
    public static func isSticky(_ text: String) -> Bool { ContactStatus(parsing: text)?.isSticky ?? false }
}
