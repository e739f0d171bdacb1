#if canImport(Glibc)
import Glibc
#endif
import MailpipeCore
/// MAILPIPE_TIMING=1: phase timings of the bookkeeping commands on standard error (wall time,
/// and the process's CPU time on every thread, which a loaded machine does not inflate).
public enum Timing {
    static let enabled = FileSystem.environment("MAILPIPE_TIMING") != nil
    nonisolated(unsafe) static var last = now(CLOCK_MONOTONIC)
    nonisolated(unsafe) static var lastCPU = now(CLOCK_PROCESS_CPUTIME_ID)
    static func now(_ clock: clockid_t) -> Double { var t = timespec(); clock_gettime(clock, &t); return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 }
    public static func mark(_ what: String) {
        guard enabled else { return }
        let t = now(CLOCK_MONOTONIC)
        let c = now(CLOCK_PROCESS_CPUTIME_ID)
        try? FileDescriptor.standardError.writeAll("timing: \(what) \(Int((t - last) * 1000)) ms (cpu \(Int((c - lastCPU) * 1000)) ms)\n")
        last = t
        lastCPU = c
    }
}
