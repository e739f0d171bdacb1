import MailpipeCore

/// `tenant.json`, typed (docs/design.md §4, docs/account.md "tenant.json"). Every key is known at its
/// place: an unknown or misspelt one is an error naming its path and the nearest known key
/// (exit 2), so no setting is ever silently ignored. Stages read the tenant's settings only
/// through this type.
public struct TenantConfig: Sendable {
    public var slug: String?
    public var name: String?
    public var brandDomain: String?
    public var sendingDomain: String?
    /// The tenant's languages (default: all nine).
    public var languages: [String]
    public var fallbackLanguage: String
    /// ISO 3166 alpha-2: the country of national phone numbers in rows that name none (ingest).
    public var defaultCountry: String?
    /// The tenant's days (sends today, warm-up weeks, counters per day) are days in this zone.
    public var timezone: ZoneInfo
    /// Parent → children tags.
    public var taxonomy: [String: [String]]
    public var mailwizz: MailWizz?
    public var smtp: Smtp
    public var unsubscribe: Unsubscribe
    public var vmtas: [VmtaConfig]
    public var warmup: WarmupSchedule
    public var bounces: BounceRules
    /// The rates a report flags (`ceilings.bounce_rate`, `.complaint_rate`; nil: the defaults).
    public var ceilings: Ceilings
    /// How `account serve` proves the ESPs' event webhooks (a provider left out: its route answers 404).
    public var webhooks: Webhooks
    /// `engagement`: the score's half-life and the sunset policy (`EngagementRules`).
    public var engagement: EngagementRules
    /// `routes`: the SMTP routes of `inject smtp`, in failover order (`RouteConfig`).
    public var routes: [RouteConfig]
    /// `tracking`: where render's tracked links and open pixel point, whether they are on
    /// (nil: the section is absent, so nothing is tracked).
    public var tracking: Tracking?
    /// `health`: the window and thresholds of `account health` (`HealthRules`).
    public var health: HealthRules
    /// The file's members as read (what `account init` writes back).
    public private(set) var document: JSONObject

    public static let languageCodes = ["fr", "en", "es", "de", "pt", "ru", "zh", "hi", "ar"]

    public struct MailWizz: Sendable {
        public var url: String?
        public var listUID: String?
        /// The name of the environment variable holding the API key (never the key).
        public var apiKeyEnv: String?
        /// List tag → dotted record path (default FNAME first_name, LNAME last_name).
        public var fields: [(tag: String, path: String)]?
        /// `details[status]` of subscribers sent (default `confirmed`).
        public var subscriberStatus: String
        /// A list per language when the audience is split by language (`language_lists`,
        /// language → list uid): a campaign is then created once per language, each on its list.
        public var languageLists: [(language: String, listUID: String)]

        /// Every list of the tenant: `list_uid`, then the language lists (each once).
        public var lists: [String] {
            var all = listUID.map { [$0] } ?? []
            for (_, uid) in languageLists where !all.contains(uid) { all.append(uid) }
            return all
        }
    }

    public struct Webhooks: Sendable {
        /// SendGrid's verification key: base64 DER (or PEM) of a P-256 public key (it is public).
        public var sendgridPublicKey: String?
        /// Postmark's basic-auth user, and the variable holding its password.
        public var postmarkUsername: String?
        public var postmarkPasswordEnv: String?
        /// The SNS signing certificate (a PEM file; never fetched) and the topics accepted.
        public var sesCertificateFile: String?
        public var sesTopicARNs: [String]
        /// The variable holding the shared secret of MailWizz's open/click webhooks (MailWizz
        /// signs nothing: the secret is in the webhook URL MailWizz is given).
        public var mailwizzSecretEnv: String? = nil
    }

    public struct Smtp: Sendable {
        public var url: String?
        public var from: String?
        public var replyTo: String?
    }

    public struct Unsubscribe: Sendable {
        public var url: String?
        public var mailto: String?
        public var secretEnv: String?
    }

