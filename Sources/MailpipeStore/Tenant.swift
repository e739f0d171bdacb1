#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// A tenant's slug: `^[a-z0-9][a-z0-9-]{0,62}$`. Anything else is refused, so a slug can never
/// climb out of the state folder (`..`, `/`, empty, upper case, NUL).
public struct TenantSlug: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init(_ text: String) throws {
        let bytes = Array(text.utf8)
        func allowed(_ b: UInt8, first: Bool) -> Bool {
            (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || (!first && b == 45)
        }
        guard !bytes.isEmpty, bytes.count <= 63, allowed(bytes[0], first: true),
              bytes.dropFirst().allSatisfy({ allowed($0, first: false) }) else {
            throw StageError.configuration("invalid tenant '\(text)': a tenant is 1–63 characters of a-z, 0-9 and '-', starting with a letter or digit")
        }
        value = text
    }

    public var description: String { value }
}

/// Where tenant state lives: `--state DIR`, else `$MAILPIPE_STATE`, else `./state`.
public struct StateRoot: Sendable {
    public let path: String

    public init(explicit: String?) {
        if let explicit, !explicit.isEmpty { path = explicit }
        else if let env = FileSystem.environment("MAILPIPE_STATE"), !env.isEmpty { path = env }
        else { path = "state" }
    }

    public func tenant(_ slug: TenantSlug) -> TenantDirectory {
        TenantDirectory(root: path, slug: slug)
    }

    /// The initialised tenants of this state folder (those with a tenant.json), by slug.
    public func tenants() -> [TenantSlug] {
        guard let names = try? FileSystem.listDirectory(path) else { return [] }
        return names.sorted().compactMap { name in
            guard let slug = try? TenantSlug(name), tenant(slug).isInitialised else { return nil }
            return slug
        }
    }
}

/// The files of one tenant (docs/design.md §4).
public struct TenantDirectory: Sendable {
    public let root: String
    public let slug: TenantSlug

    public var path: String { "\(root)/\(slug.value)" }
    public var configPath: String { "\(path)/tenant.json" }
    public var contactsPath: String { "\(path)/contacts" }
    public var suppressionPath: String { "\(path)/suppression.ndjson.gz" }
    public var eventsPath: String { "\(path)/events.ndjson.gz" }
    public var ledgerPath: String { "\(path)/ledger.json" }
    public var journalPath: String { "\(path)/journal" }
    public var lockPath: String { "\(path)/lock" }

    public var exists: Bool { FileSystem.isDirectory(path) }
    /// `account init` ran: the tenant.json is there.
    public var isInitialised: Bool { FileSystem.exists(configPath) }

    /// Fails when the tenant was never initialised (a configuration error that names `account
    /// init`), when its state cannot be reached (permission denied, with the path), or when the
    /// tenant folder or one of its folders is a symbolic link (nothing below the state root is
    /// followed; the root itself may be a link).
    public func requireExisting() throws {
        try reachable {
            guard try FileSystem.requireFolder(path), try FileSystem.entryKind(configPath) != nil else {
                throw StageError.configuration("tenant '\(slug)' has no state at \(path) (run: account init --tenant \(slug))")
            }
            try FileSystem.requireFolder(contactsPath)
            try FileSystem.requireFolder(journalPath)
        }
    }

    /// Runs `body`, turning "permission denied" into an error that says so and names the path
    /// (rather than suggesting the state is missing).
    func reachable<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as SystemError where error.errno == .permissionDenied {
            throw StageError.runtime("permission denied: \(error.path ?? path) (the state of tenant '\(slug)' cannot be read by this user)")
        }
    }

    /// Takes the tenant's writer lock (blocks while another writer holds it). Creates the tenant
    /// folder when missing (`account init`).
    public func lock() throws -> FileLock {
        try reachable {
            try FileSystem.createDirectory(root)
            try FileSystem.requireFolder(path, creating: true)
            return try FileLock(path: lockPath)
        }
    }

    public func loadConfig() throws -> TenantConfig {
        try requireExisting()
        return try reachable { try TenantConfig.load(path: configPath, options: .noFollow) }
    }
}
