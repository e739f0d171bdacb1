#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AccountStage
import DedupeStage
import MailpipeCore
import MailpipeStore
import MailpipeTestSupport
import XCTest

final class DedupeStageTests: XCTestCase {
    var dir = ""
    var state: StateRoot { StateRoot(explicit: "\(dir)/state") }
    let now = Timestamp(parsing: "2026-11-23T09:00:00Z")!

    override func setUp() {
        var template = Array("/tmp/dedupe-test-XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    override func tearDown() { _ = system("rm -rf '\(dir)'") }

    func write(_ name: String, _ text: String) -> String {
        let path = "\(dir)/\(name)"
        let fd = try! FileDescriptor.open(path, .writeOnly, options: [.create, .truncate], permissions: 0o644)
        try! fd.writeAll(Array(text.utf8))
        fd.close()
        return path
    }

    func lines(_ path: String) -> [JSONValue] {
        ((try? FileSystem.readFile(path)) ?? []).split(separator: 0x0A).map { try! JSONValue.parse(Array($0)) }
    }

    func initTenant(_ slug: String) throws {
        _ = try AccountInit.run(.init(tenant: try TenantSlug(slug), state: state, configPath: nil))
    }

    func commit(_ slug: String, _ inputs: [String]) throws {
        _ = try AccountCommit.run(.init(tenant: try TenantSlug(slug), state: state, now: now,
                                        stream: StreamOptions(stage: "account commit", inputs: inputs, rejectsPath: "\(dir)/commit-rejects")))
    }

    func dedupe(_ inputs: [String], tenant: String? = "sos-expat", canonical: CanonicalForm = .exact, keepRepeats: Bool = false,
                dropExisting: Bool = false, shard: Shard? = nil) throws -> (out: [JSONValue], rejects: [JSONValue], summary: Summary) {
        let out = "\(dir)/out.ndjson", rej = "\(dir)/rejects.ndjson"
        let fd = try FileDescriptor.open(out, .writeOnly, options: [.create, .truncate], permissions: 0o644)
        var sink = OutputSink(descriptor: fd)
        let (summary, _) = try DedupeStage.run(.init(tenant: try tenant.map(TenantSlug.init), state: state, canonical: canonical,
                                                     keepRepeats: keepRepeats, dropExisting: dropExisting, shard: shard,
                                                     stream: StreamOptions(stage: "dedupe", inputs: inputs, rejectsPath: rej)), output: &sink)
        fd.close()
        return (lines(out), lines(rej), summary)
    }

    func testRepeatsAreRejectedWithTheFirstLineAndNewOrExistingIsMarked() throws {
        try initTenant("sos-expat")
        try commit("sos-expat", [write("stored.ndjson", #"{"tenant":"sos-expat","email":"old@x.com"}"# + "\n")])
        let input = write("in.ndjson", """
        {"tenant":"sos-expat","email":"a@x.com"}
        {"tenant":"sos-expat","email":"old@x.com"}
        {"tenant":"sos-expat","email":" A@X.com ","first_name":"Ann"}
        {"email":"b@x.com","dedupe":"stale"}

        """)
        let r = try dedupe([input])
        XCTAssertEqual(r.out.map { $0["email"]?.string ?? "" }, ["a@x.com", "old@x.com", "b@x.com"])
        XCTAssertEqual(r.out.map { $0["dedupe"]?.string ?? "" }, ["new", "existing", "new"])
        XCTAssertEqual(r.rejects.count, 1)
        XCTAssertEqual(r.rejects[0]["reason"], .string("duplicate"))
        XCTAssertEqual(r.rejects[0]["line"]?.int, 3)
        XCTAssertEqual(r.rejects[0]["first_line"]?.int, 1)
        XCTAssertEqual(r.summary["repeats"], 1)
        XCTAssertEqual(r.summary["new"], 2)
        XCTAssertEqual(r.summary["existing"], 1)

        let kept = try dedupe([input], keepRepeats: true)
        XCTAssertEqual(kept.out.count, 4)
        XCTAssertEqual(kept.out[2]["dedupe"], .string("existing"))
        XCTAssertEqual(kept.out[2]["first_name"], .string("Ann"), "a kept repeat carries its own fields for the merge")

        let onlyNew = try dedupe([input], dropExisting: true)
        XCTAssertEqual(onlyNew.out.map { $0["email"]?.string ?? "" }, ["a@x.com", "b@x.com"])
    }

    func testRepeatsAcrossTwoFilesNameTheFirstFile() throws {
        try initTenant("sos-expat")
        let one = write("one.ndjson", #"{"email":"a@x.com"}"# + "\n" + #"{"email":"b@x.com"}"# + "\n")
        let two = write("two.ndjson", #"{"email":"c@x.com"}"# + "\n" + #"{"email":"B@x.com"}"# + "\n")
        let r = try dedupe([one, two])
        XCTAssertEqual(r.out.count, 3)
        XCTAssertEqual(r.rejects.first?["file"], .string(two))
        XCTAssertEqual(r.rejects.first?["line"]?.int, 2)
        XCTAssertEqual(r.rejects.first?["first_file"], .string(one))
        XCTAssertEqual(r.rejects.first?["first_line"]?.int, 2)
    }

    func testCanonicalForms() throws {
        try initTenant("sos-expat")
        try commit("sos-expat", [write("s.ndjson", #"{"email":"john.doe@gmail.com"}"# + "\n")])
        let input = write("c.ndjson", """
        {"email":"JohnDoe+news@googlemail.com"}
        {"email":"ann+x@example.com"}
        {"email":"ann@example.com"}

        """)
        let exact = try dedupe([input])
        XCTAssertEqual(exact.out.map { $0["dedupe"]?.string ?? "" }, ["new", "new", "new"])
        let gmail = try dedupe([input], canonical: .gmail)
        XCTAssertEqual(gmail.out.map { $0["dedupe"]?.string ?? "" }, ["existing", "new", "new"])
        XCTAssertEqual(gmail.out[0]["email"], .string("JohnDoe+news@googlemail.com"), "the original address is kept")
        let plus = try dedupe([input], canonical: .plus)
        XCTAssertEqual(plus.out.count, 2)
        XCTAssertEqual(plus.rejects.first?["reason"], .string("duplicate"))
        var key = Array("a.b+c@gmail.com".utf8)
        CanonicalForm.gmail.apply(&key)
        XCTAssertEqual(String(decoding: key, as: UTF8.self), "ab@gmail.com")
    }

    /// The folded hashes come from the run index; a store whose index predates them is folded
    /// address by address, with the same answers.
    func testCanonicalFormsFromTheRunIndexAndWithout() throws {
        try initTenant("sos-expat")
        try commit("sos-expat", [write("s.ndjson", """
        {"email":"j.d@gmail.com"}
        {"email":"a.b+news@googlemail.com"}
        {"email":"ann+x@example.com"}
        {"email":"+lead@example.com"}
        {"email":"plain@example.com"}

        """)])
        let input = write("c.ndjson", """
        {"email":"j.d@gmail.com"}
        {"email":"jd@gmail.com"}
        {"email":"j.d.x@gmail.com"}
        {"email":"ab@gmail.com"}
        {"email":"a.b@googlemail.com"}
        {"email":"ann@example.com"}
        {"email":"ann+y@example.com"}
        {"email":"ann.x@example.com"}
        {"email":"+lead@example.com"}
        {"email":"plain+z@example.com"}

        """)
        let expected: [CanonicalForm: [String]] = [
            .exact: ["existing", "new", "new", "new", "new", "new", "new", "new", "existing", "new"],
            .gmail: ["existing", "existing", "new", "existing", "existing", "new", "new", "new", "existing", "new"],
            .plus: ["existing", "new", "new", "new", "existing", "existing", "existing", "new", "existing", "existing"],
        ]
        func marks(_ form: CanonicalForm) throws -> [String] {
            // --keep-repeats: repeats under a form are marked, not rejected, so every line answers.
            try dedupe([input], canonical: form, keepRepeats: true).out.map { $0["dedupe"]?.string ?? "" }
        }
        for form in CanonicalForm.allCases { XCTAssertEqual(try marks(form), expected[form], "\(form) from the run index") }

        // An index of an older format (no checksums, no folded hashes) is never trusted: it is
        // rebuilt from its run, in memory for a reader.
        let contacts = state.tenant(try TenantSlug("sos-expat")).path + "/contacts"
        var downgraded = 0
        for name in try FileSystem.listDirectory(contacts) where name.hasSuffix(".idx") {
            let path = "\(contacts)/\(name)"
            var bytes = try FileSystem.readFile(path)
            bytes.replaceSubrange(0..<8, with: Array("MPIDX001".utf8))
            let fd = try FileDescriptor.open(path, .writeOnly, options: .truncate)
            try fd.writeAll(bytes)
            fd.close()
            downgraded += 1
        }
        XCTAssertGreaterThan(downgraded, 0)
        for form in CanonicalForm.allCases { XCTAssertEqual(try marks(form), expected[form], "\(form) from indexes rebuilt in memory") }

        // A writer (here compaction) rewrites them in the current format.
        _ = try AccountCompact.run(tenant: try TenantSlug("sos-expat"), state: state)
        let indexes = try FileSystem.listDirectory(contacts).filter { $0.hasSuffix(".idx") }
        XCTAssertEqual(indexes.count, 1)
        for name in indexes { XCTAssertEqual(Array(try FileSystem.readFile("\(contacts)/\(name)").prefix(8)), Array("MPIDX003".utf8)) }
        for form in CanonicalForm.allCases { XCTAssertEqual(try marks(form), expected[form], "\(form) after compaction") }
    }

    func testCrossTenantRecordsAreRefused() throws {
        try initTenant("sos-expat")
        try initTenant("ulixai")
        let input = write("t.ndjson", #"{"tenant":"ulixai","email":"a@x.com"}"# + "\n" + #"{"tenant":"sos-expat","email":"b@x.com"}"# + "\n")
        let r = try dedupe([input], tenant: "sos-expat")
        XCTAssertEqual(r.out.count, 1)
        XCTAssertEqual(r.rejects.first?["reason"], .string("tenant_mismatch"))
        // Without --tenant the first record's tenant is the stream's.
        let implicit = try dedupe([input], tenant: nil)
        XCTAssertEqual(implicit.out.first?["tenant"], .string("ulixai"))
        XCTAssertEqual(implicit.rejects.first?["reason"], .string("tenant_mismatch"))
        XCTAssertThrowsError(try dedupe([input], tenant: "nobody"), "a tenant without state is an error")
        // The tenant is compared as text, not as it is written: escaped, it is still the same one.
        let escaped = write("e.ndjson", #"{"tenant":"sos\u002Dexpat","email":"c@x.com"}"# + "\n" + #"{"tenant":"\u0075lixai","email":"d@x.com"}"# + "\n")
        let e = try dedupe([escaped], tenant: "sos-expat")
        XCTAssertEqual(e.out.map { $0["email"] }, [.string("c@x.com")])
        XCTAssertEqual(e.rejects.map { $0["reason"] }, [.string("tenant_mismatch")])
    }

    func testShardsPartitionTheStream() throws {
        try initTenant("sos-expat")
        var text = ""
        for i in 0..<200 { text += #"{"email":"u\#(i)@x.com"}"# + "\n" }
        let input = write("s.ndjson", text)
        var total = 0
        var seen = Set<String>()
        for i in 0..<3 {
            let r = try dedupe([input], shard: try Shard(index: i, count: 3))
            total += r.out.count
            for c in r.out { seen.insert(c["email"]!.string!) }
            XCTAssertEqual(r.summary["other_shard"] + r.out.count, 200)
        }
        XCTAssertEqual(total, 200)
        XCTAssertEqual(seen.count, 200)
    }

    /// One thread and several write the same records, marks and rejects: repeats inside a batch
    /// and across batches and files (the seen table's slots are read ahead of their records),
    /// stored addresses, and every kind of bad line between them.
    func testSeveralThreadsEqualOne() throws {
        try initTenant("sos-expat")
        var stored = ""
        for n in stride(from: 0, to: 12_000, by: 3) { stored += #"{"tenant":"sos-expat","email":"c\#(n)@firm.fr"}"# + "\n" }
        try commit("sos-expat", [write("stored.ndjson", stored)])
        let inputs = try ThreadedInputs(in: dir, every: 37, stageRejects: [
            (#"{"name":"no email"}"#, "missing_email"),
            (#"{"email":"  ","tenant":"sos-expat"}"#, "missing_email"),
            (#"{"email":"t@firm.fr","tenant":7}"#, "invalid_tenant"),
            (#"{"email":"o@firm.fr","tenant":"ulixai"}"#, "tenant_mismatch"),
        ]) { n, _ in
            // Every fifth record repeats an address 1 to ~4,800 records back (case and spaces differ).
            let address = n % 5 == 4 ? " C\((n * 7919) % max(1, n))@Firm.FR " : "c\(n)@firm.fr"
            return n % 11 == 0 ? #"{"email":"\#(address)","dedupe":"stale","n":\#(n)}"# : #"{"tenant":"sos-expat","email":"\#(address)","n":\#(n)}"#
        }
        var outputs: [[UInt8]] = []
        for threads in [1, 2, 3] {
            let out = "\(dir)/out-\(threads).ndjson", rej = "\(dir)/rejects-\(threads).ndjson"
            let fd = try FileDescriptor.open(out, .writeOnly, options: [.create, .truncate], permissions: 0o644)
            var sink = OutputSink(descriptor: fd)
            let (summary, _) = try DedupeStage.run(.init(tenant: try TenantSlug("sos-expat"), state: state, threads: threads,
                                                         stream: StreamOptions(stage: "dedupe", inputs: inputs.paths, rejectsPath: rej, maxLine: 4096)),
                                                   output: &sink)
            fd.close()
            let rejects = try FileSystem.readFile(rej)
            outputs.append(try FileSystem.readFile(out) + [0] + rejects)
            XCTAssertGreaterThan(summary["repeats"], 1_000, "threads \(threads)")
            XCTAssertGreaterThan(summary["existing"], 1_000, "threads \(threads)")
            let lines = String(decoding: rejects, as: UTF8.self).split(separator: "\n").map(String.init)
            XCTAssertEqual(try ThreadedInputs.rejects(lines.filter { !$0.contains(#""reason":"duplicate""#) }), inputs.rejects,
                           "threads \(threads)")
            XCTAssertEqual(summary["in"], summary["out"] + summary["rejected"], "threads \(threads): every line accounted for")
        }
        XCTAssertEqual(outputs[1], outputs[0], "2 threads")
        XCTAssertEqual(outputs[2], outputs[0], "3 threads")
    }

    func testHashIndexAndSeenTable() {
        var hashes: [UInt64] = []
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<50_000 { hashes.append(rng.next()) }
        hashes.sort()
        let index = StoreHashIndex(sorted: hashes)
        for h in hashes.prefix(1000) { XCTAssertTrue(index.contains(h)) }
        XCTAssertFalse(index.contains(hashes[10] &+ 1))
        XCTAssertTrue(StoreHashIndex(sorted: [0, UInt64.max]).contains(UInt64.max))
        XCTAssertFalse(StoreHashIndex(sorted: []).contains(42))
        var seen = SeenTable(initialCapacity: 4)
        defer { seen.deallocate() }
        for i in 0..<10_000 { XCTAssertNil(seen.insertOrFind(UInt64(i) &* 0x9E37_79B9_7F4A_7C15, value: UInt64(i))) }
        for i in 0..<10_000 { XCTAssertEqual(seen.insertOrFind(UInt64(i) &* 0x9E37_79B9_7F4A_7C15, value: 0), UInt64(i)) }
    }

    /// The grouped look-up answers as one look-up at a time does, stored hashes and others mixed.
    func testGroupedLookUpMatchesSingle() {
        var rng = SystemRandomNumberGenerator()
        var stored: [UInt64] = (0..<20_000).map { _ in rng.next() }
        stored.append(contentsOf: stored.prefix(50))   // duplicates allowed
        stored.sort()
        let index = StoreHashIndex(sorted: stored)
        var asked: [UInt64] = []
        for i in 0..<1_000 { asked.append(i % 2 == 0 ? stored.randomElement(using: &rng)! : rng.next()) }
        asked.append(contentsOf: [0, UInt64.max, stored[0], stored[stored.count - 1]])
        var found = [Bool](repeating: false, count: StoreHashIndex.group)
        var hits = 0
        for lo in stride(from: 0, to: asked.count, by: StoreHashIndex.group) {
            let group = Array(asked[lo..<min(asked.count, lo + StoreHashIndex.group)])
            group.withUnsafeBufferPointer { g in found.withUnsafeMutableBufferPointer { index.contains(g, into: $0) } }
            for (i, h) in group.enumerated() {
                XCTAssertEqual(found[i], index.contains(h), "hash \(h)")
                if found[i] { hits += 1 }
            }
        }
        XCTAssertGreaterThan(hits, 490)
    }
}
