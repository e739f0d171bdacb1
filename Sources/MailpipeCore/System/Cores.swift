#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many threads mailpipe works on by default: one per online core, at most 4 (past that,
/// a stage's single writing thread is the limit).
public enum Cores {
    public static let workers = max(1, min(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    /// The most threads a stage works on, whatever `--threads` asks: past the cores nothing is
    /// gained, and tens of thousands of threads exhaust the machine's process table.
    public static let maximumThreads = 64

    /// `requested` threads, at most `maximumThreads`.
    public static func capped(_ requested: Int) -> Int { max(1, min(requested, maximumThreads)) }
}
