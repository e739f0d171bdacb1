#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import MailpipeCore
import MailpipeHTTP
import MailpipeStore

/// `account serve`: the HTTP receiver of a tenant's (or several tenants') outside events —
/// RFC 8058 one-click unsubscribes and the ESPs' signed event webhooks — written through the
/// same books as `account events`. Routes:
///
///     GET|POST <path of unsubscribe.url>?t=&c=&e=&s=   one-click unsubscribe (UnsubscribeRoute)
///     POST /webhooks/<tenant>/sendgrid|postmark|ses     ESP events (WebhookRoutes)
///     POST /webhooks/<tenant>/mailwizz?secret=           MailWizz opens and clicks (WebhookRoutes)
///     GET  <path of tracking.url>/click|open?t=&c=&r=&a=[&u=]&s=   opens and clicks (TrackingRoutes)
///     GET  /healthz                                      200 while serving
///     GET  /metrics                                      Prometheus metrics (MetricsRoute)
///
/// It stops on SIGTERM or SIGINT: no new connections, the requests being handled are answered
/// (their appends finish), then the process exits 0.
public enum ServeStage {
    public struct Options {
        public var tenants: [TenantSlug]
        public var state: StateRoot
        public var listen: [HTTPServer.Address]
        public var limits: HTTPServer.Limits
        /// Seconds a stop waits for the requests under way.
        public var stopDeadline: Double
        public var accessLog: Bool

        public init(tenants: [TenantSlug], state: StateRoot, listen: [HTTPServer.Address], limits: HTTPServer.Limits = .init(),
                    stopDeadline: Double = 30, accessLog: Bool = true) {
            self.tenants = tenants
            self.state = state
            self.listen = listen
            self.limits = limits
            self.stopDeadline = stopDeadline
            self.accessLog = accessLog
        }
    }

    /// The route table for `tenants` (also what the tests drive in-process).
    static func routes(_ tenants: [ServedTenant], log: AccessLog? = nil, notices: @escaping @Sendable (String) -> Void) -> Router {
        let router = Router()
        router.add("healthz", [.get], "/healthz", maxBody: 0, rateLimited: false) { _, respond in
            respond(.text(200, "ok", outcome: "ok"))
        }
        let metrics = MetricsRoute(tenants: tenants, log: log, notices: notices)
        router.add("metrics", [.get], "/metrics", maxBody: 0, rateLimited: false) { _, respond in metrics.handle(respond) }
        var byPath: [String: [String: ServedTenant]] = [:]
        for t in tenants { byPath[t.unsubscribePath, default: [:]][t.slug] = t }
        for path in byPath.keys.sorted() {
            let route = UnsubscribeRoute(tenants: byPath[path]!)
            router.add("unsubscribe", [.get, .post], path, maxBody: 4 << 10) { request, respond in route.handle(request, respond) }
        }
        TrackingRoutes.add(to: router, tenants: tenants)
        let webhooks = WebhookRoutes(tenants: Dictionary(uniqueKeysWithValues: tenants.map { ($0.slug, $0) }), notices: notices)
        // SendGrid batches up to a few MB of events per request; the others send one message each.
        let providers: [(WebhookRoutes.Provider, Int)] = [(.sendgrid, 4 << 20), (.postmark, 1 << 20), (.ses, 1 << 20), (.mailwizz, 1 << 20)]
        for (provider, maxBody) in providers {
            router.add(provider.rawValue, [.post], "/webhooks/:tenant/\(provider.rawValue)", maxBody: maxBody) { request, respond in
                webhooks.handle(provider, request, respond)
            }
        }
        return router
    }

    /// Serves until SIGTERM/SIGINT; returns the summary of what was answered.
    public static func run(_ options: Options, started: ([HTTPServer.Address]) -> Void = { _ in }) throws -> Summary {
        guard !options.tenants.isEmpty else { throw StageError.usage("give --tenant (repeatable)") }
        guard !options.listen.isEmpty else { throw StageError.usage("give --listen HOST:PORT (repeatable)") }
        var seen = Set<String>()
        for t in options.tenants where !seen.insert(t.value).inserted { throw StageError.usage("--tenant \(t.value) is given twice") }
        let tenants = try options.tenants.map { try ServedTenant(slug: $0, state: options.state) }
        let log = AccessLog(enabled: options.accessLog)
        let notices: @Sendable (String) -> Void = { try? FileDescriptor.standardError.writeAll("account serve: \($0)\n") }
        let server = HTTPServer(router: routes(tenants, log: log, notices: notices), limits: options.limits, log: log)

        // Signals are taken by a dispatch source (not a handler), so the stop runs as plain code.
        let stop = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        let bound = try server.start(options.listen)
        for address in bound {
            notices("listening on http://\(address) for \(tenants.map(\.slug).joined(separator: ", "))")
        }
        started(bound)
        stop.wait()
        notices("stopping: finishing the requests under way")
        server.stop(deadline: options.stopDeadline)
        for t in tenants { t.commits.stop() }
        for s in sources { s.cancel() }

        var summary = Summary(stage: "account serve", headline: ["requests", "groups"])
        summary["requests"] = log.totals.values.reduce(0, +)
        summary["groups"] = tenants.reduce(0) { $0 + $1.commits.stats.groups }
        summary.setGroup("answers", log.totals)
        return summary
    }
}