    /// `tracking {url, enabled, opens, clicks, machine_seconds}`: opt-in open and click tracking
    /// (docs/segment-render.md "Tracking", docs/serve.md "Tracking").
    public struct Tracking: Sendable, Equatable {
        /// The base of the tracked links, served by `account serve` (`<url>/click`, `<url>/open`).
        public var url: String
        /// Every campaign of the tenant is tracked (a campaign.json `track` or `render --track`
        /// / `--no-track` decides over it).
        public var enabled: Bool
        public var opens: Bool
        public var clicks: Bool
        /// An open or click less than this many seconds after render signed the link is a
        /// machine's (a scanner or a privacy proxy fetching at delivery).
        public var machineSeconds: Int

        public init(url: String, enabled: Bool = false, opens: Bool = true, clicks: Bool = true, machineSeconds: Int = 10) {
            self.url = url
            self.enabled = enabled
            self.opens = opens
            self.clicks = clicks
            self.machineSeconds = machineSeconds
        }
    }

    /// `bounces.soft_limit` soft bounces within `bounces.soft_window_days` days suppress an address.
    public struct BounceRules: Sendable, Equatable {
        public var softLimit = 3
        public var softWindowDays = 15

        public init(softLimit: Int = 3, softWindowDays: Int = 15) {
            self.softLimit = softLimit
            self.softWindowDays = softWindowDays
        }
    }

    /// `ceilings.bounce_rate`, `.complaint_rate` (0–1): the rates over which a report flags a
    /// campaign (default: the warm-up schedule's last bounce ceiling, and 0.1 % of complaints,
    /// what the large mailbox providers ask of bulk senders).
    public struct Ceilings: Sendable, Equatable {
        public var bounceRate: Double?
        public var complaintRate: Double?

        public init(bounceRate: Double? = nil, complaintRate: Double? = nil) {
            self.bounceRate = bounceRate
            self.complaintRate = complaintRate
        }
    }

    /// `health` {window_days, unsubscribe_rate, unsubscribe_rise, bounced_share, unvalidated_share,
    /// suppressed_share}: what `account health` scores against beside `ceilings` (docs/account.md
    /// "Health"). Rates and shares are 0–1.
    public struct HealthRules: Sendable, Equatable {
        /// Days (the tenant's, today included) whose sends the rates are taken over; the
        /// unsubscribe trend compares them with the same number of days before.
        public var windowDays = 7
        /// An unsubscribe rate over this, rising by `unsubscribeRise` times, is a warning.
        public var unsubscribeRate = 0.005
        public var unsubscribeRise = 2.0
        /// Shares of the contacts over which list hygiene warns.
        public var bouncedShare = 0.05
        public var unvalidatedShare = 0.10
        public var suppressedShare = 0.25

        public init() {}
    }

    static let rootKeys = ["slug", "name", "brand_domain", "sending_domain", "languages", "fallback_language", "default_country", "timezone",
                           "taxonomy", "mailwizz", "smtp", "unsubscribe", "vmtas", "warmup", "bounces", "ceilings", "webhooks", "engagement", "routes",
                           "tracking", "health"]
    static let mailwizzKeys = ["url", "list_uid", "api_key_env", "fields", "subscriber_status", "language_lists"]
    static let smtpKeys = ["url", "from", "reply_to"]
    static let unsubscribeKeys = ["url", "mailto", "secret_env"]
    static let vmtaKeys = ["name", "ip", "hostname", "weight", "warmup_start", "pool"]
    static let warmupKeys = ["week", "daily_quota", "max_bounce_rate", "min_sends"]
    static let bounceKeys = ["soft_limit", "soft_window_days"]
    static let ceilingKeys = ["bounce_rate", "complaint_rate"]
    static let webhookKeys = ["sendgrid", "postmark", "ses", "mailwizz"]
    static let mailwizzWebhookKeys = ["secret_env"]
    static let sendgridKeys = ["public_key"]
    static let postmarkKeys = ["username", "password_env"]
    static let sesKeys = ["certificate_file", "topic_arns"]
    static let engagementKeys = ["half_life_days", "sunset_after_sends", "sunset_after_days"]
    static let trackingKeys = ["url", "enabled", "opens", "clicks", "machine_seconds"]
    static let routeKeys = ["name", "url", "domains", "username_env", "password_env"]
    static let healthKeys = ["window_days", "unsubscribe_rate", "unsubscribe_rise", "bounced_share", "unvalidated_share", "suppressed_share"]
    static let subscriberStatuses = ["confirmed", "unconfirmed", "unsubscribed", "blacklisted", "unapproved"]

