#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// Why an open or a click is taken for a machine's (`"machine": true`, `machine_reason` on the
/// event): such events are kept in the books but are not engagement (Engagement, the A/B report).
/// The rules, in the order they are tried (docs/serve.md "Tracking"):
public enum MachineReason: String, Sendable, CaseIterable {
    /// A HEAD request: a link checker (a person's browser GETs).
    case head
    /// No User-Agent at all.
    case noUserAgent = "no_user_agent"
    /// A mailbox provider's image proxy fetching the pixel for the reader, whether or not they
    /// look: Apple Mail Privacy Protection (its bare `Mozilla/5.0`, or an address in Apple's
    /// 17.0.0.0/8), GoogleImageProxy, YahooMailProxy.
    case privacyProxy = "privacy_proxy"
    /// A security scanner, link previewer, crawler or HTTP library by its User-Agent.
    case scanner
    /// Less than `tracking.machine_seconds` after render signed the link: faster than a person
    /// reads, so a scanner at delivery (render signs before inject sends, so this never marks a
    /// person who opened later than that after delivery).
    case tooSoon = "too_soon"
    /// Another link of the same message less than `MachineRules.burstSeconds` after the
    /// previous click: a scanner following every link at once. The first click of the burst
    /// is already recorded when the second shows the burst (the books are append-only).
    case burst
}

/// The rules above, for one tenant. The burst memory is shared by the server's threads.
public final class MachineRules: @unchecked Sendable {
    public static let burstSeconds = 2.0
    /// User-Agent fragments (lowercase) of proxies and of scanners, crawlers and libraries.
    static let proxies = ["googleimageproxy", "yahoomailproxy", "ggpht.com"]
    static let scanners = ["bot", "crawler", "spider", "preview", "scanner", "barracuda", "proofpoint", "mimecast", "messagelabs",
                           "symantec", "trendmicro", "trend micro", "forcepoint", "ironport", "cisco", "fireeye", "zscaler", "sophos",
                           "checkpoint", "safelinks", "urldefense", "headlesschrome", "phantomjs", "python-requests", "python-urllib",
                           "aiohttp", "go-http-client", "curl/", "wget", "libwww-perl", "java/", "okhttp", "apache-httpclient",
                           "facebookexternalhit", "whatsapp", "skypeuripreview"]

    let machineSeconds: Int64
    /// Per message (tenant, campaign, address hash): the last click's time (monotonic seconds) and URL hash.
    private let lastClick = Guarded<[UInt64: (at: Double, url: UInt64)]>([:])
    static let memoryLimit = 200_000

    public init(machineSeconds: Int) {
        self.machineSeconds = Int64(machineSeconds)
    }

    /// The facts of one request the rules look at.
    public struct Request {
        public var isHead: Bool
        public var userAgent: String?
        /// The client's address (the peer, or the last X-Forwarded-For hop a local proxy added).
        public var address: String
        /// Wall-clock time of the request, and monotonic seconds (for the burst).
        public var at: Timestamp
        public var monotonic: Double

        public init(isHead: Bool, userAgent: String?, address: String, at: Timestamp, monotonic: Double) {
            self.isHead = isHead
            self.userAgent = userAgent
            self.address = address
            self.at = at
            self.monotonic = monotonic
        }
    }

    /// Why this open or click is a machine's, or nil for a person's. A click is remembered for
    /// the burst rule (a machine's too: a scanner's later clicks are machine's as well).
    public func judge(_ request: Request, link: TrackingLinkFacts) -> MachineReason? {
        var reason = MachineRules.byRequest(request)
        if reason == nil, request.at.seconds - link.signedAt.seconds < machineSeconds { reason = .tooSoon }
        if let url = link.urlHash {
            let burst = lastClick.withLock { clicks in
                let last = clicks[link.message]
                if clicks.count >= MachineRules.memoryLimit { clicks.removeAll(keepingCapacity: true) }
                clicks[link.message] = (request.monotonic, url)
                guard let last else { return false }
                return last.url != url && request.monotonic - last.at < MachineRules.burstSeconds
            }
            if burst, reason == nil { reason = .burst }
        }
        return reason
    }

    /// The rules that need only the request.
    static func byRequest(_ request: Request) -> MachineReason? {
        if request.isHead { return .head }
        guard let agent = request.userAgent?.trimmingBlanks, !agent.isEmpty else { return .noUserAgent }
        let lower = agent.lowercased()
        if agent == "Mozilla/5.0" || isApple(request.address) || proxies.contains(where: { lower.contains($0) }) { return .privacyProxy }
        if scanners.contains(where: { lower.contains($0) }) { return .scanner }
        return nil
    }

    /// Apple's 17.0.0.0/8 (the egress of Mail Privacy Protection's proxies).
    static func isApple(_ address: String) -> Bool {
        var a = Substring(address)
        if a.hasPrefix("::ffff:") { a = a.dropFirst(7) }
        return a.hasPrefix("17.") && a.split(separator: ".").count == 4
    }

    /// The address to judge: the peer, or when the peer is this host (a reverse proxy in front),
    /// the last address of X-Forwarded-For.
    public static func clientAddress(peer: String, forwardedFor: String?) -> String {
        let local = peer == "127.0.0.1" || peer == "::1" || peer == "::ffff:127.0.0.1"
        guard local, let forwardedFor, let last = forwardedFor.split(separator: ",").last?.trimmingBlanks, !last.isEmpty else { return peer }
        return String(last)
    }

    /// Seconds of a monotonic clock (for the burst rule: wall-clock steps do not make bursts).
    public static func monotonicNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// What the rules need of a verified link.
public struct TrackingLinkFacts {
    /// One message: hash of (tenant, campaign, address).
    public var message: UInt64
    /// The click's URL hash (nil for an open).
    public var urlHash: UInt64?
    public var signedAt: Timestamp

    public init(message: UInt64, urlHash: UInt64?, signedAt: Timestamp) {
        self.message = message
        self.urlHash = urlHash
        self.signedAt = signedAt
    }
}
