#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCurl
import MailpipeCore
import MailpipeCurl
import MailpipeStore

/// `inject smtp`: message records → MIME messages → the MTA over SMTP.
public final class SmtpChannel: InjectChannel {
    public struct Settings {
        /// smtp://host:port or smtps://host (nil: tenant.json smtp.url).
        public var url: String?
        /// Envelope and From fallback (nil: the record's `from`, else tenant.json smtp.from).
        public var from: String?
        public var starttls = false
        /// PEM file of the CA(s) to trust for the server's certificate (CURLOPT_CAINFO), instead
        /// of the system store.
        public var caFile: String?
        public var insecure = false
        public var timeout: Double = 60
        /// Credentials, already read from the environment (never from argv).
        public var username: String?
        public var password: String?
        public var now: Timestamp?
        /// `--rules FILE`: routes for every tenant, over tenant.json `routes` and `smtp.url`.
        public var routes: [RouteConfig]?

        public init(url: String? = nil, from: String? = nil) { self.url = url; self.from = from }
    }

    final class TenantData {
        var picker: VmtaPicker
        let url: String
        let from: String?
        let domain: String
        /// The tenant's routes (nil: every message goes to `url`).
        let routes: SmtpRoutes?
        init(picker: VmtaPicker, url: String, from: String?, domain: String, routes: SmtpRoutes?) {
            self.picker = picker; self.url = url; self.from = from; self.domain = domain; self.routes = routes
        }
    }

    public let name = "smtp"
    /// Per-message scratch (one thread): the parts' bytes, the last From line.
    private var textScratch: [UInt8] = []
    private var htmlScratch: [UInt8] = []
    private var fromCache: (raw: String, header: [UInt8], address: String)?
    /// libcurl 7.88 waits for the reply to the final "." blocking, inside the multi loop:
    /// `SmtpSessions` drives the connections itself after libcurl set them up.
    public func transport(connections: Int) throws -> Transport? {
        SmtpSessions(channel: self, connections: connections, timeout: settings.timeout)
    }
    let settings: Settings

    public init(settings: Settings) throws {
        if let url = settings.url { try SmtpChannel.checkURL(url) }
        if let ca = settings.caFile, (try? FileSystem.readFile(ca)) == nil {
            throw StageError.configuration("cannot read the CA file \(ca)")
        }
        self.settings = settings
    }

    static func checkURL(_ url: String) throws {
        if let problem = RouteConfig.urlProblem(url, credentials: "--username-env/--password-env: a URL is visible in argv and logs") {
            throw StageError.usage("the SMTP URL \(problem)")
        }
    }

    public func defaultCampaign(tenant: TenantContext) throws -> String? { nil }