    /// Every key path tenant.json may hold (`vmtas[].name`…): what the misspelling test walks.
    public static var knownKeyPaths: [String] {
        var paths: [String] = rootKeys
        paths += mailwizzKeys.map { "mailwizz.\($0)" } + smtpKeys.map { "smtp.\($0)" } + unsubscribeKeys.map { "unsubscribe.\($0)" }
        paths += vmtaKeys.map { "vmtas[].\($0)" } + warmupKeys.map { "warmup[].\($0)" } + bounceKeys.map { "bounces.\($0)" }
            + ceilingKeys.map { "ceilings.\($0)" }
        paths += webhookKeys.map { "webhooks.\($0)" } + sendgridKeys.map { "webhooks.sendgrid.\($0)" }
            + postmarkKeys.map { "webhooks.postmark.\($0)" } + sesKeys.map { "webhooks.ses.\($0)" }
            + mailwizzWebhookKeys.map { "webhooks.mailwizz.\($0)" }
            + engagementKeys.map { "engagement.\($0)" }
            + routeKeys.map { "routes[].\($0)" }
            + trackingKeys.map { "tracking.\($0)" }
            + healthKeys.map { "health.\($0)" }
        return paths
    }

    /// Reads and validates a tenant.json (`options: .noFollow` for the one in a tenant's state).
    public static func load(path: String, options: FileDescriptor.OpenOptions = []) throws -> TenantConfig {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path, options: options) } catch let error as SymbolicLinkRefused {
            throw error
        } catch let error as SystemError where error.errno == .permissionDenied {
            throw error
        } catch {
            throw StageError.configuration("cannot read \(path): \(error)")
        }
        return try parse(bytes, file: path)
    }

    public static func parse(_ bytes: [UInt8], file: String) throws -> TenantConfig {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch {
            throw StageError.configuration("\(file): \(error)")
        }
        return try TenantConfig(value, file: file)
    }

    public init(_ value: JSONValue, file: String) throws {
        let root = try ConfigReader(value, file: file, path: "", known: TenantConfig.rootKeys)
        document = value.object ?? JSONObject()
        slug = try root.string("slug")
        if let slug, (try? TenantSlug(slug)) == nil {
            throw root.fail("slug", "'\(slug)' is not a tenant slug (1–63 characters of a-z, 0-9 and '-')")
        }
        name = try root.string("name")
        brandDomain = try root.domain("brand_domain")
        sendingDomain = try root.domain("sending_domain")
        let codes = TenantConfig.languageCodes
        languages = try root.strings("languages") ?? codes
        for (i, l) in languages.enumerated() where !codes.contains(l) {
            throw ConfigReader.error(file, "'languages[\(i)]' is '\(l)', not one of \(codes.joined(separator: " "))")
        }
        fallbackLanguage = try root.string("fallback_language") ?? "en"
        guard codes.contains(fallbackLanguage) else {
            throw root.fail("fallback_language", "is '\(fallbackLanguage)', not one of \(codes.joined(separator: " "))")
        }
        defaultCountry = try root.string("default_country")
        if let country = defaultCountry, country.utf8.count != 2 || !country.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) {
            throw root.fail("default_country", "is '\(country)', not an ISO 3166 alpha-2 code such as FR")
        }
        if let zone = try root.string("timezone") {
            do { timezone = try ZoneInfo.load(zone) } catch { throw root.fail("timezone", "is not usable: \(error)") }
        } else {
            timezone = .utc
        }
        var taxonomy: [String: [String]] = [:]
        for (parent, children) in try root.freeObject("taxonomy") ?? [] {
            guard let list = children.array, list.allSatisfy({ $0.string != nil }) else {
                throw ConfigReader.error(file, "'taxonomy.\(parent)' must be an array of tag strings")
            }
            taxonomy[parent] = list.compactMap(\.string)
        }
        self.taxonomy = taxonomy
        mailwizz = try root.object("mailwizz", known: TenantConfig.mailwizzKeys).map(TenantConfig.readMailWizz)
        let smtpReader = try root.object("smtp", known: TenantConfig.smtpKeys)
        smtp = Smtp(url: try smtpReader?.string("url"), from: try smtpReader?.string("from"), replyTo: try smtpReader?.string("reply_to"))
        if let url = smtp.url, let problem = RouteConfig.urlProblem(url, credentials: "inject smtp --username-env/--password-env") {
            throw smtpReader!.fail("url", problem)
        }
        let unsub = try root.object("unsubscribe", known: TenantConfig.unsubscribeKeys)
        unsubscribe = Unsubscribe(url: try unsub?.string("url"), mailto: try unsub?.string("mailto"), secretEnv: try unsub?.environmentName("secret_env"))
        if let url = unsubscribe.url, !url.lowercased().hasPrefix("https://") {
            throw unsub!.fail("url", "must be an https:// URL (RFC 8058 one-click unsubscribe)")
        }
        if let mailto = unsubscribe.mailto, !mailto.contains("@") { throw unsub!.fail("mailto", "must be an e-mail address") }
        vmtas = try (root.objects("vmtas", known: TenantConfig.vmtaKeys) ?? []).map(TenantConfig.readVmta)
        var names = Set<String>()
        for (i, v) in vmtas.enumerated() where !names.insert(v.name).inserted {
            throw ConfigReader.error(file, "'vmtas[\(i)].name' '\(v.name)' is listed twice")
        }
        if let rows = try root.objects("warmup", known: TenantConfig.warmupKeys) {
            guard !rows.isEmpty else { throw root.fail("warmup", "must list at least one week (or be left out for the defaults)") }
            warmup = try WarmupSchedule(steps: rows.map(TenantConfig.readWarmupStep), file: file)
        } else {
            warmup = .defaults
        }
        let b = try root.object("bounces", known: TenantConfig.bounceKeys)
        bounces = BounceRules(softLimit: try b?.int("soft_limit", min: 1) ?? 3, softWindowDays: try b?.int("soft_window_days", min: 1) ?? 15)
        let c = try root.object("ceilings", known: TenantConfig.ceilingKeys)
        ceilings = Ceilings(bounceRate: try c?.double("bounce_rate", in: 0...1), complaintRate: try c?.double("complaint_rate", in: 0...1))
        let g = try root.object("engagement", known: TenantConfig.engagementKeys)
        engagement = EngagementRules(halfLifeDays: try g?.int("half_life_days", min: 1) ?? 30,
                                     sunsetAfterSends: try g?.int("sunset_after_sends", min: 1),
                                     sunsetAfterDays: try g?.int("sunset_after_days", min: 1))
        routes = try RouteConfig.read(root, file: file)
        tracking = try TenantConfig.readTracking(try root.object("tracking", known: TenantConfig.trackingKeys))
        health = try TenantConfig.readHealth(try root.object("health", known: TenantConfig.healthKeys))
        webhooks = try TenantConfig.readWebhooks(try root.object("webhooks", known: TenantConfig.webhookKeys))
    }

    static func readTracking(_ r: ConfigReader?) throws -> Tracking? {
        guard let r else { return nil }
        guard let url = try r.string("url") else { throw r.fail("url", "is required (the base of the tracked links, which account serve answers)") }
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://"), !url.contains("?"), !url.contains("#"),
              url.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F && $0 != 0x22 && $0 != 0x27 && $0 != 0x3C && $0 != 0x3E }) else {
            throw r.fail("url", "must be an http(s) URL without a query, got '\(url)'")
        }
        return Tracking(url: url.hasSuffix("/") ? String(url.dropLast()) : url, enabled: try r.bool("enabled") ?? false,
                        opens: try r.bool("opens") ?? true, clicks: try r.bool("clicks") ?? true,
                        machineSeconds: try r.int("machine_seconds", min: 0) ?? 10)
    }

    static func readWebhooks(_ r: ConfigReader?) throws -> Webhooks {
        let sendgrid = try r?.object("sendgrid", known: sendgridKeys)
        let postmark = try r?.object("postmark", known: postmarkKeys)
        let ses = try r?.object("ses", known: sesKeys)
        let mailwizz = try r?.object("mailwizz", known: mailwizzWebhookKeys)
        var w = Webhooks(sendgridPublicKey: try sendgrid?.string("public_key"),
                         postmarkUsername: try postmark?.string("username"), postmarkPasswordEnv: try postmark?.environmentName("password_env"),
                         sesCertificateFile: try ses?.string("certificate_file"), sesTopicARNs: try ses?.strings("topic_arns") ?? [])
        if let sendgrid, w.sendgridPublicKey == nil {
            throw sendgrid.fail("public_key", "is required (the verification key SendGrid shows, base64)")
        }
        if let postmark, w.postmarkUsername == nil || w.postmarkPasswordEnv == nil {
            throw postmark.fail("username", "needs username and password_env (the variable holding the password)")
        }
        w.mailwizzSecretEnv = try mailwizz?.environmentName("secret_env")
        if let mailwizz, w.mailwizzSecretEnv == nil {
            throw mailwizz.fail("secret_env", "is required (the variable holding the secret of the webhook URL given to MailWizz)")
        }
        if let ses, w.sesCertificateFile == nil { throw ses.fail("certificate_file", "is required (the PEM signing certificate of SNS)") }
        for (i, arn) in w.sesTopicARNs.enumerated() where !arn.hasPrefix("arn:") {
            throw ConfigReader.error(ses!.file, "'webhooks.ses.topic_arns[\(i)]' is not a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")
        }
        return w
    }

    static func readHealth(_ r: ConfigReader?) throws -> HealthRules {
        var h = HealthRules()
        guard let r else { return h }
        h.windowDays = try r.int("window_days", min: 1) ?? h.windowDays
        h.unsubscribeRate = try r.double("unsubscribe_rate", in: 0...1) ?? h.unsubscribeRate
        h.unsubscribeRise = try r.double("unsubscribe_rise", in: 1...1_000) ?? h.unsubscribeRise
        h.bouncedShare = try r.double("bounced_share", in: 0...1) ?? h.bouncedShare
        h.unvalidatedShare = try r.double("unvalidated_share", in: 0...1) ?? h.unvalidatedShare
        h.suppressedShare = try r.double("suppressed_share", in: 0...1) ?? h.suppressedShare
        return h
    }

    static func readMailWizz(_ r: ConfigReader) throws -> MailWizz {
        let url = try r.string("url")
        if let url, !(url.lowercased().hasPrefix("http://") || url.lowercased().hasPrefix("https://")) {
            throw r.fail("url", "must be an http:// or https:// URL")
        }
        func isUID(_ text: String) -> Bool {
            !text.isEmpty && text.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }
        }
        let list = try r.string("list_uid")
        if let list, !isUID(list) {
            throw r.fail("list_uid", "must be a MailWizz uid (a-z, 0-9), got '\(list)'")
        }
        var languageLists: [(language: String, listUID: String)] = []
        for (language, uid) in try r.freeObject("language_lists") ?? [] {
            guard languageCodes.contains(language) else {
                throw ConfigReader.error(r.file, "'mailwizz.language_lists.\(language)': not one of \(languageCodes.joined(separator: " "))")
            }
            guard let u = uid.string, isUID(u) else {
                throw ConfigReader.error(r.file, "'mailwizz.language_lists.\(language)' must be a MailWizz list uid (a-z, 0-9)")
            }
            languageLists.append((language, u))
        }
        var fields: [(tag: String, path: String)]? = nil
        if let members = try r.freeObject("fields") {
            fields = try members.map { tag, path in
                guard let p = path.string, !p.isEmpty else { throw ConfigReader.error(r.file, "'mailwizz.fields.\(tag)' must be a record path such as first_name") }
                guard !tag.isEmpty, tag.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 }) else {
                    throw ConfigReader.error(r.file, "'mailwizz.fields.\(tag)': list tags are upper case (FNAME, CITY)")
                }
                guard tag != "EMAIL" else { throw ConfigReader.error(r.file, "'mailwizz.fields.EMAIL': the address is always sent as EMAIL") }
                return (tag, p)
            }
        }
        let status = try r.string("subscriber_status") ?? "confirmed"
        guard subscriberStatuses.contains(status) else {
            throw r.fail("subscriber_status", "is '\(status)', not one of \(subscriberStatuses.joined(separator: " "))")
        }
        return MailWizz(url: url, listUID: list, apiKeyEnv: try r.environmentName("api_key_env"), fields: fields, subscriberStatus: status,
                        languageLists: languageLists)
    }

    static func readVmta(_ r: ConfigReader) throws -> VmtaConfig {
        guard let name = try r.string("name") else { throw ConfigReader.error(r.file, "'\(r.path)' needs a name") }
        guard name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") }) else {
            throw r.fail("name", "must be printable ASCII without spaces or <>")
        }
        var start: String? = nil
        if let text = try r.string("warmup_start") {
            guard text.utf8.count == 10, let t = Timestamp(parsing: text), t.date == text else {
                throw r.fail("warmup_start", "must be a date YYYY-MM-DD, got '\(text)'")
            }
            start = text
        }
        return VmtaConfig(name: name, ip: try r.string("ip"), hostname: try r.string("hostname"),
                          weight: try r.int("weight", min: 0) ?? 1, warmupStart: start, pool: try r.string("pool"))
    }

    static func readWarmupStep(_ r: ConfigReader) throws -> WarmupSchedule.Step {
        guard let week = try r.int("week", min: 1) else { throw ConfigReader.error(r.file, "'\(r.path)' needs week") }
        guard let quota = try r.int("daily_quota", min: 0) else { throw ConfigReader.error(r.file, "'\(r.path)' needs daily_quota") }
        // Without max_bounce_rate, the ceiling of the same week in the docs/design.md §4 table.
        let ceiling = try r.double("max_bounce_rate", in: 0...1) ?? WarmupSchedule.defaults.step(week: week).ceiling
        return WarmupSchedule.Step(week: week, quota: quota, ceiling: ceiling, minSends: try r.int("min_sends", min: 0))
    }

    /// A fresh configuration with the documented defaults.
    public static func defaults(slug: TenantSlug) -> TenantConfig {
        var o = JSONObject()
        o.append("slug", .string(slug.value))
        o.append("name", .string(slug.value))
        o.append("languages", .array(languageCodes.map { .string($0) }))
        o.append("fallback_language", .string("en"))
        o.append("timezone", .string("UTC"))
        o.append("taxonomy", .object(JSONObject()))
        o.append("vmtas", .array([]))
        o.append("warmup", WarmupSchedule.defaults.json)
        o.append("bounces", .object(JSONObject([("soft_limit", .int(3)), ("soft_window_days", .int(15))])))
        // The defaults are valid by construction.
        return try! TenantConfig(.object(o), file: "defaults")
    }

    /// The same configuration with `slug` set (a file installed without one).
    public func withSlug(_ slug: TenantSlug) -> TenantConfig {
        var copy = self
        copy.slug = slug.value
        copy.document["slug"] = .string(slug.value)
        return copy
    }

    /// The sending domain: `sending_domain`, else `brand_domain`.
    public var mailDomain: String? { sendingDomain ?? brandDomain }

    public var serialized: [UInt8] {
        var bytes = JSONValue.object(document).prettyPrinted
        bytes.append(0x0A)
        return bytes
    }
}

