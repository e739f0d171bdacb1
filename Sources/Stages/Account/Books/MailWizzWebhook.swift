import MailpipeCore
import MailpipeStore

/// MailWizz campaign open/click webhooks (external-systems.md §1): a JSON object, an array of
/// them, or NDJSON, each `{event:{type,date_added,clicked_url?,…}, subscriber:{fields:{EMAIL},…},
/// campaign:{campaign_uid,name,…}, list, timestamp}`.
enum MailWizzWebhook {
    static func read(path: String, rejects: RejectSink, _ emit: (BookEvent) -> Void) throws -> Int {
        let data = try PMTAAccounting.readAll(path)
        var items: [(JSONValue, Int, [UInt8])] = []
        let trimmed = data.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if trimmed.first == UInt8(ascii: "[") {
            do {
                let value = try JSONValue.parse(Array(trimmed), maxDepth: 64)
                for (i, v) in (value.array ?? []).enumerated() { items.append((v, i + 1, v.serialized)) }
            } catch {
                data.withUnsafeBytes { rejects.reject(.invalidJSON, "\(error)", origin: .init(line: 1, file: path), raw: $0) }
                return 1
            }
        } else {
            // One object, or one per line.
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
                    items.append((v, pendingLine, Array(line)))
                    pending = []
                }
            }
            if pending.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) {
                pending.withUnsafeBytes {
                    rejects.reject(.invalidJSON, "not a JSON webhook payload", origin: .init(line: pendingLine, file: path), raw: $0)
                }
                items.append((.null, -1, []))
            }
        }
        var count = 0
        for (value, line, raw) in items {
            count += 1
            guard line > 0 else { continue }
            let origin = RejectSink.Origin(line: line, file: path)
            func reject(_ reason: RejectReason, _ detail: String) {
                raw.withUnsafeBytes { rejects.reject(reason, detail, origin: origin, raw: $0) }
            }
            let event = value["event"]
            let kind = event?["type"]?.string ?? value["type"]?.string ?? ""
            let type: String
            switch kind.lowercased() {
            case "open", "opened": type = "opened"
            case "click", "clicked": type = "clicked"
            default: reject(.invalidType, "webhook event type '\(kind)' is not open or click"); continue
            }
            let subscriber = value["subscriber"]
            let email = subscriber?["fields"]?["EMAIL"]?.string ?? subscriber?["attributes"]?["email"]?.string
                ?? subscriber?["email"]?.string ?? ""
            guard !email.isEmpty else { reject(.missingEmail, "no subscriber.fields.EMAIL"); continue }
            let timeText = event?["date_added"]?.string ?? value["timestamp"].map { $0.string ?? $0.int.map(String.init) ?? "" } ?? ""
            guard let at = Timestamp(parsing: timeText) else { reject(.invalidTime, "no usable event.date_added or timestamp"); continue }
            let campaign = value["campaign"]?["name"]?.string ?? value["campaign"]?["campaign_uid"]?.string
            let url = event?["clicked_url"]?.string
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
            emit(e)
        }
        return count
    }
}
