#if canImport(Glibc)
import Glibc
#endif
import MailpipeCore
/// MAILPIPE_TIMING=1: phase timings of the bookkeeping commands on standard error.
enum Timing {
    static let enabled = FileSystem.environment("MAILPIPE_TIMING") != nil
    nonisolated(unsafe) static var last = now()
    static func now() -> Double { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 }
    static func mark(_ what: String) {
        guard enabled else { return }
        let t = now()
        try? FileDescriptor.standardError.writeAll("timing: \(what) \(Int((t - last) * 1000)) ms\n")
        last = t
    }
}