/// One SMTP route (tenant.json `routes[]`, or an `inject smtp --rules FILE`):
/// `{name, url, domains, username_env, password_env}`. A record goes to the routes whose
/// `domains` hold its recipient's domain, then to the routes without `domains`, in the order
/// listed; a route that cannot be reached hands its records to the next (docs/inject.md).
public struct RouteConfig: Sendable, Equatable {
    public var name: String
    public var url: String
    /// Recipient domains (lower case) this route is for; nil: every domain.
    public var domains: [String]?
    /// Environment variables holding the route's SMTP AUTH credentials (never the values).
    public var usernameEnv: String?
    public var passwordEnv: String?

    public init(name: String, url: String, domains: [String]? = nil, usernameEnv: String? = nil, passwordEnv: String? = nil) {
        self.name = name; self.url = url; self.domains = domains; self.usernameEnv = usernameEnv; self.passwordEnv = passwordEnv
    }

    /// A rules file: `{"routes": [...]}`, read as strictly as tenant.json.
    public static func load(path: String) throws -> [RouteConfig] {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path) } catch { throw StageError.configuration("cannot read \(path): \(error)") }
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw StageError.configuration("\(path): \(error)") }
        let routes = try read(try ConfigReader(value, file: path, path: "", known: ["routes"]), file: path)
        guard !routes.isEmpty else { throw StageError.configuration("\(path): 'routes' must list at least one route") }
        return routes
    }

    /// What is wrong with an SMTP URL (nil: nothing): its scheme, or credentials in it (they
    /// would show in argv and logs; `credentials` says where they go instead).
    public static func urlProblem(_ url: String, credentials: String) -> String? {
        let lower = url.lowercased()
        guard lower.hasPrefix("smtp://") || lower.hasPrefix("smtps://") else { return "must start with smtp:// or smtps://" }
        let authority = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false).dropFirst(2).first ?? ""
        return authority.contains("@") ? "must not hold credentials (use \(credentials))" : nil
    }

    static func read(_ root: ConfigReader, file: String) throws -> [RouteConfig] {
        let readers = try root.objects("routes", known: TenantConfig.routeKeys) ?? []
        var names = Set<String>()
        return try readers.enumerated().map { i, r in
            guard let name = try r.string("name") else { throw ConfigReader.error(file, "'routes[\(i)]' needs a name") }
            guard names.insert(name).inserted else { throw ConfigReader.error(file, "'routes[\(i)].name' '\(name)' is listed twice") }
            guard let url = try r.string("url") else { throw ConfigReader.error(file, "'routes[\(i)]' needs a url") }
            if let problem = urlProblem(url, credentials: "username_env and password_env") { throw r.fail("url", problem) }
            let domains = try r.strings("domains")?.map { $0.lowercased() }
            if let domains, domains.isEmpty { throw r.fail("domains", "must list at least one domain (or be left out for every domain)") }
            return RouteConfig(name: name, url: url, domains: domains, usernameEnv: try r.environmentName("username_env"),
                               passwordEnv: try r.environmentName("password_env"))
        }
    }
}