    public func prepare(_ easy: CurlEasy) throws {
        try easy.set(CURLOPT_TIMEOUT_MS, Int(settings.timeout * 1000))
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        if settings.starttls { try easy.set(CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)) }
        if let ca = settings.caFile { try easy.set(CURLOPT_CAINFO, string: ca) }
        if settings.insecure {
            try easy.set(CURLOPT_SSL_VERIFYPEER, 0)
            try easy.set(CURLOPT_SSL_VERIFYHOST, 0)
        }
        if let u = settings.username { try easy.set(CURLOPT_USERNAME, string: u) }
        if let p = settings.password { try easy.set(CURLOPT_PASSWORD, string: p) }
    }

    /// The options of a connection for a job: those of `prepare`, and its route's credentials.
    func prepare(_ easy: CurlEasy, for job: Job) throws {
        try prepare(easy)
        if let route = (job.tenantData as? TenantData)?.routes?.route(of: job) {
            if let u = route.username { try easy.set(CURLOPT_USERNAME, string: u) }
            if let p = route.password { try easy.set(CURLOPT_PASSWORD, string: p) }
        }
    }

    func tenantData(_ ctx: TenantContext) throws -> TenantData {
        if let d = ctx.channelData as? TenantData { return d }
        let smtp = ctx.config.smtp
        // Where messages go: --rules, else --url, else tenant.json routes, else smtp.url.
        let routeConfigs = settings.routes ?? (settings.url == nil && !ctx.config.routes.isEmpty ? ctx.config.routes : nil)
        let routes = try routeConfigs.map { try SmtpRoutes($0) }
        guard let url = routes?.routes.first?.config.url ?? settings.url ?? smtp.url else {
            throw StageError.configuration("no SMTP URL: give --url or --rules, or set smtp.url or routes in \(ctx.directory.configPath)")
        }
        try SmtpChannel.checkURL(url)
        let today = settings.now ?? .current()
        let picker = VmtaPicker(config: ctx.config, ledger: try Ledger.load(path: ctx.directory.ledgerPath), now: today)
        let from = settings.from ?? smtp.from
        let domain = MessageID.domain(config: ctx.config, from: from.map { Mime.splitAddress($0).address })
        let data = TenantData(picker: picker, url: url, from: from, domain: domain, routes: routes)
        ctx.channelData = data
        return data
    }

    public func intake(_ record: Record, item: Item, tenant ctx: TenantContext) throws -> Intake {
        let data = try tenantData(ctx)
        let chain = data.routes?.chain(for: item.email) ?? []
        if let routes = data.routes, chain.isEmpty {
            throw RecordRefusal(.noRoute, "no route takes \(item.email.split(separator: "@").last ?? "")'s mail: "
                + "every route lists domains (\(routes.routes.map(\.config.name).joined(separator: ", "))) and none is this one")
        }
        guard let from = record.string("from") ?? data.from, !from.isEmpty else {
            throw RecordRefusal(.missingFrom, "no from in the record, no --from, no smtp.from in tenant.json")
        }
        let subject = record.string("subject") ?? ""
        SmtpChannel.stringBytes(record["text"], into: &textScratch)
        SmtpChannel.stringBytes(record["html"], into: &htmlScratch)
        if textScratch.isEmpty && htmlScratch.isEmpty {
            throw RecordRefusal(.missingBody, "a message needs html or text")
        }
        var headers: [(String, String)] = []
        var messageID: String?
        if let h = record["headers"], h.kind == .object {
            for (k, v) in h.members {
                guard let key = k.string else { continue }
                guard let value = v.string else {
                    throw RecordRefusal(.invalidHeader, "header \(key) must be a string")
                }
                if key.lowercased() == "message-id" { messageID = value; continue }
                if key.lowercased() == "x-virtual-mta" || key.lowercased() == "x-job" { continue }
                headers.append((key, value))
            }
        }
        var item = item
        if !data.picker.isEmpty {
            guard let vmta = data.picker.pick() else {
                return .outcome(.deferred(code: nil, "warm-up quota for today is spent on every vmta", .quota))
            }
            item.vmta = vmta
            headers.append(("X-Virtual-MTA", vmta))
        }
        headers.append(("X-Job", item.campaign))
        let id = messageID ?? MessageID.make(tenant: item.tenant, campaign: item.campaign, email: item.email, domain: data.domain)
        let message = Mime.Message(
            from: from, to: item.email, replyTo: record.string("reply_to"), subject: subject,
            date: settings.now ?? .current(), messageID: id, headers: headers, text: nil, html: nil,
            boundarySeed: EmailKey.hash(id))
        // The From line and envelope address, built once per distinct From.
        if fromCache?.raw != from {
            var line: [UInt8] = []
            do { try Mime.addressHeader("From", from, into: &line) } catch {
                if let vmta = item.vmta { data.picker.giveBack(vmta) }
                throw error
            }
            fromCache = (from, line, Mime.splitAddress(from).address)
        }
        var bytes: [UInt8] = []
        do {
            try textScratch.withUnsafeBytes { t in
                try htmlScratch.withUnsafeBytes { h in
                    try Mime.build(message, text: t, html: h, fromHeader: fromCache!.header, into: &bytes)
                }
            }
        } catch {
            if let vmta = item.vmta { data.picker.giveBack(vmta) }
            throw error
        }
        SmtpChannel.toWire(&bytes)
        let job = Job(items: [item])
        job.payload = bytes
        job.messageID = id
        job.envelopeFrom = fromCache!.address
        job.uid = data.url
        job.tenantData = data
        if let routes = data.routes {
            job.routeChain = chain
            routes.assign(job, position: routes.nextUp(chain, after: -1) ?? 0)
        }
        return .job(job)
    }

    public func drain() -> [Job] { [] }

    public func configure(_ easy: CurlEasy, for job: Job) throws {
        try easy.setURL(job.uid ?? "")
        try easy.set(CURLOPT_MAIL_FROM, string: "<\(job.envelopeFrom)>")
        easy.clearLists()
        try easy.set(CURLOPT_MAIL_RCPT, list: CurlSlist(["<\(job.items[0].email)>"]))
        try easy.setUpload(SmtpChannel.fromWire(job.payload))   // libcurl stuffs and ends it itself
    }

    /// A string member's UTF-8 (escapes decoded) into `out`; empty when absent or not a string.
    static func stringBytes(_ node: JSONNode?, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        guard let node, node.kind == .string else { return }
        let raw = node.rawContent
        guard node.isEscaped else { out.append(contentsOf: raw); return }
        // Runs without escapes are copied whole; each escape (a \uXXXX\uXXXX pair together) is
        // decoded by the core's unescape.
        let n = raw.count
        var i = 0
        while i < n {
            var j = i
            while j < n && raw[j] != UInt8(ascii: "\\") { j += 1 }
            if j > i { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[i..<j])) }
            if j >= n { break }
            var len = 2
            if j + 1 < n && raw[j + 1] == UInt8(ascii: "u") {
                len = 6
                if j + 12 <= n && raw[j + 6] == UInt8(ascii: "\\") && raw[j + 7] == UInt8(ascii: "u") { len = 12 }
            }
            let e = min(n, j + len)
            JSONNode.unescape(UnsafeRawBufferPointer(rebasing: raw[j..<e]), into: &out)
            i = e
        }
    }

    /// A message as it goes after DATA (RFC 5321 4.5.2): lines starting with "." get another
    /// one, a final CRLF if missing, then ".\r\n". `payload` of SMTP jobs is in this form.
    static func toWire(_ message: inout [UInt8]) {
        // Our MIME never starts a line with "." (QP writes =2E), so this scan finds none; kept for
        // any other content.
        let needsStuffing: Bool = message.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, raw.count > 0 else { return false }
            if raw[0] == UInt8(ascii: ".") { return true }
            var p = base
            let end = base + raw.count
            while let nl = memchr(p, 0x0A, end - p) {
                let next = UnsafeRawPointer(nl) + 1
                if next < end && next.load(as: UInt8.self) == UInt8(ascii: ".") { return true }
                p = next
            }
            return false
        }
        if needsStuffing {
            var out: [UInt8] = []
            out.reserveCapacity(message.count + message.count / 64 + 8)
            var lineStart = true
            for b in message {
                if lineStart && b == UInt8(ascii: ".") { out.append(b) }
                out.append(b)
                lineStart = b == 0x0A
            }
            message = out
        }
        if !(message.count >= 2 && message[message.count - 2] == 0x0D && message[message.count - 1] == 0x0A) {
            message.append(contentsOf: [0x0D, 0x0A])
        }
        message.append(contentsOf: [UInt8(ascii: "."), 0x0D, 0x0A])
    }

    /// The message back from its wire form (for libcurl's own SMTP upload).
    static func fromWire(_ wire: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(wire.count)
        let end = wire.count >= 3 ? wire.count - 3 : wire.count
        var lineStart = true
        var i = 0
        while i < end {
            let b = wire[i]
            i += 1
            if lineStart && b == UInt8(ascii: ".") { lineStart = false; continue }   // the stuffed dot
            out.append(b)
            lineStart = b == 0x0A
        }
        return out
    }

    public func finish(_ job: Job, easy: CurlEasy, error: CurlError?) -> Finish {
        finish(job, code: easy.responseCode, reply: easy.lastHeaderLine, error: error)
    }

    /// A job about to start: moved off a route that went down since it was queued.
    func beforeStart(_ job: Job) {
        guard let routes = (job.tenantData as? TenantData)?.routes, !job.routeChain.isEmpty,
              routes.isDown(job.routeChain[job.routePosition]), let next = routes.nextUp(job.routeChain, after: -1) else { return }
        routes.assign(job, position: next)
    }

    /// `code`/`reply`: the SMTP reply that decided the transaction (0/"" when none came);
    /// `atConnect`: setting the connection up failed (nothing of the message was sent).
    public func finish(_ job: Job, code: Int, reply: String, error: CurlError?, atConnect: Bool = false) -> Finish {
        if atConnect, let routes = (job.tenantData as? TenantData)?.routes, !job.routeChain.isEmpty {
            // The route is down: the next one of the chain takes the job now; with none left,
            // the job waits (backoff) and starts again on the first route up by then.
            routes.markDown(job.routeChain[job.routePosition])
            if let next = routes.nextUp(job.routeChain, after: job.routePosition) {
                routes.assign(job, position: next)
                return Finish(followUps: [job])
            }
            routes.assign(job, position: routes.nextUp(job.routeChain, after: -1) ?? 0)
        }
        if error == nil && code == 250 {
            return .all(job, .sent(code: 250, remoteID: SmtpChannel.queueID(reply)))
        }
        let text = reply.isEmpty ? (error?.description ?? "no reply") : reply
        if (400..<500).contains(code) { return Finish(retry: (code, text)) }
        if (500..<600).contains(code) { return .all(job, .failed(code: code, text, .permanent)) }
        // Setting the connection up failed in a way another try will not mend (certificate not
        // trusted, STARTTLS refused, AUTH denied): failed at once, with libcurl's reason.
        if let error, SmtpChannel.isSetupFailure(error) {
            return .all(job, .failed(code: code == 0 ? nil : code, error.description, .configuration))
        }
        // A dropped connection leaves the code of an earlier reply (e.g. 250 to MAIL): not the cause.
        if let error, error.isTransient || code == 0 { return Finish(retry: (nil, error.description)) }
        return .all(job, .failed(code: nil, error.map { "\($0); last reply: \(text)" } ?? "unexpected reply: \(text)", .configuration))
    }

    /// Connection set-up errors that are configuration, not chance.
    public static func isSetupFailure(_ error: CurlError) -> Bool {
        switch CURLcode(UInt32(error.code)) {
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_USE_SSL_FAILED,
             CURLE_LOGIN_DENIED, CURLE_AUTH_ERROR, CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT,
             CURLE_NOT_BUILT_IN:
            return true
        default:
            return false
        }
    }

    public func released(_ item: Item, tenant: TenantContext) {
        if let vmta = item.vmta, let data = tenant.channelData as? TenantData { data.picker.giveBack(vmta) }
    }

    /// "250 2.0.0 Ok: queued as 4F3A21" → "4F3A21" (Postfix); other replies: the text after the code.
    static func queueID(_ reply: String) -> String? {
        let needle = Array("queued as ".utf8)
        let b = Array(reply.utf8)
        guard b.count >= needle.count else { return nil }
        for start in 0...(b.count - needle.count) where b[start] == needle[0] {
            guard b[start..<(start + needle.count)].elementsEqual(needle) else { continue }
            var end = start + needle.count
            while end < b.count && b[end] != UInt8(ascii: " ") && b[end] != 13 && b[end] != 10 { end += 1 }
            return end > start + needle.count ? String(decoding: b[(start + needle.count)..<end], as: UTF8.self) : nil
        }
        return nil
    }
}
