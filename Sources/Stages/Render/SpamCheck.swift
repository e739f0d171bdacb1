#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// `render --spamcheck`: each rendered message, as `inject smtp` would send it, scored by
/// SpamAssassin's spamd over its own protocol (the one spamc speaks: `REPORT SPAMC/1.5`, one
/// request per connection), so a campaign that scores badly is caught before it costs
/// reputation. The score and the rules that fired go into the message record as `spam`;
/// `--max-spam-score N` rejects a message scoring above N.
public enum SpamCheck {
    public struct Settings: Sendable {
        /// `host:port`, `[v6]:port`, or a unix socket path (starts with `/`).
        public var address: String
        /// Reject messages scoring above this (nil: only score them).
        public var maxScore: Double?
        /// Messages checked at once (spamd's children answer them in parallel).
        public var connections: Int
        public var timeout: Double
        /// The Date header of the checked messages (`--now`).
        public var date: Timestamp

        public init(address: String = SpamCheck.defaultAddress, maxScore: Double? = nil, connections: Int = 2,
                    timeout: Double = 30, date: Timestamp = .current()) {
            self.address = address
            self.maxScore = maxScore
            self.connections = max(1, connections)
            self.timeout = timeout
            self.date = date
        }
    }

    /// spamd's own default port on this machine.
    public static let defaultAddress = "127.0.0.1:783"

    /// What spamd made of one message.
    public struct Report: Equatable, Sendable {
        public struct Rule: Equatable, Sendable {
            public var name: String
            public var points: Double
            public var description: String
        }

        public var score: Double
        /// spamd's own threshold (`required_score`, 5 by default).
        public var required: Double
        public var rules: [Rule]

        /// `{"score":…,"required":…,"rules":[{"rule","points","description"}]}`
        public var json: JSONValue {
            func number(_ v: Double) -> JSONValue { .number(ScoreText.decimal(v)) }
            return .object(JSONObject([
                ("score", number(score)), ("required", number(required)),
                ("rules", .array(rules.map { .object(JSONObject([("rule", .string($0.name)), ("points", number($0.points)),
                                                                  ("description", .string($0.description))])) })),
            ]))
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        /// spamd could not be reached at all: the run stops (exit 1).
        case unreachable(String)
        /// spamd answered this one message with an error or garbage.
        case refused(String)

        public var description: String {
            switch self {
            case .unreachable(let s), .refused(let s): return s
            }
        }
    }

    /// Asks spamd whether it is there (`PING` → `PONG`), so that a run stops before it renders
    /// anything when spamd is missing.
    public static func ping(settings: Settings) throws {
        let fd = try dial(settings.address, timeout: settings.timeout)
        defer { close(fd) }
        let request = Array("PING SPAMC/1.5\r\n\r\n".utf8)
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        var reply = [UInt8](repeating: 0, count: 256)
        let n = sent == request.count ? reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) } : -1
        let text = n > 0 ? String(decoding: reply[0..<n], as: UTF8.self) : ""
        guard text.hasPrefix("SPAMD/"), text.contains(" PONG") else {
            throw Failure.unreachable("\(settings.address) does not answer as spamd does (PING got '\(text.prefix(60))')")
        }
    }

    /// Scores one message (RFC 5322 bytes).
    public static func check(_ message: [UInt8], settings: Settings) throws -> Report {
        let fd = try dial(settings.address, timeout: settings.timeout)
        defer { close(fd) }
        var request = Array("REPORT SPAMC/1.5\r\nContent-length: \(message.count)\r\nUser: mailpipe\r\n\r\n".utf8)
        request += message
        try request.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure.refused("spamd at \(settings.address): sending the message failed: \(String(cString: strerror(errno)))")
                }
                sent += n
            }
        }
        shutdown(fd, Int32(SHUT_WR))
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                let reason = errno == EAGAIN || errno == EWOULDBLOCK ? "no answer within \(Int(settings.timeout)) s" : String(cString: strerror(errno))
                throw Failure.refused("spamd at \(settings.address): \(reason)")
            }
            if n == 0 { break }
            reply.append(contentsOf: chunk[0..<n])
            if reply.count > 1 << 22 { throw Failure.refused("spamd at \(settings.address): an answer over 4 MiB") }
        }
        return try parse(reply, address: settings.address)
    }

    /// Reads `SPAMD/1.1 0 EX_OK`, the `Spam: True ; 8.6 / 5.0` header and the report's table
    /// (` pts rule name  description`, descriptions wrapped onto indented lines).
    public static func parse(_ reply: [UInt8], address: String) throws -> Report {
        let text = String(decoding: reply, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else {
            throw Failure.refused("spamd at \(address): an answer without headers: \(text.prefix(120))")
        }
        let head = text[..<headEnd.lowerBound].split(separator: "\r\n").map(String.init)
        let status = head.first?.split(separator: " ") ?? []
        guard status.count >= 3, status[0].hasPrefix("SPAMD/") else {
            throw Failure.refused("spamd at \(address): not spamd's protocol: \(head.first ?? "")")
        }
        guard status[1] == "0" else {
            throw Failure.refused("spamd at \(address): refused the message: \(status.dropFirst().joined(separator: " "))")
        }
        var score: Double? = nil, required: Double? = nil
        for line in head.dropFirst() where line.lowercased().hasPrefix("spam:") {
            // Spam: True ; 8.6 / 5.0
            let numbers = line.split(separator: ";").last?.split(separator: "/").map { Double(String($0).trimmingBlanks) } ?? []
            if numbers.count == 2 { score = numbers[0]; required = numbers[1] }
        }
        guard let score, let required else { throw Failure.refused("spamd at \(address): no score in the answer") }
        var rules: [Report.Rule] = []
        var inTable = false
        for line in text[headEnd.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("---- ") { inTable = true; continue }
            guard inTable else { continue }
            if String(line).trimmingBlanks.isEmpty { if !rules.isEmpty { break } else { continue } }
            // A rule's line starts with its points in four columns; a wrapped description is indented further.
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            let wrapped = line.prefix(5).allSatisfy { $0 == " " }
            if !wrapped, fields.count >= 2, let points = Double(fields[0]), fields[1].allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) {
                rules.append(Report.Rule(name: String(fields[1]), points: points == 0 ? 0 : points,
                                         description: fields.count > 2 ? String(fields[2]).trimmingBlanks : ""))
            } else if !rules.isEmpty {
                rules[rules.count - 1].description += " " + String(line).trimmingBlanks
            }
        }
        return Report(score: score, required: required, rules: rules)
    }

    /// Whether `address` is `host:port`, `[v6]:port` or an absolute socket path.
    public static func isAddress(_ address: String) -> Bool {
        if address.hasPrefix("/") { return true }
        guard let colon = address.lastIndex(of: ":"), colon != address.startIndex,
              let port = Int(address[address.index(after: colon)...]) else { return false }
        return (1...65535).contains(port)
    }

    /// A connected socket to spamd, with `timeout` on every send and receive.
    static func dial(_ address: String, timeout: Double) throws -> Int32 {
        var tv = timeval(tv_sec: Int(timeout), tv_usec: .init((timeout - timeout.rounded(.down)) * 1_000_000))
        func configure(_ fd: Int32) {
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        let howToStart = "start it (spamd -L --listen 127.0.0.1:783, or Tests/Servers/start-spamd.sh) or give --spamd ADDRESS"
        if address.hasPrefix("/") {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw Failure.unreachable("spamd: no socket: \(String(cString: strerror(errno)))") }
            configure(fd)
            var sun = sockaddr_un()
            sun.sun_family = sa_family_t(AF_UNIX)
            let path = Array(address.utf8)
            guard path.count < MemoryLayout.size(ofValue: sun.sun_path) else { close(fd); throw Failure.unreachable("spamd: socket path too long: \(address)") }
            withUnsafeMutableBytes(of: &sun.sun_path) { p in for (i, b) in path.enumerated() { p[i] = b } }
            let ok = withUnsafePointer(to: &sun) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            guard ok == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw Failure.unreachable("spamd is not answering at \(address) (\(reason)): \(howToStart)")
            }
            return fd
        }
        guard isAddress(address), let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw Failure.unreachable("spamd address '\(address)' is not host:port or /path/to/socket")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw Failure.unreachable("spamd host '\(host)' does not resolve")
        }
        defer { freeaddrinfo(list) }
        var reason = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let a = entry {
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd >= 0 {
                configure(fd)
                if connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { return fd }
                reason = String(cString: strerror(errno))
                close(fd)
            }
            entry = a.pointee.ai_next
        }
        throw Failure.unreachable("spamd is not answering at \(address) (\(reason)): \(howToStart)")
    }
}

