#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeCurl
import MailpipeStore

/// One input record on its way through `inject`.
public struct Item {
    public let seq: Int
    public let tenant: String
    public let email: String
    public let campaign: String
    /// The message's A/B variant (render), carried into the outcome.
    public var variant: String?
    public var attempts = 0
    public var vmta: String?
    /// The SMTP route it went by (`inject smtp` routes), in the outcome.
    public var route: String?
    /// The journal said this record was begun but never finished: a crash caught it in flight.
    public var resent = false
    /// Why the tenant's policy says this address must not be mailed (nil: it may be). A channel
    /// that pushes the refusal (MailWizz: unsubscribe) gets the item; others skip it.
    public var refusal: MailPolicy.Refusal?
    /// The record's bytes, for the dead-letter file when it fails.
    public var bytes: [UInt8] = []
    let journal: Journal

    /// What delivering this record does remotely, when a channel does more than one thing
    /// (MailWizz: `subscribe` or `unsubscribe`). The journal skips a record only when the same
    /// action was already done for it, so a status change is always pushed.
    public var action: String?
}

/// The kind of an outcome record.
public enum OutcomeKind: String, Sendable {
    case sent, deferred, failed, skipped
}

/// Why a record was not sent, in the outcome's `reason` member.
public enum OutcomeReason: String, Sendable {
    /// The tenant's policy refuses the address (suppression list, or a do-not-contact status).
    case suppressed
    /// The journal says it was sent already.
    case alreadySent = "already_sent"
    /// The journal says it failed permanently before (`--retry-failed` tries it again).
    case failedBefore = "failed_before"
    /// The remote side refused this recipient for good (SMTP 5xx, HTTP 409/410/422…): final,
    /// recorded by `account record` as a bounce, never retried unless `--retry-failed`.
    case permanent
    /// A failure of ours (TLS trust, AUTH, a wrong key or URL): not the recipient's; a run
    /// after the fix tries it again.
    case configuration
    /// No warm-up quota left today.
    case quota
    /// Transient failures until --max-attempts.
    case transient
    /// The campaign's pause switch is on (`inject pause`).
    case paused
    /// Outside the send window, or before `--not-before`: `not_before` says when it may leave.
    case scheduled
}

/// How one record ended.
public struct Outcome {
    public var outcome: OutcomeKind
    public var code: Int?
    public var remoteID: String?
    public var error: String?
    public var reason: OutcomeReason?
    /// When a record that may not leave yet may (send window, --not-before).
    public var notBefore: Timestamp?

    public static func sent(code: Int?, remoteID: String?) -> Outcome { Outcome(outcome: .sent, code: code, remoteID: remoteID) }
    /// A failure; `reason` says whether it is the recipient's for good (`.permanent`) or ours (`.configuration`).
    public static func failed(code: Int?, _ error: String, _ reason: OutcomeReason) -> Outcome {
        Outcome(outcome: .failed, code: code, error: error, reason: reason)
    }
    public static func deferred(code: Int?, _ error: String, _ reason: OutcomeReason) -> Outcome {
        Outcome(outcome: .deferred, code: code, error: error, reason: reason)
    }
    public static func skipped(code: Int?, remoteID: String?, _ error: String?, _ reason: OutcomeReason? = nil) -> Outcome {
        Outcome(outcome: .skipped, code: code, remoteID: remoteID, error: error, reason: reason)
    }
}

/// Work for one transfer slot: one SMTP message, one HTTP request, or a MailWizz call covering
/// one or more records. Channels keep their own per-step state in `step`, `uid` and `payload`.
public final class Job {
    public var items: [Item]
    public var step = 0
    public var uid: String?
    public var payload: [UInt8] = []
    public var envelopeFrom = ""
    /// The Message-ID an SMTP message carries (journalled with `begin`).
    public var messageID: String?
    /// The channel's per-tenant data this job uses.
    public var tenantData: AnyObject?
    /// Form fields per item (MailWizz), aligned with `items`.
    public var fields: [[(String, String)]] = []
    /// Attempts of the current step (reset by the channel when it moves to another step).
    public var stepAttempts = 0
    /// Steps taken so far (guards against loops such as create → 409 → search → 404 → create).
    public var hops = 0
    /// The routes this job may take, in failover order (indexes into the tenant's `SmtpRoutes`),
    /// and the one it is on.
    public var routeChain: [Int] = []
    public var routePosition = 0
    var notBefore = 0.0

