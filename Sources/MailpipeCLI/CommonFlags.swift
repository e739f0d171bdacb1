import ArgumentParser
import MailpipeCore
import MailpipeStore

/// Flags every NDJSON stage takes (docs/design.md §3).
public struct StreamFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Write rejected records to FILE instead of standard error.", valueName: "file"),
            completion: .file())
    public var rejects: String?

    @Option(name: .long, help: ArgumentHelp("Write the summary as JSON to FILE instead of a line on standard error.", valueName: "file"),
            completion: .file())
    public var stats: String?

    @Flag(name: .long, help: "Exit with status 3 when any record was rejected.")
    public var strict = false

    @Option(name: .customLong("max-line"), help: ArgumentHelp("Reject lines longer than this many bytes.", valueName: "bytes"))
    public var maxLine: Int = 1 << 20

    @Option(name: .customLong("max-depth"), help: ArgumentHelp("Reject records nested deeper than this (at most \(StreamFlags.depthLimit)).", valueName: "levels"))
    public var maxDepth: Int = 64

    /// The deepest nesting `--max-depth` may allow: records are taken apart recursively in
    /// places, and a thread's stack must hold the deepest one.
    public static let depthLimit = 1000

    @Flag(inversion: .prefixedNo, help: "Show progress on standard error (default: only on a terminal).")
    public var progress: Bool?

    public init() {}

    public func validate() throws {
        guard maxLine > 0 else { throw ValidationError("--max-line must be positive") }
        guard maxDepth > 0 && maxDepth <= StreamFlags.depthLimit else {
            throw ValidationError("--max-depth takes 1…\(StreamFlags.depthLimit), got \(maxDepth)")
        }
    }

    public func options(stage: String, inputs: [String], shard: Shard? = nil) -> StreamOptions {
        StageInputs.watch(inputs)
        ProgressLine.configure(stage: stage, requested: progress)
        return StreamOptions(stage: stage, inputs: inputs, rejectsPath: rejects, statsPath: stats, strict: strict,
                      maxLine: maxLine, maxDepth: maxDepth, progress: progress, shard: shard)
    }
}

/// `--shard i/n` for stages that filter their input stream by shard (the core does the work).
public struct ShardFlag: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Only records whose email hashes into shard i of n (FNV-1a 64 of the normalised email, mod n).", valueName: "i/n"))
    public var shard: String?

    public init() {}

    public func parsed() throws -> Shard? {
        try shard.map(Shard.init(parsing:))
    }
}

/// `--threads n`: how many threads a stage parses or converts records on.
public struct ThreadsFlag: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Threads for parsing records (default: one per core, at most 4; never more than \(Cores.maximumThreads)). The output does not depend on it.", valueName: "n"))
    public var threads: Int?

    public init() {}

    /// The thread count, capped at `Cores.maximumThreads` (with a note on standard error).
    public func parsed() throws -> Int? {
        guard let threads else { return nil }
        if threads < 1 { throw StageError.usage("--threads must be at least 1") }
        if threads > Cores.maximumThreads {
            try? FileDescriptor.standardError.writeAll("note: --threads \(threads) is capped at \(Cores.maximumThreads)\n")
        }
        return Cores.capped(threads)
    }
}

