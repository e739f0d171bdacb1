import MailpipeCore
import MailpipeHTTP
import MailpipeStore

/// The ESP event webhooks, one route per provider and tenant: `/webhooks/<tenant>/sendgrid`,
/// `/postmark`, `/ses`, and MailWizz's open/click webhooks `/mailwizz`. A request is proven
/// first (signature, basic auth, SNS signature, MailWizz's shared secret); a refused one records
/// nothing and is answered 401/403. A MailWizz event of a list that is not the tenant's refuses
/// the whole request (422): nothing is recorded. Its events then go through the
/// tenant's group commit, and the answer (200, with counts) comes once they are durable. The
/// event ids come from the provider's own ids, so a redelivery records nothing twice. Events of
/// another tenant (an ESP account several tenants share) are counted (`other_tenant`), not written.
struct WebhookRoutes {
    let tenants: [String: ServedTenant]
    let notices: (String) -> Void

    enum Provider: String {
        case sendgrid, postmark, ses, mailwizz
    }

    func handle(_ provider: Provider, _ request: HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard let slug = request.parameters["tenant"], let tenant = tenants[slug] else {
            return respond(.text(404, "Not found.", outcome: "unknown_tenant"))
        }
        let batch: WebhookBatch
        switch provider {
        case .sendgrid:
            guard let verifier = tenant.sendgrid else { return respond(.text(404, "Not found.", outcome: "not_configured")) }
            if case .failure(let why) = verifier.verify(body: request.body, signature: request.header(SendGridVerifier.signatureHeader),
                                                         timestamp: request.header(SendGridVerifier.timestampHeader)) {
                return respond(.text(403, "The signature does not verify.", outcome: why.rawValue))
            }
            switch SendGridEvents.parse(request.body) {
            case .success(let b): batch = b
            case .failure(.malformed(let text)): return respond(.text(400, text, outcome: "malformed"))
            }
        case .postmark:
            guard let verifier = tenant.postmark else { return respond(.text(404, "Not found.", outcome: "not_configured")) }
            if case .failure(let why) = verifier.verify(request.header("Authorization")) {
                var r = HTTPResponse.text(401, "Authentication required.", outcome: why.rawValue)
                r.headers.append(("WWW-Authenticate", "Basic realm=\"mailpipe\""))
                return respond(r)
            }
            switch PostmarkEvents.parse(request.body) {
            case .success(let b): batch = b
            case .failure(.malformed(let text)): return respond(.text(400, text, outcome: "malformed"))
            }
        case .mailwizz:
            guard let verifier = tenant.mailwizz else { return respond(.text(404, "Not found.", outcome: "not_configured")) }
            let given = request.queryValue(SharedSecretVerifier.queryParameter) ?? request.header(SharedSecretVerifier.header)
            if case .failure(let why) = verifier.verify(given) {
                return respond(.text(403, "The webhook secret is missing or wrong.", outcome: why.rawValue))
            }
            switch MailWizzEvents.parse(request.body) {
            case .success(let b): batch = b
            case .failure(.malformed(let text)): return respond(.text(400, text, outcome: "malformed"))
            }
            let unknown = MailWizzEvents.unknownLists(batch, lists: tenant.mailwizzLists)
            guard unknown.isEmpty else {
                let named = unknown.map { $0.isEmpty ? "(no list uid)" : $0 }.joined(separator: ", ")
                return respond(.text(422, "Not \(slug)'s MailWizz list: \(named); nothing was recorded.", outcome: "unknown_list"))
            }
        case .ses:
            guard let verifier = tenant.ses else { return respond(.text(404, "Not found.", outcome: "not_configured")) }
            guard let message = try? JSONValue.parse(request.body, maxDepth: 16), message.object != nil else {
                return respond(.text(400, "The body is not an SNS message.", outcome: "malformed"))
            }
            if case .failure(let why) = verifier.verify(message, now: .current()) {
                return respond(.text(403, "The SNS signature does not verify.", outcome: why.rawValue))
            }
            switch message["Type"]?.string {
            case "SubscriptionConfirmation":
                // No outbound call is made: the operator confirms the subscription (the URL is
                // for that, once, and holds no secret of ours).
                notices("\(slug): SNS asks to confirm the subscription to \(message["TopicArn"]?.string ?? "?"): open \(message["SubscribeURL"]?.string ?? "?")")
                return respond(.text(200, "Subscription noted; confirm it with the SubscribeURL.", outcome: "subscription_confirmation"))
            case "Notification":
                guard let text = message["Message"]?.string, let inner = try? JSONValue.parse(Array(text.utf8), maxDepth: 32) else {
                    return respond(.text(400, "The notification's Message is not SES JSON.", outcome: "malformed"))
                }
                batch = SESEvents.parse(inner)
            default:
                return respond(.text(200, "Nothing to record.", outcome: "ignored"))
            }
        }
        record(batch, tenant: tenant, respond)
    }

    func record(_ batch: WebhookBatch, tenant: ServedTenant, _ respond: @escaping @Sendable (HTTPResponse) -> Void) {
        let ignored = batch.ignored.values.reduce(0, +)
        let problems = batch.problems
        let count = batch.events.count
        @Sendable func answer(_ status: Int, recorded: Int, otherTenant: Int = 0, outcome: String) -> HTTPResponse {
            var body = ByteBuffer(capacity: 256)
            var w = JSONObjectWriter(into: &body)
            w.member("events", .int(count), into: &body)
            w.member("new", .int(recorded), into: &body)
            w.member("other_tenant", .int(otherTenant), into: &body)
            w.member("ignored", .int(ignored), into: &body)
            w.member("problems", .array(problems.prefix(20).map { .string($0) }), into: &body)
            w.finish(into: &body)
            return .json(status, body.bytes, outcome: outcome)
        }
        guard count > 0 else {
            // Nothing readable at all is the sender's mistake; only ignored types is fine.
            return respond(problems.isEmpty ? answer(200, recorded: 0, outcome: "ignored") : answer(422, recorded: 0, outcome: "unreadable"))
        }
        tenant.commits.submit(batch.events) { outcome in
            switch outcome {
            case .recorded(let new, let other): respond(answer(200, recorded: new, otherTenant: other, outcome: new > 0 ? "recorded" : "other_tenant"))
            case .duplicate: respond(answer(200, recorded: 0, outcome: "duplicate"))
            case .failed:
                var r = answer(503, recorded: 0, outcome: "not_durable")
                r.headers.append(("Retry-After", "60"))
                respond(r)
            }
        }
    }
}
