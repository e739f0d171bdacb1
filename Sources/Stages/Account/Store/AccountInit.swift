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
        /// `--shards n`: keep the contact store as n sub-stores (contacts/layout.json), so n
        /// writers commit in parallel. Nil leaves the store's layout as it is (flat when new).
        public var shards: Int?

        public init(tenant: TenantSlug, state: StateRoot, configPath: String? = nil, shards: Int? = nil) {
            self.tenant = tenant
            self.state = state
            self.configPath = configPath
            self.shards = shards
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
            if config.slug == nil { config = config.withSlug(options.tenant) }
        } else if FileSystem.exists(dir.configPath) {
            _ = try TenantConfig.load(path: dir.configPath)
            let sharded = try initialiseShards(options, dir)
            return "account init: tenant \(options.tenant) already initialised at \(dir.path)" + sharded
        } else {
            config = TenantConfig.defaults(slug: options.tenant)
        }
        let sharded = try initialiseShards(options, dir)
        try FileSystem.writeAtomically(dir.configPath, config.serialized)
        return "account init: tenant \(options.tenant) ready at \(dir.path)" + sharded
    }

    /// `account init --check FILE`: reads FILE as tenant.json and writes nothing. Returns a
    /// one-line description; a problem is a configuration error naming the key (exit 2).
    public static func check(path: String, tenant: TenantSlug?) throws -> String {
        let config = try TenantConfig.load(path: path)
        if let tenant, let slug = config.slug, slug != tenant.value {
            throw StageError.configuration("\(path): slug '\(slug)' does not match --tenant \(tenant)")
        }
        let vmtas = config.vmtas.count
        return "account init: \(path) is a valid tenant.json (\(vmtas) vmta\(vmtas == 1 ? "" : "s"), time zone \(config.timezone.name), warm-up of \(config.warmup.steps.count) week\(config.warmup.steps.count == 1 ? "" : "s"))"
    }

    /// Lays out an empty store in `--shards n` sub-stores (nothing to do without the flag).
    private static func initialiseShards(_ options: Options, _ dir: TenantDirectory) throws -> String {
        guard let n = options.shards else { return "" }
        let created = try StoreLayout.initialise(contactsPath: dir.contactsPath, shards: n)
        return created ? " (contact store in \(n) shards)" : " (contact store already in \(n) shards)"
    }
}
