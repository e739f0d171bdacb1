import MailWizz
import MailpipeCore
import MailpipeStore
import RenderStage

/// `inject mailwizz-campaign`: creates and schedules a campaign in MailWizz from a campaign's
/// templates, so MailWizz sends it (through PowerMTA) to the list mailpipe synced — the Email
/// Engine's path. One campaign per language when the tenant's audience is split into a list
/// per language (tenant.json `mailwizz.language_lists`), else one on `mailwizz.list_uid`.
///
/// The template's variables become MailWizz merge tags: a record path of `mailwizz.fields`
/// becomes its tag (`{firstName}` → `[FNAME]`), `{email}` `[EMAIL]`, `{unsubscribe_url}`
/// `[UNSUBSCRIBE_URL]`; `{campaign}`, `{tenant}` are written in; other variables keep their
/// default. `send_at` is the tenant's local time (MailWizz reads it in its customer's time
/// zone, which must be the tenant's). A campaign whose name exists already is not created
/// again (`skipped`), so a re-run is safe; a paused campaign (`inject pause`) is not created
/// (`deferred`) until it is resumed. The audience is the list `inject mailwizz` keeps in step
/// with segment and MailPolicy (refused contacts are unsubscribed there).
public enum MailwizzCampaign {
    public struct Options {
        public var tenant: TenantSlug
        public var state: StateRoot
        public var campaign: String
        public var templatesDirectory: String
        /// `YYYY-MM-DD HH:MM[:SS]` in the tenant's zone, or RFC 3339 with a zone.
        public var sendAt: String
        /// `draft` keeps it unscheduled; `pending-sending` (default) schedules it.
        public var status: String
        /// The language when the list is not split (default: the tenant's fallback language).
        public var language: String?
        public var url: String?

        public init(tenant: TenantSlug, state: StateRoot, campaign: String, templatesDirectory: String, sendAt: String,
                    status: String = "pending-sending", language: String? = nil, url: String? = nil) {
            self.tenant = tenant
            self.state = state
            self.campaign = campaign
            self.templatesDirectory = templatesDirectory
            self.sendAt = sendAt
            self.status = status
            self.language = language
            self.url = url
        }
    }

    /// One campaign to create: its name in MailWizz, its language and list.
    struct Target {
        var name: String
        var language: String
        var list: String
    }

    public static func run(_ options: Options, output: inout OutputSink) throws -> Summary {
        let dir = options.state.tenant(options.tenant)
        try dir.requireExisting()
        let config = try dir.loadConfig()
        guard let mw = config.mailwizz else { throw StageError.configuration("\(dir.configPath): no mailwizz settings") }
        guard ["pending-sending", "draft"].contains(options.status) else { throw StageError.usage("the status is pending-sending or draft") }
        let sendAt = try localSendAt(options.sendAt, zone: config.timezone)
        let templates = try TemplateSet(directory: options.templatesDirectory)
        var targets: [Target] = mw.languageLists.map { Target(name: "\(options.campaign)-\($0.language)", language: $0.language, list: $0.listUID) }
        if targets.isEmpty {
            guard let list = mw.listUID else { throw StageError.configuration("no MailWizz list: set mailwizz.list_uid or mailwizz.language_lists") }
            targets = [Target(name: options.campaign, language: options.language ?? config.fallbackLanguage, list: list)]
        }
        var summary = Summary(stage: "inject mailwizz-campaign", headline: ["campaigns", "created", "skipped", "deferred", "failed"])
        if PauseSwitch.isPaused(dir, campaign: options.campaign) {
            for target in targets {
                summary.add("campaigns")
                summary.add("deferred")
                var record = outcome(target, options: options, sendAt: sendAt)
                record.append("outcome", .string("deferred"))
                record.append("error", .string("campaign paused (inject resume, then run this again)"))
                JSONValue.object(record).write(into: &output.buffer)
                output.buffer.append(0x0A)
            }
            try output.flush()
            return summary
        }
        let api = try MailWizzAPI(tenant: config, configPath: dir.configPath, url: options.url)
        // Names already there: a re-run creates nothing twice.
        let existing = Set(try api.records("campaigns", perPage: 1000).records.compactMap { $0["name"]?.string })
        for target in targets {
            summary.add("campaigns")
            var record = outcome(target, options: options, sendAt: sendAt)
            if existing.contains(target.name) {
                record.append("outcome", .string("skipped"))
                record.append("error", .string("a campaign of this name exists in MailWizz"))
                summary.add("skipped")
            } else {
                let form = try campaignForm(target, options: options, config: config, templates: templates, sendAt: sendAt)
                let reply = try api.post("campaigns", form: form)
                record.append("code", .int(reply.status))
                if reply.status == 201, let uid = reply.json?["campaign_uid"]?.string {
                    record.append("outcome", .string("sent"))
                    record.append("remote_id", .string(uid))
                    summary.add("created")
                } else {
                    record.append("outcome", .string("failed"))
                    record.append("error", .string(reply.errorText))
                    summary.add("failed")
                }
            }
            JSONValue.object(record).write(into: &output.buffer)
            output.buffer.append(0x0A)
        }
        try output.flush()
        return summary
    }

