#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCurl

/// Blocking `curl_easy_perform` on N worker threads, one handle at a time each, with the same
/// add / wait / completed shape as `CurlMulti`.
///
/// Why it exists: in libcurl 7.88 the SMTP "done" phase waits *blocking* for the server's reply to
/// the final `.` (smtp_done → Curl_pp_statemach with block = TRUE), so on a multi handle every
/// message stalls all other transfers for one round trip and N connections run little faster
/// than one. Each handle keeps its own connection between performs (connection reuse).
public final class CurlWorkers {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let workReady = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let resultReady = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [CurlEasy] = []
    private var done: [(CurlEasy, CurlError?)] = []
    private var stopping = false
    private var threads: [pthread_t] = []
    public private(set) var activeCount = 0

    public init(threads count: Int) throws {
        _ = CurlGlobal.initialised
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(workReady, nil)
        pthread_cond_init(resultReady, nil)
        for _ in 0..<max(1, count) {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            let rc = pthread_create(&thread, nil, { raw in
                let me = Unmanaged<CurlWorkers>.fromOpaque(raw!).takeRetainedValue()
                me.workerLoop()
                return nil
            }, context)
            if rc != 0 {
                Unmanaged<CurlWorkers>.fromOpaque(context).release()
                throw CurlError(code: CURLE_FAILED_INIT, detail: "pthread_create: \(rc)")
            }
            threads.append(thread)
        }
    }

    /// Stops the workers once they finish their current transfer, and waits for them.
    public func shutdown() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(workReady)
        pthread_mutex_unlock(mutex)
        for t in threads { pthread_join(t, nil) }
        threads.removeAll()
    }

    deinit {
        pthread_mutex_destroy(mutex); pthread_cond_destroy(workReady); pthread_cond_destroy(resultReady)
        mutex.deallocate(); workReady.deallocate(); resultReady.deallocate()
    }

    /// Hands a configured handle to a worker.
    public func add(_ easy: CurlEasy) {
        easy.prepareTransfer()
        pthread_mutex_lock(mutex)
        queue.append(easy)
        activeCount += 1
        pthread_cond_signal(workReady)
        pthread_mutex_unlock(mutex)
    }

    /// Waits up to `milliseconds` for a finished transfer.
    public func wait(milliseconds: Int) {
        pthread_mutex_lock(mutex)
        if done.isEmpty && milliseconds > 0 {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            var deadline = now
            let ns = Int(now.tv_nsec) + (milliseconds % 1000) * 1_000_000
            deadline.tv_sec += milliseconds / 1000 + ns / 1_000_000_000
            deadline.tv_nsec = ns % 1_000_000_000
            _ = pthread_cond_timedwait(resultReady, mutex, &deadline)
        }
        pthread_mutex_unlock(mutex)
    }

    /// Finished transfers since the last call, with their result (nil on success).
    public func completed() -> [(CurlEasy, CurlError?)] {
        pthread_mutex_lock(mutex)
        let result = done
        done.removeAll(keepingCapacity: true)
        activeCount -= result.count
        pthread_mutex_unlock(mutex)
        return result
    }

    private func workerLoop() {
        while true {
            pthread_mutex_lock(mutex)
            while queue.isEmpty && !stopping { pthread_cond_wait(workReady, mutex) }
            if queue.isEmpty && stopping { pthread_mutex_unlock(mutex); return }
            let easy = queue.removeFirst()
            pthread_mutex_unlock(mutex)
            let code = curl_easy_perform(easy.handle)
            let error: CurlError? = code == CURLE_OK ? nil : easy.error(code)
            pthread_mutex_lock(mutex)
            done.append((easy, error))
            pthread_cond_signal(resultReady)
            pthread_mutex_unlock(mutex)
        }
    }
}
