import Crypto
import MailpipeCore
import MailpipeStore

/// `render`: contact records in, message records out (docs/design.md §2).
public enum RenderStage {
    public struct Options {
        public var campaign: String
        /// The campaign's template folder (already resolved: `<templates>/<campaign>` or the folder itself).
        public var templatesDirectory: String
        public var tenant: TenantSlug?
        public var state: StateRoot
        public var stream: StreamOptions
        public var from: String?
        public var replyTo: String?
        public var fallbackLanguage: String?
        public var unsubscribeURL: String?
        public var unsubscribeMailto: String?
        /// The name of the environment variable holding the unsubscribe secret.
        public var secretEnv: String?
        /// Render only this contact, for a person to read.
        public var preview: String?
        /// Look the preview contact up in the tenant's store instead of reading records.
        public var previewFromStore: Bool
        /// Preview this A/B variant (else the contact's own, if any).
        public var previewVariant: String?
        /// `--spamcheck`: score each message with spamd (and reject over `maxScore`).
        public var spamcheck: SpamCheck.Settings?
        /// `--track` (true) / `--no-track` (false); nil: campaign.json `track`, else tenant.json
        /// `tracking.enabled`, else off.
        public var track: Bool?
        /// The time tracked links are signed at (`--now`).
        public var now: Timestamp = .current()
        /// Where the preview goes besides standard output: the HTML part as a page a browser
        /// opens, and the whole message as an .eml file a mail client opens.
        public var previewFiles = PreviewFiles()

        public init(campaign: String, templatesDirectory: String, tenant: TenantSlug? = nil, state: StateRoot = StateRoot(explicit: nil),
                    stream: StreamOptions = StreamOptions(stage: "render"), from: String? = nil, replyTo: String? = nil,
                    fallbackLanguage: String? = nil, unsubscribeURL: String? = nil, unsubscribeMailto: String? = nil,
                    secretEnv: String? = nil, preview: String? = nil, previewFromStore: Bool = false) {
            self.campaign = campaign
            self.templatesDirectory = templatesDirectory
            self.tenant = tenant
            self.state = state
            self.stream = stream
            self.from = from
            self.replyTo = replyTo
            self.fallbackLanguage = fallbackLanguage
            self.unsubscribeURL = unsubscribeURL
            self.unsubscribeMailto = unsubscribeMailto
            self.secretEnv = secretEnv
            self.preview = preview
            self.previewFromStore = previewFromStore
            self.previewVariant = nil
            self.spamcheck = nil
            self.track = nil
        }
    }

    public static let defaultSecretEnv = "MAILPIPE_UNSUB_SECRET"

    /// `--html FILE`, `--eml FILE` of `--preview`, and the Date of the .eml (`--now`).
    public struct PreviewFiles {
        public var html: String?
        public var eml: String?
        public var date: Timestamp = .current()
        public init(html: String? = nil, eml: String? = nil, date: Timestamp = .current()) {
            self.html = html; self.eml = eml; self.date = date
        }
    }

    /// `<root>/<campaign>` when it exists, else `<root>` itself when it holds templates.
    public static func campaignDirectory(root: String, campaign: String) -> String {
        let nested = "\(root)/\(campaign)"
        return FileSystem.isDirectory(nested) ? nested : root
    }

    public static func run(_ options: Options, output: inout OutputSink) throws -> (Summary, ExitStatus) {
        let stage = options.stream.stage
        guard !options.campaign.isEmpty, options.campaign.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw StageError.usage("--campaign needs a name without spaces or control characters")
        }
        let templates = try TemplateSet(directory: options.templatesDirectory)
        let rejects = try RejectSink(stage: stage, path: options.stream.rejectsPath)
        var summary = Summary(stage: stage, headline: ["in", "out", "rejected"])
        var renderer: Renderer? = nil
        var usage: [String: Int] = [:]
        var variants: [String: Int] = [:]

        func makeRenderer(tenant: String) throws -> Renderer {
            let slug = try TenantSlug(tenant)
            var config: TenantConfig? = nil
            let dir = options.state.tenant(slug)
            if FileSystem.exists(dir.configPath) { config = try dir.loadConfig() }
            return try Renderer(options: options, tenant: slug.value, config: config, templates: templates)
        }

