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

/// The server's books session: appends are durable at once, their effects are applied later on
/// the settler thread (each settlement's ledger claiming only the log it covers), the lock goes
/// between bursts, and a writer that ran meanwhile is noticed (its changes are read, never
/// written over).
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
        let books = try TenantBooks(dir: dir, maxUnsettled: 3, maxWait: 3600, maxHold: 3600)
        let now = Timestamp(seconds: 1_800_000_000)
        XCTAssertEqual(try books.append([unsubscribe("a@x.org")], now: now).new.count, 1)
        XCTAssertTrue(books.hasUnsettled, "the effects wait")
        XCTAssertEqual(try ledger(dir).campaigns["c1"]?["unsubscribed"], nil, "the ledger is not written yet")
        XCTAssertGreaterThan(try FileSystem.fileSize(dir.eventsPath), try ledger(dir).eventsLength, "the event is in the log")
        // The lock is held meanwhile: another writer would wait.
        XCTAssertFalse(try tryLock(dir), "the tenant lock is held while effects wait")
        XCTAssertEqual(try books.append([unsubscribe("a@x.org")], now: now).new.count, 0, "a repeat is a duplicate before settling")
        _ = try books.append([unsubscribe("b@x.org"), unsubscribe("c@x.org")], now: now)  // three: to the settler
        try books.settle(now: now)  // waits for the settler
        XCTAssertFalse(books.hasUnsettled, "settled")
        XCTAssertEqual(try ledger(dir).campaigns["c1"]?["unsubscribed"], 3)
        XCTAssertEqual(try ledger(dir).eventsLength, try FileSystem.fileSize(dir.eventsPath))
        XCTAssertTrue(try tryLock(dir), "the lock is given back once settled")
    }

    func testAWriterMeanwhileIsReadNotWrittenOver() throws {
        let dir = try makeTenant()
        let books = try TenantBooks(dir: dir, maxUnsettled: 1000, maxWait: 3600, maxHold: 3600)
        let now = Timestamp(seconds: 1_800_000_000)
        _ = try books.append([unsubscribe("a@x.org")], now: now)
        try books.settle(now: now)  // lock given back
        XCTAssertEqual(books.kept + books.reopened, 0)
        _ = try books.append([unsubscribe("b@x.org")], now: now)
        try books.settle(now: now)
        XCTAssertEqual(books.kept, 1, "nobody wrote: what the session read is kept")
        // A cron job's import between two groups.
        do {
            let other = try Books(dir: dir, now: now, warn: { _ in })
            _ = try other.commit([unsubscribe("cron@x.org", campaign: "c2"), unsubscribe("b@x.org")], now: now)
        }
        XCTAssertEqual(try books.append([unsubscribe("d@x.org"), unsubscribe("cron@x.org", campaign: "c2")], now: now).new.count, 1,
                       "the cron job's event is known: a duplicate")
        XCTAssertEqual(books.reopened, 1, "the change was seen and the books read again")
        try books.settle(now: now)
        let l = try ledger(dir)
        XCTAssertEqual(l.campaigns["c1"]?["unsubscribed"], 3, "a, b, d: the session's counts")
        XCTAssertEqual(l.campaigns["c2"]?["unsubscribed"], 1, "the cron job's count kept")
        XCTAssertEqual(l.eventsLength, try FileSystem.fileSize(dir.eventsPath))
    }

    func testEventsLeftUnsettledAreAppliedByTheNextOpen() throws {
        let dir = try makeTenant()
        let now = Timestamp(seconds: 1_800_000_000)
        do {
            let books = try TenantBooks(dir: dir, maxUnsettled: 100, maxWait: 3600)
            _ = try books.append([unsubscribe("a@x.org"), unsubscribe("b@x.org")], now: now)
            XCTAssertTrue(books.hasUnsettled)
        }  // gone without settling, as a killed server
        let next = try Books(dir: dir, now: now, warn: { _ in })
        XCTAssertEqual(next.recovered, 2, "the next open applies them")
        XCTAssertTrue(next.isSuppressed("a@x.org"))
        XCTAssertEqual(next.ledger.campaigns["c1"]?["unsubscribed"], 2)
    }

    /// A settlement applied on another thread while the session appends the next group claims
    /// the log up to its own last event, not the log's length when it ends: the next group stays
    /// past the ledger, so a kill before its own settlement leaves it to the next open (it would
    /// be lost if the ledger claimed it), and a contact's engagement counts both groups (each
    /// batch is applied once per log length).
    func testASettlementClaimsOnlyTheLogItCovers() throws {
        let dir = try makeTenant()
        let contacts = write("contacts.ndjson", #"{"email":"e@x.org","status":"validated"}"#)
        _ = try AccountCommit.run(.init(tenant: dir.slug, state: StateRoot(explicit: "\(self.dir)/state"), now: Timestamp(seconds: 1_800_000_000),
                                        stream: StreamOptions(stage: "account commit", inputs: [contacts])))
        let now = Timestamp(seconds: 1_800_000_000)
        func click(_ n: Int) -> BookEvent {
            BookEvent(id: EventID.hash(["click", "\(n)"]), email: "e@x.org", type: "clicked", campaign: "c1",
                      at: Timestamp(seconds: 1_800_000_000 + Int64(n)), source: "tracking")
        }
        var first: Books.Settlement? = nil
        do {
            let books = try Books(dir: dir, now: now, warn: { _ in })
            _ = try books.append([unsubscribe("a@x.org"), click(1)], now: now)
            let settlement = try XCTUnwrap(books.takeUnsettled())
            first = settlement
            _ = try books.append([unsubscribe("b@x.org"), click(2)], now: now)  // the log is longer when it settles
            let failure = Guarded<String?>(nil)
            let settler = try SideThread {
                do { try books.settle(settlement, now: now) } catch { failure.withLock { $0 = "\(error)" } }
            }
            _ = try books.append([unsubscribe("c@x.org"), click(3)], now: now)  // while it settles
            settler.wait()
            XCTAssertNil(failure.withLock { $0 })
            XCTAssertEqual(books.unsettledCount, 4, "the second and third groups wait")
            XCTAssertEqual(try ledger(dir).eventsLength, settlement.eventsLength, "the ledger claims the first group only")
            XCTAssertLessThan(settlement.eventsLength, try FileSystem.fileSize(dir.eventsPath), "the later groups are in the log")
            XCTAssertEqual(try ledger(dir).campaigns["c1"]?["unsubscribed"], 1)
        }  // gone before the later groups settle, as a killed server
        do {
            let next = try Books(dir: dir, now: now, warn: { _ in })
            XCTAssertEqual(next.recovered, 4, "the later groups are past the ledger: the next open applies them")
            for email in ["a@x.org", "b@x.org", "c@x.org"] { XCTAssertTrue(next.isSuppressed(email), email) }
            XCTAssertEqual(next.ledger.campaigns["c1"]?["unsubscribed"], 3)
            XCTAssertGreaterThan(next.ledger.eventsLength, first?.eventsLength ?? .max)
        }  // the lock goes with it (fsck below takes it shared)
        var clicked: Int? = nil
        try TenantContacts.open(dir).forEach { line in
            let v = try JSONValue.parse(Array(line))
            if v["email"]?.string == "e@x.org" { clicked = v["engagement"]?["clicked"]?.int }
        }
        XCTAssertEqual(clicked, 3, "every group's click counts")
        var check = BooksCheck(tenant: dir, repair: false)
        try check.run(now: now)
        XCTAssertTrue(check.findings.isEmpty, "fsck finds nothing: \(check.findings)")
    }

    /// The server's session under sustained appends: settlements go to the settler thread while
    /// groups keep coming, and after the last settle everything is applied once.
    func testSettlerAppliesWhileGroupsKeepComing() throws {
        let dir = try makeTenant()
        let books = try TenantBooks(dir: dir, maxUnsettled: 5, maxWait: 0, maxHold: 3600)
        let now = Timestamp(seconds: 1_800_000_000)
        var new = 0
        for g in 0..<60 {
            new += try books.append((0..<3).map { unsubscribe("u\(g)-\($0)@x.org") }, now: now).new.count
        }
        try books.settle(now: now)
        XCTAssertEqual(new, 180)
        let l = try ledger(dir)
        XCTAssertEqual(l.campaigns["c1"]?["unsubscribed"], 180, "each event counted once")
        XCTAssertEqual(l.eventsLength, try FileSystem.fileSize(dir.eventsPath), "the ledger reflects the whole log")
        XCTAssertEqual(try SuppressionList.load(path: dir.suppressionPath).count, 180)
        XCTAssertTrue(try tryLock(dir), "the lock is given back")
        var check = BooksCheck(tenant: dir, repair: false)
        try check.run(now: now)
        XCTAssertTrue(check.findings.isEmpty, "fsck finds nothing: \(check.findings)")
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