    public init(items: [Item]) { self.items = items }
}

/// What a finished transfer means.
public struct Finish {
    /// Final outcomes, by index into the job's items.
    public var outcomes: [(Int, Outcome)] = []
    /// Jobs to run next (possibly the same job, moved to another step), without backoff.
    public var followUps: [Job] = []
    /// A transient failure of the whole job: retried with backoff, else `deferred`.
    public var retry: (code: Int?, error: String)?

    public init(outcomes: [(Int, Outcome)] = [], followUps: [Job] = [], retry: (code: Int?, error: String)? = nil) {
        self.outcomes = outcomes; self.followUps = followUps; self.retry = retry
    }

    public static func all(_ job: Job, _ outcome: Outcome) -> Finish {
        Finish(outcomes: job.items.indices.map { ($0, outcome) })
    }
}

public enum Intake {
    case outcome(Outcome)
    case job(Job)
    /// Held by the channel (e.g. in a bulk batch not yet full).
    case held
}

/// A delivery channel: SMTP, MailWizz or HTTP.
public protocol InjectChannel: AnyObject {
    var name: String { get }
    /// A transport of the channel's own (SMTP), or nil for libcurl's multi interface.
    func transport(connections: Int) throws -> Transport?
    /// Campaign for records that carry none and were given no --campaign (nil: reject them).
    func defaultCampaign(tenant: TenantContext) throws -> String?
    /// Called once per handle in the pool.
    func prepare(_ easy: CurlEasy) throws
    /// Turns a record that is not in the journal as sent into work, or an immediate outcome.
    func intake(_ record: Record, item: Item, tenant: TenantContext) throws -> Intake
    /// Work still held at the end of the input.
    func drain() -> [Job]
    func configure(_ easy: CurlEasy, for job: Job) throws
    func finish(_ job: Job, easy: CurlEasy, error: CurlError?) -> Finish
    /// A record that will not be sent after all (failed, deferred): give back what was reserved.
    func released(_ item: Item, tenant: TenantContext)
    /// True when a refused address is work for the channel (MailWizz unsubscribes it); false
    /// when it is skipped (`skipped`, reason `suppressed`).
    var pushesRefusals: Bool { get }
    /// What delivering the item does remotely (nil: the channel does one thing only).
    func action(for item: Item) -> String?
    /// The action journal lines without one stand for (written before actions were journalled).
    var defaultAction: String? { get }
}

extension InjectChannel {
    public func transport(connections: Int) throws -> Transport? { nil }
    public func released(_ item: Item, tenant: TenantContext) {}
    public var pushesRefusals: Bool { false }
    public func action(for item: Item) -> String? { nil }
    public var defaultAction: String? { nil }
}

/// A tenant's state as inject sees it: its folder, tenant.json, journals, and channel data.
public final class TenantContext {
    public let slug: TenantSlug
    public let directory: TenantDirectory
    public let config: TenantConfig
    var journals: [String: Journal] = [:]
    /// Channel-owned per-tenant data (the vmta picker, MailWizz settings).
    public var channelData: AnyObject?
    /// Who may be mailed (the store's answer), re-read when the suppression list changes.
    public private(set) var policy: MailPolicy
    private var policyCheckedAt = monotonicNow()

    init(slug: TenantSlug, directory: TenantDirectory, config: TenantConfig) throws {
        self.slug = slug; self.directory = directory; self.config = config
        policy = try MailPolicy.load(directory)
    }

    /// Picks up suppression entries added since the list was read (at most once a second), so an
    /// unsubscribe made while a long run goes on holds from then on.
    func refreshPolicy() throws {
        let now = monotonicNow()
        guard now - policyCheckedAt >= 1 else { return }
        policyCheckedAt = now
        try policy.refresh()
    }
}

/// Monotonic seconds.
func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