/// `--tenant`, `--state` and `--now`.
public struct TenantFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The tenant (its slug; default: $MAILPIPE_TENANT).", valueName: "slug"),
            completion: .custom { words, _, _ in TenantFlags.knownTenants(words) })
    public var tenant: String?

    @Option(name: .long, help: ArgumentHelp("State folder (default: $MAILPIPE_STATE, else ./state).", valueName: "dir"),
            completion: .directory)
    public var state: String?

    @Option(name: .long, help: ArgumentHelp("Pin the clock, in RFC 3339 (for reproducible runs).", valueName: "time"))
    public var now: String?

    public init() {}

    public func clock() throws -> Timestamp {
        guard let now else { return .current() }
        guard let t = Timestamp(parsing: now) else {
            throw StageError.usage("--now takes an RFC 3339 time such as 2026-11-23T09:00:00Z, got '\(now)'")
        }
        return t
    }

    public var stateRoot: StateRoot { StateRoot(explicit: state) }

    /// Completion of --tenant: the tenants of the state folder the command line names (--state),
    /// else of $MAILPIPE_STATE or ./state.
    static func knownTenants(_ words: [String]) -> [String] {
        let state = words.firstIndex(of: "--state").flatMap { $0 + 1 < words.count ? words[$0 + 1] : nil }
        return StateRoot(explicit: state).tenants().map(\.value)
    }

    /// The tenant said on the command line or in the environment: `--tenant`, else
    /// `$MAILPIPE_TENANT` (nil: neither).
    public func slug() throws -> TenantSlug? {
        try said()?.slug
    }

    private func said() throws -> TenantChoice? {
        if let tenant { return TenantChoice(slug: try TenantSlug(tenant), origin: .flag) }
        if let env = FileSystem.environment("MAILPIPE_TENANT"), !env.isEmpty {
            return TenantChoice(slug: try TenantSlug(env), origin: .environment)
        }
        return nil
    }

    /// The tenant a command works on: `--tenant`, else `$MAILPIPE_TENANT`, else the state
    /// folder's only tenant. Usage error when none of them tells.
    public func choose() throws -> TenantChoice {
        if let said = try said() { return said }
        return try onlyTenant(why: "")
    }

    /// The same for a command that reads records (`inputs`): after `--tenant` and
    /// `$MAILPIPE_TENANT`, the tenant of the first record that names one. Nil when the input
    /// holds no record and nothing else names a tenant: there is nothing to do.
    public func choose(records inputs: [String], maxLine: Int) throws -> TenantChoice? {
        if let said = try said() { return said }
        switch RecordLookAhead.firstString("tenant", inputs: inputs, maxLine: maxLine) {
        case .value(let value):
            return TenantChoice(slug: try TenantSlug(value), origin: .records)
        case .absent:
            return try onlyTenant(why: " (no record names one)")
        case .noRecords:
            return try? onlyTenant(why: "")
        }
    }

    private func onlyTenant(why: String) throws -> TenantChoice {
        let tenants = stateRoot.tenants()
        if tenants.count == 1 { return TenantChoice(slug: tenants[0], origin: .state) }
        let known = tenants.isEmpty ? "holds no tenant" : "holds \(tenants.map(\.value).joined(separator: ", "))"
        throw StageError.usage("which tenant? give --tenant or set MAILPIPE_TENANT\(why) — the state folder \(stateRoot.path) \(known)")
    }

    /// The summary of a command that had no record to work on and no tenant named.
    public static func nothingToDo(stage: String, headline: [String]) -> Summary {
        var summary = Summary(stage: stage, headline: headline)
        summary.remark("tenant_from", "none", text: "no record, so nothing to do and no tenant to do it for")
        return summary
    }

    /// `--tenant`, else `$MAILPIPE_TENANT`: for commands that create a tenant.
    public func requireTenant() throws -> TenantSlug {
        guard let said = try said() else { throw StageError.usage("--tenant is required (or set MAILPIPE_TENANT)") }
        return said.slug
    }
}

/// A command's tenant and where it came from.
public struct TenantChoice {
    public enum Origin: String {
        case flag, environment, records, state
    }

    public let slug: TenantSlug
    public let origin: Origin

    /// Says in the summary where the tenant came from when the command line did not say it.
    public func remark(in summary: inout Summary) {
        switch origin {
        case .flag, .environment: return
        case .records: summary.remark("tenant_from", "records", text: "tenant \(slug) taken from the records")
        case .state: summary.remark("tenant_from", "state", text: "tenant \(slug), the state folder's only one")
        }
    }
}

/// Runs a stage's body and turns its outcome into the documented exit status.
public enum StageMain {
    public static func run(_ stage: String, _ body: () throws -> ExitStatus) -> Never {
        run(stage, exitCode: { try body().rawValue })
    }

    /// For a command whose exit status says more than success (`account health`: ok, warn,
    /// critical); errors still exit by `ExitStatus`.
    public static func run(_ stage: String, exitCode body: () throws -> Int32) -> Never {
        ignoreBrokenPipeSignal()
        let status: Int32
        do {
            status = try body()
        } catch StageError.outputClosed {
            status = ExitStatus.success.rawValue
        } catch {
            try? FileDescriptor.standardError.writeAll("\(stage): error: \(error)\n")
            status = error.exitStatus.rawValue
        }
        StartUpWork.finish()
        exit(status)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The root command of a mailpipe executable. Its `main` maps argument errors to exit 2
/// (docs/design.md §3) where swift-argument-parser would use 64.
public protocol MailpipeCommand: ParsableCommand {
    /// One-time set-up the command needs whatever its arguments, begun on a side thread before
    /// they are read (see `StartUpWork`); nil (the default): none.
    static var startUpWork: (() -> Void)? { get }
}

extension MailpipeCommand {
    public static var startUpWork: (() -> Void)? { nil }

    public static func main() {
        ignoreBrokenPipeSignal()
        StartUpWork.begin(startUpWork)
        do {
            var command = try parseAsRoot()
            try command.run()
            StartUpWork.finish()
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            StartUpWork.finish()
            if code == .success {
                if !message.isEmpty { print(message) }
                Glibc.exit(0)
            }
            if !message.isEmpty { try? FileDescriptor.standardError.writeAll(message + "\n") }
            Glibc.exit(code == .validationFailure ? ExitStatus.usage.rawValue : code.rawValue)
        }
    }
}
