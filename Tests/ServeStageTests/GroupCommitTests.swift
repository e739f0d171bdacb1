#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AccountStage
import Dispatch
import MailpipeCore
import MailpipeStore
import ServeStage
import XCTest

/// The group commit: requests queued while a commit runs go together in the next one; each is
/// answered once, after its group was written, with recorded or duplicate; a failed write
/// promises nothing.
final class GroupCommitTests: XCTestCase {
    /// Books that remember ids. The first append waits for `gate` (an fsync that takes long),
    /// so what is submitted meanwhile must form the next group — whatever the machine's speed.
    final class SlowBooks: BookWriter, @unchecked Sendable {
        var logged = Set<UInt64>()
        var groups: [Int] = []
        var failNext = false
        let lock = NSLockish()
        let gate = DispatchSemaphore(value: 0)
        var gated = true

        func append(_ events: [BookEvent], now: Timestamp) throws -> AppendedIDs {
            if lock.with({ gated }) {
                gate.wait()
                lock.with { gated = false }
            }
            return try lock.with {
                if failNext { failNext = false; throw StageError.runtime("disk full") }
                groups.append(events.count)
                // Addresses at other.example are another tenant's (as EventScope would say).
                var fresh: [UInt64] = []
                var other: [UInt64] = []
                for e in events {
                    if e.email.hasSuffix("@other.example") { other.append(e.id) } else if logged.insert(e.id).inserted { fresh.append(e.id) }
                }
                return AppendedIDs(new: fresh.sorted(), otherTenant: other.sorted())
            }
        }
    }

    final class NSLockish: @unchecked Sendable {
        private var m = pthread_mutex_t()
        init() { pthread_mutex_init(&m, nil) }
        func with<T>(_ body: () throws -> T) rethrows -> T {
            pthread_mutex_lock(&m)
            defer { pthread_mutex_unlock(&m) }
            return try body()
        }
    }

    func event(_ i: Int) -> BookEvent {
        BookEvent(id: UInt64(i + 1), email: "a\(i)@x.org", type: "unsubscribed", at: Timestamp(seconds: 0), source: "test")
    }

    func testConcurrentRequestsShareGroupsAndEachIsAnsweredOnce() throws {
        let books = SlowBooks()
        let commits = try GroupCommit(dir: StateRoot(explicit: "/nonexistent").tenant(try! TenantSlug("t")), books: books)
        let answers = NSLockish()
        var outcomes: [Int: String] = [:]
        let done = DispatchGroup()
        // 200 requests, the last 50 repeating the first 50's events.
        DispatchQueue.concurrentPerform(iterations: 200) { i in
            done.enter()
            commits.submit([event(i % 150)]) { outcome in
                let word: String
                switch outcome {
                case .recorded(let n, _): word = n == 1 ? "recorded" : "recorded \(n)"
                case .duplicate: word = "duplicate"
                case .failed: word = "failed"
                }
                answers.with { XCTAssertNil(outcomes.updateValue(word, forKey: i), "answered twice") }
                done.leave()
            }
        }
        // Every request is queued while the first append waits: the rest form one more group.
        books.gate.signal()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        commits.stop()
        XCTAssertEqual(outcomes.count, 200)
        XCTAssertEqual(outcomes.values.filter { $0 == "recorded" }.count, 150)
        XCTAssertEqual(outcomes.values.filter { $0 == "duplicate" }.count, 50)
        XCTAssertEqual(books.logged.count, 150)
        // The first group (what the committer took before the gate opened) and one for the rest.
        XCTAssertLessThanOrEqual(books.groups.count, 2)
        XCTAssertEqual(books.groups.reduce(0, +), 200)
    }

    func testAFailedAppendPromisesNothing() throws {
        let books = SlowBooks()
        books.gated = false
        books.failNext = true
        let commits = try GroupCommit(dir: StateRoot(explicit: "/nonexistent").tenant(try! TenantSlug("t")), books: books)
        let done = DispatchSemaphore(value: 0)
        var first: GroupCommit.Outcome?
        commits.submit([event(1)]) { first = $0; done.signal() }
        done.wait()
        if case .failed = first! {} else { XCTFail("a failed append must not be answered as recorded") }
        commits.submit([event(1)]) { first = $0; done.signal() }
        done.wait()
        if case .recorded(new: 1, otherTenant: 0) = first! {} else { XCTFail("the retry records it") }
        commits.stop()
    }

    /// A request's events another tenant owns are counted apart, never as new or duplicate.
    func testOtherTenantsEventsAreCountedApart() throws {
        let books = SlowBooks()
        books.gated = false
        let commits = try GroupCommit(dir: StateRoot(explicit: "/nonexistent").tenant(try! TenantSlug("t")), books: books)
        let done = DispatchSemaphore(value: 0)
        var answer: GroupCommit.Outcome?
        let mixed = [event(1), event(2),
                     BookEvent(id: 99, email: "b@other.example", type: "bounced", at: Timestamp(seconds: 0), source: "test")]
        commits.submit(mixed) { answer = $0; done.signal() }
        done.wait()
        if case .recorded(new: 2, otherTenant: 1) = answer! {} else { XCTFail("got \(answer!)") }
        commits.submit(mixed) { answer = $0; done.signal() }
        done.wait()
        if case .recorded(new: 0, otherTenant: 1) = answer! {} else { XCTFail("again: got \(answer!)") }
        commits.stop()
        XCTAssertFalse(books.logged.contains(99))
    }
}

/// The commit-latency histogram: buckets cumulative, `+Inf` and `_count` every observation.
final class LatencyHistogramTests: XCTestCase {
    func testBucketsAreCumulative() {
        var h = LatencyHistogram()
        for seconds in [0.0005, 0.003, 0.003, 0.2, 30] { h.observe(seconds) }
        var family = MetricFamily("mailpipe_group_commit_seconds", .histogram, help: "h")
        h.add(to: &family, labels: [("tenant", "t")])
        func bucket(_ le: String) -> Double? {
            family.samples.first { $0.suffix == "_bucket" && $0.labels.contains { $0 == ("le", le) } }?.value
        }
        XCTAssertEqual(bucket("0.001"), 1)
        XCTAssertEqual(bucket("0.0025"), 1)
        XCTAssertEqual(bucket("0.005"), 3)
        XCTAssertEqual(bucket("0.25"), 4)
        XCTAssertEqual(bucket("10"), 4)
        XCTAssertEqual(bucket("+Inf"), 5)
        XCTAssertEqual(family.samples.first { $0.suffix == "_count" }?.value, 5)
        XCTAssertEqual(family.samples.first { $0.suffix == "_sum" }!.value, 30.2065, accuracy: 1e-9)
    }
}
