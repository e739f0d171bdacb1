import CCurl
import MailpipeCore
import MailpipeCurl
import MailpipeStore
import MailWizz

/// `inject mailwizz`: contact records → subscribers of the tenant's MailWizz list (API v2).
///
/// - Contacts go out in bulk calls (`POST lists/{l}/subscribers/bulk`), at most `batch` per call
///   and at most `maxInputVars` form variables per call (PHP's `max_input_vars` silently cuts a
///   longer body). The reply must hold one record per subscriber sent, in order: a record with a
///   `subscriber_uid` is `sent`; one whose error says the address already exists, and every
///   record missing from a short reply, goes through the single-record path; other per-record
///   errors are `failed` (422).
/// - Single records: search by email, then PUT (update) on a hit or POST (create) on 404; a 409
///   "exists" on create searches again.
/// - Suppressed contacts (status unsubscribed, bounced, complained, blacklisted): search, then
///   `PUT …/{uid}/unsubscribe`; an address not in the list is `skipped` (404).
/// - Retried: 5xx (503 included), the mutex 409, connection errors and timeouts. Not retried: 400
///   (auth, method), other 409 (duplicate, blacklisted), 422.
public final class MailwizzChannel: InjectChannel {
    public struct Settings {
        public var url: String?
        public var listUID: String?
        /// The API key, read from the environment variable tenant.json names (never argv).
        public var apiKey: String?
        public var batch = 100
        public var maxInputVars = 1000
        public var timeout: Double = 60
        public init() {}
    }

    final class TenantData {
        let base: String
        let list: String
        let headers: CurlSlist
        let fieldMap: [(String, String)]
        let status: String
        init(base: String, list: String, headers: CurlSlist, fieldMap: [(String, String)], status: String) {
            self.base = base; self.list = list; self.headers = headers; self.fieldMap = fieldMap; self.status = status
        }
    }

    enum Step: Int { case bulk = 0, search, create, update, unsubSearch, unsubscribe }

    public let name = "mailwizz"
    let settings: Settings
    var batch: [Item] = []
    var batchFields: [[(String, String)]] = []
    var batchVars = 0
    var batchTenant: TenantData?

    public init(settings: Settings) { self.settings = settings }

    func tenantData(_ ctx: TenantContext) throws -> TenantData {
        if let d = ctx.channelData as? TenantData { return d }
        let mw = ctx.config.mailwizz
        guard var base = settings.url ?? mw?.url, !base.isEmpty else {
            throw StageError.configuration("no MailWizz URL: give --url or set mailwizz.url in \(ctx.directory.configPath)")
        }
        while base.hasSuffix("/") { base.removeLast() }
        guard let list = settings.listUID ?? mw?.listUID, !list.isEmpty else {
            throw StageError.configuration("no MailWizz list: give --list or set mailwizz.list_uid in \(ctx.directory.configPath)")
        }
        let key = try settings.apiKey ?? MailWizzAPI.apiKey(mw, configPath: ctx.directory.configPath)
        let headers = CurlSlist(["X-API-KEY: \(key)", "Accept: application/json", "Expect:"])
        let fieldMap: [(String, String)] = mw?.fields?.map { ($0.tag, $0.path) } ?? [("FNAME", "first_name"), ("LNAME", "last_name")]
        let status = mw?.subscriberStatus ?? "confirmed"
        let data = TenantData(base: base, list: list, headers: headers, fieldMap: fieldMap, status: status)
        ctx.channelData = data
        return data
    }

    public func defaultCampaign(tenant: TenantContext) throws -> String? {
        "list-" + (try tenantData(tenant)).list
    }

    public func prepare(_ easy: CurlEasy) throws {
        try easy.set(CURLOPT_TIMEOUT_MS, Int(settings.timeout * 1000))
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        try easy.set(CURLOPT_TCP_KEEPALIVE, 1)
    }

    /// The fields sent for one contact: EMAIL, the mapped tags, details[status] and details[source].
    func fields(_ record: Record, _ item: Item, _ data: TenantData) -> [(String, String)] {
        var f: [(String, String)] = [("EMAIL", item.email)]
        for (tag, field) in data.fieldMap {
            var node: JSONNode? = record.root
            for part in field.split(separator: ".") { node = node?[String(part)] }
            if let value = node?.string, !value.isEmpty { f.append((tag, value)) }
        }
        f.append(("details[status]", data.status))
        f.append(("details[source]", "api"))
        return f
    }

