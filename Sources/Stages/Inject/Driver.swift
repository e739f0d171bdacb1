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
    public var attempts = 0
    public var vmta: String?
    /// The journal said this record was begun but never finished: a crash caught it in flight.
    public var resent = false
    let journal: Journal
}

/// How one record ended.
public struct Outcome {
    public var outcome: String
    public var code: Int?
    public var remoteID: String?
    public var error: String?

    public static func sent(code: Int?, remoteID: String?) -> Outcome { Outcome(outcome: "sent", code: code, remoteID: remoteID) }
    public static func failed(code: Int?, _ error: String) -> Outcome { Outcome(outcome: "failed", code: code, error: error) }
    public static func deferred(code: Int?, _ error: String) -> Outcome { Outcome(outcome: "deferred", code: code, error: error) }
    public static func skipped(code: Int?, remoteID: String?, _ error: String?) -> Outcome {
        Outcome(outcome: "skipped", code: code, remoteID: remoteID, error: error)
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
}

extension InjectChannel {
    public func transport(connections: Int) throws -> Transport? { nil }
    public func released(_ item: Item, tenant: TenantContext) {}
}

/// A tenant's state as inject sees it: its folder, tenant.json, journals, and channel data.
public final class TenantContext {
    public let slug: TenantSlug
    public let directory: TenantDirectory
    public let config: TenantConfig
    var journals: [String: Journal] = [:]
    /// Channel-owned per-tenant data (the vmta picker, MailWizz settings).
    public var channelData: AnyObject?

    init(slug: TenantSlug, directory: TenantDirectory, config: TenantConfig) {
        self.slug = slug; self.directory = directory; self.config = config
    }
}

/// Monotonic seconds.
func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
