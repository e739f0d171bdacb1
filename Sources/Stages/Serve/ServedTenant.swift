import MailpipeCore
import MailpipeStore
import RenderStage

/// One tenant as `account serve` answers for it: where its links point, the secrets and keys
/// that prove a request, its books.
final class ServedTenant: @unchecked Sendable {
    let slug: String
    let dir: TenantDirectory
    let config: TenantConfig
    /// The path of `unsubscribe.url` (what render puts in List-Unsubscribe).
    let unsubscribePath: String
    let tokens: UnsubscribeToken.Verifier
    /// The path of `tracking.url` and the keys of its links (nil: the tenant does not track).
    let trackingPath: String?
    let trackingKeys: TrackingToken.Keys?
    let machineRules: MachineRules
    let sendgrid: SendGridVerifier?
    let postmark: BasicAuthVerifier?
    let ses: SNSVerifier?
    /// The secret of the MailWizz open/click webhook URL, and the tenant's MailWizz lists (an
    /// event of any other list is refused).
    let mailwizz: SharedSecretVerifier?
    let mailwizzLists: [String]
    let commits: GroupCommit

    var brand: String { config.name ?? config.brandDomain ?? slug }

    init(slug: TenantSlug, state: StateRoot) throws {
        self.slug = slug.value
        dir = state.tenant(slug)
        try dir.requireExisting()
        config = try dir.loadConfig()
        let url = config.unsubscribe.url ?? "https://\(config.brandDomain ?? config.mailDomain ?? "localhost")/unsubscribe"
        unsubscribePath = ServedTenant.path(of: url)
        let secretEnv = config.unsubscribe.secretEnv ?? RenderStage.defaultSecretEnv
        guard let secret = FileSystem.environment(secretEnv), !secret.isEmpty else {
            throw StageError.configuration("\(slug.value): the unsubscribe secret is missing: set the environment variable \(secretEnv) (unsubscribe.secret_env in tenant.json)")
        }
        tokens = UnsubscribeToken.Verifier(secret: secret)
        trackingPath = config.tracking.map { ServedTenant.path(of: $0.url) }
        trackingKeys = config.tracking.map { _ in TrackingToken.Keys(secret: secret) }
        machineRules = MachineRules(machineSeconds: config.tracking?.machineSeconds ?? 0)
        let w = config.webhooks
        sendgrid = try w.sendgridPublicKey.map { try SendGridVerifier(publicKey: $0) }
        if let user = w.postmarkUsername, let env = w.postmarkPasswordEnv {
            guard let password = FileSystem.environment(env), !password.isEmpty else {
                throw StageError.configuration("\(slug.value): the environment variable \(env) (webhooks.postmark.password_env) is not set")
            }
            postmark = BasicAuthVerifier(username: user, password: password)
        } else {
            postmark = nil
        }
        if let file = w.sesCertificateFile {
            let pem: [UInt8]
            do { pem = try FileSystem.readFile(file) } catch {
                throw StageError.configuration("\(slug.value): cannot read \(file) (webhooks.ses.certificate_file): \(error)")
            }
            ses = try SNSVerifier(certificatePEM: String(decoding: pem, as: UTF8.self), topics: w.sesTopicARNs)
        } else {
            ses = nil
        }
        if let env = w.mailwizzSecretEnv {
            guard let secret = FileSystem.environment(env), !secret.isEmpty else {
                throw StageError.configuration("\(slug.value): the environment variable \(env) (webhooks.mailwizz.secret_env) is not set")
            }
            guard secret.count >= SharedSecretVerifier.minimumLength else {
                throw StageError.configuration("\(slug.value): the secret in \(env) (webhooks.mailwizz.secret_env) is shorter than \(SharedSecretVerifier.minimumLength) characters")
            }
            mailwizz = SharedSecretVerifier(secret: secret)
        } else {
            mailwizz = nil
        }
        mailwizzLists = config.mailwizz?.lists ?? []
        commits = try GroupCommit(dir: dir, books: TenantBooks(dir: dir))
    }

    /// The path of an http(s) URL (`/` when it has none), without its query.
    static func path(of url: String) -> String {
        // scheme: / / authority / path?query
        let parts = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4 else { return "/" }
        let path = parts[3].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return "/" + path
    }

    /// The contact's language from the store (a point look-up), nil when unknown.
    func contactLanguage(_ email: String) -> String? {
        guard let store = try? TenantContacts.open(dir) else { return nil }
        var key = Array(EmailKey.normalize(email).utf8)
        guard let line = try? key.withUnsafeMutableBytes({ try store.lookup().find(key: UnsafeRawBufferPointer($0)) }),
              let value = try? JSONValue.parse(line, maxDepth: 64) else { return nil }
        return value["language"]?.string
    }
}
