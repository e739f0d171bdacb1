#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    private var mutex = pthread_mutex_t()
    private var jobReady = pthread_cond_t()
    private var jobDone = pthread_cond_t()
    private var job: ((Int, Int) -> Void)?
    private var nextSlice = 0
    private var sliceCount = 0
    private var finished = 0
    private var stopping = false
    private var threads: [SideThread] = []

    /// `helpers` threads besides the caller's (0: the caller does every slice in `finish()`).
    /// Throws `ThreadUnavailable` (after stopping the helpers already made) when one cannot start.
    public init(helpers: Int) throws {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&jobReady, nil)
        pthread_cond_init(&jobDone, nil)
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
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_broadcast(&jobReady)
        pthread_mutex_unlock(&mutex)
        for t in threads { t.wait() }
        threads = []
    }

    deinit {
        stop()
        pthread_cond_destroy(&jobDone)
        pthread_cond_destroy(&jobReady)
        pthread_mutex_destroy(&mutex)
    }

    /// Hands out a job of `slices` slices; helpers start on it at once. The previous job must have
    /// been finished.
    public func start(slices: Int, _ work: @escaping (_ slice: Int, _ worker: Int) -> Void) {
        pthread_mutex_lock(&mutex)
        job = work
        nextSlice = 0
        sliceCount = slices
        finished = 0
        pthread_cond_broadcast(&jobReady)
        pthread_mutex_unlock(&mutex)
    }

    /// Takes the unclaimed slices of the current job on the caller's thread (worker 0), then
    /// returns when every slice is done.
    public func finish() {
        work(as: 0)
        pthread_mutex_lock(&mutex)
        while finished < sliceCount { pthread_cond_wait(&jobDone, &mutex) }
        job = nil
        pthread_mutex_unlock(&mutex)
    }

    private func work(as worker: Int) {
        while true {
            do {
                pthread_mutex_lock(&mutex)
                guard let job, nextSlice < sliceCount else {
                    pthread_mutex_unlock(&mutex)
                    return
                }
                let slice = nextSlice
                nextSlice += 1
                pthread_mutex_unlock(&mutex)
                job(slice, worker)
            }
            // The job is released (end of the block above) before the slice counts as done:
            // `perform` hands in a closure that must not outlive `finish()`.
            pthread_mutex_lock(&mutex)
            finished += 1
            if finished == sliceCount { pthread_cond_broadcast(&jobDone) }
            pthread_mutex_unlock(&mutex)
        }
    }

    private func serve(worker: Int) {
        pthread_mutex_lock(&mutex)
        while true {
            while !stopping && (job == nil || nextSlice >= sliceCount) { pthread_cond_wait(&jobReady, &mutex) }
            if stopping { break }
            pthread_mutex_unlock(&mutex)
            work(as: worker)
            pthread_mutex_lock(&mutex)
        }
        pthread_mutex_unlock(&mutex)
    }
}
