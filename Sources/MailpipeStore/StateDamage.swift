import MailpipeCore

/// A state file that failed its check: which file, what is wrong, and the way out. Commands stop
/// on it (exit 1) rather than read a damaged file as empty or write over it.
public struct StateDamage: Error, CustomStringConvertible {
    public enum Repair: Sendable {
        /// `account fsck --tenant T --repair` rebuilds what is derived or recoverable.
        case fsck
        /// The bytes are gone: restore the file from a backup (fsck reports what it holds).
        case restore
    }

    public let file: String
    public let problem: String
    public let repair: Repair

    public init(file: String, problem: String, repair: Repair) {
        self.file = file
        self.problem = problem
        self.repair = repair
    }

    /// The tenant a state path belongs to: the folder above `contacts/` or `journal/`, else the
    /// file's own folder.
    public var tenant: String {
        var parts = file.split(separator: "/").map(String.init)
        parts.removeLast()
        if let i = parts.lastIndex(where: { $0 == "contacts" || $0 == "journal" }), i > 0 { return parts[i - 1] }
        return parts.last ?? "TENANT"
    }

    public var description: String {
        switch repair {
        case .fsck:
            return "\(file): \(problem) (run: account fsck --tenant \(tenant) --repair — it rebuilds what is derived and names what only a backup restores)"
        case .restore:
            return "\(file): \(problem) (restore it from a backup; account fsck --tenant \(tenant) lists what is damaged)"
        }
    }
}

/// What a command worked around in the state (an index rebuilt, a torn tail cut off): one line
/// on standard error, so it is seen without stopping the work.
public enum StateWarning {
    public static func emit(_ message: String) {
        try? FileDescriptor.standardError.writeAll("warning: \(message)\n")
    }
}
