import MailpipeCore

/// The one answer to "may this address be mailed now, and if not, why" — asked by `segment`
/// (selecting), `inject` (at send time, every channel) and `account`. A contact may be mailed
/// when its status (the record's, or the stored one) is mailable and its address is not on the
/// tenant's suppression list. Every do-not-contact status that enters the store — from our own
/// books or from an import — is also put on the suppression list (`account commit`, `account
/// events`, `account suppress`), so the list alone answers for a record that carries no status.
///
/// Readers take no lock, so the list they read may lag the event log, its source of truth: a run
/// of `account` between logging events (its commit point) and putting their addresses on the list,
/// or interrupted there, or a list cut short by damage. The policy compares the logs with the
/// ledger (how much of each the books have applied) and replays what the list does not reflect
/// yet, with the books' own rule (`SuppressionRule`); a replay only ever adds addresses.
public struct MailPolicy: Sendable {
    public private(set) var suppression: SuppressionList
    /// Addresses (hashes) logged events put on the list that the list does not show yet.
    public private(set) var pending: Set<UInt64> = []
    private var tenant: TenantDirectory?
    /// The sunset policy (tenant.json `engagement`; none without a tenant).
    public private(set) var engagementRules = EngagementRules()
    /// The time a sunset is judged at (`--now`).
    public var now = Timestamp.current()
    /// The event log's size and the list's length when last compared with the ledger.
    private var compared: (events: Int, list: Int)?

    /// Why a message must not go to an address.
    public enum Refusal: Sendable, Equatable, CustomStringConvertible {
        /// On the tenant's suppression list.
        case suppressed
        /// A status that is not mailable (bounced, unsubscribed, complained, blacklisted, invalid).
        case status(ContactStatus)
        /// A status mailpipe does not know: never guessed to be mailable.
        case unknownStatus(String)
        /// Held back by the tenant's sunset policy: no engagement in that many sends or days.
        case sunset(SunsetRule)

        public var description: String {
            switch self {
            case .suppressed: return "on the suppression list"
            case .status(let s): return "status \(s.rawValue)"
            case .unknownStatus(let text): return "status '\(text)' is not one mailpipe knows (a person must decide)"
            case .sunset(let rule): return "sunset: \(rule)"
            }
        }

        /// A short label for counts (`held_back_reasons`).
        public var label: String {
            switch self {
            case .suppressed: return "suppression list"
            case .status(let s): return "status \(s.rawValue)"
            case .unknownStatus: return "status unknown"
            case .sunset(let rule): return "sunset: \(rule)"
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

    /// The policy of a tenant: its suppression list as of now, with what the event log adds.
    public static func load(_ dir: TenantDirectory, maxLine: Int = 1 << 20) throws -> MailPolicy {
        var policy = MailPolicy(suppression: try SuppressionList.load(path: dir.suppressionPath, maxLine: maxLine))
        policy.tenant = dir
        policy.engagementRules = try dir.loadConfig().engagement
        try policy.catchUp()
        return policy
    }

    /// Picks up changes to the suppression list (and the event log) since they were read.
    public mutating func refresh() throws {
        try suppression.refresh()
        try catchUp()
    }

    /// How many addresses the list holds back, with those logged events add that it does not
    /// show yet (`account report`'s `suppressed`).
    public var suppressedCount: Int { suppression.count + pending.subtracting(suppression.hashes).count }

    /// True when no address is held back by the list (only statuses decide).
    public var listsNobody: Bool { suppression.count == 0 && pending.isEmpty }

    /// Replays the logged events the list does not reflect: those past the ledger's
    /// `events_length` (a run applying them, or interrupted), or every event when the list is
    /// shorter than the ledger says or the ledger cannot be read (then with a warning naming the
    /// repair).
    private mutating func catchUp() throws {
        guard let dir = tenant else { return }
        let eventsSize = FileSystem.entryExists(dir.eventsPath) ? try FileSystem.fileSize(dir.eventsPath) : 0
        if let compared, compared.events == eventsSize, compared.list == suppression.length { return }
        compared = (eventsSize, suppression.length)
        pending = []
        guard eventsSize > 0 else { return }
        let eventsLength = try AppendLog.readableLength(path: dir.eventsPath)
        let repair = "run: account fsck --tenant \(dir.slug.value) --repair"
        var from = 0
        var softBounces: [String: [Int64]] = [:]
        do {
            let ledger = try Ledger.load(path: dir.ledgerPath)
            if suppression.length < ledger.suppressionLength {
                StateWarning.emit("\(dir.suppressionPath): shorter than the ledger says (\(suppression.length) < \(ledger.suppressionLength)); "
                                  + "the addresses the event log puts on it are held back too (\(repair))")
            } else if eventsLength > ledger.eventsLength {
                from = ledger.eventsLength
                softBounces = ledger.softBounces
            } else {
                return
            }
        } catch let damage as StateDamage {
            StateWarning.emit("\(damage.file): \(damage.problem); the addresses the event log puts on the list are held back too (\(repair))")
        }
        let rule = SuppressionRule(config: try dir.loadConfig())
        pending = try rule.suppressedHashes(eventsPath: dir.eventsPath, from: from, length: eventsLength, softBounces: softBounces)
    }

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
        return suppression.contains(hash: emailHash) || pending.contains(emailHash) ? .refused(.suppressed) : .allowed
    }

    /// Whether the sunset policy can hold anyone back (callers then pass each contact's engagement).
    public var sunsets: Bool { engagementRules.sunsets }

    /// The decision for a contact: its status, the list, then the sunset policy on its stored
    /// `engagement` (nil: nothing recorded, never sunset).
    public func decide(emailHash: UInt64, status: String?, engagement: Engagement?) -> Decision {
        let decision = decide(emailHash: emailHash, status: status)
        guard decision == .allowed, let engagement, let rule = engagement.sunset(at: now, rules: engagementRules) else { return decision }
        return .refused(.sunset(rule))
    }

    /// The same for an address as text (normalised here).
    public func mayMail(_ email: String, status: String? = nil) -> Decision {
        decide(emailHash: EmailKey.hash(EmailKey.normalize(email)), status: status)
    }
}