        if let email = options.preview {
            var found: [UInt8]? = nil
            let want = EmailKey.normalize(email)
            if options.previewFromStore {
                guard let tenant = options.tenant else { throw StageError.usage("--preview from the store needs --tenant") }
                let dir = options.state.tenant(tenant)
                try dir.requireExisting()
                let store = try TenantContacts.open(dir)
                var key = Array(want.utf8)
                found = try key.withUnsafeMutableBytes { try store.lookup().find(key: UnsafeRawBufferPointer($0)) }
            } else {
                var stream = try RecordStream(options: options.stream, rejects: rejects)
                defer { stream.close() }
                while let record = try stream.next() {
                    if let e = record.string("email"), EmailKey.normalize(e) == want { found = Array(record.bytes); break }
                }
            }
            guard var line = found else { throw StageError.runtime("no contact with email \(email)") }
            if let variant = options.previewVariant {
                var parser = JSONParser(maxDepth: options.stream.maxDepth)
                defer { parser.deallocate() }
                var patch = RecordPatch()
                patch.set("variant", string: variant)
                var patched = ByteBuffer(capacity: line.count + 32)
                try line.withUnsafeBytes { patch.write(try parser.parse($0), into: &patched) }
                line = patched.bytes
            }
            var parser = JSONParser(maxDepth: options.stream.maxDepth)
            defer { parser.deallocate() }
            let text: String = try line.withUnsafeBytes { raw in
                let doc = try parser.parse(raw)
                let tenant = options.tenant?.value ?? doc.root["tenant"]?.string
                guard let tenant else { throw StageError.usage("--preview needs --tenant or a record with a tenant") }
                let r = try makeRenderer(tenant: tenant)
                var buffer = ByteBuffer(capacity: 1 << 16)
                let outcome = r.render(doc, into: &buffer)
                if case .rejected(let reason, let detail) = outcome { throw StageError.runtime("\(reason): \(detail)") }
                let message = try JSONValue.parse(buffer.bytes)
                try RenderStage.writePreviewFiles(message, options.previewFiles)
                return RenderStage.previewText(message)
            }
            output.buffer.append(text)
            try output.flush()
            summary["in"] = 1
            summary["out"] = 1
            return (summary, .success)
        }

