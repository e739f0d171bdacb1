#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// Appends the events of concurrent requests to one tenant's books in groups (group commit).
///
/// One thread per tenant takes everything queued, hands it to the books (which take the tenant
/// lock, so `account events` from cron waits its turn and the server waits for it) as one sealed
/// append — fsynced, the commit point — then answers every request of the group. Requests that
/// arrive meanwhile form the next group. So a request is answered only once its event is
/// durable, and the disk sees one append per group, not per request. Books that leave the
/// effects of appends for later (`BookWriter.hasUnsettled`, `TenantBooks`) are told to settle
/// when no request has come for `idleSettle` seconds, and before the thread ends.
public final class GroupCommit: @unchecked Sendable {
    /// What one request learns: its events were logged now, were already in the log, or could
    /// not be written (nothing was promised).
    public enum Outcome: Sendable {
        /// `new` of the request's events were logged now; `otherTenant` were another tenant's
        /// (EventScope) and left out; the rest were in the log already.
        case recorded(new: Int, otherTenant: Int)
        /// Every event was in the log already.
        case duplicate
        case failed(String)
    }

    struct Pending {
        let events: [BookEvent]
        let done: @Sendable (Outcome) -> Void
    }

    let dir: TenantDirectory
    let books: BookWriter
    /// The requests waiting for the next group, the stop, and the counts: shared with the
    /// request threads.
    private struct Queue {
        var pending: [Pending] = []
        var stopping = false
        var groups = 0
        var requests = 0
        /// How long each group's append took (for `/metrics`).
        var appendSeconds = LatencyHistogram()
        var hasWork: Bool { !pending.isEmpty || stopping }
    }
    private let queue = Guarded(Queue())
    private var thread: SideThread?
    /// Seconds without a request after which unsettled appends are settled.
    let idleSettle: Double

    /// Groups, requests and append times so far (`/metrics`, the stop summary).
    public var stats: (groups: Int, requests: Int, seconds: LatencyHistogram) {
        queue.withLock { ($0.groups, $0.requests, $0.appendSeconds) }
    }

    /// Throws when the system will not start the committer thread.
    public init(dir: TenantDirectory, books: BookWriter, idleSettle: Double = 0.02) throws {
        self.dir = dir
        self.books = books
        self.idleSettle = idleSettle
        thread = try SideThread { [unowned(unsafe) self] in loop() }
    }

    deinit { stop() }

    public func submit(_ events: [BookEvent], done: @escaping @Sendable (Outcome) -> Void) {
        queue.withLock(signal: true) { $0.pending.append(Pending(events: events, done: done)) }
    }

    /// Commits what is queued, then ends the thread.
    public func stop() {
        queue.withLock(signal: true) { $0.stopping = true }
        thread?.wait()
        thread = nil
    }

    private func loop() {
        while true {
            if books.hasUnsettled {
                // Requests stopped coming: a little longer, then the books settle.
                let idle = queue.wait(until: \.hasWork, atMost: idleSettle) { _, ready in !ready }
                if idle {
                    settle()
                    continue
                }
            }
            let (group, stopping) = queue.wait(until: \.hasWork) { q in
                defer { q.pending = [] }
                return (q.pending, q.stopping)
            }
            if stopping && group.isEmpty {
                settle()
                return
            }
            commit(group)
        }
    }

    /// The books apply what their appends left for later. A failure loses nothing (the events
    /// are in the log; the next open applies them) and is said on standard error.
    private func settle() {
        do { try books.settle(now: .current()) } catch {
            try? FileDescriptor.standardError.writeAll("account serve: warning: \(dir.slug.value): applying the events logged: \(error) (the next open of the books applies them)\n")
        }
    }

    private func commit(_ group: [Pending]) {
        let events = group.flatMap(\.events)
        var outcomes: [Outcome]
        var started = timespec()
        clock_gettime(CLOCK_MONOTONIC, &started)
        do {
            // Which request brought which new event: the ids logged now, sorted. A request
            // repeated within one group counts as recorded once, then duplicate.
            let appended = try books.append(events, now: .current())
            var fresh = appended.new
            outcomes = group.map { p in
                var new = 0
                var other = 0
                for e in p.events {
                    if let i = GroupCommit.find(e.id, in: fresh) {
                        fresh.remove(at: i)
                        new += 1
                    } else if GroupCommit.find(e.id, in: appended.otherTenant) != nil {
                        other += 1
                    }
                }
                return new > 0 || other > 0 || p.events.isEmpty ? .recorded(new: new, otherTenant: other) : .duplicate
            }
        } catch {
            outcomes = Array(repeating: .failed("\(error)"), count: group.count)
        }
        var ended = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ended)
        let seconds = Double(ended.tv_sec - started.tv_sec) + Double(ended.tv_nsec - started.tv_nsec) / 1e9
        queue.withLock { q in
            q.groups += 1
            q.requests += group.count
            q.appendSeconds.observe(seconds)
        }
        for (p, o) in zip(group, outcomes) { p.done(o) }
    }

    static func find(_ id: UInt64, in sorted: [UInt64]) -> Int? {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo < sorted.count && sorted[lo] == id ? lo : nil
    }
}

/// What the server needs of the books: append events of one tenant durably, taking the tenant
/// lock for the append only. The implementation is the books code `account events` uses.
public protocol BookWriter: Sendable {
    /// Appends `events` (duplicates by id dropped; `shared` ones of another tenant left out) and
    /// applies their effects. Returns once they are durable.
    func append(_ events: [BookEvent], now: Timestamp) throws -> AppendedIDs
    /// True when appends left effects to apply (and hold the tenant lock until `settle`).
    var hasUnsettled: Bool { get }
    /// Applies what appends left for later and gives the lock back.
    func settle(now: Timestamp) throws
}

extension BookWriter {
    /// Books that apply everything in `append`.
    public var hasUnsettled: Bool { false }
    public func settle(now: Timestamp) throws {}
}

/// The ids of one append, each list sorted: logged now, and left out as another tenant's.
public struct AppendedIDs: Sendable {
    public var new: [UInt64]
    public var otherTenant: [UInt64]

    public init(new: [UInt64], otherTenant: [UInt64] = []) {
        self.new = new
        self.otherTenant = otherTenant
    }
}