/// Short decimal text for scores (2.7, -0.1, 0).
enum ScoreText {
    static func decimal(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        if r == r.rounded(), abs(r) < 1e15 { return String(Int(r)) }
        return String(r)
    }
}

/// Rendered messages waiting to be scored, checked `connections` at a time on a crew of threads,
/// and handed back in input order.
final class SpamBatch {
    struct Pending {
        var line: [UInt8]
        var origin: RejectSink.Origin
        var record: [UInt8]
        var template: Int
        var variant: String?
        var missing: Int
    }

    let settings: SpamCheck.Settings
    let crew: WorkCrew
    var pending: [Pending] = []
    /// Messages scored, and per rule the messages it fired on.
    var checked = 0
    var rules: [String: Int] = [:]
    var highest: Double?
    var total = 0.0

    /// Throws `ThreadUnavailable` when the system will not start the crew's threads.
    init(settings: SpamCheck.Settings) throws {
        self.settings = settings
        crew = try WorkCrew(helpers: settings.connections - 1)
    }

    /// Enough waiting to keep every connection busy for a while.
    var isFull: Bool { pending.count >= settings.connections * 4 }

    /// Scores the waiting messages; each with its report or why spamd refused it. Throws when
    /// spamd cannot be reached at all.
    func check() throws -> [(Pending, Result<SpamCheck.Report, SpamCheck.Failure>)] {
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        guard !batch.isEmpty else { return [] }
        let results = UnsafeMutableBufferPointer<Result<SpamCheck.Report, SpamCheck.Failure>?>.allocate(capacity: batch.count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        let settings = self.settings
        crew.start(slices: batch.count) { slice, _ in
            do {
                let message = try JSONValue.parse(batch[slice].line)
                let eml = try RenderStage.eml(message, date: settings.date)
                results[slice] = .success(try SpamCheck.check(eml, settings: settings))
            } catch let failure as SpamCheck.Failure {
                results[slice] = .failure(failure)
            } catch {
                results[slice] = .failure(.refused("the message could not be built for spamd: \(error)"))
            }
        }
        crew.finish()
        var out: [(Pending, Result<SpamCheck.Report, SpamCheck.Failure>)] = []
        for (i, p) in batch.enumerated() {
            let result = results[i]!
            if case .failure(.unreachable(let why)) = result { throw StageError.runtime(why) }
            if case .success(let report) = result {
                checked += 1
                total += report.score
                highest = max(highest ?? report.score, report.score)
                for rule in report.rules { rules[rule.name, default: 0] += 1 }
            }
            out.append((p, result))
        }
        return out
    }
}
