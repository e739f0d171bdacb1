#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Progress on standard error, only when it is a terminal (never on a pipe, in a file, or in CI).
public struct Progress {
    public let enabled: Bool
    private let stage: String
    private var lastShown: Double = 0
    private var started: Double
    private var checkEvery = 16_384
    private var sinceCheck = 0

    public init(stage: String, enabled: Bool? = nil) {
        self.stage = stage
        let terminal = FileDescriptor.standardError.isTerminal && FileSystem.environment("CI") == nil
        self.enabled = enabled ?? terminal
        started = Progress.now()
        lastShown = started
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Cheap to call per record: it looks at the clock only every few thousand calls.
    @inline(__always)
    public mutating func tick(records: Int) {
        guard enabled else { return }
        sinceCheck += 1
        if sinceCheck < checkEvery { return }
        sinceCheck = 0
        let t = Progress.now()
        if t - lastShown < 0.5 { return }
        lastShown = t
        let rate = Double(records) / max(t - started, 1e-9)
        try? FileDescriptor.standardError.writeAll("\r\(stage): \(records) records, \(Int(rate))/s   ")
    }

    public func finish() {
        guard enabled else { return }
        try? FileDescriptor.standardError.writeAll("\r\u{1B}[K")
    }
}
