#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// fdatasync(2) of a few files (a journal, then its seal) on a thread of its own, so the delivery
/// loop never waits on the disk: `request()` returns at once; the thread syncs what was written
/// up to then. Used by the journal for its periodic (group-commit) syncs; the final sync stays
/// synchronous.
final class BackgroundSync: @unchecked Sendable {
    private let descriptors: [Int32]
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var thread: pthread_t?
    private var requested = false
    private var stopping = false
    private var failure: Int32 = 0

    init(descriptors: [Int32]) {
        self.descriptors = descriptors
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    /// Asks for a sync; starts the thread the first time. Throws the errno of an earlier
    /// background sync that failed.
    func request() throws(SyncFailure) {
        pthread_mutex_lock(&mutex)
        let failed = failure
        requested = true
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
        if failed != 0 { throw SyncFailure(errno: failed) }
        if thread == nil { start() }
    }

    /// Stops the thread after any sync under way (call before closing the file).
    func stop() {
        guard let t = thread else { return }
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
        pthread_join(t, nil)
        thread = nil
    }

    deinit {
        stop()
        pthread_cond_destroy(&cond)
        pthread_mutex_destroy(&mutex)
    }

    private func start() {
        var t = pthread_t()
        let me = Unmanaged.passUnretained(self).toOpaque()
        if pthread_create(&t, nil, { arg in
            #if canImport(Glibc)
            Unmanaged<BackgroundSync>.fromOpaque(arg!).takeUnretainedValue().loop()
            #else
            Unmanaged<BackgroundSync>.fromOpaque(arg).takeUnretainedValue().loop()
            #endif
            return nil
        }, me) == 0 {
            thread = t
        } else {
            // No thread: sync here rather than not at all.
            failure = syncAll()
        }
    }

    private func loop() {
        pthread_mutex_lock(&mutex)
        while true {
            while !requested && !stopping { pthread_cond_wait(&cond, &mutex) }
            if !requested && stopping { break }
            requested = false
            pthread_mutex_unlock(&mutex)
            let e = syncAll()
            pthread_mutex_lock(&mutex)
            if e != 0 && failure == 0 { failure = e }
        }
        pthread_mutex_unlock(&mutex)
    }

    /// Syncs each file in order; the first errno, or 0.
    private func syncAll() -> Int32 {
        for fd in descriptors where fdatasync(fd) != 0 { return errno }
        return 0
    }
}

struct SyncFailure: Error, CustomStringConvertible {
    let errno: Int32
    var description: String { "fdatasync: \(String(cString: strerror(errno)))" }
}
