import MailpipeCore
import MailpipeHTTP
import MailpipeStore
import RenderStage

/// Open and click tracking at `<path of tracking.url>/click` and `/open`, with the query
/// `render --track` signs (TrackingToken):
///
/// - click: the signature is checked in constant time, the `clicked` event goes through the
///   tenant's group commit, and once it is durable the answer is a 302 to the URL inside the
///   signature — never to any other (a changed URL, tenant, campaign, recipient or time is a
///   403 and records nothing).
/// - open: the same check, an `opened` event, then a 1×1 transparent GIF.
///
/// An event is one per (message, URL, UTC day, person or machine): reloads and retries record
/// nothing twice, a person's click after a scanner's still counts, and a later day's open moves
/// `last_opened_at`. Machines (MachineRules) are recorded with `"machine": true` and the rule
/// that fired; engagement leaves them out. When the books cannot be written the person still
/// gets the page (302) or the image: a lost click must not break a link (`not_durable` in the
/// access log).
struct TrackingRoutes {
    /// Tenants whose tracking.url has this path, by slug.
    let tenants: [String: ServedTenant]

    /// Adds the click and open routes of every tracked tenant.
    static func add(to router: Router, tenants: [ServedTenant]) {
        var byPath: [String: [String: ServedTenant]] = [:]
        for t in tenants {
            guard let path = t.trackingPath else { continue }
            byPath[path, default: [:]][t.slug] = t
        }
        for path in byPath.keys.sorted() {
            let routes = TrackingRoutes(tenants: byPath[path]!)
            let base = path == "/" ? "" : path
            // Not rate-limited per address: the people behind one office or carrier gateway must
            // all reach their pages. A forged link is refused before anything is written, and a
            // valid one repeated records nothing new (one event per day).
            router.add("click", [.get], base + "/click", maxBody: 0, rateLimited: false) { request, respond in routes.handle(.click, request, respond) }
            router.add("open", [.get], base + "/open", maxBody: 0, rateLimited: false) { request, respond in routes.handle(.open, request, respond) }
        }
    }

    func handle(_ purpose: TrackingToken.Purpose, _ request: HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard let slug = request.queryValue("t") else {
            return respond(.text(400, "This link is incomplete.", outcome: TrackingToken.Refusal.incomplete.rawValue))
        }
        guard let tenant = tenants[slug], let keys = tenant.trackingKeys else { return respond(.text(404, "Not found.", outcome: "unknown_tenant")) }
        let link: TrackingToken.Link
        switch keys.verify(purpose, request.queryValue) {
        case .success(let l): link = l
        case .failure(let why):
            return respond(.text(why == .incomplete ? 400 : 403, "This link is not valid.", outcome: why.rawValue))
        }
        let now = Timestamp.current()
        let facts = TrackingLinkFacts(message: EventID.hash([link.tenant, link.campaign, link.email]),
                                      urlHash: link.url.map { EventID.hash([$0]) }, signedAt: link.signedAt)
        let machine = tenant.machineRules.judge(
            MachineRules.Request(isHead: request.method == .head, userAgent: request.header("User-Agent"),
                                 address: MachineRules.clientAddress(peer: request.client, forwardedFor: request.header("X-Forwarded-For")),
                                 at: now, monotonic: MachineRules.monotonicNow()),
            link: facts)
        let event = TrackingRoutes.event(link, machine: machine, at: now)
        let answer = TrackingRoutes.answer(link)
        tenant.commits.submit([event]) { outcome in
            var r = answer
            switch outcome {
            case .recorded(let new, _): r.outcome = new > 0 ? (machine == nil ? "recorded" : "machine") : "duplicate"
            case .duplicate: r.outcome = "duplicate"
            case .failed: r.outcome = "not_durable"
            }
            respond(r)
        }
    }

    /// The event of a verified link (ids: see the type's comment).
    static func event(_ link: TrackingToken.Link, machine: MachineReason?, at: Timestamp) -> BookEvent {
        let type = link.purpose == .click ? "clicked" : "opened"
        let day = String(at.seconds / 86_400)
        var idParts = [type, link.tenant, link.email, link.campaign, day, machine == nil ? "person" : "machine"]
        var extra: [(String, JSONValue)] = []
        if let url = link.url {
            idParts.append(url)
            extra.append(("url", .string(url)))
        }
        if let machine {
            extra.append(("machine", .bool(true)))
            extra.append(("machine_reason", .string(machine.rawValue)))
        }
        return BookEvent(id: EventID.hash(idParts), email: link.email, type: type, campaign: link.campaign, at: at,
                         source: "tracking", extra: extra)
    }

    /// A click's redirect (the target sees no Referer: the link's token stays ours), or the pixel.
    static func answer(_ link: TrackingToken.Link) -> HTTPResponse {
        if let url = link.url {
            return HTTPResponse(status: 302, headers: [("Location", TrackingRoutes.asciiLocation(url)), ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"),
                                                       ("Content-Type", "text/plain; charset=utf-8")],
                                body: Array("Redirecting to \(url)\n".utf8))
        }
        return HTTPResponse(status: 200, headers: [("Content-Type", "image/gif"), ("Cache-Control", "no-store, max-age=0")], body: pixel)
    }

    /// The URL with its non-ASCII bytes percent-encoded (an HTML href may hold an IRI; a header
    /// holds ASCII).
    static func asciiLocation(_ url: String) -> String {
        guard url.utf8.contains(where: { $0 >= 0x80 }) else { return url }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in url.utf8 {
            if b < 0x80 { out.append(b) } else { out += [0x25, hex[Int(b >> 4)], hex[Int(b & 15)]] }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A 1×1 transparent GIF (GIF89a, one transparent colour).
    static let pixel: [UInt8] = [
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xFF, 0xFF, 0xFF, 0x21, 0xF9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B,
    ]
}
