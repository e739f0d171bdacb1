#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP/1.1 server on SwiftNIO (its NIOHTTP1 codec parses every request; nothing here reads
/// HTTP by hand) that hands complete requests to a `Router` and enforces the limits a server
/// open to the Internet needs: body size per route, requests per client, time to send a
/// request, idle keep-alive time, connection count. Each request leaves one access-log line.
///
/// `stop()` stops accepting, answers new requests on open connections 503, and returns once
/// every request already handed to a handler has been answered (their appends are durable).
public final class HTTPServer: @unchecked Sendable {
    public struct Limits: Sendable {
        /// Requests per second per client address (0: no limit), and the burst allowed.
        public var clientRate: Double = 50
        public var clientBurst: Double = 200
        /// Seconds a client has to send a whole request once it started.
        public var requestTimeout: Double = 10
        /// Seconds an idle keep-alive connection stays open.
        public var idleTimeout: Double = 60
        public var maxConnections = 1024
        public init() {}
    }

    public struct Address: Sendable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `HOST:PORT` or `[V6]:PORT`.
        public init(parsing text: String) throws {
            var hostPart: Substring
            var portPart: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                    throw StageError.usage("--listen '\(text)': give HOST:PORT or [IPv6]:PORT")
                }
                hostPart = text[text.index(after: text.startIndex)..<close]
                portPart = text[text.index(close, offsetBy: 2)...]
            } else {
                guard let colon = text.lastIndex(of: ":") else { throw StageError.usage("--listen '\(text)': give HOST:PORT") }
                hostPart = text[..<colon]
                portPart = text[text.index(after: colon)...]
            }
            guard !hostPart.isEmpty, let port = Int(portPart), (0...65535).contains(port) else {
                throw StageError.usage("--listen '\(text)': give HOST:PORT with a port from 0 to 65535")
            }
            host = String(hostPart)
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    let router: Router
    let limits: Limits
    let log: AccessLog
    let rateLimiter: RateLimiter
    let group: MultiThreadedEventLoopGroup
    private var channels: [Channel] = []
    /// Requests handed to a handler and not yet answered, and whether new ones are refused.
    let inFlight = NIOLockedValueBox(0)
    let draining = NIOLockedValueBox(false)
    let connections = NIOLockedValueBox(0)

    public init(router: Router, limits: Limits = Limits(), log: AccessLog, threads: Int = 2) {
        self.router = router
        self.limits = limits
        self.log = log
        rateLimiter = RateLimiter(rate: limits.clientRate, burst: limits.clientBurst)
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
    }

    /// Binds every address; returns them with the ports the system chose for port 0.
    public func start(_ addresses: [Address]) throws -> [Address] {
        var bound: [Address] = []
        for address in addresses {
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 512)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { [self] channel in
                    let open = connections.withLockedValue { n -> Bool in
                        guard n < limits.maxConnections else { return false }
                        n += 1
                        return true
                    }
                    guard open else { return channel.close() }
                    channel.closeFuture.whenComplete { [self] _ in connections.withLockedValue { $0 -= 1 } }
                    return channel.pipeline.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                        .flatMap { channel.pipeline.addHandler(ConnectionHandler(server: self)) }
                }
            do {
                let channel = try bootstrap.bind(host: address.host, port: address.port).wait()
                channels.append(channel)
                bound.append(Address(host: address.host, port: channel.localAddress?.port ?? address.port))
            } catch {
                throw StageError.runtime("cannot listen on \(address): \(error)")
            }
        }
        return bound
    }

    /// Stops accepting, lets the requests being handled finish (at most `deadline` seconds),
    /// then closes every connection.
    public func stop(deadline: Double = 30) {
        draining.withLockedValue { $0 = true }
        for channel in channels { try? channel.close().wait() }
        let end = monotonicNanoseconds() + Int64(deadline * 1e9)
        while inFlight.withLockedValue({ $0 }) > 0 && monotonicNanoseconds() < end { usleep(10_000) }
        try? group.syncShutdownGracefully()
    }

    var isDraining: Bool { draining.withLockedValue { $0 } }

    func began() { inFlight.withLockedValue { $0 += 1 } }

    func ended() { inFlight.withLockedValue { $0 -= 1 } }
}

