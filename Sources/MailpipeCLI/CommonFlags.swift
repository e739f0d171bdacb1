import ArgumentParser
import MailpipeCore

/// Flags every NDJSON stage takes (docs/design.md §3).
public struct StreamFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Write rejected records to FILE instead of standard error.", valueName: "file"))
    public var rejects: String?

    @Option(name: .long, help: ArgumentHelp("Write the summary as JSON to FILE instead of a line on standard error.", valueName: "file"))
    public var stats: String?

    @Flag(name: .long, help: "Exit with status 3 when any record was rejected.")
    public var strict = false

    @Option(name: .customLong("max-line"), help: ArgumentHelp("Reject lines longer than this many bytes.", valueName: "bytes"))
    public var maxLine: Int = 1 << 20

    @Option(name: .customLong("max-depth"), help: ArgumentHelp("Reject records nested deeper than this.", valueName: "levels"))
    public var maxDepth: Int = 64

    @Flag(inversion: .prefixedNo, help: "Show progress on standard error (default: only on a terminal).")
    public var progress: Bool?

    public init() {}

    public func validate() throws {
        guard maxLine > 0 else { throw ValidationError("--max-line must be positive") }
        guard maxDepth > 0 else { throw ValidationError("--max-depth must be positive") }
    }

    public func options(stage: String, inputs: [String], shard: Shard? = nil) -> StreamOptions {
        StreamOptions(stage: stage, inputs: inputs, rejectsPath: rejects, statsPath: stats, strict: strict,
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
    @Option(name: .long, help: ArgumentHelp("Threads for parsing records (default: one per core, at most 4). The output does not depend on it.", valueName: "n"))
    public var threads: Int?

    public init() {}

    public func parsed() throws -> Int? {
        if let threads, threads < 1 { throw StageError.usage("--threads must be at least 1") }
        return threads
    }
}

/// `--tenant`, `--state` and `--now`.
public struct TenantFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The tenant (its slug).", valueName: "slug"))
    public var tenant: String?

    @Option(name: .long, help: ArgumentHelp("State folder (default: $MAILPIPE_STATE, else ./state).", valueName: "dir"))
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

    public func requireTenant() throws -> String {
        guard let tenant else { throw StageError.usage("--tenant is required") }
        return tenant
    }
}

/// Runs a stage's body and turns its outcome into the documented exit status.
public enum StageMain {
    public static func run(_ stage: String, _ body: () throws -> ExitStatus) -> Never {
        ignoreBrokenPipeSignal()
        let status: ExitStatus
        do {
            status = try body()
        } catch StageError.outputClosed {
            status = .success
        } catch {
            try? FileDescriptor.standardError.writeAll("\(stage): error: \(error)\n")
            status = error.exitStatus
        }
        exit(status.rawValue)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The root command of a mailpipe executable. Its `main` maps argument errors to exit 2
/// (docs/design.md §3) where swift-argument-parser would use 64.
public protocol MailpipeCommand: ParsableCommand {}

extension MailpipeCommand {
    public static func main() {
        ignoreBrokenPipeSignal()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                Glibc.exit(0)
            }
            if !message.isEmpty { try? FileDescriptor.standardError.writeAll(message + "\n") }
            Glibc.exit(code == .validationFailure ? ExitStatus.usage.rawValue : code.rawValue)
        }
    }
}