/// One vmta of tenant.json: `{name, ip, hostname, weight, warmup_start, pool}`.
public struct VmtaConfig: Sendable, Equatable {
    public var name: String
    public var ip: String?
    public var hostname: String?
    public var weight: Int
    /// The first day of its warm-up (YYYY-MM-DD, in the tenant's time zone).
    public var warmupStart: String?
    public var pool: String?

    public init(name: String, ip: String? = nil, hostname: String? = nil, weight: Int = 1, warmupStart: String? = nil, pool: String? = nil) {
        self.name = name; self.ip = ip; self.hostname = hostname; self.weight = weight; self.warmupStart = warmupStart; self.pool = pool
    }
}

/// The warm-up table (tenant.json `warmup`: week, daily_quota, max_bounce_rate, min_sends);
/// defaults from docs/design.md §4. Weeks past the last row repeat it.
public struct WarmupSchedule: Sendable, Equatable {
    public struct Step: Sendable, Equatable {
        public var week: Int
        public var quota: Int
        public var ceiling: Double
        /// Sends over the week needed before it may advance (nil: half of 7 days' quota).
        public var minSends: Int?

        public init(week: Int, quota: Int, ceiling: Double, minSends: Int? = nil) {
            self.week = week; self.quota = quota; self.ceiling = ceiling; self.minSends = minSends
        }