        var stream = try RecordStream(options: options.stream, rejects: rejects)
        defer { stream.close() }
        var missing = 0
        if let settings = options.spamcheck {
            do { try SpamCheck.ping(settings: settings) } catch { throw StageError.runtime("\(error)") }
        }
        let spam = try options.spamcheck.map(SpamBatch.init)
        // A message that is kept: counted, and (when scored) with its `spam` member.
        func kept(_ template: Int, _ variant: String?, _ missingNames: Int) {
            usage[templates.label(template), default: 0] += 1
            if let variant { variants[variant, default: 0] += 1 }
            summary.add("out")
            if missingNames > 0 { missing += 1 }
        }
        func scoreWaiting() throws {
            guard let spam else { return }
            for (p, result) in try spam.check() {
                switch result {
                case .success(let report):
                    if let max = spam.settings.maxScore, report.score > max {
                        let fired = report.rules.filter { $0.points != 0 }.map { "\($0.name) \(ScoreText.decimal($0.points))" }
                        let detail = "spamd scored it \(ScoreText.decimal(report.score)) (over --max-spam-score \(ScoreText.decimal(max))): "
                            + fired.joined(separator: ", ")
                        p.record.withUnsafeBytes { rejects.reject(.spamScore, detail, origin: p.origin, record: $0) }
                        continue
                    }
                    p.line.withUnsafeBytes { output.buffer.append(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
                    output.buffer.append(",\"spam\":")
                    report.json.write(into: &output.buffer)
                    output.buffer.append("}\n")
                    kept(p.template, p.variant, p.missing)
                case .failure(let failure):
                    p.record.withUnsafeBytes { rejects.reject(.spamcheckFailed, failure.description, origin: p.origin, record: $0) }
                }
            }
            try output.flushIfNeeded()
        }
        while let record = try stream.next() {
            if renderer == nil {
                let tenant = options.tenant?.value ?? record.string("tenant")
                guard let tenant else {
                    rejects.reject(.missingTenant, "give --tenant or records with a tenant", origin: record.origin, record: record.bytes)
                    continue
                }
                renderer = try makeRenderer(tenant: tenant)
            }
            let before = output.buffer.count
            switch renderer!.render(record.document, into: &output.buffer) {
            case .rendered(let template, let variant, let missingNames):
                if let spam {
                    let line = Array(output.buffer.bytes(before..<output.buffer.count))
                    output.buffer.truncate(to: before)
                    spam.pending.append(.init(line: line, origin: record.origin, record: Array(record.bytes), template: template,
                                              variant: variant, missing: missingNames))
                    if spam.isFull { try scoreWaiting() }
                    continue
                }
                output.buffer.append(0x0A)
                kept(template, variant, missingNames)
                try output.flushIfNeeded()
            case .rejected(let reason, let detail):
                output.buffer.removeLast(output.buffer.count - before)
                rejects.reject(reason, detail, origin: record.origin, record: record.bytes)
            }
        }
        try scoreWaiting()
        try output.flush()
        summary["in"] = stream.linesIn
        summary["rejected"] = rejects.count
        summary["missing_variables"] = missing
        if let tracker = renderer?.tracker {
            summary["tracked_links"] = tracker.links
            summary["open_pixels"] = tracker.pixels
        }
        summary.setGroup("templates", usage)
        if !variants.isEmpty { summary.setGroup("variants", variants) }
        if let spam {
            summary["spam_checked"] = spam.checked
            summary.setGroup("spam_rules", spam.rules)
            if let highest = spam.highest {
                let mean = spam.total / Double(max(1, spam.checked))
                summary.remark("spam_score_max", ScoreText.decimal(highest),
                               text: "spam score mean \(ScoreText.decimal((mean * 100).rounded() / 100)), highest \(ScoreText.decimal(highest))")
            }
        }
        summary.setGroup("reject_reasons", rejects.reasons)
        try rejects.finish()
        return (summary, options.stream.strict && rejects.count > 0 ? .rejectsUnderStrict : .success)
    }

    /// The preview's HTML part as a page, and the message as RFC 5322 bytes (an .eml file).
    static func writePreviewFiles(_ m: JSONValue, _ files: PreviewFiles) throws {
        if let path = files.html {
            try FileSystem.writeAtomically(path, Array((m["html"]?.string ?? "").utf8), mode: 0o644)
        }
        if let path = files.eml {
            try FileSystem.writeAtomically(path, try eml(m, date: files.date), mode: 0o644)
        }
    }

    /// The message as `inject smtp` would send it (headers, multipart/alternative text + HTML).
    static func eml(_ m: JSONValue, date: Timestamp) throws -> [UInt8] {
        let headers = m["headers"]?.object?.members ?? []
        let messageID = headers.first { $0.0.lowercased() == "message-id" }?.1.string
            ?? "<preview.\(Mime.hex(EmailKey.hash(m["email"]?.string ?? "")))@mailpipe>"
        let message = Mime.Message(
            from: m["from"]?.string ?? "", to: m["email"]?.string ?? "", replyTo: m["reply_to"]?.string,
            subject: m["subject"]?.string ?? "", date: date, messageID: messageID,
            headers: headers.compactMap { name, value in value.string.map { (name, $0) } },
            text: m["text"]?.string, html: m["html"]?.string, boundarySeed: EmailKey.hash(messageID))
        do { return try Mime.build(message) } catch {
            throw StageError.runtime("the preview cannot be written as an .eml: \(error)")
        }
    }

    /// A message as a person reads it: headers, then the text part, then the HTML.
    static func previewText(_ m: JSONValue) -> String {
        var lines: [String] = []
        lines.append("From: \(m["from"]?.string ?? "")")
        if let r = m["reply_to"]?.string { lines.append("Reply-To: \(r)") }
        lines.append("To: \(m["email"]?.string ?? "")")
        lines.append("Subject: \(m["subject"]?.string ?? "")")
        for (k, v) in m["headers"]?.object?.members ?? [] { lines.append("\(k): \(v.string ?? v.description)") }
        lines.append("X-Mailpipe-Template: \(m["template"]?.string ?? "") (language \(m["language"]?.string ?? ""))")
        lines.append("")
        lines.append("----- text -----")
        lines.append(m["text"]?.string ?? "")
        lines.append("----- html -----")
        lines.append(m["html"]?.string ?? "")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Renders contacts with one tenant's settings. Everything that does not depend on the contact
/// is prepared once: templates compiled, fixed JSON fragments serialised, the HMAC key schedule
/// computed.
final class Renderer {
    enum Outcome {
        /// `variant`: the record's A/B variant (nil: none); its templates when it has a folder.
        case rendered(template: Int, variant: String?, missing: Int)
        case rejected(RejectReason, String)
    }

    let templates: TemplateSet
    let strict: Bool
    let tenantBytes: [UInt8]
    let tenantCheck: TenantCheck
    let campaignBytes: [UInt8]
    let fallbackBytes: [UInt8]
    let hmac: HMAC<SHA256>
    let slots: FieldSlots
    let emailSlot: Int, tenantSlot: Int, languageSlot: Int, categorySlot: Int, variantSlot: Int
    /// Variant name → its index in the template set's `variantRanges`.
    let variantIndex: [[UInt8]: Int]
    var variableSlots: [[Int]] = []   // per variable: slots of its candidate keys
    var variableRest: [[[UInt8]]] = []
    var builtin: [Int] = []           // per variable: 0 none, 1 campaign, 2 tenant, 3 unsubscribe URL, 4 template, 5 template language
    // Fixed JSON fragments.
    let headPrefix: [UInt8]           // {"tenant":"t","email":
    let campaignMember: [UInt8]       // ,"campaign":"c"
    let fromReply: [UInt8]            // ,"from":…,"reply_to":…
    let unsubscribeBase: [UInt8]      // https://…/unsubscribe?
    let mailtoPrefix: [UInt8]         // mailto:unsubscribe@domain?subject=unsubscribe%20
    let mailtoCampaign: [UInt8]       // %20CAMPAIGN%20 (then the address: the token proves both)
    let messageIdDomain: [UInt8]
    /// Open and click tracking, when the run, campaign or tenant asks for it.
    let tracker: Tracker?
    // Per record scratch.
    var values: [UInt8] = []
    var ranges: [(start: Int, count: Int, present: Bool)] = []
    var key: [UInt8] = []
    var scratch: [UInt8] = []
    var token: [UInt8] = []
    var unsubscribeURL: [UInt8] = []
    var encodedEmail: [UInt8] = []
    var cache: [UInt64: (lang: [UInt8], category: [UInt8], variant: Int, template: Int)] = [:]

    init(options: RenderStage.Options, tenant: String, config: TenantConfig?, templates: TemplateSet) throws {
        self.templates = templates
        strict = options.stream.strict
        let campaign = templates.campaignConfig
        func configString(_ path: [String], in object: JSONObject) -> String? {
            var v: JSONValue? = .object(object)
            for k in path { v = v?[k] }
            return v?.string
        }
        let fallback = options.fallbackLanguage ?? configString(["fallback_language"], in: campaign) ?? config?.fallbackLanguage ?? "en"
        guard templates.templates.contains(where: { $0.language == fallback && $0.category == nil }) else {
            throw StageError.configuration("\(templates.directory): no template for the fallback language '\(fallback)' (\(fallback).subject and \(fallback).html)")
        }
        let from = options.from ?? configString(["from"], in: campaign) ?? config?.smtp.from
        guard let from, !from.isEmpty else {
            throw StageError.configuration("no sender: give --from, 'from' in campaign.json or smtp.from in tenant.json")
        }
        let replyTo = options.replyTo ?? configString(["reply_to"], in: campaign) ?? config?.smtp.replyTo
        let fromDomain = from.split(separator: "@").last.map { String($0).trimmingCharacters(" <>\"") }
        let sendingDomain = config?.sendingDomain ?? fromDomain ?? "localhost"
        let brandDomain = config?.brandDomain ?? sendingDomain
        let unsubscribeURL = options.unsubscribeURL ?? configString(["unsubscribe_url"], in: campaign)
            ?? config?.unsubscribe.url ?? "https://\(brandDomain)/unsubscribe"
        let mailto = options.unsubscribeMailto ?? config?.unsubscribe.mailto ?? "unsubscribe@\(sendingDomain)"
        guard unsubscribeURL.hasPrefix("https://") else {
            throw StageError.configuration("the unsubscribe URL must be HTTPS (RFC 8058), got '\(unsubscribeURL)'")
        }
        let secretEnv = options.secretEnv ?? config?.unsubscribe.secretEnv ?? RenderStage.defaultSecretEnv
        guard let secret = FileSystem.environment(secretEnv), !secret.isEmpty else {
            throw StageError.configuration("the unsubscribe secret is missing: set the environment variable \(secretEnv) (named by --unsubscribe-secret-env or unsubscribe.secret_env in tenant.json)")
        }
        hmac = HMAC<SHA256>(key: SymmetricKey(data: Array(secret.utf8)))
        let campaignTrack = campaign["track"]
        if let campaignTrack, campaignTrack.bool == nil {
            throw StageError.configuration("\(templates.directory)/campaign.json: 'track' must be true or false")
        }
        if options.track ?? campaignTrack?.bool ?? config?.tracking?.enabled ?? false {
            guard let settings = config?.tracking else {
                throw StageError.configuration("tracking is asked (render --track or campaign.json track) but tenant \(tenant) has no tracking.url in tenant.json (the base of the links account serve answers)")
            }
            tracker = Tracker(settings: settings, secret: secret, tenant: tenant, campaign: options.campaign,
                              unsubscribeURL: unsubscribeURL, signedAt: options.now)
        } else {
            tracker = nil
        }
        tenantBytes = Array(tenant.utf8)
        tenantCheck = TenantCheck(expected: tenant, source: options.tenant == nil ? "a stream of tenant '\(tenant)'" : nil)
        campaignBytes = Array(options.campaign.utf8)
        fallbackBytes = Array(fallback.utf8)

        var b = ByteBuffer(capacity: 256)
        b.append("{\"tenant\":"); b.appendJSONString(tenant); b.append(",\"email\":")
        headPrefix = b.bytes
        b = ByteBuffer(capacity: 256)
        b.append(",\"campaign\":"); b.appendJSONString(options.campaign)
        campaignMember = b.bytes
        b = ByteBuffer(capacity: 256)
        b.append(",\"from\":"); b.appendJSONString(from)
        b.append(",\"reply_to\":"); if let replyTo { b.appendJSONString(replyTo) } else { b.append("null") }
        fromReply = b.bytes
        let separator = unsubscribeURL.contains("?") ? "&" : "?"
        unsubscribeBase = Array((unsubscribeURL + separator + "t=" + Renderer.percentEncode(tenant) + "&c=" + Renderer.percentEncode(options.campaign) + "&e=").utf8)
        mailtoPrefix = Array("mailto:\(mailto)?subject=unsubscribe%20".utf8)
        mailtoCampaign = Array(("%20" + Renderer.percentEncode(options.campaign) + "%20").utf8)
        messageIdDomain = Array(MessageID.domain(config: config, from: from).utf8)

        slots = FieldSlots()
        emailSlot = slots.slot("email")
        tenantSlot = slots.slot("tenant")
        languageSlot = slots.slot("language")
        categorySlot = slots.slot("category")
        variantSlot = slots.slot("variant")
        var variantIndex: [[UInt8]: Int] = [:]
        for (i, name) in templates.variantNames.enumerated() { variantIndex[Array(name.utf8)] = i }
        self.variantIndex = variantIndex
        for v in templates.variables {
            switch v.name {
            case "campaign": builtin.append(1)
            case "tenant": builtin.append(2)
            case "unsubscribe_url", "unsubscribeUrl", "unsubscribe": builtin.append(3)
            case "template": builtin.append(4)
            case "template_language", "templateLanguage": builtin.append(5)
            default: builtin.append(0)
            }
            variableSlots.append(v.candidates.map { slots.slot($0) })
            variableRest.append(v.rest.map { Array($0.utf8) })
        }
        ranges = Array(repeating: (0, 0, false), count: templates.variables.count)
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            if (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 45 || b == 46 || b == 95 || b == 126 {
                out.append(Character(Unicode.Scalar(b)))
            } else {
                out += "%" + String(b >> 4, radix: 16, uppercase: true) + String(b & 15, radix: 16, uppercase: true)
            }
        }
        return out
    }

    @inline(__always)
    static func appendPercentEncoded(_ bytes: [UInt8], into out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        for b in bytes {
            if (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 45 || b == 46 || b == 95 || b == 126 {
                out.append(b)
            } else {
                out.append(37); out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)])
            }
        }
    }

    /// Chooses the template: language + category → language → fallback + category → fallback,
    /// among the variant's templates (`variant` indexes `variantRanges`; -1: the campaign's).
    func choose(language: UnsafeRawBufferPointer?, category: UnsafeRawBufferPointer?, variant: Int = -1) -> Int {
        var lang = [UInt8](language ?? UnsafeRawBufferPointer(start: nil, count: 0))
        var cat = [UInt8](category ?? UnsafeRawBufferPointer(start: nil, count: 0))
        for i in lang.indices where lang[i] &- 65 < 26 { lang[i] |= 0x20 }
        for i in cat.indices where cat[i] &- 65 < 26 { cat[i] |= 0x20 }
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in lang { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        h = (h ^ 0xFF) &* 0x100_0000_01B3
        for b in cat { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        h = (h ^ UInt64(bitPattern: Int64(variant))) &* 0x100_0000_01B3
        if let hit = cache[h], hit.lang == lang, hit.category == cat, hit.variant == variant { return hit.template }
        let list = templates.templates
        let range = variant >= 0 ? templates.variantRanges[variant] : templates.baseRange
        func find(_ l: [UInt8], _ c: [UInt8]?) -> Int? {
            range.first { list[$0].languageBytes == l && list[$0].categoryBytes == c }
        }
        var chosen = -1
        if !cat.isEmpty, let t = find(lang, cat) { chosen = t }
        else if let t = find(lang, nil) { chosen = t }
        else if !cat.isEmpty, let t = find(fallbackBytes, cat) { chosen = t }
        else if let t = find(fallbackBytes, nil) { chosen = t }
        if cache.count < 4096 { cache[h] = (lang, cat, variant, chosen) }
        return chosen
    }

    /// Writes one message record (no newline) or says why not.
    func render(_ document: JSONDocument, into out: inout ByteBuffer) -> Outcome {
        let tape = Tape(document)
        slots.resolve(tape)
        let e = slots[emailSlot]
        guard e >= 0, tape.kind(e) == .string, tape.tokens[e].end - tape.tokens[e].start > 2 else {
            return .rejected(.missingEmail, "a contact needs an email string")
        }
        if let refusal = tenantCheck.refusal(tape, slots[tenantSlot], scratch: &scratch) {
            return .rejected(refusal.reason, refusal.detail)
        }
        func stringAt(_ slot: Int) -> [UInt8]? {
            let i = slots[slot]
            guard i >= 0, tape.kind(i) == .string else { return nil }
            return tape.withString(i, scratch: &scratch) { [UInt8]($0) }
        }
        let language = stringAt(languageSlot)
        let category = stringAt(categorySlot)
        var variant: [UInt8]? = nil
        let v = slots[variantSlot]
        if v >= 0 && tape.kind(v) != .null {
            guard tape.kind(v) == .string, let name = stringAt(variantSlot), !name.isEmpty else {
                return .rejected(.invalidVariant, "variant must be a variant name (a string such as \"b\")")
            }
            variant = name
        }
        let variantNumber = variant.flatMap { variantIndex[$0] } ?? -1
        let chosen = language.withOptionalBytes { l in
            category.withOptionalBytes { c in choose(language: l, category: c, variant: variantNumber) }
        }
        guard chosen >= 0 else { return .rejected(.noTemplate, "no template for this contact and none for the fallback language") }
        let template = templates.templates[chosen]

        // Normalised address: the key of the token and of the Message-ID.
        key.removeAll(keepingCapacity: true)
        tape.withString(e, scratch: &scratch) { EmailKey.normalize($0, into: &key) }

        // Unsubscribe token: HMAC-SHA256(tenant \0 email \0 campaign), base64url.
        var mac = hmac
        mac.update(data: tenantBytes)
        mac.update(data: [0])
        mac.update(data: key)
        mac.update(data: [0])
        mac.update(data: campaignBytes)
        token.removeAll(keepingCapacity: true)
        mac.finalize().withUnsafeBytes { Renderer.base64url($0, into: &token) }
        unsubscribeURL.removeAll(keepingCapacity: true)
        unsubscribeURL.append(contentsOf: unsubscribeBase)
        encodedEmail.removeAll(keepingCapacity: true)
        Renderer.appendPercentEncoded(key, into: &encodedEmail)
        unsubscribeURL.append(contentsOf: encodedEmail)
        unsubscribeURL.append(contentsOf: Array("&s=".utf8))
        unsubscribeURL.append(contentsOf: token)

        // Variable values, decoded once into one arena.
        values.removeAll(keepingCapacity: true)
        for v in 0..<ranges.count {
            let start = values.count
            var present = true
            switch builtin[v] {
            case 1: values.append(contentsOf: campaignBytes)
            case 2: values.append(contentsOf: tenantBytes)
            case 3: values.append(contentsOf: unsubscribeURL)
            case 4: values.append(contentsOf: Array(template.id.utf8))
            case 5: values.append(contentsOf: template.languageBytes)
            default: present = appendValue(tape, v)
            }
            ranges[v] = (start, values.count - start, present && values.count > start)
        }

        var missing = 0
        var missingNames: [String] = []
        out.append(headPrefix)
        out.append(tape.raw(e))
        out.append(campaignMember)
        out.append(",\"template\":\"")
        out.append(template.id)
        out.append("\",\"language\":\"")
        out.append(template.languageBytes)
        if let variant {
            out.append("\",\"variant\":")
            variant.withUnsafeBytes { out.appendJSONString(utf8: $0) }
            out.append(",\"subject\":\"")
        } else {
            out.append("\",\"subject\":\"")
        }
        write(template.subject, into: &out, missing: &missing, names: &missingNames)
        tracker?.begin(email: key)
        out.append("\",\"html\":\"")
        let htmlStart = out.count
        write(template.html, into: &out, missing: &missing, names: &missingNames)
        tracker?.rewrite(&out, from: htmlStart, html: true)
        out.append("\",\"text\":\"")
        let textStart = out.count
        write(template.text, into: &out, missing: &missing, names: &missingNames)
        tracker?.rewrite(&out, from: textStart, html: false)
        if strict && missing > 0 {
            var unique: [String] = []
            for n in missingNames where !unique.contains(n) { unique.append(n) }
            return .rejected(.missingVariable, "no value and no default for {\(unique.joined(separator: "}, {"))} in template \(template.id)")
        }
        out.append("\",\"headers\":{\"Message-ID\":\"")
        key.withUnsafeBytes { MessageID.append(tenant: tenantBytes, campaign: campaignBytes, email: $0, domain: messageIdDomain, into: &out) }
        out.append("\",\"List-Unsubscribe\":\"<")
        out.append(mailtoPrefix)
        out.append(token)
        out.append(mailtoCampaign)
        out.append(encodedEmail)
        out.append(">, <")
        unsubscribeURL.withUnsafeBytes { JSONText.appendEscaped($0, into: &out) }
        out.append(">\",\"List-Unsubscribe-Post\":\"List-Unsubscribe=One-Click\",\"X-Job\":")
        out.appendJSONString(utf8: campaignBytes.withUnsafeBytes { $0 })
        out.append("}")
        out.append(fromReply)
        out.append(",\"contact\":")
        out.append(document.bytes)
        out.append("}")
        return .rendered(template: chosen, variant: variant.map { String(decoding: $0, as: UTF8.self) }, missing: missing)
    }

    /// Appends variable `v`'s text to the arena; false when the contact has no value for it.
    @inline(__always)
    func appendValue(_ tape: Tape, _ v: Int) -> Bool {
        var i = -1
        for s in variableSlots[v] where slots[s] >= 0 { i = slots[s]; break }
        if i < 0 { return false }
        for k in variableRest[v] {
            i = tape.member(i, k)
            if i < 0 { return false }
        }
        switch tape.kind(i) {
        case .string:
            if tape.isEscaped(i) { JSONNode.unescape(tape.content(i), into: &values) } else { values.append(contentsOf: tape.content(i)) }
        case .number, .true, .false:
            values.append(contentsOf: tape.raw(i))
        case .array:
            var j = i + 1
            let end = tape.next(i)
            var first = true
            while j < end {
                let kind = tape.kind(j)
                if kind == .string || kind == .number {
                    if !first { values.append(0x2C); values.append(0x20) }
                    first = false
                    if kind == .string {
                        if tape.isEscaped(j) { JSONNode.unescape(tape.content(j), into: &values) } else { values.append(contentsOf: tape.content(j)) }
                    } else {
                        values.append(contentsOf: tape.raw(j))
                    }
                }
                j = tape.next(j)
            }
        default:
            return false
        }
        return true
    }

    @inline(__always)
    func write(_ part: CompiledPart, into out: inout ByteBuffer, missing: inout Int, names: inout [String]) {
        let ranges = self.ranges
        values.withUnsafeBytes { arena in
            part.bytes.withUnsafeBytes { store in
                part.pieces.withUnsafeBufferPointer { pieces in
                    for piece in pieces {
                        let own = UnsafeRawBufferPointer(rebasing: store[Int(piece.start)..<Int(piece.start + piece.count)])
                        if piece.variable < 0 {
                            out.append(own)
                            continue
                        }
                        let r = ranges[Int(piece.variable)]
                        if r.present {
                            Renderer.appendEscaped(UnsafeRawBufferPointer(rebasing: arena[r.start..<(r.start + r.count)]), piece.escaping, into: &out)
                        } else if piece.hasFallback {
                            Renderer.appendEscaped(own, piece.escaping, into: &out)
                        } else {
                            missing += 1
                            if strict { names.append(templates.variables[Int(piece.variable)].name) }
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    static func appendEscaped(_ value: UnsafeRawBufferPointer, _ escaping: Escaping, into out: inout ByteBuffer) {
        switch escaping {
        case .html: JSONText.appendHTMLEscaped(value, into: &out)
        case .text: JSONText.appendEscaped(value, into: &out)
        case .header: JSONText.appendHeaderSafe(value, into: &out)
        }
    }

    static func base64url(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18)]); out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)]); out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(n >> 18)]); out.append(alphabet[Int(n >> 12 & 63)])
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(n >> 18)]); out.append(alphabet[Int(n >> 12 & 63)]); out.append(alphabet[Int(n >> 6 & 63)])
        }
    }
}