    /// The start of a campaign's outcome record.
    static func outcome(_ target: Target, options: Options, sendAt: String) -> JSONObject {
        JSONObject([("tenant", .string(options.tenant.value)), ("campaign", .string(target.name)),
                    ("channel", .string("mailwizz")), ("language", .string(target.language)),
                    ("list_uid", .string(target.list)), ("send_at", .string(sendAt))])
    }

    /// The `campaign[...]` form MailWizz's CampaignsController reads.
    static func campaignForm(_ target: Target, options: Options, config: TenantConfig, templates: TemplateSet,
                             sendAt: String) throws -> FormBody {
        let fallback = (templates.campaignConfig["fallback_language"]?.string) ?? config.fallbackLanguage
        // The campaign's own templates (not its A/B variants'), the general one of the language.
        let own = templates.templates[templates.baseRange]
        guard let template = own.first(where: { $0.language == target.language && $0.category == nil })
            ?? own.first(where: { $0.language == fallback && $0.category == nil }) else {
            throw StageError.configuration("\(templates.directory): no template for \(target.language) nor the fallback \(fallback)")
        }
        let fields = config.mailwizz?.fields ?? [("FNAME", "first_name"), ("LNAME", "last_name")]
        func tag(_ v: TemplateVariable) -> String? {
            if v.reads("email") { return "[EMAIL]" }
            if let f = fields.first(where: { v.reads($0.path) }) { return "[\(f.tag)]" }
            switch v.name {
            case "unsubscribe_url", "unsubscribeUrl", "unsubscribe": return "[UNSUBSCRIBE_URL]"
            case "campaign": return options.campaign
            case "tenant": return options.tenant.value
            case "template": return template.id
            case "template_language": return template.language
            default: return nil
            }
        }
        let subject = template.subject.text(templates.variables, tag)
        let html = template.html.text(templates.variables, tag)
        let text = template.text.text(templates.variables, tag)
        let fromText = templates.campaignConfig["from"]?.string ?? config.smtp.from
        guard let fromText else { throw StageError.configuration("no sender: set 'from' in campaign.json or smtp.from in tenant.json") }
        let from = Mime.splitAddress(fromText)
        let replyTo = templates.campaignConfig["reply_to"]?.string ?? config.smtp.replyTo ?? from.address
        let names = fields.map(\.tag)
        let toName = names.contains("FNAME") ? (names.contains("LNAME") ? "[FNAME] [LNAME]" : "[FNAME]") : "[EMAIL]"
        var form = FormBody()
        form.add("campaign[name]", target.name)
        form.add("campaign[type]", "regular")
        form.add("campaign[from_name]", from.display ?? config.name ?? from.address)
        form.add("campaign[from_email]", from.address)
        form.add("campaign[reply_to]", Mime.splitAddress(replyTo).address)
        form.add("campaign[to_name]", toName)
        form.add("campaign[subject]", subject)
        form.add("campaign[send_at]", sendAt)
        form.add("campaign[list_uid]", target.list)
        form.add("campaign[status]", options.status)
        form.add("campaign[template][content]", base64(html))
        form.add("campaign[template][plain_text]", base64(text))
        form.add("campaign[template][auto_plain_text]", "no")
        form.add("campaign[options][plain_text_email]", "yes")
        return form
    }

    static func base64(_ text: String) -> String {
        var out: [UInt8] = []
        Mime.base64(Array(text.utf8), lineLength: 0, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `Y-m-d H:i:s` in the tenant's zone: a local `YYYY-MM-DD HH:MM[:SS]` as given, an RFC 3339
    /// time with a zone converted.
    static func localSendAt(_ text: String, zone: ZoneInfo) throws -> String {
        let b = Array(text.utf8)
        let local = (b.count == 16 || b.count == 19) && b.count > 10 && b[10] == UInt8(ascii: " ")
        guard let t = Timestamp(parsing: local && b.count == 16 ? text + ":00" : text) else {
            throw StageError.usage("--send-at takes 'YYYY-MM-DD HH:MM' (the tenant's time) or an RFC 3339 time, got '\(text)'")
        }
        // A local time is already the tenant's; a zoned one is moved into the tenant's zone.
        let shown = local ? t : Timestamp(seconds: t.seconds + zone.offset(at: t))
        return shown.date + " " + String(shown.rfc3339.dropFirst(11).prefix(8))
    }
}
