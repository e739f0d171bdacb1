#if canImport(Glibc)
import Glibc
#endif
import MailpipeCore
/// MAILPIPE_TIMING=1: phase timings of the bookkeeping commands on standard error (wall time,
/// and the process's CPU time on every thread, which a loaded machine does not inflate).
/// Marks may come from any thread (a stage's parsing threads too): the previous mark is kept in
/// the core's lock.
public enum Timing {
    static let enabled = FileSystem.environment("MAILPIPE_TIMING") != nil
    private static let previous = Guarded((wall: now(CLOCK_MONOTONIC), cpu: now(CLOCK_PROCESS_CPUTIME_ID)))
    static func now(_ clock: clockid_t) -> Double { var t = timespec(); clock_gettime(clock, &t); return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 }
    public static func mark(_ what: String) {
        guard enabled else { return }
        let line = previous.withLock { previous in
            let (wall, cpu) = (now(CLOCK_MONOTONIC), now(CLOCK_PROCESS_CPUTIME_ID))
            defer { previous = (wall, cpu) }
            return "timing: \(what) \(Int((wall - previous.wall) * 1000)) ms (cpu \(Int((cpu - previous.cpu) * 1000)) ms)\n"
        }
        try? FileDescriptor.standardError.writeAll(line)
    }
}
