#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain POSIX thread running `body`; `wait()` joins it.
public final class SideThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
    private var thread = pthread_t()
    private var started = false

    /// Starts the thread, or throws `ThreadUnavailable` when the system will not make one.
    public init(_ run: @escaping () -> Void) throws {
        let box = Unmanaged.passRetained(Body(run)).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            throw ThreadUnavailable(errno: Errno(rawValue: rc))
        }
        started = true
    }

    public func wait() {
        if started { pthread_join(thread, nil); started = false }
    }
}

/// No thread could be started (the process or memory limit is reached). Stages stop with this
/// error — libdispatch would retry for ever, holding the tenant's lock.
public struct ThreadUnavailable: Error, CustomStringConvertible, Equatable {
    public let errno: Errno
    public var description: String {
        "cannot start a thread (pthread_create: \(errno)); the process or memory limit is reached (see ulimit -u and ulimit -v)"
    }
}