    /// A refused address (the tenant's policy: suppressed, unsubscribed, bounced…) is unsubscribed
    /// in the list, whatever the campaign.
    public var pushesRefusals: Bool { true }
    public func action(for item: Item) -> String? { item.refusal == nil ? "subscribe" : "unsubscribe" }
    public var defaultAction: String? { "subscribe" }

    public func intake(_ record: Record, item: Item, tenant ctx: TenantContext) throws -> Intake {
        let data = try tenantData(ctx)
        if item.refusal != nil {
            let job = Job(items: [item])
            job.step = Step.unsubSearch.rawValue
            job.fields = [[]]
            job.tenantData = data
            return .job(job)
        }
        let f = fields(record, item, data)
        if settings.batch <= 1 {
            let job = Job(items: [item])
            job.step = Step.search.rawValue
            job.fields = [f]
            job.tenantData = data
            return .job(job)
        }
        var result: Intake = .held
        if !batch.isEmpty && (batchTenant !== data || batchVars + f.count > settings.maxInputVars || batch.count >= settings.batch) {
            result = .job(closeBatch())
        }
        batch.append(item); batchFields.append(f); batchVars += f.count; batchTenant = data
        if case .held = result, batch.count >= settings.batch { result = .job(closeBatch()) }
        return result
    }

    func closeBatch() -> Job {
        let job = Job(items: batch)
        job.fields = batchFields
        job.step = Step.bulk.rawValue
        job.tenantData = batchTenant
        batch = []; batchFields = []; batchVars = 0
        return job
    }

    public func drain() -> [Job] { batch.isEmpty ? [] : [closeBatch()] }

    public func configure(_ easy: CurlEasy, for job: Job) throws {
        guard let data = job.tenantData as? TenantData else { throw CurlError(code: CURLE_FAILED_INIT, detail: "no tenant") }
        let listURL = "\(data.base)/lists/\(data.list)/subscribers"
        easy.clearLists()
        try easy.set(CURLOPT_HTTPHEADER, list: data.headers)
        try easy.set(CURLOPT_CUSTOMREQUEST, pointer: nil)
        switch Step(rawValue: job.step)! {
        case .bulk:
            var form = FormBody()
            for (i, fields) in job.fields.enumerated() {
                for (k, v) in fields { form.add(MailwizzChannel.bracket("subscribers[\(i)]", k), v) }
            }
            try easy.setURL("\(listURL)/bulk")
            try easy.set(CURLOPT_POST, 1)
            try easy.setPostFields(form.bytes)
        case .search, .unsubSearch:
            try easy.setURL("\(listURL)/search-by-email?EMAIL=\(FormBody.queryValue(job.items[0].email))")
            try easy.set(CURLOPT_HTTPGET, 1)
        case .create:
            var form = FormBody()
            for (k, v) in job.fields[0] { form.add(k, v) }
            try easy.setURL(listURL)
            try easy.set(CURLOPT_POST, 1)
            try easy.setPostFields(form.bytes)
        case .update:
            var form = FormBody()
            for (k, v) in job.fields[0] { form.add(k, v) }
            try easy.setURL("\(listURL)/\(job.uid ?? "")")
            try easy.set(CURLOPT_POST, 1)
            try easy.setPostFields(form.bytes)
            try easy.set(CURLOPT_CUSTOMREQUEST, string: "PUT")
        case .unsubscribe:
            try easy.setURL("\(listURL)/\(job.uid ?? "")/unsubscribe")
            try easy.set(CURLOPT_POST, 1)
            try easy.setPostFields([])
            try easy.set(CURLOPT_CUSTOMREQUEST, string: "PUT")
        }
    }

    /// `subscribers[0]` + `details[status]` → `subscribers[0][details][status]`.
    static func bracket(_ prefix: String, _ key: String) -> String {
        if let open = key.firstIndex(of: "[") { return "\(prefix)[\(key[..<open])]\(key[open...])" }
        return "\(prefix)[\(key)]"
    }

