import MailpipeCore
import MailpipeStore

/// MailWizz campaign open/click webhooks (external-systems.md §1): a JSON object, an array of
/// them, or NDJSON, each `{event:{type,date_added,clicked_url?,…}, subscriber:{fields:{EMAIL},…},
/// campaign:{campaign_uid,name,…}, list, timestamp}`. The one reader of them: files through
/// `account events --mailwizz`, requests through `account serve`'s MailWizz route.
public enum MailWizzWebhook {
    /// One item of a payload: its JSON (nil: text that is no JSON), the line it starts on, its text.
    public struct Item {
        public let value: JSONValue?
        public let line: Int
        public let raw: [UInt8]
        /// Why `value` is nil.
        public let problem: String?
    }

    /// Why one item cannot be booked, in the reject reasons' terms.
    public struct Refusal: Error {
        public let reason: RejectReason
        public let detail: String
    }

    /// The items of a payload: a JSON array, one object, or one object per line (an object may
    /// span lines). Text that is no JSON is an item without a value.
    public static func items(_ data: [UInt8]) -> [Item] {
        let trimmed = data.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if trimmed.first == UInt8(ascii: "[") {
            do {
                let value = try JSONValue.parse(Array(trimmed), maxDepth: 64)
                return (value.array ?? []).enumerated().map { Item(value: $0.element, line: $0.offset + 1, raw: $0.element.serialized, problem: nil) }
            } catch {
                return [Item(value: nil, line: 1, raw: data, problem: "\(error)")]
            }
        }
        var items: [Item] = []
        var lineNumber = 0
        var start = 0
        var pending: [UInt8] = []
        var pendingLine = 1
        for i in 0...data.count where i == data.count || data[i] == 0x0A {
            lineNumber += 1
            let line = Array(data[start..<i])
            start = i + 1
            if pending.isEmpty { pendingLine = lineNumber }
            pending += line + [0x0A]
            if let v = try? JSONValue.parse(pending, maxDepth: 64) {
                items.append(Item(value: v, line: pendingLine, raw: line, problem: nil))
                pending = []
            }
        }
        if pending.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) {
            items.append(Item(value: nil, line: pendingLine, raw: pending, problem: "not a JSON webhook payload"))
        }
        return items
    }

    /// The book event of one webhook item (shared: its list says whose it is), or why not.
    public static func event(_ value: JSONValue) -> Result<BookEvent, Refusal> {
        let event = value["event"]
        let kind = event?["type"]?.string ?? value["type"]?.string ?? ""
        let type: String
        switch kind.lowercased() {
        case "open", "opened": type = "opened"
        case "click", "clicked": type = "clicked"
        default: return .failure(Refusal(reason: .invalidType, detail: "webhook event type '\(kind)' is not open or click"))
        }
        let subscriber = value["subscriber"]
        let email = subscriber?["fields"]?["EMAIL"]?.string ?? subscriber?["attributes"]?["email"]?.string
            ?? subscriber?["email"]?.string ?? ""
        guard !email.isEmpty else { return .failure(Refusal(reason: .missingEmail, detail: "no subscriber.fields.EMAIL")) }
        let timeText = event?["date_added"]?.string ?? value["timestamp"].map { $0.string ?? $0.int.map(String.init) ?? "" } ?? ""
        guard let at = Timestamp(parsing: timeText) else {
            return .failure(Refusal(reason: .invalidTime, detail: "no usable event.date_added or timestamp"))
        }
        let campaign = value["campaign"]?["name"]?.string ?? value["campaign"]?["campaign_uid"]?.string
        let url = event?["clicked_url"]?.string
        // MailWizz sends no event id: the event's own fields make it, so a redelivery is one event.
        let id = EventID.hash(["mailwizz", type, EmailKey.normalize(email), at.rfc3339, campaign ?? "", url ?? "",
                               event?["ip_address"]?.string ?? ""])
        var extra: [(String, JSONValue)] = []
        if let url { extra.append(("url", .string(url))) }
        var e = BookEvent(id: id, email: EmailKey.normalize(email), type: type, campaign: campaign, at: at,
                          source: "mailwizz", extra: extra)
        e.shared = true
        let list = value["list"]
        e.listUID = list?["list_uid"]?.string ?? list?["general"]?["list_uid"]?.string ?? list?.string
            ?? value["campaign"]?["list_uid"]?.string ?? value["campaign"]?["list"]?["list_uid"]?.string
        return .success(e)
    }

    /// `account events --mailwizz FILE`: every item becomes an event or a reject with its line.
    static func read(path: String, rejects: RejectSink, _ emit: (BookEvent) -> Void) throws -> Int {
        let data = try PMTAAccounting.readAll(path)
        let parsed = Self.items(data)
        for item in parsed {
            let origin = RejectSink.Origin(line: item.line, file: path)
            guard let value = item.value else {
                item.raw.withUnsafeBytes { rejects.reject(.invalidJSON, item.problem ?? "not JSON", origin: origin, raw: $0) }
                continue
            }
            switch event(value) {
            case .success(let e): emit(e)
            case .failure(let refusal): item.raw.withUnsafeBytes { rejects.reject(refusal.reason, refusal.detail, origin: origin, raw: $0) }
            }
        }
        return parsed.count
    }
}
