#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCurl
import MailpipeCore
import MailpipeCurl
import MailpipeStore

/// A MailWizz REST API v2 client for calls made one at a time (polling, campaign creation):
/// `X-API-KEY` auth, PHP form bodies, lenient reading of PHP's JSON (`count` as text,
/// `total_pages` as a float), and retries with backoff where MailWizz says to retry — 503, other
/// 5xx, the "mutex lock" 409, connection trouble. Bulk subscriber sync stays in inject's
/// MailwizzChannel (many transfers in flight on a multi handle).
public final class MailWizzAPI {
    public struct Reply {
        public var status: Int
        public var json: JSONValue?
        public var body: [UInt8]

        /// `error` as text, or its field messages joined; else the start of the body.
        public var errorText: String {
            if let e = json?["error"] {
                if let s = e.string { return s }
                if let o = e.object { return o.members.map { "\($0.0): \($0.1.string ?? $0.1.description)" }.joined(separator: "; ") }
            }
            let text = String(decoding: body.prefix(200), as: UTF8.self)
            return text.isEmpty ? "empty reply" : text
        }
    }

    public let base: String
    let easy: CurlEasy
    let headers: CurlSlist
    public var maxAttempts = 5
    public var backoff = 0.5
    /// Requests made (retries included), for summaries.
    public private(set) var requests = 0

    /// `base` is the API root (`https://host/api`); the key goes in a header and nowhere else.
    public init(base: String, apiKey: String, timeout: Double = 60) throws {
        var b = base
        while b.hasSuffix("/") { b.removeLast() }
        self.base = b
        easy = try CurlEasy()
        headers = CurlSlist(["X-API-KEY: \(apiKey)", "Accept: application/json", "Expect:"])
        try easy.set(CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        try easy.set(CURLOPT_HTTPHEADER, list: headers)
    }

    public func get(_ path: String, query: [(String, String)] = []) throws -> Reply {
        let q = query.map { "\($0.0)=\(FormBody.queryValue($0.1))" }.joined(separator: "&")
        return try send(url: "\(base)/\(path)" + (q.isEmpty ? "" : "?\(q)"), form: nil)
    }

    public func post(_ path: String, form: FormBody) throws -> Reply {
        try send(url: "\(base)/\(path)", form: form)
    }

    func send(url: String, form: FormBody?) throws -> Reply {
        var attempt = 0
        while true {
            attempt += 1
            requests += 1
            try easy.setURL(url)
            if let form {
                try easy.set(CURLOPT_POST, 1)
                try easy.setPostFields(form.bytes)
            } else {
                try easy.set(CURLOPT_HTTPGET, 1)
            }
            var failure: String
            do {
                try easy.perform()
                let reply = Reply(status: easy.responseCode, json: try? JSONValue.parse(easy.response, maxDepth: 64), body: easy.response)
                let retry = reply.status >= 500 || (reply.status == 409 && reply.errorText.lowercased().contains("mutex"))
                if !retry { return reply }
                failure = "HTTP \(reply.status): \(reply.errorText)"
            } catch let error as CurlError where error.isTransient {
                failure = error.description
            }
            guard attempt < maxAttempts else {
                throw StageError.runtime("MailWizz \(url.split(separator: "?").first ?? ""): \(failure) (after \(attempt) attempts)")
            }
            let delay = min(30, backoff * Double(1 << min(attempt - 1, 6)))
            usleep(UInt32(delay * 1_000_000))
        }
    }

    /// The records of a paginated collection (`data.records`), page after page, until a page
    /// comes back short or `enough(records so far, total count)` says the rest is not needed
    /// (newest-first endpoints read since a cursor). Returns them and the collection's count.
    public func records(_ path: String, query: [(String, String)] = [], perPage: Int,
                        enough: ([JSONValue], Int) -> Bool = { _, _ in false }) throws -> (records: [JSONValue], total: Int) {
        var all: [JSONValue] = []
        var page = 1
        while true {
            let reply = try get(path, query: query + [("page", String(page)), ("per_page", String(perPage))])
            guard reply.status == 200 else {
                throw StageError.runtime("MailWizz GET \(path): HTTP \(reply.status): \(reply.errorText)")
            }
            let data = reply.json?["data"]
            let records = data?["records"]?.array ?? []
            all += records
            // `count` may come as text and `total_pages` as a float: read them leniently.
            let total = data?["count"].flatMap { $0.int ?? $0.string.flatMap { Int($0) } } ?? all.count
            let pages = data?["total_pages"]?.double.map { Int($0) } ?? 0
            if records.isEmpty || page >= pages || enough(all, total) { return (all, total) }
            page += 1
        }
    }
}

extension MailWizzAPI {
    /// The tenant's MailWizz: `url` (else `mailwizz.url`), the key read from the variable
    /// `mailwizz.api_key_env` names.
    public convenience init(tenant config: TenantConfig, configPath: String, url: String? = nil) throws {
        guard let base = url ?? config.mailwizz?.url, !base.isEmpty else {
            throw StageError.configuration("no MailWizz URL: set mailwizz.url in \(configPath)")
        }
        try self.init(base: base, apiKey: try MailWizzAPI.apiKey(config.mailwizz, configPath: configPath))
    }

    /// The API key, from the environment variable `mailwizz.api_key_env` names (never from argv).
    public static func apiKey(_ settings: TenantConfig.MailWizz?, configPath: String) throws -> String {
        guard let env = settings?.apiKeyEnv else {
            throw StageError.configuration("\(configPath): mailwizz.api_key_env must name the environment variable holding the API key")
        }
        guard let value = FileSystem.environment(env), !value.isEmpty else {
            throw StageError.configuration("the environment variable \(env) (mailwizz.api_key_env) is not set")
        }
        return value
    }
}
