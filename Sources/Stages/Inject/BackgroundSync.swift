#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// fdatasync(2) of a few files (a journal, then its seal) on a thread of its own, so the delivery
/// loop never waits on the disk: `request()` returns at once; the thread syncs what was written
/// up to then. Used by the journal for its periodic (group-commit) syncs; the final sync stays
/// synchronous.
final class BackgroundSync: @unchecked Sendable {
    private let descriptors: [Int32]
    /// What the delivery loop and the sync thread share.
    private struct Requests {
        var requested = false
        var stopping = false
        /// The errno of the first background sync that failed, or 0.
        var failure: Int32 = 0
    }
    private let requests = Guarded(Requests())
    private var thread: SideThread?

    init(descriptors: [Int32]) {
        self.descriptors = descriptors
    }

    /// Asks for a sync; starts the thread the first time. Throws the errno of an earlier
    /// background sync that failed.
    func request() throws(SyncFailure) {
        let failed = requests.withLock(signal: true) { r in
            r.requested = true
            return r.failure
        }
        if failed != 0 { throw SyncFailure(errno: failed) }
        if thread == nil { start() }
    }

    /// Stops the thread after any sync under way (call before closing the file).
    func stop() {
        guard let t = thread else { return }
        requests.withLock(signal: true) { $0.stopping = true }
        t.wait()
        thread = nil
    }

    deinit { stop() }

    private func start() {
        // unowned(unsafe): stop() (at the latest in deinit) joins the thread before self goes.
        if let t = try? SideThread({ [unowned(unsafe) self] in loop() }) {
            thread = t
        } else {
            // No thread: sync here rather than not at all.
            let e = syncAll()
            requests.withLock { $0.failure = e }
        }
    }

    private func loop() {
        while true {
            let go = requests.wait(until: { $0.requested || $0.stopping }) { r in
                defer { r.requested = false }
                return r.requested
            }
            guard go else { return }
            let e = syncAll()
            if e != 0 { requests.withLock { r in if r.failure == 0 { r.failure = e } } }
        }
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
