import MailpipeCore
import MailpipeStore

/// `account init`: creates a tenant's state folder and its `tenant.json`.
public enum AccountInit {
    public struct Options {
        public var tenant: TenantSlug
        public var state: StateRoot
        /// A tenant.json to install (validated; its slug must match). Nil keeps an existing one
        /// or writes the defaults.
        public var configPath: String?

        public init(tenant: TenantSlug, state: StateRoot, configPath: String? = nil) {
            self.tenant = tenant
            self.state = state
            self.configPath = configPath
        }
    }

    /// Returns a one-line description of what was done.
    @discardableResult
    public static func run(_ options: Options) throws -> String {
        let dir = options.state.tenant(options.tenant)
        try FileSystem.createDirectory(options.state.path, mode: 0o700)
        let lock = try dir.lock()
        defer { lock.unlock() }
        try FileSystem.createDirectory(dir.contactsPath)
        try FileSystem.createDirectory(dir.journalPath)

        var config: TenantConfig
        if let path = options.configPath {
            config = try TenantConfig.load(path: path)
            if let slug = config.slug, slug != options.tenant.value {
                throw StageError.configuration("\(path): slug '\(slug)' does not match --tenant \(options.tenant)")
            }
            if config.slug == nil {
                var raw = config.raw
                raw["slug"] = .string(options.tenant.value)
                config = TenantConfig(raw: raw)
            }
        } else if FileSystem.exists(dir.configPath) {
            _ = try TenantConfig.load(path: dir.configPath)
            return "account init: tenant \(options.tenant) already initialised at \(dir.path)"
        } else {
            config = TenantConfig.defaults(slug: options.tenant)
        }
        try FileSystem.writeAtomically(dir.configPath, config.serialized)
        return "account init: tenant \(options.tenant) ready at \(dir.path)"
    }
}
