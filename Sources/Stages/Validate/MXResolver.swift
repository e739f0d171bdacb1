import CAres
import MailpipeCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Concurrent mail-domain lookups through c-ares: MX first; without an MX, A then AAAA
/// (RFC 5321's implicit MX). A sliding window keeps `concurrency` domains in flight on one
/// channel, driven by poll(2) on this thread.
public final class MXResolver {
    public enum Outcome: UInt8, Sendable {
        /// An MX host, or an address to deliver to.
        case acceptsMail
        /// NXDOMAIN, a Null MX (RFC 7505), or neither MX nor address.
        case noMail
        /// Timeout, SERVFAIL, refused…: DNS could not tell.
        case unknown
    }

    private var channel: ares_channel?
    public let concurrency: Int

    // Per-run state, touched only from this thread (callbacks run inside ares_process_fd).
    private var domains: [String] = []
    private var outcomes: [Outcome] = []
    private var nextIndex = 0
    private var inFlight = 0
    public private(set) var queriesSent = 0

    private final class Query {
        unowned let resolver: MXResolver
        let index: Int
        let type: Int32   // 15 MX, 1 A, 28 AAAA
        init(resolver: MXResolver, index: Int, type: Int32) {
            self.resolver = resolver
            self.index = index
            self.type = type
        }
    }

    /// - Parameters:
    ///   - server: `ADDRESS[:PORT]` (IPv6 as `[ADDRESS]:PORT`), or nil for /etc/resolv.conf.
    ///   - timeoutMs: the first try's timeout (c-ares doubles it per round), `tries` rounds.
    public init(server: String?, timeoutMs: Int = 2000, tries: Int = 2, concurrency: Int = 64) throws {
        self.concurrency = max(1, concurrency)
        let rc = ares_library_init(ARES_LIB_INIT_ALL)
        guard rc == ARES_SUCCESS else { throw StageError.runtime("c-ares: \(String(cString: ares_strerror(rc)))") }
        var options = ares_options()
        options.timeout = Int32(clamping: timeoutMs)
        options.tries = Int32(clamping: max(1, tries))
        options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES
        let mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS
        let status = ares_init_options(&channel, &options, mask)
        guard status == ARES_SUCCESS else {
            throw StageError.runtime("c-ares: cannot start a resolver: \(String(cString: ares_strerror(status)))")
        }
        if let server {
            let r = ares_set_servers_ports_csv(channel, server)
            guard r == ARES_SUCCESS else {
                ares_destroy(channel)
                channel = nil
                throw StageError.usage("--dns takes ADDRESS[:PORT] (IPv6 as [ADDRESS]:PORT), got '\(server)'")
            }
        }
    }

    deinit {
        if let channel { ares_destroy(channel) }
    }

    /// Looks every domain up (ASCII names) and returns their outcomes in the same order.
    public func resolve(_ names: [String]) -> [Outcome] {
        domains = names
        outcomes = [Outcome](repeating: .unknown, count: names.count)
        nextIndex = 0
        inFlight = 0
        while nextIndex < domains.count && inFlight < concurrency { startNext() }
        runLoop()
        let result = outcomes
        domains = []
        outcomes = []
        return result
    }

    private func startNext() {
        let i = nextIndex
        nextIndex += 1
        inFlight += 1
        send(i, type: 15)
    }

    private func send(_ index: Int, type: Int32) {
        queriesSent += 1
        let query = Unmanaged.passRetained(Query(resolver: self, index: index, type: type)).toOpaque()
        ares_query(channel, domains[index], 1 /* IN */, type, { arg, status, _, answer, length in
            let query = Unmanaged<Query>.fromOpaque(arg!).takeRetainedValue()
            query.resolver.answered(query, status: status, answer: answer, length: length)
        }, query)
    }

    private func finish(_ index: Int, _ outcome: Outcome) {
        outcomes[index] = outcome
        inFlight -= 1
        if nextIndex < domains.count { startNext() }
    }