extension Optional where Wrapped == [UInt8] {
    func withOptionalBytes<R>(_ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let self else { return body(nil) }
        return self.withUnsafeBytes { body($0) }
    }
}

/// Unsubscribe tokens: `render` signs them into List-Unsubscribe, `account serve` checks them.
public enum UnsubscribeToken {
    /// HMAC-SHA256 of `tenant \0 email \0 campaign` keyed by the secret, base64url without padding.
    public static func make(secret: String, tenant: String, email: String, campaign: String) -> String {
        Verifier(secret: secret).token(tenant: tenant, email: email, campaign: campaign)
    }

    /// A secret's key schedule, prepared once, for checking many tokens.
    public struct Verifier: Sendable {
        let hmac: HMAC<SHA256>

        public init(secret: String) {
            hmac = HMAC<SHA256>(key: SymmetricKey(data: Array(secret.utf8)))
        }

        public func token(tenant: String, email: String, campaign: String) -> String {
            String(decoding: tokenBytes(tenant: tenant, email: EmailKey.normalize(email), campaign: campaign), as: UTF8.self)
        }

        func tokenBytes(tenant: String, email: String, campaign: String) -> [UInt8] {
            sign([tenant, email, campaign])
        }

        /// The signature of `fields` joined by NUL bytes, base64url: the unsubscribe token is
        /// (tenant, email, campaign); other uses put their purpose first (`track:click`), so no
        /// signature of one kind is valid as another.
        public func sign(_ fields: [String]) -> [UInt8] {
            var mac = hmac
            for (i, f) in fields.enumerated() {
                if i > 0 { mac.update(data: [0]) }
                mac.update(data: Array(f.utf8))
            }
            var out: [UInt8] = []
            out.reserveCapacity(43)
            mac.finalize().withUnsafeBytes { Renderer.base64url($0, into: &out) }
            return out
        }

        /// True when `token` signs (tenant, email, campaign). The comparison takes the same time
        /// wherever the first difference is, so a forger learns nothing from the answer's delay.
        public func verify(_ token: String, tenant: String, email: String, campaign: String) -> Bool {
            let expected = tokenBytes(tenant: tenant, email: EmailKey.normalize(email), campaign: campaign)
            return ConstantTime.equal(expected, Array(token.utf8))
        }
    }
}
