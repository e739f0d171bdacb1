import MailpipeCore
import MailpipeStore

/// The SMTP routes of `inject smtp` (tenant.json `routes`, or `--rules FILE`) and which of them
/// are down. A record's chain is the routes whose `domains` hold its recipient's domain, then
/// the routes without `domains`, in the order listed. A route that cannot be reached (connection
/// refused or timed out, a 4xx greeting, a TLS or AUTH failure while connecting) is down for
/// `downFor` seconds: its job moves to the next route of its chain at once, and new jobs start
/// on the first route that is up.
final class SmtpRoutes {
    struct Route {
        let config: RouteConfig
        /// Credentials read from the environment variables the route names.
        let username: String?
        let password: String?
    }

    let routes: [Route]
    private var downUntil: [Double]
    static let downFor = 30.0

    init(_ configs: [RouteConfig], environment: (String) -> String? = FileSystem.environment) throws {
        routes = try configs.map { c in
            func secret(_ name: String?, _ what: String) throws -> String? {
                guard let name else { return nil }
                guard let value = environment(name), !value.isEmpty else {
                    throw StageError.configuration("route \(c.name): \(what) names \(name), which is not set in the environment")
                }
                return value
            }
            return Route(config: c, username: try secret(c.usernameEnv, "username_env"), password: try secret(c.passwordEnv, "password_env"))
        }
        downUntil = Array(repeating: 0, count: configs.count)
    }

    /// The routes for a recipient, in failover order.
    func chain(for email: String) -> [Int] {
        let domain = email.split(separator: "@").last.map { $0.lowercased() } ?? ""
        let specific = routes.indices.filter { routes[$0].config.domains?.contains(domain) ?? false }
        return specific + routes.indices.filter { routes[$0].config.domains == nil }
    }

    func isDown(_ route: Int, now: Double = monotonicNow()) -> Bool { now < downUntil[route] }

    func markDown(_ route: Int) { downUntil[route] = monotonicNow() + SmtpRoutes.downFor }

    /// The position in `chain` of the first route after `position` that is up (nil: none).
    func nextUp(_ chain: [Int], after position: Int) -> Int? {
        let now = monotonicNow()
        return chain.indices.first { $0 > position && !isDown(chain[$0], now: now) }
    }

    /// Puts the job on position `position` of its chain.
    func assign(_ job: Job, position: Int) {
        job.routePosition = position
        let route = routes[job.routeChain[position]]
        job.uid = route.config.url
        for i in job.items.indices { job.items[i].route = route.config.name }
    }

    /// The route a job is on.
    func route(of job: Job) -> Route? {
        job.routeChain.indices.contains(job.routePosition) ? routes[job.routeChain[job.routePosition]] : nil
    }
}
