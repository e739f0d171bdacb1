import MailpipeCore

/// The one answer to "may this address be mailed now, and if not, why" — asked by `segment`
/// (selecting), `inject` (at send time, every channel) and `account`. A contact may be mailed
/// when its status (the record's, or the stored one) is mailable and its address is not on the
/// tenant's suppression list. Every do-not-contact status that enters the store — from our own
/// books or from an import — is also put on the suppression list (`account commit`, `account
/// events`, `account suppress`), so the list alone answers for a record that carries no status.
public struct MailPolicy: Sendable {
    public private(set) var suppression: SuppressionList

    /// Why a message must not go to an address.
    public enum Refusal: Sendable, Equatable, CustomStringConvertible {
        /// On the tenant's suppression list.
        case suppressed
        /// A status that is not mailable (bounced, unsubscribed, complained, blacklisted, invalid).
        case status(ContactStatus)
        /// A status mailpipe does not know: never guessed to be mailable.
        case unknownStatus(String)

        public var description: String {
            switch self {
            case .suppressed: return "on the suppression list"
            case .status(let s): return "status \(s.rawValue)"
            case .unknownStatus(let text): return "status '\(text)' is not one mailpipe knows (a person must decide)"
            }
        }

        /// A short label for counts (`held_back_reasons`).
        public var label: String {
            switch self {
            case .suppressed: return "suppression list"
            case .status(let s): return "status \(s.rawValue)"
            case .unknownStatus: return "status unknown"
            }
        }
    }

    public enum Decision: Sendable, Equatable {
        case allowed
        case refused(Refusal)
    }

    /// No list (a stage run without tenant state).
    public init() { suppression = SuppressionList() }

    public init(suppression: SuppressionList) { self.suppression = suppression }

    /// The policy of a tenant: its suppression list as of now.
    public static func load(_ dir: TenantDirectory, maxLine: Int = 1 << 20) throws -> MailPolicy {
        MailPolicy(suppression: try SuppressionList.load(path: dir.suppressionPath, maxLine: maxLine))
    }

    /// Picks up changes to the suppression list since it was read.
    public mutating func refresh() throws { try suppression.refresh() }

    /// The decision for a status text (nil or empty: none given) alone.
    public static func decide(status: String?) -> Decision {
        guard let status, !status.isEmpty else { return .allowed }
        guard let s = ContactStatus(parsing: status) else { return .refused(.unknownStatus(status)) }
        return s.isMailable ? .allowed : .refused(.status(s))
    }

    /// The decision for an address by its `EmailKey.hash` and the status its record carries.
    public func decide(emailHash: UInt64, status: String?) -> Decision {
        let byStatus = MailPolicy.decide(status: status)
        if byStatus != .allowed { return byStatus }
        return suppression.contains(hash: emailHash) ? .refused(.suppressed) : .allowed
    }

    /// The same for an address as text (normalised here).
    public func mayMail(_ email: String, status: String? = nil) -> Decision {
        decide(emailHash: EmailKey.hash(EmailKey.normalize(email)), status: status)
    }
}
