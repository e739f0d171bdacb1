/// The statuses other tools export, as mailpipe's (DESIGN.md §2). A status that stops mail —
/// `unsubscribed`, `bounced`, `complained`, `blacklisted` — is what matters: a contact another
/// tool would not mail must never be mailed from here. The per-tool rules are in
/// docs/ingest-dedupe.md ("Statuses from other tools").
public enum ContactStatus: String, CaseIterable, Sendable {
    case pending, validated, invalid, risky, injected, bounced, unsubscribed, complained, blacklisted

    /// Whether the status stops every mailing (and so wins over any other status of the row).
    public var suppresses: Bool {
        switch self {
        case .bounced, .unsubscribed, .complained, .blacklisted: return true
        default: return false
        }
    }
}

/// What a value of a `status` column says.
public enum StatusReading: Equatable, Sendable {
    /// One of mailpipe's statuses (written as `status`).
    case status(ContactStatus)
    /// A tool's word for a contact it mails (`subscribed`, `confirmed`, `enabled`…): no status
    /// is written, so the contact stays as new to mailpipe.
    case mailable
    /// Not a status we know: kept in `status_raw`.
    case unknown
}

public enum StatusNames {
    /// Reads a status value of any of the tools in the table below (case, accents, spaces and
    /// punctuation ignored).
    public static func reading(_ text: String) -> StatusReading {
        table[HeaderAliases.compact(text)] ?? .unknown
    }

    static let table: [String: StatusReading] = {
        var t: [String: StatusReading] = [:]
        for s in ContactStatus.allCases { t[s.rawValue] = .status(s) }
        func add(_ reading: StatusReading, _ names: String) {
            for name in names.split(separator: " ") { t[HeaderAliases.compact(String(name))] = reading }
        }
        // Mailchimp: subscribed, unsubscribed, cleaned (hard bounces), pending, transactional, archived.
        // MailWizz: confirmed, unconfirmed, unsubscribed, blacklisted, unapproved, disabled, moved.
        // listmonk: enabled, disabled, blocklisted; per list unconfirmed, confirmed, unsubscribed.
        // Brevo, HubSpot, Sendy, Mailjet…: the same words and a few more.
        add(.status(.unsubscribed), """
            unsubscribe unsubscribed opted_out optedout opt_out optout opt-out disabled désabonné desabonne \
            désinscrit desinscrit abgemeldet dado_de_baja baja descadastrado отписан отписался 退订 已退订 إلغاء_الاشتراك
            """)
        add(.status(.bounced), "cleaned bounce bounced hard_bounce hardbounce hard_bounced undeliverable rebondi")
        add(.status(.blacklisted), "blacklist blocklist blocklisted blacklisted blocked banned suppressed liste_noire bloqué bloque")
        add(.status(.complained), "complaint complained spam spam_complaint abuse marked_as_spam")
        add(.mailable, """
            subscribed subscriber active enabled confirmed unconfirmed opted_in optin opt_in double_opt_in \
            single_opt_in unapproved approved transactional new abonné abonne inscrit aktiv suscrito activo \
            ativo inscrito подписан 已订阅 مشترك
            """)
        return t
    }()

    /// Whether a flag column's value is set (`Yes`, `true`, `1`, `oui`…).
    public static func isTrue(_ text: String) -> Bool {
        truthy.contains(HeaderAliases.compact(text))
    }

    static let truthy: Set<String> = ["yes", "y", "true", "t", "1", "x", "oui", "vrai", "ja", "si", "sí", "sim", "да", "是", "نعم", "हाँ", "हां"]
        .reduce(into: Set<String>()) { $0.insert(HeaderAliases.compact($1)) }
}

/// A column whose value says a contact must not be mailed, by its presence or when it is true.
public enum StatusSignal: Equatable, Sendable {
    /// Any non-empty value (`UNSUB_TIME`, `CLEAN_TIME`, a bounce reason).
    case whenPresent
    /// A true value (`EMAIL_BLACKLISTED` = Yes, `Unsubscribed from all email` = true).
    case whenTrue
}