    private func answered(_ query: Query, status: Int32, answer: UnsafeMutablePointer<UInt8>?, length: Int32) {
        if status == ARES_EDESTRUCTION { return }
        switch status {
        case ARES_SUCCESS:
            if query.type == 15 {
                switch MXResolver.mxKind(answer, length) {
                case .some(true): finish(query.index, .acceptsMail)
                case .some(false): finish(query.index, .noMail)           // only a Null MX
                case .none: send(query.index, type: 1)                    // no MX records in the answer
                }
            } else if MXResolver.hasAddress(answer, length, type: query.type) {
                finish(query.index, .acceptsMail)
            } else if query.type == 1 {
                send(query.index, type: 28)
            } else {
                finish(query.index, .noMail)
            }
        case ARES_ENODATA:
            // The name exists but has no record of this type.
            if query.type == 15 { send(query.index, type: 1) }
            else if query.type == 1 { send(query.index, type: 28) }
            else { finish(query.index, .noMail) }
        case ARES_ENOTFOUND:
            finish(query.index, .noMail)     // NXDOMAIN
        default:
            finish(query.index, .unknown)    // ETIMEOUT, ESERVFAIL, EREFUSED, ECONNREFUSED…
        }
    }

    /// true: an MX with a real host; false: only a Null MX; nil: no MX record in the answer.
    private static func mxKind(_ answer: UnsafeMutablePointer<UInt8>?, _ length: Int32) -> Bool? {
        guard let answer else { return nil }
        var reply: UnsafeMutablePointer<ares_mx_reply>?
        guard ares_parse_mx_reply(answer, length, &reply) == ARES_SUCCESS, let first = reply else { return nil }
        defer { ares_free_data(first) }
        var node: UnsafeMutablePointer<ares_mx_reply>? = first
        var sawNull = false
        while let n = node {
            let host = n.pointee.host.map { String(cString: $0) } ?? ""
            if host.isEmpty || host == "." { sawNull = true } else { return true }
            node = n.pointee.next
        }
        return sawNull ? false : nil
    }

    private static func hasAddress(_ answer: UnsafeMutablePointer<UInt8>?, _ length: Int32, type: Int32) -> Bool {
        guard let answer else { return false }
        var count: Int32 = 8
        if type == 1 {
            var addresses = [ares_addrttl](repeating: ares_addrttl(), count: 8)
            var host: UnsafeMutablePointer<hostent>?
            let rc = ares_parse_a_reply(answer, length, &host, &addresses, &count)
            if let host { ares_free_hostent(host) }
            return rc == ARES_SUCCESS && count > 0
        } else {
            var addresses = [ares_addr6ttl](repeating: ares_addr6ttl(), count: 8)
            var host: UnsafeMutablePointer<hostent>?
            let rc = ares_parse_aaaa_reply(answer, length, &host, &addresses, &count)
            if let host { ares_free_hostent(host) }
            return rc == ARES_SUCCESS && count > 0
        }
    }

    private func runLoop() {
        var sockets = [ares_socket_t](repeating: ARES_SOCKET_BAD, count: Int(ARES_GETSOCK_MAXNUM))
        var fds = [pollfd]()
        while inFlight > 0 {
            let bits = ares_getsock(channel, &sockets, Int32(ARES_GETSOCK_MAXNUM))
            fds.removeAll(keepingCapacity: true)
            for i in 0..<Int(ARES_GETSOCK_MAXNUM) {
                var events: Int16 = 0
                if bits & (1 << i) != 0 { events |= Int16(POLLIN) }
                if bits & (1 << (i + Int(ARES_GETSOCK_MAXNUM))) != 0 { events |= Int16(POLLOUT) }
                if events != 0 { fds.append(pollfd(fd: sockets[i], events: events, revents: 0)) }
            }
            var tv = timeval()
            var waitMs: Int32 = 1000
            if let t = ares_timeout(channel, nil, &tv) {
                waitMs = Int32(clamping: t.pointee.tv_sec * 1000 + Int(t.pointee.tv_usec) / 1000)
            }
            let ready = fds.isEmpty ? 0 : poll(&fds, nfds_t(fds.count), waitMs)
            if fds.isEmpty && waitMs > 0 { usleep(UInt32(min(waitMs, 1000)) * 1000) }
            if ready <= 0 {
                ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD)   // timeouts
                continue
            }
            for p in fds where p.revents != 0 {
                let r = p.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 ? p.fd : ARES_SOCKET_BAD
                let w = p.revents & Int16(POLLOUT) != 0 ? p.fd : ARES_SOCKET_BAD
                ares_process_fd(channel, r, w)
            }
        }
    }
}
