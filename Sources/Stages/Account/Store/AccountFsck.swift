import MailpipeCore
import MailpipeStore

/// `account fsck`: reads every state file of a tenant and checks it; with `--repair`, rebuilds
/// what is derived or recoverable, and says what cannot be recovered (docs/account.md, "State
/// integrity").
public enum AccountFsck {
    public struct Options {
        public var tenant: TenantSlug
        public var state: StateRoot
        public var repair: Bool
        /// The clock of the books' repairs (pending events applied).
        public var now: Timestamp

        public init(tenant: TenantSlug, state: StateRoot, repair: Bool, now: Timestamp) {
            self.tenant = tenant
            self.state = state
            self.repair = repair
            self.now = now
        }
    }

    public struct Result {
        public var findings: [StateFinding]
        public var summary: Summary
        /// 0 when nothing is left to do; 1 when a problem remains (unrepaired or lost).
        public var status: ExitStatus
    }

    public static func run(_ options: Options) throws -> Result {
        let dir = options.state.tenant(options.tenant)
        try dir.requireExisting()
        var store = ContactStoreCheck(tenant: dir, repair: options.repair)
        try store.run()
        var books = BooksCheck(tenant: dir, repair: options.repair)
        try books.run(now: options.now)
        var journals = JournalCheck(tenant: dir, repair: options.repair)
        try journals.run()
        let findings = store.findings + books.findings + journals.findings
        var summary = Summary(stage: "account fsck", headline: ["checked", "repaired", "repairable", "lost"])
        summary["checked"] = store.checked + books.checked + journals.checked
        summary["contacts"] = store.contacts
        for f in findings { summary.add(f.outcome.rawValue) }
        let clean = findings.allSatisfy { $0.outcome == .repaired }
        return Result(findings: findings, summary: summary, status: clean ? .success : .failure)
    }

    /// One NDJSON line per finding: `{"file","problem","outcome","action"}`.
    public static func write(_ findings: [StateFinding], to output: inout OutputSink) throws {
        for f in findings {
            var line = ByteBuffer(capacity: 256)
            var w = JSONObjectWriter(into: &line)
            w.member("file", string: f.file, into: &line)
            w.member("problem", string: f.problem, into: &line)
            w.member("outcome", string: f.outcome.rawValue, into: &line)
            w.member("action", string: f.action, into: &line)
            w.finish(into: &line)
            try line.withUnsafeBytes { try output.writeLine($0) }
        }
        try output.flush()
    }
}
