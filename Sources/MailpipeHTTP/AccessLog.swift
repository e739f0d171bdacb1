#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// One JSON line per request on standard error:
/// `{"at","client","method","path","route","status","outcome","bytes_in","bytes_out","ms"}`.
/// The query string and the bodies are never written: they hold tokens, addresses and
/// signatures. Lines are written whole, one `write(2)` each, so concurrent requests never
/// interleave.
public final class AccessLog: @unchecked Sendable {
    public struct Entry {
        public var client: String
        public var method: String
        public var path: String
        public var route: String?
        public var status: Int
        public var outcome: String?
        public var bytesIn: Int
        public var bytesOut: Int
        public var nanoseconds: Int64
    }

    let fd: FileDescriptor
    let enabled: Bool
    /// Counts by (route, status) since the start (for a summary at the end and /metrics).
    private let counts = Guarded<[String: Int]>([:])

    public init(fd: FileDescriptor = .standardError, enabled: Bool = true) {
        self.fd = fd
        self.enabled = enabled
    }

    public func record(_ e: Entry) {
        let key = "\(e.route ?? "none") \(e.status)"
        counts.withLock { $0[key, default: 0] += 1 }
        guard enabled else { return }
        var line = ByteBuffer(capacity: 256)
        var w = JSONObjectWriter(into: &line)
        w.member("at", string: Timestamp.current().rfc3339, into: &line)
        w.member("client", string: e.client, into: &line)
        w.member("method", string: e.method, into: &line)
        w.member("path", string: String(e.path.prefix(200)), into: &line)
        if let r = e.route { w.member("route", string: r, into: &line) }
        w.member("status", .int(e.status), into: &line)
        if let o = e.outcome { w.member("outcome", string: o, into: &line) }
        w.member("bytes_in", .int(e.bytesIn), into: &line)
        w.member("bytes_out", .int(e.bytesOut), into: &line)
        let tenths = (e.nanoseconds + 50_000) / 100_000
        w.member("ms", .number("\(tenths / 10).\(tenths % 10)"), into: &line)
        w.finish(into: &line)
        line.append(0x0A)
        line.withUnsafeBytes { try? fd.writeAll($0) }
    }

    /// Requests answered so far, by `route status`.
    public var totals: [String: Int] { counts.withLock { $0 } }
}
