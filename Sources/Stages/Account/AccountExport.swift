import MailpipeCore
import MailpipeStore

/// `account export`: the tenant's contacts as NDJSON, each once (newest version), in email order.
public enum AccountExport {
    public struct Options {
        public var tenant: TenantSlug
        public var state: StateRoot
        public var shard: Shard?

        public init(tenant: TenantSlug, state: StateRoot, shard: Shard? = nil) {
            self.tenant = tenant
            self.state = state
            self.shard = shard
        }
    }

    public static func run(_ options: Options, output: inout OutputSink) throws -> Summary {
        let dir = options.state.tenant(options.tenant)
        try dir.requireExisting()
        var summary = Summary(stage: "account export", headline: ["out"])
        let store = try ContactStore(directory: dir.contactsPath)
        var count = 0
        try store.forEach(shard: options.shard) { line in
            try output.writeLine(line)
            count += 1
        }
        try output.flush()
        summary["out"] = count
        return summary
    }
}

/// `account compact`: folds every run of the store into one.
public enum AccountCompact {
    public static func run(tenant: TenantSlug, state: StateRoot) throws -> Summary {
        let dir = state.tenant(tenant)
        try dir.requireExisting()
        let lock = try dir.lock()
        defer { lock.unlock() }
        let writer = try ContactStoreWriter(directory: dir.contactsPath)
        var summary = Summary(stage: "account compact", headline: ["runs_before", "runs_after", "contacts"])
        summary["runs_before"] = writer.store.runs.count
        try writer.compact(all: true)
        summary["runs_after"] = writer.store.runs.count
        summary["contacts"] = writer.store.recordCountUpperBound
        return summary
    }
}