        /// The volume a week must have carried to advance: `min_sends`, else half of what the
        /// week's quota allows over 7 days, so a week of trickling never counts as proof.
        public var requiredSends: Int { minSends ?? (quota * 7 + 1) / 2 }
    }

    public private(set) var steps: [Step]

    public static let defaults = WarmupSchedule(sorted: [
        Step(week: 1, quota: 50, ceiling: 0.02), Step(week: 2, quota: 200, ceiling: 0.02), Step(week: 3, quota: 500, ceiling: 0.015),
        Step(week: 4, quota: 1_500, ceiling: 0.015), Step(week: 5, quota: 5_000, ceiling: 0.01), Step(week: 6, quota: 10_000, ceiling: 0.01),
    ])

    private init(sorted: [Step]) { steps = sorted }

    init(steps: [Step], file: String) throws {
        let sorted = steps.sorted { $0.week < $1.week }
        for i in 1..<max(1, sorted.count) where sorted[i].week == sorted[i - 1].week {
            throw StageError.configuration("\(file): warmup lists week \(sorted[i].week) twice")
        }
        guard sorted.first?.week == 1 else { throw StageError.configuration("\(file): warmup must start at week 1") }
        self.steps = sorted
    }

    public func step(week: Int) -> Step { steps.last { $0.week <= week } ?? steps[0] }

