import AccountStage
import MailpipeCore
import MailpipeStore

/// MailWizz's campaign open/click webhooks, read by the one reader of them
/// (`MailWizzWebhook`, which `account events --mailwizz` reads files with). MailWizz sends no
/// event id: the reader makes one of the event's own fields, so a redelivery records nothing.
public enum MailWizzEvents {
    public static func parse(_ body: [UInt8]) -> Result<WebhookBatch, WebhookError> {
        let items = MailWizzWebhook.items(body)
        guard !items.isEmpty else { return .failure(.malformed("the body holds no MailWizz webhook")) }
        var batch = WebhookBatch()
        for item in items {
            guard let value = item.value else {
                batch.problems.append("item \(item.line): \(RejectReason.invalidJSON.rawValue): \(item.problem ?? "not JSON")")
                continue
            }
            switch MailWizzWebhook.event(value) {
            case .success(let event): batch.append(event)
            case .failure(let refusal): batch.problems.append("item \(item.line): \(refusal.reason.rawValue): \(refusal.detail)")
            }
        }
        return .success(batch)
    }

    /// The list uids of `batch`'s events that are none of `lists` (an event naming no list: "").
    public static func unknownLists(_ batch: WebhookBatch, lists: [String]) -> [String] {
        let known = Set(lists)
        var unknown: [String] = []
        for e in batch.events where !known.contains(e.listUID ?? "") && !unknown.contains(e.listUID ?? "") {
            unknown.append(e.listUID ?? "")
        }
        return unknown
    }
}
