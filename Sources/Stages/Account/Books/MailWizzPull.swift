import MailWizz
import MailpipeCore
import MailpipeStore

/// `account events --mailwizz-pull`: what MailWizz knows and never pushes — unsubscribes made in
/// MailWizz (its lists and its campaigns' unsubscribe links) and the bounces it logged — polled
/// and turned into events (docs/serve.md, "MailWizz both ways").
///
/// - The tenant's campaigns: `GET campaigns?list_uid=L` for each of its lists (`mailwizz.list_uid`,
///   `language_lists`); then `campaigns/{c}/unsubscribes` and `campaigns/{c}/bounces`. Both logs
///   are newest first, so the cursor (`Ledger.MailWizzCursor`: each log's count and newest
///   subscriber) keeps a later pull to the records past it; a log that lost records meanwhile
///   (its count went down, or the record at the old boundary is another) is read again whole.
///   Bounces carry no date (at = the pull) and are one per subscriber and campaign (their id).
/// - `GET lists/{l}/subscribers?status=unsubscribed`: MailWizz keeps no date of a list
///   unsubscribe, so the set is read whole each time; each subscriber is one event (id: list and
///   subscriber uid — the id a campaign unsubscribe of the same subscriber has, so one
///   unsubscribe is one event however it is seen).
///
/// Everything is read before the books are opened (no lock held over the network); the events
/// and the cursor are then written by one commit. A pull cut short writes nothing, and ids keep
/// a pull that read the same records again from counting them twice.
enum MailWizzPull {
    struct Result {
        var events: [BookEvent] = []
        var cursor = Ledger.MailWizzCursor()
        var requests = 0
        var campaigns = 0
        /// Logs read whole again because they lost records since the last pull.
        var reread = 0
    }

    /// Campaign collections allow up to 1,000 records a page, as the lists' do.
    static let perPage = 1000

    static func pull(config: TenantConfig, cursor: Ledger.MailWizzCursor, now: Timestamp, configPath: String) throws -> Result {
        let lists = config.mailwizz?.lists ?? []
        guard !lists.isEmpty else {
            throw StageError.configuration("\(configPath): --mailwizz-pull needs the tenant's MailWizz lists (mailwizz.list_uid or mailwizz.language_lists)")
        }
        let api = try MailWizzAPI(tenant: config, configPath: configPath)
        var result = Result()
        result.cursor.pulledAt = now.rfc3339
        for list in lists {
            for c in try api.records("campaigns", query: [("list_uid", list)], perPage: perPage).records {
                guard let uid = c["campaign_uid"]?.string, !uid.isEmpty else { continue }
                var campaign = cursor.campaigns[uid] ?? .init(name: c["name"]?.string ?? uid, listUID: list)
                campaign.name = c["name"]?.string ?? campaign.name
                result.campaigns += 1
                let unsubscribes = try readLog(api, "campaigns/\(uid)/unsubscribes", since: campaign.unsubscribes, reread: &result.reread)
                for r in unsubscribes.records {
                    guard let (email, sub) = subscriber(r) else { continue }
                    let reason = r["reason"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? "mailwizz campaign unsubscribe"
                    result.events.append(BookEvent(
                        id: unsubscribeID(list: list, subscriber: sub), email: email, type: "unsubscribed", reason: reason,
                        campaign: campaign.name, at: r["date_added"]?.string.flatMap(Timestamp.init(parsing:)) ?? now,
                        source: "mailwizz", extra: [("remote_id", .string(sub))]))
                }
                campaign.unsubscribes = unsubscribes.log
                let bounces = try readLog(api, "campaigns/\(uid)/bounces", since: campaign.bounces, reread: &result.reread)
                for r in bounces.records {
                    guard let (email, sub) = subscriber(r) else { continue }
                    result.events.append(BookEvent(
                        id: EventID.hash(["mailwizz-pull", "bounce", uid, sub]), email: email, type: "bounced",
                        bounceClass: bounceClass(r["bounce_type"]?.string), reason: r["message"]?.string, campaign: campaign.name,
                        at: now, source: "mailwizz", extra: [("remote_id", .string(sub))]))
                }
                campaign.bounces = bounces.log
                result.cursor.campaigns[uid] = campaign
            }
        }
        // Campaigns MailWizz no longer lists keep their cursor (a list moved out of tenant.json
        // and back must not count its logs from zero: ids would catch it, at the cost of reads).
        for (uid, c) in cursor.campaigns where result.cursor.campaigns[uid] == nil { result.cursor.campaigns[uid] = c }
        // The lists' unsubscribed subscribers, after the campaigns': an unsubscribe through a
        // campaign shows here too, under the same id, and the campaign's (with its date) wins.
        for list in lists {
            for r in try api.records("lists/\(list)/subscribers", query: [("status", "unsubscribed")], perPage: perPage).records {
                guard let email = r["EMAIL"]?.string, !email.isEmpty, let sub = r["subscriber_uid"]?.string else { continue }
                result.events.append(BookEvent(id: unsubscribeID(list: list, subscriber: sub), email: EmailKey.normalize(email),
                                               type: "unsubscribed", reason: "mailwizz list \(list)", at: now, source: "mailwizz",
                                               extra: [("remote_id", .string(sub))]))
            }
        }
        result.requests = api.requests
        return result
    }

    /// One unsubscribe of a list's subscriber, whether its campaign's log or its list shows it.
    static func unsubscribeID(list: String, subscriber: String) -> UInt64 {
        EventID.hash(["mailwizz-pull", "unsubscribed", list, subscriber])
    }

    /// MailWizz's `hard` and `soft`; `internal` (its own delivery errors, PowerMTA's "other")
    /// counts as a bounce without saying anything of the mailbox: policy.
    static func bounceClass(_ type: String?) -> String {
        switch type {
        case "hard": return "hard"
        case "soft": return "soft"
        default: return "policy"
        }
    }

    static func subscriber(_ record: JSONValue) -> (email: String, uid: String)? {
        guard let email = record["subscriber"]?["email"]?.string, !email.isEmpty,
              let uid = record["subscriber"]?["subscriber_uid"]?.string, !uid.isEmpty else { return nil }
        return (EmailKey.normalize(email), uid)
    }

    /// The records of a newest-first log past `since`, and the log's new cursor.
    static func readLog(_ api: MailWizzAPI, _ path: String, since: Ledger.MailWizzCursor.Log,
                        reread: inout Int) throws -> (records: ArraySlice<JSONValue>, log: Ledger.MailWizzCursor.Log) {
        // The new head, plus the record at the old boundary to check that it is still there.
        let (records, total) = try api.records(path, perPage: perPage) { all, total in
            since.count == 0 || all.count > total - since.count
        }
        let log = Ledger.MailWizzCursor.Log(count: total, newest: records.first.flatMap(subscriber)?.uid)
        guard since.count > 0 else { return (records[...], log) }
        let fresh = total - since.count
        if fresh >= 0 && fresh < records.count && subscriber(records[fresh])?.uid == since.newest {
            return (records.prefix(fresh), log)
        }
        // Records went away: read it all (ids keep what was recorded from counting twice).
        reread += 1
        let all = try api.records(path, perPage: perPage)
        return (all.records[...], Ledger.MailWizzCursor.Log(count: all.total, newest: all.records.first.flatMap(subscriber)?.uid))
    }
}
