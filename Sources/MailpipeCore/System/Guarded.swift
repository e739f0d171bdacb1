#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value shared by threads, reached only under its mutex (`withLock`); `wait` sleeps under
/// it until another thread's `withLock` changes the value and calls `signal`. The core's one
/// lock: every structure shared by threads keeps its shared part in one of these.
public final class Guarded<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` on the value under the mutex; `signal` wakes the threads in `wait`.
    public func withLock<R>(signal: Bool = false, _ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer {
            if signal { pthread_cond_broadcast(changed) }
            pthread_mutex_unlock(mutex)
        }
        return try body(&value)
    }

    /// Sleeps until `ready` holds, then runs `body` under the mutex.
    public func wait<R>(until ready: (Value) -> Bool, _ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready(value) { pthread_cond_wait(changed, mutex) }
        return try body(&value)
    }

    /// Sleeps until `ready` holds or `seconds` have passed, then runs `body` under the mutex;
    /// `body` learns whether `ready` held.
    public func wait<R>(until ready: (Value) -> Bool, atMost seconds: Double,
                        _ body: (inout Value, _ ready: Bool) throws -> R) rethrows -> R {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let ns = Int(deadline.tv_nsec) + Int(seconds * 1e9)
        deadline.tv_sec += ns / 1_000_000_000
        deadline.tv_nsec = ns % 1_000_000_000
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready(value) && pthread_cond_timedwait(changed, mutex, &deadline) == 0 {}
        return try body(&value, ready(value))
    }
}
