import CCurl
import MailpipeCore
import MailpipeCurl
import MailpipeStore

/// `inject http`: each record → one JSON POST to a configured URL (an ESP-style API or a
/// webhook), the body made from a small template (`BodyTemplate`). 2xx is `sent` (the remote id
/// read from the reply's `--id-field`, if any); 408, 429, 5xx and connection trouble are retried;
/// any other status is `failed` with the reply's first 200 bytes.
public final class HttpChannel: InjectChannel {
    public struct Settings {
        public var url: String
        public var template: BodyTemplate
        /// Header lines, secret ones already read from the environment.
        public var headers: [String] = []
        /// Dotted path of the remote id in a JSON reply (e.g. `id`, `data.message_id`).
        public var idField: String?
        public var timeout: Double = 60

        public init(url: String, template: BodyTemplate) { self.url = url; self.template = template }
    }

    public let name = "http"
    let settings: Settings
    let headerList: CurlSlist

    public init(settings: Settings) throws {
        let lower = settings.url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw StageError.usage("the URL must start with http:// or https://")
        }
        if let host = settings.url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false).dropFirst(2).first, host.contains("@") {
            throw StageError.usage("credentials do not belong in the URL: use --header-env")
        }
        self.settings = settings
        headerList = CurlSlist(["Content-Type: application/json", "Accept: application/json", "Expect:"] + settings.headers)
    }

    public func defaultCampaign(tenant: TenantContext) throws -> String? { nil }

    public func prepare(_ easy: CurlEasy) throws {
        try easy.set(CURLOPT_TIMEOUT_MS, Int(settings.timeout * 1000))
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        try easy.set(CURLOPT_HTTPHEADER, list: headerList)
        try easy.setURL(settings.url)
        try easy.set(CURLOPT_POST, 1)
    }

    public func intake(_ record: Record, item: Item, tenant: TenantContext) throws -> Intake {
        var body: [UInt8] = []
        settings.template.render(record.root, into: &body)
        let job = Job(items: [item])
        job.payload = body
        return .job(job)
    }

    public func drain() -> [Job] { [] }

    public func configure(_ easy: CurlEasy, for job: Job) throws {
        try easy.setPostFields(job.payload)
    }

    /// A final HTTP status: the request's or the service's fault (400 malformed, 401/403 key,
    /// 404/405 endpoint, 407 proxy, 413–415 body) is `configuration` — fixed on our side, tried
    /// again by a later run; any other 4xx (409, 410, 422…) refuses this recipient: `permanent`.
    public static func failureReason(_ code: Int) -> OutcomeReason {
        switch code {
        case 400, 401, 403, 404, 405, 407, 411, 413, 414, 415, 426, 431: return .configuration
        case 400..<500: return .permanent
        default: return .configuration
        }
    }

    public func finish(_ job: Job, easy: CurlEasy, error: CurlError?) -> Finish {
        let code = easy.responseCode
        if let error {
            if error.isTransient || code >= 500 { return Finish(retry: (code == 0 ? nil : code, error.description)) }
            return .all(job, .failed(code: code == 0 ? nil : code, error.description, .configuration))
        }
        let text = String(decoding: easy.response.prefix(200), as: UTF8.self)
        if (200..<300).contains(code) {
            var remote: String?
            if let path = settings.idField, let reply = try? JSONValue.parse(easy.response) {
                var node: JSONValue? = reply
                for part in path.split(separator: ".") { node = node?[String(part)] }
                if let node { remote = node.string ?? (node.int.map(String.init)) }
            }
            return .all(job, .sent(code: code, remoteID: remote))
        }
        if code >= 500 || code == 429 || code == 408 { return Finish(retry: (code, text.isEmpty ? "HTTP \(code)" : text)) }
        return .all(job, .failed(code: code, text.isEmpty ? "HTTP \(code)" : text, HttpChannel.failureReason(code)))
    }
}
