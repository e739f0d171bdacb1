/// The route table: method + path pattern → handler, with the body limit of that route.
///
/// A pattern is a path whose segments are literal or `:name` (one segment, any text), e.g.
/// `/webhooks/:tenant/sendgrid`. A path that matches no pattern is 404; one that matches with
/// another method is 405 with `Allow`. Routes are tried in the order they were added.
public final class Router: @unchecked Sendable {
    /// Handlers answer through `respond`, at once or later from any thread (a group commit
    /// answers once its append is durable). `respond` must be called exactly once.
    public typealias Handler = @Sendable (HTTPRequest, @escaping @Sendable (HTTPResponse) -> Void) -> Void

    public struct Route: Sendable {
        public let name: String
        public let methods: [HTTPMethod]
        let segments: [Segment]
        /// Largest body taken on this route; a longer one is 413 before the handler runs.
        public let maxBody: Int
        /// Requests on this route count against the per-client rate limit.
        public let rateLimited: Bool
        let handler: Handler
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    public private(set) var routes: [Route] = []
    /// Body limit for requests that match no route (they are refused anyway).
    public var defaultMaxBody = 4096

    public init() {}

    /// Adds a route. `name` is what the access log and the counters call it.
    public func add(_ name: String, _ methods: [HTTPMethod], _ pattern: String, maxBody: Int = 64 << 10,
                    rateLimited: Bool = true, _ handler: @escaping Handler) {
        let segments = Router.split(pattern).map { $0.hasPrefix(":") ? Segment.parameter(String($0.dropFirst())) : .literal($0) }
        routes.append(Route(name: name, methods: methods, segments: segments, maxBody: maxBody, rateLimited: rateLimited,
                            handler: handler))
    }

    static func split(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    public enum Match {
        case found(Route, [String: String])
        /// The path exists with other methods.
        case wrongMethod(allowed: [HTTPMethod])
        case notFound
    }

    public func match(_ method: HTTPMethod, path: String) -> Match {
        let parts = Router.split(path)
        var allowed: [HTTPMethod] = []
        for route in routes where route.segments.count == parts.count {
            var parameters: [String: String] = [:]
            var matches = true
            for (segment, part) in zip(route.segments, parts) {
                switch segment {
                case .literal(let text): if text != part { matches = false }
                case .parameter(let name): parameters[name] = part
                }
                if !matches { break }
            }
            guard matches else { continue }
            if route.methods.contains(method) || (method == .head && route.methods.contains(.get)) {
                return .found(route, parameters)
            }
            allowed += route.methods
        }
        return allowed.isEmpty ? .notFound : .wrongMethod(allowed: allowed)
    }
}