    public var lastWeek: Int { steps.last!.week }

    var json: JSONValue {
        .array(steps.map { s in
            var o = JSONObject([("week", .int(s.week)), ("daily_quota", .int(s.quota)), ("max_bounce_rate", .number(WarmupSchedule.format(s.ceiling)))])
            if let m = s.minSends { o.append("min_sends", .int(m)) }
            return .object(o)
        })
    }

    /// A rate as short decimal text (0.015, 0.02).
    public static func format(_ value: Double) -> String {
        var text = String(Double((value * 1_000_000).rounded()) / 1_000_000)
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }
}

extension JSONValue {
    /// Two-space indented JSON for files people edit (tenant.json).
    public var prettyPrinted: [UInt8] {
        var buffer = ByteBuffer(capacity: 1024)
        writePretty(into: &buffer, indent: 0)
        return buffer.bytes
    }

    private func writePretty(into buffer: inout ByteBuffer, indent: Int) {
        func newline(_ level: Int) {
            buffer.append(0x0A)
            for _ in 0..<(level * 2) { buffer.append(0x20) }
        }
        switch self {
        case .array(let items) where !items.isEmpty && items.contains(where: { $0.isContainer }):
            buffer.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { buffer.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                item.writePretty(into: &buffer, indent: indent + 1)
            }
            newline(indent)
            buffer.append(UInt8(ascii: "]"))
        case .object(let object) where !object.members.isEmpty:
            buffer.append(UInt8(ascii: "{"))
            for (i, (key, value)) in object.members.enumerated() {
                if i > 0 { buffer.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                buffer.appendJSONString(key)
                buffer.append(": ")
                value.writePretty(into: &buffer, indent: indent + 1)
            }
            newline(indent)
            buffer.append(UInt8(ascii: "}"))
        default:
            write(into: &buffer)
        }
    }

    private var isContainer: Bool {
        switch self {
        case .array, .object: return true
        default: return false
        }
    }
}
