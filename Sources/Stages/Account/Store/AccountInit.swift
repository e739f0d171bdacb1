#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
        // The given tenant.json is read and checked before anything is made.
        var given: TenantConfig?
        if let path = options.configPath {
            var config = try TenantConfig.load(path: path)
            if let slug = config.slug, slug != options.tenant.value {
                throw StageError.configuration("\(path): slug '\(slug)' does not match --tenant \(options.tenant)")
            }
            if config.slug == nil { config = config.withSlug(options.tenant) }
            given = config
        }
        try FileSystem.createDirectory(options.state.path, mode: 0o700)
        if try FileSystem.entryKind(dir.path) == nil, try create(dir, config: given ?? TenantConfig.defaults(slug: options.tenant), shards: options.shards) {
            let sharded = options.shards.map { " (contact store in \($0) shards)" } ?? ""
            return "account init: tenant \(options.tenant) ready at \(dir.path)" + sharded
        }
        // An existing tenant: its configuration is replaced (or kept), its folders completed.
        let lock = try dir.lock()
        defer { lock.unlock() }
        try FileSystem.requireFolder(dir.contactsPath, creating: true)
        try FileSystem.requireFolder(dir.journalPath, creating: true)
        guard let config = given else {
            if try FileSystem.entryKind(dir.configPath) != nil {
                _ = try dir.loadConfig()
                let sharded = try initialiseShards(options, dir)
                return "account init: tenant \(options.tenant) already initialised at \(dir.path)" + sharded
            }
            let sharded = try initialiseShards(options, dir)
            try FileSystem.writeAtomically(dir.configPath, TenantConfig.defaults(slug: options.tenant).serialized)
            return "account init: tenant \(options.tenant) ready at \(dir.path)" + sharded
        }
        if try FileSystem.entryKind(dir.configPath) != nil { _ = try dir.loadConfig() }   // refuses a linked tenant.json
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

    /// A new tenant folder, built beside its final name and renamed into place, so a failed
    /// init leaves nothing half made. False when another init made the tenant meanwhile.
    private static func create(_ dir: TenantDirectory, config: TenantConfig, shards: Int?) throws -> Bool {
        let building = "\(dir.root)/.init-\(dir.slug.value)-\(getpid())"
        try StoreLayout.removeTree(building)
        do {
            try FileSystem.requireFolder(building, creating: true)
            try FileSystem.requireFolder("\(building)/contacts", creating: true)
            try FileSystem.requireFolder("\(building)/journal", creating: true)
            if let shards {
                _ = try StoreLayout.initialise(contactsPath: "\(building)/contacts", shards: shards)
            } else {
                try ContactStore.writeEmptyManifest(folder: "\(building)/contacts")
            }
            try FileSystem.writeAtomically("\(building)/tenant.json", config.serialized)
            for folder in ["contacts", "journal", ""] { try FileSystem.syncDirectory("\(building)/\(folder)") }
            if Glibc.rename(building, dir.path) != 0 {
                let error = SystemError("rename", path: "\(building) -> \(dir.path)")
                guard error.errno == .fileExists || error.errno.rawValue == ENOTEMPTY else { throw error }
                try StoreLayout.removeTree(building)
                return false
            }
            try FileSystem.syncDirectory(dir.root)
            return true
        } catch {
            try? StoreLayout.removeTree(building)
            throw error
        }
    }

    /// Lays out an empty store in `--shards n` sub-stores (nothing to do without the flag).
    private static func initialiseShards(_ options: Options, _ dir: TenantDirectory) throws -> String {
        guard let n = options.shards else { return "" }
        let created = try StoreLayout.initialise(contactsPath: dir.contactsPath, shards: n)
        return created ? " (contact store in \(n) shards)" : " (contact store already in \(n) shards)"
    }
}
