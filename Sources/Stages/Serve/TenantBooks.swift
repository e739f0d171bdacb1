#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// The books `account events` writes, kept open across groups (the committer thread is its only
/// user). A group is appended durably under the tenant lock (`Books.append`); its effects —
/// suppression list, contact statuses, counters, ledger — are applied for many groups at once
/// (`settle`): when `maxUnsettled` events wait, when the oldest has waited `maxWait` seconds, when
/// requests stop coming (`GroupCommit`), and on stop. Then the lock is given back (`pause`), so a
/// cron job waits for it at most about `maxWait`; the next group takes it again (`resume`) and
/// keeps what the session read unless another writer changed the books meanwhile.
///
/// Meanwhile a reader sees the appended events past the ledger's `events_length` and holds their
/// addresses back (`MailPolicy`); a server killed before settling leaves them to the next
/// writer's open, as any interrupted commit.
public final class TenantBooks: BookWriter, @unchecked Sendable {
    public let dir: TenantDirectory
    let maxUnsettled: Int
    let maxWait: Double
    private var session: Books?
    /// Monotonic time the oldest unsettled event was appended.
    private var unsettledSince: Double?
    /// Groups that found the books as the session left them, and those that read them again.
    public private(set) var kept = 0
    public private(set) var reopened = 0

    public init(dir: TenantDirectory, maxUnsettled: Int = 1000, maxWait: Double = 0.1) {
        self.dir = dir
        self.maxUnsettled = maxUnsettled
        self.maxWait = maxWait
    }

    public func append(_ events: [BookEvent], now: Timestamp) throws -> AppendedIDs {
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
            if books.unsettledCount > 0 && unsettledSince == nil { unsettledSince = TenantBooks.seconds() }
            if books.unsettledCount >= maxUnsettled || TenantBooks.seconds() - (unsettledSince ?? .infinity) >= maxWait {
                try settle(now: now)
            } else if books.unsettledCount == 0 {
                books.pause()  // nothing new: the lock goes at once
            }
            return AppendedIDs(new: outcome.newIDs, otherTenant: left)
        } catch {
            drop()
            throw error
        }
    }

    public var hasUnsettled: Bool { session.map { $0.lock != nil && $0.unsettledCount > 0 } ?? false }

    public func settle(now: Timestamp) throws {
        guard let books = session, books.lock != nil else { return }
        do {
            try books.settle(now: now)
            books.pause()
            unsettledSince = nil
        } catch {
            drop()
            throw error
        }
    }

    /// The session, opened or resumed.
    private func open(now: Timestamp) throws -> Books {
        if let books = session {
            if books.lock == nil {
                if try books.resume(now: now) { kept += 1 } else { reopened += 1 }
            }
            return books
        }
        let books = try Books(dir: dir, now: now, warn: { message in
            try? FileDescriptor.standardError.writeAll("account serve: warning: \(message)\n")
        })
        session = books
        return books
    }

    /// Forgets the session after a failure (its lock goes with it); what it appended and did
    /// not settle is applied by the next open.
    private func drop() {
        session = nil
        unsettledSince = nil
    }

    /// Monotonic seconds.
    static func seconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
