/// Helper threads that stay up for a whole run and work through the slices of one job at a time,
/// so the caller can hand a job out and do something else (read the next batch, write the last)
/// before it helps and waits. `DispatchQueue.concurrentPerform` cannot do that: it returns only
/// when the work is done, so a stage's serial part and its parallel part would take turns.
///
///     crew.start(slices: 64) { slice, worker in … }   // helpers begin at once
///     …                                               // the caller's own serial work
///     crew.finish()                                   // the caller takes slices too (worker 0)
///                                                     // until every slice is done
///
/// Slices are claimed one at a time, so a slow thread never holds back a fixed share. `worker`
/// is 0 for the caller and 1…helpers for the helper threads: per-thread state goes by it.
///
/// For a one-off parallel loop, `WorkCrew.perform(workers:)` takes the place of
/// `DispatchQueue.concurrentPerform`, which on Linux retries for ever when no thread can be
/// made; here that is `ThreadUnavailable`, thrown before any work starts.
public final class WorkCrew: @unchecked Sendable {
    public private(set) var helpers = 0
    /// The job under way and the crew's stop, shared by the threads.
    private struct Board {
        var job: ((Int, Int) -> Void)?
        var nextSlice = 0
        var sliceCount = 0
        var finished = 0
        var stopping = false
        var hasUnclaimedSlice: Bool { job != nil && nextSlice < sliceCount }
    }
    private let board = Guarded(Board())
    private var threads: [SideThread] = []

    /// `helpers` threads besides the caller's (0: the caller does every slice in `finish()`).
    /// Throws `ThreadUnavailable` (after stopping the helpers already made) when one cannot start.
    public init(helpers: Int) throws {
        // unowned(unsafe): the crew joins its threads (`stop()`, at the latest in its deinit, when a
        // checked unowned reference would already trap) before its memory goes.
        do {
            for w in 0..<max(0, helpers) {
                threads.append(try SideThread { [unowned(unsafe) self] in serve(worker: w + 1) })
            }
        } catch {
            stop()
            throw error
        }
        self.helpers = threads.count
    }

    /// Runs `body(w)` for w in 0..<workers, on `workers - 1` new threads and the caller's, and
    /// returns when all are done. Each `w` runs once: per-worker state goes by it.
    public static func perform(workers: Int, _ body: (_ worker: Int) -> Void) throws {
        if workers <= 1 { body(0); return }
        let crew = try WorkCrew(helpers: workers - 1)
        defer { crew.stop() }
        withoutActuallyEscaping(body) { body in
            crew.start(slices: workers) { slice, _ in body(slice) }
            crew.finish()
        }
    }

    /// Stops the helpers (after the job under way); the crew is unusable after.
    public func stop() {
        board.withLock(signal: true) { $0.stopping = true }
        for t in threads { t.wait() }
        threads = []
    }

    deinit { stop() }

    /// Hands out a job of `slices` slices; helpers start on it at once. The previous job must have
    /// been finished.
    public func start(slices: Int, _ work: @escaping (_ slice: Int, _ worker: Int) -> Void) {
        board.withLock(signal: true) { b in
            b.job = work
            b.nextSlice = 0
            b.sliceCount = slices
            b.finished = 0
        }
    }

    /// Takes the unclaimed slices of the current job on the caller's thread (worker 0), then
    /// returns when every slice is done.
    public func finish() {
        work(as: 0)
        board.wait(until: { $0.finished >= $0.sliceCount }) { $0.job = nil }
    }

    private func work(as worker: Int) {
        while true {
            do {
                let claimed: (job: (Int, Int) -> Void, slice: Int)? = board.withLock { b in
                    guard let job = b.job, b.nextSlice < b.sliceCount else { return nil }
                    b.nextSlice += 1
                    return (job, b.nextSlice - 1)
                }
                guard let claimed else { return }
                claimed.job(claimed.slice, worker)
            }
            // The job is released (end of the block above) before the slice counts as done:
            // `perform` hands in a closure that must not outlive `finish()`.
            let last = board.withLock { b in
                b.finished += 1
                return b.finished == b.sliceCount
            }
            if last { board.withLock(signal: true) { _ in } }
        }
    }

    private func serve(worker: Int) {
        while !board.wait(until: { $0.stopping || $0.hasUnclaimedSlice }, { $0.stopping }) {
            work(as: worker)
        }
    }
}
