#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AccountStage
import Dispatch
import MailpipeCore
import MailpipeHTTP
import MailpipeStore

/// `GET /metrics`: Prometheus metrics of every served tenant — the same `TenantMetrics` as
/// `account health --prometheus` writes — and of the server itself: requests by route and
/// status code, requests refused for their token, signature or secret, rate-limited requests,
/// group commits and their latency. Not rate-limited (a scraper polls from one address). The
/// tenants' books are read off the event loop, one scrape at a time.
final class MetricsRoute: @unchecked Sendable {
    let tenants: [ServedTenant]
    let log: AccessLog?
    let notices: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "mailpipe.serve.metrics")

    init(tenants: [ServedTenant], log: AccessLog?, notices: @escaping @Sendable (String) -> Void) {
        self.tenants = tenants
        self.log = log
        self.notices = notices
    }

    func handle(_ respond: @escaping @Sendable (HTTPResponse) -> Void) {
        queue.async { [self] in
            let body = MetricsExposition.render(families(now: .current()))
            respond(HTTPResponse(status: 200, headers: [("Content-Type", MetricsExposition.contentType), ("Cache-Control", "no-store")],
                                 body: body, outcome: "ok"))
        }
    }

    func families(now: Timestamp) -> [MetricFamily] {
        var all: [MetricFamily] = []
        for t in tenants {
            let (tenantFamilies, error) = TenantMetrics.collect(tenant: t.dir.slug, state: StateRoot(explicit: t.dir.root), now: now)
            if let error { notices("\(t.slug): /metrics: the books could not be read whole: \(error)") }
            all += tenantFamilies
        }
        return all + requestFamilies() + commitFamilies()
    }

    /// From the access log's counts by route and status.
    func requestFamilies() -> [MetricFamily] {
        var requests = MetricFamily("mailpipe_http_requests_total", .counter, help: "Requests answered, by route and status code.")
        var refused = MetricFamily("mailpipe_http_rejected_tokens_total", .counter,
                                   help: "Requests refused because their token, signature or secret did not prove them (401, 403), by route.")
        var limited = MetricFamily("mailpipe_http_rate_limited_total", .counter, help: "Requests refused by the per-client rate limit (429), by route.")
        var refusedBy: [String: Int] = [:]
        var limitedBy: [String: Int] = [:]
        for (key, n) in (log?.totals ?? [:]).sorted(by: { $0.key < $1.key }) {
            // Keys are "route status".
            let parts = key.split(separator: " ")
            guard parts.count == 2, let status = Int(parts[1]) else { continue }
            let route = String(parts[0])
            requests.add(n, [("route", route), ("code", String(status))])
            if status == 401 || status == 403 { refusedBy[route, default: 0] += n }
            if status == 429 { limitedBy[route, default: 0] += n }
        }
        for (route, n) in refusedBy.sorted(by: { $0.key < $1.key }) { refused.add(n, [("route", route)]) }
        for (route, n) in limitedBy.sorted(by: { $0.key < $1.key }) { limited.add(n, [("route", route)]) }
        return [requests, refused, limited]
    }

    /// Each tenant's group commit: groups, requests in them, and how long their appends took.
    func commitFamilies() -> [MetricFamily] {
        var groups = MetricFamily("mailpipe_group_commits_total", .counter, help: "Appends of grouped requests to the tenant's books (each one fsync).")
        var requests = MetricFamily("mailpipe_group_commit_requests_total", .counter, help: "Requests whose events went through a group commit.")
        var latency = MetricFamily("mailpipe_group_commit_seconds", .histogram,
                                   help: "Seconds each group's append took to be durable (written and fsynced).")
        for t in tenants {
            let tenant = ("tenant", t.slug)
            let stats = t.commits.stats
            groups.add(stats.groups, [tenant])
            requests.add(stats.requests, [tenant])
            stats.seconds.add(to: &latency, labels: [tenant])
        }
        return [groups, requests, latency]
    }
}

/// Counts of durations in fixed buckets (seconds), with their sum: a Prometheus histogram.
public struct LatencyHistogram: Sendable {
    /// Upper bounds, from 1 ms (an fsync on a fast disk) to 10 s (a books lock held by cron).
    public static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    public private(set) var counts = [Int](repeating: 0, count: bounds.count)
    public private(set) var count = 0
    public private(set) var sum = 0.0

    public init() {}

    public mutating func observe(_ seconds: Double) {
        if let i = LatencyHistogram.bounds.firstIndex(where: { seconds <= $0 }) { counts[i] += 1 }
        count += 1
        sum += seconds
    }

    /// The `_bucket` (cumulative, `le`), `_sum` and `_count` samples.
    public func add(to family: inout MetricFamily, labels: [(String, String)]) {
        var cumulative = 0
        for (i, bound) in LatencyHistogram.bounds.enumerated() {
            cumulative += counts[i]
            family.add(cumulative, labels + [("le", MetricsExposition.number(bound))], suffix: "_bucket")
        }
        family.add(count, labels + [("le", "+Inf")], suffix: "_bucket")
        family.add(sum, labels, suffix: "_sum")
        family.add(count, labels, suffix: "_count")
    }
}
