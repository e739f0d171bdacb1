/// Exit codes of every stage (docs/design.md §3).
public enum ExitStatus: Int32, Sendable {
    case success = 0
    case failure = 1
    case usage = 2
    case rejectsUnderStrict = 3
}

/// Errors a stage reports to its user. The case decides the exit code.
public enum StageError: Error, CustomStringConvertible, Equatable {
    /// Bad flags or arguments (exit 2).
    case usage(String)
    /// Bad configuration: a tenant slug, a tenant.json, a rules file (exit 2).
    case configuration(String)
    /// The work could not be done: I/O, state, a remote system (exit 1).
    case runtime(String)
    /// Standard output was closed by the reader (`… | head`): stop quietly (exit 0).
    case outputClosed

    public var description: String {
        switch self {
        case .usage(let m), .configuration(let m), .runtime(let m): return m
        case .outputClosed: return "output closed"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .usage, .configuration: return .usage
        case .runtime: return .failure
        case .outputClosed: return .success
        }
    }
}

extension Error {
    /// The exit status any error maps to: stage errors decide for themselves; everything else
    /// (system calls, zlib, parse failures of state) is a runtime failure.
    public var exitStatus: ExitStatus {
        if let stage = self as? StageError { return stage.exitStatus }
        return .failure
    }
}
