import MailpipeCore
import MailpipeStore

/// What one webhook request carried: the events for the books, what was left out (by the
/// provider's own event type), and the items that could not be read (said in the answer).
/// One ESP account may send for several tenants, so every event is `shared`: the books keep the
/// tenant's own (EventScope: a campaign it sent, else one of its contacts) and count the rest.
public struct WebhookBatch {
    public private(set) var events: [BookEvent] = []
    public var ignored: [String: Int] = [:]
    public var problems: [String] = []

    public init() {}

    mutating func ignore(_ type: String) { ignored[type, default: 0] += 1 }

    mutating func append(_ event: BookEvent) {
        var e = event
        e.shared = true
        events.append(e)
    }
}

/// The bounce class of a DSN status, by the rule PowerMTA rows follow (5.1.x and 5.2.1 hard,
/// other 5.x.x policy, 4.x.x soft).
func bounceClass(status: String) -> String { BounceClass.classify(category: "", dsnStatus: status).rawValue }

/// SendGrid Event Webhook: a JSON array of events `{email, timestamp, event, sg_event_id,
/// sg_message_id, reason, status, type, bounce_classification, url, category, …custom args}`.
/// The event id is SendGrid's `sg_event_id`, so a redelivered batch records nothing twice.
public enum SendGridEvents {
    public static func parse(_ body: [UInt8]) -> Result<WebhookBatch, WebhookError> {
        guard let value = try? JSONValue.parse(body, maxDepth: 32), let items = value.array else {
            return .failure(.malformed("the body is not a JSON array of SendGrid events"))
        }
        var batch = WebhookBatch()
        for (i, item) in items.enumerated() {
            guard let kind = item["event"]?.string else { batch.problems.append("event \(i): no event type"); continue }
            guard let email = item["email"]?.string, !email.isEmpty else { batch.problems.append("event \(i): no email"); continue }
            guard let at = item["timestamp"].flatMap(timestamp) else { batch.problems.append("event \(i): no timestamp"); continue }
            let status = item["status"]?.string ?? ""
            var type: String
            var klass: String? = nil
            switch kind {
            case "delivered": type = "delivered"
            case "deferred": type = "deferred"
            case "bounce":
                type = "bounced"
                klass = classify(item["bounce_classification"]?.string, blocked: item["type"]?.string == "blocked", status: status)
            case "spamreport": type = "complained"
            case "unsubscribe", "group_unsubscribe": type = "unsubscribed"
            case "open": type = "opened"
            case "click": type = "clicked"
            default: batch.ignore(kind); continue  // processed, dropped, group_resubscribe: nothing to book
            }
            let id = item["sg_event_id"]?.string.map { EventID.hash(["sendgrid", $0]) } ?? EventID.hash(["sendgrid", item.description])
            var extra: [(String, JSONValue)] = [("channel", .string("sendgrid"))]
            if let m = item["sg_message_id"]?.string { extra.append(("remote_id", .string(m))) }
            if let u = item["url"]?.string, type == "clicked" { extra.append(("url", .string(u))) }
            let campaign = item["campaign"]?.string ?? item["category"]?.string
            let reason = item["reason"]?.string ?? item["response"]?.string
            batch.append(BookEvent(id: id, email: EmailKey.normalize(email), type: type, bounceClass: klass, reason: reason,
                                          campaign: campaign, at: at, source: "sendgrid", extra: extra))
        }
        return .success(batch)
    }

    /// SendGrid's own classification when given, else the DSN status; a "blocked" bounce (the
    /// receiver refused the sender, not the address) never counts as hard.
    static func classify(_ classification: String?, blocked: Bool, status: String) -> String {
        switch classification {
        case "Invalid Address", "Mailbox Unavailable": return "hard"
        case "Technical", "Frequency or Volume Too High": return "soft"
        case "Content", "Reputation": return "policy"
        default:
            let byStatus = bounceClass(status: status)
            return blocked && byStatus == "hard" ? "policy" : byStatus
        }
    }
}

