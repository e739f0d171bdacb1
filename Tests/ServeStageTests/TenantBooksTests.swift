#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AccountStage
import MailpipeCore
import MailpipeStore
import MailpipeTestSupport
import ServeStage
import XCTest

/// The server's books session: appends are durable at once, their effects wait for `settle`,
/// the lock goes between bursts, and a writer that ran meanwhile is noticed (its changes are
/// read, never written over).
final class TenantBooksTests: StageTestCase {
    func makeTenant() throws -> TenantDirectory {
        let state = StateRoot(explicit: "\(self.dir)/state")
        let slug = try TenantSlug("t")
        _ = try AccountInit.run(.init(tenant: slug, state: state))
        return state.tenant(slug)
    }

    func unsubscribe(_ email: String, campaign: String = "c1") -> BookEvent {
        BookEvent(id: EventID.hash(["test", email, campaign]), email: email, type: "unsubscribed", campaign: campaign,
                  at: Timestamp(seconds: 1_800_000_000), source: "one-click")
    }

    func ledger(_ dir: TenantDirectory) throws -> Ledger { try Ledger.load(path: dir.ledgerPath) }

    func testAppendsAreDurableAndSettledLaterUnderOneLock() throws {
        let dir = try makeTenant()
        let books = TenantBooks(dir: dir, maxUnsettled: 3, maxWait: 3600)
        let now = Timestamp(seconds: 1_800_000_000)
        XCTAssertEqual(try books.append([unsubscribe("a@x.org")], now: now).new.count, 1)
        XCTAssertTrue(books.hasUnsettled, "the effects wait")
        XCTAssertEqual(try ledger(dir).campaigns["c1"]?["unsubscribed"], nil, "the ledger is not written yet")
        XCTAssertGreaterThan(try FileSystem.fileSize(dir.eventsPath), try ledger(dir).eventsLength, "the event is in the log")
        // The lock is held meanwhile: another writer would wait.
        XCTAssertFalse(try tryLock(dir), "the tenant lock is held while effects wait")
        XCTAssertEqual(try books.append([unsubscribe("a@x.org")], now: now).new.count, 0, "a repeat is a duplicate before settling")
        _ = try books.append([unsubscribe("b@x.org"), unsubscribe("c@x.org")], now: now)
        XCTAssertFalse(books.hasUnsettled, "three events: settled")
        XCTAssertEqual(try ledger(dir).campaigns["c1"]?["unsubscribed"], 3)
        XCTAssertEqual(try ledger(dir).eventsLength, try FileSystem.fileSize(dir.eventsPath))
        XCTAssertTrue(try tryLock(dir), "the lock is given back once settled")
    }

    func testAWriterMeanwhileIsReadNotWrittenOver() throws {
        let dir = try makeTenant()
        let books = TenantBooks(dir: dir, maxUnsettled: 1, maxWait: 3600)
        let now = Timestamp(seconds: 1_800_000_000)
        _ = try books.append([unsubscribe("a@x.org")], now: now)  // settled at once, lock given back
        XCTAssertEqual(books.kept + books.reopened, 0)
        _ = try books.append([unsubscribe("b@x.org")], now: now)
        XCTAssertEqual(books.kept, 1, "nobody wrote: what the session read is kept")
        // A cron job's import between two groups.
        do {
            let other = try Books(dir: dir, now: now, warn: { _ in })
            _ = try other.commit([unsubscribe("cron@x.org", campaign: "c2"), unsubscribe("b@x.org")], now: now)
        }
        XCTAssertEqual(try books.append([unsubscribe("d@x.org"), unsubscribe("cron@x.org", campaign: "c2")], now: now).new.count, 1,
                       "the cron job's event is known: a duplicate")
        XCTAssertEqual(books.reopened, 1, "the change was seen and the books read again")
        let l = try ledger(dir)
        XCTAssertEqual(l.campaigns["c1"]?["unsubscribed"], 3, "a, b, d: the session's counts")
        XCTAssertEqual(l.campaigns["c2"]?["unsubscribed"], 1, "the cron job's count kept")
        XCTAssertEqual(l.eventsLength, try FileSystem.fileSize(dir.eventsPath))
    }

    func testEventsLeftUnsettledAreAppliedByTheNextOpen() throws {
        let dir = try makeTenant()
        let now = Timestamp(seconds: 1_800_000_000)
        do {
            let books = TenantBooks(dir: dir, maxUnsettled: 100, maxWait: 3600)
            _ = try books.append([unsubscribe("a@x.org"), unsubscribe("b@x.org")], now: now)
            XCTAssertTrue(books.hasUnsettled)
        }  // gone without settling, as a killed server
        let next = try Books(dir: dir, now: now, warn: { _ in })
        XCTAssertEqual(next.recovered, 2, "the next open applies them")
        XCTAssertTrue(next.isSuppressed("a@x.org"))
        XCTAssertEqual(next.ledger.campaigns["c1"]?["unsubscribed"], 2)
    }

    /// Whether the tenant lock could be taken now (and given back at once).
    func tryLock(_ dir: TenantDirectory) throws -> Bool {
        let fd = open(dir.lockPath, O_RDWR | O_CREAT, 0o644)
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
        flock(fd, LOCK_UN)
        return true
    }
}
