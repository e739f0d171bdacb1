#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// The books `account events` writes, kept open across groups (the committer thread is its only
/// caller). A group is appended durably under the tenant lock (`Books.append`); its effects —
/// suppression list, contact statuses, engagement, counters, id index, ledger — are applied for
/// many groups at once by the settler thread while the committer goes on appending: handed over
/// (`Books.takeUnsettled`) when `maxUnsettled` events wait or the oldest has waited `maxWait`
/// seconds and the settler is free. A settlement's ledger claims the events of that settlement
/// only (the log length its last append left), so events appended meanwhile stay past the
/// ledger's `events_length` until their own settlement.
///
/// The lock is given back (`pause`) when requests stop (`GroupCommit` calls `settle`), at stop,
/// and after it has been held `maxHold` seconds: the committer then waits for the settler and
/// settles the rest itself, so a cron job waits for the lock at most about that long. The next
/// group takes it again (`resume`) and keeps what the session read unless another writer
/// changed the books meanwhile.
///
/// Meanwhile a reader sees the appended events past the ledger's `events_length` and holds their
/// addresses back (`MailPolicy`); a server killed before settling leaves them to the next
/// writer's open, as any interrupted commit.
public final class TenantBooks: BookWriter, @unchecked Sendable {
    public let dir: TenantDirectory
    let maxUnsettled: Int
    let maxWait: Double
    let maxHold: Double
    private var session: Books?
    /// Monotonic time the oldest unsettled event was appended, and the lock last taken.
    private var unsettledSince: Double?
    private var heldSince: Double?
    /// Groups that found the books as the session left them, and those that read them again.
    public private(set) var kept = 0
    public private(set) var reopened = 0

    /// What the settler thread is given and what it says back.
    struct Settler {
        var handed: (books: Books, settlement: Books.Settlement, now: Timestamp)? = nil
        var busy = false
        var failure: (any Error)? = nil
        var stopping = false
        var idle: Bool { handed == nil && !busy }
    }
    private let settler = Guarded(Settler())
    private var thread: SideThread?

    /// Throws when the system will not start the settler thread.
    public init(dir: TenantDirectory, maxUnsettled: Int = 1000, maxWait: Double = 0.1, maxHold: Double = 1) throws {
        self.dir = dir
        self.maxUnsettled = maxUnsettled
        self.maxWait = maxWait
        self.maxHold = maxHold
        // The thread holds the settler's mailbox, not the books (a method of `self` would keep
        // it alive, and `deinit` would never come).
        let settler = self.settler
        thread = try SideThread { TenantBooks.settleLoop(settler) }
    }

    /// Ends the settler thread after the settlement it holds; what is not handed over stays in
    /// the log for the next open (`settle` first to apply everything).
    deinit {
        settler.withLock(signal: true) { $0.stopping = true }
        thread?.wait()
    }

    public func append(_ events: [BookEvent], now: Timestamp) throws -> AppendedIDs {
        if let failure = takeFailure() {
            // The session's effects stopped half-way: the next open applies what its ledger
            // does not reflect (the events are in the log), and this group goes on.
            try? FileDescriptor.standardError.writeAll("account serve: warning: \(dir.slug.value): applying the events logged: \(failure) (the books are opened again)\n")
            drop()
        }
        do {
            let books = try open(now: now)
            let (ours, other) = try books.scoped(events)
            var left: [UInt64] = []
            if !other.isEmpty {
                // The events scoped out: those of the batch not in `ours` (ids are unique per event).
                let kept = Set(ours.map(\.id))
                left = events.lazy.map(\.id).filter { !kept.contains($0) }.sorted()
            }
            let outcome = try books.append(ours, now: now)
            let t = TenantBooks.seconds()
            if books.unsettledCount > 0 && unsettledSince == nil { unsettledSince = t }
            if t - (heldSince ?? t) >= maxHold {
                try settle(now: now)  // the lock has been held long enough: a cron job may be waiting
            } else if books.unsettledCount >= maxUnsettled || t - (unsettledSince ?? .infinity) >= maxWait {
                handOver(books, now: now)
            }
            if books.lock != nil && books.unsettledCount == 0 && settler.withLock({ $0.idle }) {
                books.pause()  // nothing waits: the lock goes at once
            }
            return AppendedIDs(new: outcome.newIDs, otherTenant: left)
        } catch {
            drop()
            throw error
        }
    }

    /// True while the session holds the lock: events wait for their effects, here or in the
    /// settler.
    public var hasUnsettled: Bool { session?.lock != nil }

    /// Waits for the settler, applies what is left and gives the lock back.
    public func settle(now: Timestamp) throws {
        guard let books = session, books.lock != nil else { return }
        do {
            settler.wait(until: { $0.idle }) { _ in }
            if let failure = takeFailure() { throw failure }
            if let rest = books.takeUnsettled() { try books.settle(rest, now: now) }
            books.pause()
            unsettledSince = nil
            heldSince = nil
        } catch {
            drop()
            throw error
        }
    }

    /// Gives what waits to the settler thread when it is free (else it waits for a later group).
    private func handOver(_ books: Books, now: Timestamp) {
        settler.withLock(signal: true) { s in
            guard s.idle, s.failure == nil, let settlement = books.takeUnsettled() else { return }
            s.handed = (books, settlement, now)
            unsettledSince = nil
        }
    }

    /// The settler thread: applies each settlement handed over, one at a time.
    private static func settleLoop(_ settler: Guarded<Settler>) {
        while true {
            let job = settler.wait(until: { $0.handed != nil || $0.stopping }) { s -> (books: Books, settlement: Books.Settlement, now: Timestamp)? in
                let job = s.handed
                s.handed = nil
                s.busy = job != nil
                return job
            }
            guard let job else { return }
            var failure: (any Error)? = nil
            do { try job.books.settle(job.settlement, now: job.now) } catch { failure = error }
            settler.withLock(signal: true) { s in
                s.busy = false
                if let failure { s.failure = failure }
            }
        }
    }

    /// The settler's failure, once it is idle (the session must then be dropped: its state is
    /// half-applied).
    private func takeFailure() -> (any Error)? {
        settler.withLock { s -> (any Error)? in
            guard s.idle, let f = s.failure else { return nil }
            s.failure = nil
            return f
        }
    }

    /// The session, opened or resumed.
    private func open(now: Timestamp) throws -> Books {
        if let books = session {
            if books.lock == nil {
                if try books.resume(now: now) { kept += 1 } else { reopened += 1 }
                heldSince = TenantBooks.seconds()
            }
            return books
        }
        let books = try Books(dir: dir, now: now, warn: { message in
            try? FileDescriptor.standardError.writeAll("account serve: warning: \(message)\n")
        })
        session = books
        heldSince = TenantBooks.seconds()
        return books
    }

    /// Forgets the session after a failure, once the settler is done with it (its lock goes
    /// with it); what it appended and did not settle is applied by the next open.
    private func drop() {
        settler.wait(until: { $0.idle }) { $0.failure = nil }
        session = nil
        unsettledSince = nil
        heldSince = nil
    }

    /// Monotonic seconds.
    static func seconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