/// Postmark webhooks: one JSON object per request, by `RecordType` — Bounce, SpamComplaint,
/// Delivery, Open, Click, SubscriptionChange.
public enum PostmarkEvents {
    public static func parse(_ body: [UInt8]) -> Result<WebhookBatch, WebhookError> {
        guard let item = try? JSONValue.parse(body, maxDepth: 32), item.object != nil else {
            return .failure(.malformed("the body is not a Postmark webhook object"))
        }
        var batch = WebhookBatch()
        let record = item["RecordType"]?.string ?? ""
        let campaign = item["Tag"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? item["Metadata"]?["campaign"]?.string
        func add(_ type: String, email: String?, time: String?, id: [String], klass: String? = nil, reason: String? = nil,
                 url: String? = nil) {
            guard let email, !email.isEmpty else { batch.problems.append("\(record): no recipient"); return }
            guard let time, let at = Timestamp(parsing: time) else { batch.problems.append("\(record): no usable time"); return }
            var extra: [(String, JSONValue)] = [("channel", .string("postmark"))]
            if let m = item["MessageID"]?.string, !m.isEmpty { extra.append(("remote_id", .string(m))) }
            if let url { extra.append(("url", .string(url))) }
            batch.append(BookEvent(id: EventID.hash(["postmark", record] + id), email: EmailKey.normalize(email), type: type,
                                          bounceClass: klass, reason: reason, campaign: campaign, at: at, source: "postmark",
                                          extra: extra))
        }
        let message = item["MessageID"]?.string ?? ""
        switch record {
        case "Bounce":
            let kind = item["Type"]?.string ?? ""
            let id = [item["ID"].map { $0.int.map(String.init) ?? $0.string ?? "" } ?? message]
            let reason = item["Description"]?.string ?? item["Details"]?.string
            switch kind {
            case "HardBounce", "BadEmailAddress": add("bounced", email: item["Email"]?.string, time: item["BouncedAt"]?.string, id: id, klass: "hard", reason: reason)
            case "SoftBounce", "Transient", "DnsError", "AutoResponder": add("bounced", email: item["Email"]?.string, time: item["BouncedAt"]?.string, id: id, klass: "soft", reason: reason)
            case "Blocked", "DMARCPolicy", "SpamNotification", "ContentRelated", "VirusNotification":
                add("bounced", email: item["Email"]?.string, time: item["BouncedAt"]?.string, id: id, klass: "policy", reason: reason)
            case "SpamComplaint": add("complained", email: item["Email"]?.string, time: item["BouncedAt"]?.string, id: id, reason: reason)
            case "Unsubscribe": add("unsubscribed", email: item["Email"]?.string, time: item["BouncedAt"]?.string, id: id, reason: reason)
            default: batch.ignore("Bounce.\(kind)")
            }
        case "SpamComplaint":
            let id = [item["ID"].map { $0.int.map(String.init) ?? $0.string ?? "" } ?? message]
            add("complained", email: item["Email"]?.string, time: item["BouncedAt"]?.string, id: id)
        case "Delivery":
            add("delivered", email: item["Recipient"]?.string, time: item["DeliveredAt"]?.string,
                id: [message, item["Recipient"]?.string ?? ""], reason: item["Details"]?.string)
        case "Open":
            let time = item["ReceivedAt"]?.string
            add("opened", email: item["Recipient"]?.string, time: time, id: [message, item["Recipient"]?.string ?? "", time ?? ""])
        case "Click":
            let time = item["ReceivedAt"]?.string
            add("clicked", email: item["Recipient"]?.string, time: time,
                id: [message, item["Recipient"]?.string ?? "", time ?? "", item["OriginalLink"]?.string ?? ""],
                url: item["OriginalLink"]?.string)
        case "SubscriptionChange":
            // A reactivation (SuppressSending false) lifts nothing: only `account suppress --remove` does.
            guard item["SuppressSending"]?.bool == true else { batch.ignore("SubscriptionChange.reactivated"); break }
            let reason = item["SuppressionReason"]?.string ?? ""
            let time = item["ChangedAt"]?.string
            let id = [item["Recipient"]?.string ?? "", time ?? "", reason]
            switch reason {
            case "HardBounce": add("bounced", email: item["Recipient"]?.string, time: time, id: id, klass: "hard", reason: "postmark suppression")
            case "SpamComplaint": add("complained", email: item["Recipient"]?.string, time: time, id: id, reason: "postmark suppression")
            default: add("unsubscribed", email: item["Recipient"]?.string, time: time, id: id, reason: "postmark \(reason)")
            }
        default:
            batch.ignore(record.isEmpty ? "unknown" : record)
        }
        return .success(batch)
    }
}

/// Amazon SES notifications (`notificationType`) and event publishing records (`eventType`),
/// the `Message` of an SNS notification: Bounce, Complaint, Delivery, DeliveryDelay, Open, Click.
public enum SESEvents {
    public static func parse(_ message: JSONValue) -> WebhookBatch {
        var batch = WebhookBatch()
        let kind = message["notificationType"]?.string ?? message["eventType"]?.string ?? "unknown"
        let mail = message["mail"]
        let messageID = mail?["messageId"]?.string ?? ""
        var campaign = mail?["tags"]?["campaign"]?.array?.first?.string
        if campaign == nil {
            campaign = mail?["headers"]?.array?.first { $0["name"]?.string?.lowercased() == "x-job" }?["value"]?.string
        }
        func time(_ v: JSONValue?) -> Timestamp? {
            v?["timestamp"]?.string.flatMap(Timestamp.init(parsing:)) ?? mail?["timestamp"]?.string.flatMap(Timestamp.init(parsing:))
        }
        func add(_ type: String, _ email: String?, at: Timestamp?, id: [String], klass: String? = nil, reason: String? = nil,
                 url: String? = nil) {
            guard let email, !email.isEmpty else { batch.problems.append("\(kind): a recipient without an address"); return }
            guard let at else { batch.problems.append("\(kind): no usable timestamp"); return }
            var extra: [(String, JSONValue)] = [("channel", .string("ses"))]
            if !messageID.isEmpty { extra.append(("remote_id", .string(messageID))) }
            if let url { extra.append(("url", .string(url))) }
            batch.append(BookEvent(id: EventID.hash(["ses", kind] + id), email: EmailKey.normalize(email), type: type,
                                          bounceClass: klass, reason: reason, campaign: campaign, at: at, source: "ses", extra: extra))
        }
        switch kind {
        case "Bounce":
            let b = message["bounce"]
            let at = time(b)
            let feedback = b?["feedbackId"]?.string ?? messageID
            for r in b?["bouncedRecipients"]?.array ?? [] {
                let status = r["status"]?.string ?? ""
                let klass: String
                switch (b?["bounceType"]?.string, b?["bounceSubType"]?.string) {
                case ("Permanent", _): klass = "hard"
                case (_, "ContentRejected"), (_, "AttachmentRejected"): klass = "policy"
                default: klass = status.isEmpty ? "soft" : (bounceClass(status: status) == "hard" ? "soft" : bounceClass(status: status))
                }
                add("bounced", r["emailAddress"]?.string, at: at, id: [feedback, r["emailAddress"]?.string ?? ""], klass: klass,
                    reason: r["diagnosticCode"]?.string ?? b?["bounceSubType"]?.string)
            }
        case "Complaint":
            let c = message["complaint"]
            let feedback = c?["feedbackId"]?.string ?? messageID
            for r in c?["complainedRecipients"]?.array ?? [] {
                add("complained", r["emailAddress"]?.string, at: time(c), id: [feedback, r["emailAddress"]?.string ?? ""],
                    reason: c?["complaintFeedbackType"]?.string)
            }
        case "Delivery":
            let d = message["delivery"]
            for r in d?["recipients"]?.array ?? [] {
                add("delivered", r.string, at: time(d), id: [messageID, r.string ?? ""], reason: d?["smtpResponse"]?.string)
            }
        case "DeliveryDelay":
            let d = message["deliveryDelay"]
            for r in d?["delayedRecipients"]?.array ?? [] {
                add("deferred", r["emailAddress"]?.string, at: time(d), id: [messageID, r["emailAddress"]?.string ?? "", d?["timestamp"]?.string ?? ""],
                    reason: r["diagnosticCode"]?.string ?? d?["delayType"]?.string)
            }
        case "Open", "Click":
            let o = message[kind.lowercased()]
            let stamp = o?["timestamp"]?.string ?? ""
            for r in mail?["destination"]?.array ?? [] {
                add(kind == "Open" ? "opened" : "clicked", r.string, at: time(o), id: [messageID, r.string ?? "", stamp, o?["link"]?.string ?? ""],
                    url: kind == "Click" ? o?["link"]?.string : nil)
            }
        default:
            batch.ignore(kind)  // Send, Reject, Rendering Failure, Subscription, AmazonSnsSubscriptionSucceeded
        }
        return batch
    }
}

public enum WebhookError: Error {
    case malformed(String)
}

/// Unix seconds (a number or its text) or RFC 3339.
func timestamp(_ v: JSONValue) -> Timestamp? {
    if let n = v.int { return Timestamp(seconds: Int64(n)) }
    return v.string.flatMap(Timestamp.init(parsing:))
}