    /// The server's error text: `error` as a string, or its field messages joined.
    static func errorText(_ reply: JSONValue?, _ body: [UInt8]) -> String {
        if let e = reply?["error"] {
            if let s = e.string { return s }
            if let o = e.object { return o.members.map { "\($0.0): \($0.1.string ?? $0.1.description)" }.joined(separator: "; ") }
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        return text.isEmpty ? "empty reply" : text
    }

    static func isMutex(_ text: String) -> Bool { text.lowercased().contains("mutex") }

    public func finish(_ job: Job, easy: CurlEasy, error: CurlError?) -> Finish {
        let code = easy.responseCode
        if let error {
            if error.isTransient || code >= 500 { return Finish(retry: (code == 0 ? nil : code, error.description)) }
            return .all(job, .failed(code: code == 0 ? nil : code, error.description, .configuration))
        }
        let reply = try? JSONValue.parse(easy.response)
        let text = MailwizzChannel.errorText(reply, easy.response)
        if code >= 500 || code == 0 { return Finish(retry: (code, text)) }
        if code == 409 && MailwizzChannel.isMutex(text) { return Finish(retry: (code, text)) }
        let step = Step(rawValue: job.step)!
        switch step {
        case .bulk:
            guard code == 201 || code == 200 else { return .all(job, .failed(code: code, text, HttpChannel.failureReason(code))) }
            let records = reply?["data"]?["records"]?.array ?? []
            var finish = Finish()
            var singles: [(Item, [(String, String)])] = []
            for (i, item) in job.items.enumerated() {
                guard i < records.count else { singles.append((item, job.fields[i])); continue }
                let rec = records[i]
                let sentEmail = rec["data"]?["EMAIL"]?.string.map(EmailKey.normalize)
                if let sentEmail, sentEmail != item.email { singles.append((item, job.fields[i])); continue }
                if let errors = rec["errors"], errors.object.map({ !$0.members.isEmpty }) ?? (errors.string != nil) {
                    let t = MailwizzChannel.errorText(.object(JSONObject([("error", errors)])), [])
                    if t.lowercased().contains("already exists") { singles.append((item, job.fields[i])); continue }
                    finish.outcomes.append((i, .failed(code: t.lowercased().contains("blacklist") ? 409 : 422, t, .permanent)))
                    continue
                }
                if let uid = rec["data"]?["subscriber_uid"]?.string {
                    finish.outcomes.append((i, .sent(code: code, remoteID: uid)))
                } else {
                    singles.append((item, job.fields[i]))
                }
            }
            for (item, fields) in singles {
                let single = Job(items: [item])
                single.step = Step.search.rawValue
                single.fields = [fields]
                single.tenantData = job.tenantData
                finish.followUps.append(single)
            }
            return finish
        case .search, .unsubSearch:
            if code == 200, let uid = reply?["data"]?["subscriber_uid"]?.string {
                return next(job, step == .search ? .update : .unsubscribe, uid: uid)
            }
            if code == 404 {
                if step == .unsubSearch { return .all(job, .skipped(code: 404, remoteID: nil, "not in the list: nothing to unsubscribe")) }
                return next(job, .create, uid: nil)
            }
            return .all(job, .failed(code: code, text, HttpChannel.failureReason(code)))
        case .create:
            if code == 201 || code == 200, let uid = reply?["data"]?["record"]?["subscriber_uid"]?.string {
                return .all(job, .sent(code: code, remoteID: uid))
            }
            if code == 409 && text.lowercased().contains("already exists") && job.hops < 6 {
                return next(job, .search, uid: nil)
            }
            return .all(job, .failed(code: code, text, HttpChannel.failureReason(code)))
        case .update:
            if code == 200 || code == 201 {
                let uid = reply?["data"]?["record"]?["subscriber_uid"]?.string ?? job.uid
                return .all(job, .sent(code: code, remoteID: uid))
            }
            if code == 409 && text.lowercased().contains("does not exist") && job.hops < 6 {
                return next(job, .search, uid: nil)
            }
            return .all(job, .failed(code: code, text, HttpChannel.failureReason(code)))
        case .unsubscribe:
            if code == 200 { return .all(job, .sent(code: code, remoteID: job.uid)) }
            return .all(job, .failed(code: code, text, HttpChannel.failureReason(code)))
        }
    }

    func next(_ job: Job, _ step: Step, uid: String?) -> Finish {
        job.step = step.rawValue
        job.uid = uid
        job.stepAttempts = 0
        job.hops += 1
        return Finish(followUps: [job])
    }
}