/// One connection: gathers a request's parts within the limits, runs its route, writes the answer.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    enum State {
        case idle
        /// Reading a request for `route` (nil: it will be refused with `refusal`).
        case reading
        /// The handler has the request; its answer will come.
        case waiting
    }

    let server: HTTPServer
    var state = State.idle
    var head: HTTPRequestHead?
    var route: Router.Route?
    var parameters: [String: String] = [:]
    var refusal: HTTPResponse?
    var body: [UInt8] = []
    var maxBody = 0
    var started: Int64 = 0
    var timeout: Scheduled<Void>?
    var idleTimer: Scheduled<Void>?
    var client = "unknown"

    init(server: HTTPServer) { self.server = server }

    func handlerAdded(context: ChannelHandlerContext) {
        client = context.channel.remoteAddress?.ipAddress ?? "unknown"
        armIdleTimer(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
        idleTimer?.cancel()
    }

    func armIdleTimer(_ context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = context.eventLoop.scheduleTask(in: .milliseconds(Int64(server.limits.idleTimeout * 1000))) { [weak self] in
            guard let self, case .idle = self.state else { return }
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            begin(h, context)
        case .body(var buffer):
            guard case .reading = state else { return }
            if body.count + buffer.readableBytes > maxBody {
                refuse(HTTPResponse.text(413, "The body is larger than this endpoint takes (\(maxBody) bytes).", outcome: "too_large"),
                       context, close: true)
                return
            }
            if refusal == nil, let bytes = buffer.readBytes(length: buffer.readableBytes) { body += bytes }
        case .end:
            guard case .reading = state else { return }
            timeout?.cancel()
            if let refusal {
                respond(refusal, context)
            } else if let route {
                dispatch(route, context)
            }
        }
    }

    func begin(_ h: HTTPRequestHead, _ context: ChannelHandlerContext) {
        idleTimer?.cancel()
        state = .reading
        head = h
        body = []
        refusal = nil
        route = nil
        parameters = [:]
        started = monotonicNanoseconds()
        timeout = context.eventLoop.scheduleTask(in: .milliseconds(Int64(server.limits.requestTimeout * 1000))) { [weak self] in
            guard let self, case .reading = self.state else { return }
            self.refuse(HTTPResponse.text(408, "The request took too long to arrive.", outcome: "timeout"), context, close: true)
        }
        let (path, _) = ConnectionHandler.splitURI(h.uri)
        maxBody = server.router.defaultMaxBody
        if server.isDraining {
            refusal = HTTPResponse.text(503, "The server is stopping.", outcome: "stopping")
            return
        }
        guard let method = HTTPMethod(rawValue: h.method.rawValue) else {
            refusal = HTTPResponse.text(501, "Method not implemented.", outcome: "unknown_method")
            return
        }
        switch server.router.match(method, path: path) {
        case .notFound:
            refusal = HTTPResponse.text(404, "Not found.", outcome: "no_route")
        case .wrongMethod(let allowed):
            var r = HTTPResponse.text(405, "Method not allowed here.", outcome: "wrong_method")
            r.headers.append(("Allow", allowed.map(\.rawValue).joined(separator: ", ")))
            refusal = r
        case .found(let r, let p):
            route = r
            parameters = p
            maxBody = r.maxBody
            if let length = h.headers.first(name: "content-length").flatMap(Int.init), length > r.maxBody {
                refuse(HTTPResponse.text(413, "The body is larger than this endpoint takes (\(r.maxBody) bytes).", outcome: "too_large"),
                       context, close: true)
                return
            }
            if r.rateLimited, !server.rateLimiter.allow(client) {
                var limited = HTTPResponse.text(429, "Too many requests from this address; try again shortly.", outcome: "rate_limited")
                limited.headers.append(("Retry-After", "1"))
                refusal = limited
            }
        }
    }

    func dispatch(_ route: Router.Route, _ context: ChannelHandlerContext) {
        guard let head else { return }
        state = .waiting
        let (path, query) = ConnectionHandler.splitURI(head.uri)
        var request = HTTPRequest(method: HTTPMethod(rawValue: head.method.rawValue) ?? .get, path: path,
                                  query: FormDecoding.fields(Array(query.utf8)),
                                  headers: head.headers.map { ($0.name, $0.value) }, body: body, client: client)
        request.parameters = parameters
        let loop = context.eventLoop
        let answered = NIOLockedValueBox(false)
        server.began()
        route.handler(request) { [self] response in
            let first = answered.withLockedValue { done -> Bool in
                defer { done = true }
                return !done
            }
            guard first else { return }
            loop.execute {
                self.respond(response, context)
                self.server.ended()
            }
        }
    }

    /// Answers now and drops the rest of the request (the connection is closed when asked or
    /// when the body could not be read to its end).
    func refuse(_ response: HTTPResponse, _ context: ChannelHandlerContext, close: Bool) {
        timeout?.cancel()
        respond(response, context, forceClose: close)
    }

    func respond(_ response: HTTPResponse, _ context: ChannelHandlerContext, forceClose: Bool = false) {
        guard let head else { return }
        let keepAlive = head.isKeepAlive && !forceClose && !server.isDraining
        var headers = HTTPHeaders(response.headers)
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let status = HTTPResponseStatus(statusCode: response.status, reasonPhrase: HTTPResponse.reason(response.status))
        // Counted before it is written: a client that has its answer finds it in /metrics.
        let (path, _) = ConnectionHandler.splitURI(head.uri)
        server.log.record(AccessLog.Entry(client: client, method: head.method.rawValue, path: path, route: route?.name,
                                          status: response.status, outcome: response.outcome, bytesIn: body.count,
                                          bytesOut: response.body.count,
                                          nanoseconds: monotonicNanoseconds() - started))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD && !response.body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: response.body.count)
            buffer.writeBytes(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { _ in context.close(promise: nil) } }
        state = .idle
        self.head = nil
        body = []
        route = nil
        refusal = nil
        if keepAlive { armIdleTimer(context) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// The URI's path (percent-decoded, `+` kept) and its raw query.
    static func splitURI(_ uri: String) -> (String, String) {
        let bytes = Array(uri.utf8)
        if let q = bytes.firstIndex(of: UInt8(ascii: "?")) {
            return (FormDecoding.decode(bytes[..<q], plus: false), String(decoding: bytes[(q + 1)...], as: UTF8.self))
        }
        return (FormDecoding.decode(bytes, plus: false), "")
    }
}

/// Token buckets per client address: `rate` requests a second, `burst` at once.
final class RateLimiter: @unchecked Sendable {
    struct Bucket {
        var tokens: Double
        var stamp: Int64
    }

    let rate: Double
    let burst: Double
    private let buckets = NIOLockedValueBox([String: Bucket]())

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = max(1, burst)
    }

    func allow(_ client: String) -> Bool {
        guard rate > 0 else { return true }
        let now = monotonicNanoseconds()
        return buckets.withLockedValue { all in
            var b = all[client] ?? Bucket(tokens: burst, stamp: now)
            b.tokens = min(burst, b.tokens + Double(now - b.stamp) / 1e9 * rate)
            b.stamp = now
            let ok = b.tokens >= 1
            if ok { b.tokens -= 1 }
            all[client] = b
            // Forget clients whose bucket has refilled, so the table stays small.
            if all.count > 10_000 {
                all = all.filter { Double(now - $0.value.stamp) / 1e9 * rate + $0.value.tokens < burst }
            }
            return ok
        }
    }
}

@inline(__always) func monotonicNanoseconds() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }
