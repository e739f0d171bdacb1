import CAres
import MailpipeCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Concurrent mail-domain lookups through c-ares: MX, then A/AAAA of the MX hosts; without an
/// MX, A then AAAA of the domain itself (RFC 5321's implicit MX). A sliding window keeps
/// `concurrency` domains in flight on one channel, driven by poll(2) on this thread.
///
/// An MX host counts as resolving when the reply's additional section carries its address
/// (servers add it when they know it: no further query), else after an A (then AAAA) query of
/// its own. Hosts are cached for the resolver's life: domains sharing MX hosts (Google's,
/// Microsoft's…) cost one host lookup in all, and a domain waiting on a host being looked up
/// for another domain just waits for that answer.
public final class MXResolver {
    public enum Outcome: UInt8, Sendable {
        /// An MX host with an address, or (no MX) an address to deliver to.
        case acceptsMail
        /// NXDOMAIN, a Null MX (RFC 7505), or neither MX nor address.
        case noMail
        /// MX records whose hosts all lack an address (NXDOMAIN or no A/AAAA): mail cannot be
        /// delivered.
        case mxHostsWithoutAddress
        /// Timeout, SERVFAIL, refused…: DNS could not tell.
        case unknown
    }

    private enum HostResult { case address, noAddress, unknown }
    private enum HostEntry {
        case done(HostResult)
        case pending(waiters: [Int])
    }

    private var channel: ares_channel?
    public let concurrency: Int

    // Per-run state, touched only from this thread (callbacks run inside ares_process_fd).
    private var domains: [String] = []
    private var outcomes: [Outcome] = []
    private var nextIndex = 0
    private var inFlight = 0
    /// In-flight domains that have MX hosts: the hosts (preference order), the next to try,
    /// whether a host lookup was inconclusive.
    private var hostWalks: [Int: (hosts: [String], next: Int, sawUnknown: Bool)] = [:]
    /// MX host → its lookup state, kept across runs.
    private var hosts: [String: HostEntry] = [:]
    public private(set) var queriesSent = 0
    /// MX hosts whose address came in an MX reply's additional section.
    public private(set) var hostsFromAdditional = 0

    private final class Query {
        unowned let resolver: MXResolver
        let index: Int        // the domain, or -1 for an MX host lookup
        let host: String?
        let type: Int32       // 15 MX, 1 A, 28 AAAA
        init(resolver: MXResolver, index: Int, host: String?, type: Int32) {
            self.resolver = resolver
            self.index = index
            self.host = host
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
        send(domains[i], index: i, host: nil, type: 15)
    }

    private func send(_ name: String, index: Int, host: String?, type: Int32) {
        queriesSent += 1
        let query = Unmanaged.passRetained(Query(resolver: self, index: index, host: host, type: type)).toOpaque()
        ares_query(channel, name, 1 /* IN */, type, { arg, status, _, answer, length in
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
        let reply: DNSReply? = answer.flatMap {
            DNSReply(UnsafeRawBufferPointer(start: $0, count: Int(length)),
                     addressType: query.type == 15 ? 0 : UInt16(query.type))
        }
        if let host = query.host {
            hostAnswered(host, type: query.type, status: status, reply: reply)
            return
        }
        let index = query.index
        switch status {
        case ARES_SUCCESS where reply == nil:
            finish(index, .unknown)    // a reply we cannot read: DNS did not tell
        case ARES_SUCCESS where query.type == 15:
            guard let reply, !reply.mx.isEmpty else {
                send(domains[index], index: index, host: nil, type: 1)   // no MX in the answer (a CNAME only…)
                return
            }
            mxAnswered(index, reply)
        case ARES_SUCCESS where reply?.hasAddress == true:
            finish(index, .acceptsMail)
        case ARES_SUCCESS, ARES_ENODATA:
            // The name exists but has no record of this type.
            if query.type == 15 { send(domains[index], index: index, host: nil, type: 1) }
            else if query.type == 1 { send(domains[index], index: index, host: nil, type: 28) }
            else { finish(index, .noMail) }
        case ARES_ENOTFOUND:
            finish(index, .noMail)     // NXDOMAIN
        default:
            finish(index, .unknown)    // ETIMEOUT, ESERVFAIL, EREFUSED, ECONNREFUSED…
        }
    }

    /// An MX reply with records: a Null MX alone means no mail; otherwise the hosts decide.
    private func mxAnswered(_ index: Int, _ reply: DNSReply) {
        var records = reply.mx.filter { !$0.host.isEmpty && $0.host != "." }
        if records.isEmpty {
            finish(index, .noMail)                 // only a Null MX
            return
        }
        records.sort { $0.preference < $1.preference }
        var names: [String] = []
        for r in records where !names.contains(r.host) { names.append(r.host) }
        // Addresses the server volunteered: the domain is settled without another query.
        var confirmed = false
        for host in reply.addressedHosts where names.contains(host) {
            confirmed = true
            if hosts[host] == nil {
                hosts[host] = .done(.address)
                hostsFromAdditional += 1
            }
        }
        if confirmed {
            finish(index, .acceptsMail)
            return
        }
        hostWalks[index] = (names, 0, false)
        advance(index)
    }

    /// Tries the domain's MX hosts in preference order until one has an address.
    private func advance(_ index: Int) {
        guard var walk = hostWalks[index] else { return }
        while walk.next < walk.hosts.count {
            let host = walk.hosts[walk.next]
            switch hosts[host] {
            case .done(.address)?:
                hostWalks[index] = nil
                finish(index, .acceptsMail)
                return
            case .done(.noAddress)?:
                walk.next += 1
            case .done(.unknown)?:
                walk.sawUnknown = true
                walk.next += 1
            case .pending(var waiters)?:
                waiters.append(index)
                hosts[host] = .pending(waiters: waiters)
                hostWalks[index] = walk
                return
            case nil:
                hosts[host] = .pending(waiters: [index])
                hostWalks[index] = walk
                send(host, index: -1, host: host, type: 1)
                return
            }
        }
        hostWalks[index] = nil
        finish(index, walk.sawUnknown ? .unknown : .mxHostsWithoutAddress)
    }

    private func hostAnswered(_ host: String, type: Int32, status: Int32, reply: DNSReply?) {
        let result: HostResult
        switch status {
        case ARES_SUCCESS where reply == nil:
            result = .unknown
        case ARES_SUCCESS where reply?.hasAddress == true:
            result = .address
        case ARES_SUCCESS, ARES_ENODATA:
            if type == 1 {
                send(host, index: -1, host: host, type: 28)
                return
            }
            result = .noAddress
        case ARES_ENOTFOUND:
            result = .noAddress        // NXDOMAIN: no record of any type
        default:
            result = .unknown
        }
        guard case .pending(let waiters)? = hosts[host] else { return }
        hosts[host] = .done(result)
        for index in waiters { advance(index) }
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
