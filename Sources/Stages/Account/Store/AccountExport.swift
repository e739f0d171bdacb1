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
        // Flat or sharded; with --shard on a store of the same shard count, one sub-store is read.
        let store = try TenantContacts.open(dir)
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
        // Flat: under the tenant lock; sharded: every shard, under the exclusive layout lock.
        let result = try ContactCompaction.run(tenant: dir)
        var summary = Summary(stage: "account compact", headline: ["runs_before", "runs_after", "contacts"])
        summary["runs_before"] = result.before
        summary["runs_after"] = result.after
        summary["contacts"] = result.contacts
        return summary
    }
}

/// `account reshard`: rewrites the contact store into another shard count (flat → n, n → m),
/// crash-safe, without losing or duplicating a contact (see `ContactReshard`).
public enum AccountReshard {
    public static func run(tenant: TenantSlug, state: StateRoot, shards: Int) throws -> Summary {
        let dir = state.tenant(tenant)
        try dir.requireExisting()
        let result = try ContactReshard.run(tenant: dir, shards: shards)
        var summary = Summary(stage: "account reshard", headline: ["from", "to", "contacts"])
        summary["from"] = result.from
        summary["to"] = result.to
        summary["contacts"] = result.contacts
        return summary
    }
}
