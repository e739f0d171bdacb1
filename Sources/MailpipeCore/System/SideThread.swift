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
    private var body: (() -> Void)?

    public init(_ run: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Body(run)).toOpaque()
        if pthread_create(&thread, nil, { arg in
            Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, box) == 0 {
            started = true
        } else {
            // No thread to be had: run it at `wait()`.
            body = Unmanaged<Body>.fromOpaque(box).takeRetainedValue().run
        }
    }

    public func wait() {
        if started { pthread_join(thread, nil); started = false }
        if let b = body { body = nil; b() }
    }
}
