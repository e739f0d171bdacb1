import MailpipeCore
import XCTest

/// The summary line accounts for every record read: counts of records set aside (another
/// tenant's, another shard's, ignored) show on it when not zero; `--stats` is unchanged.
final class SummaryTests: XCTestCase {
    func testSetAsideCountsShowBeforeRejectedWhenNotZero() {
        var summary = Summary(stage: "account events", headline: ["in", "new", "duplicates", "rejected"])
        summary["in"] = 16
        summary["new"] = 0
        summary["contacts_changed"] = 0
        summary["ignored"] = 1
        summary["other_tenant"] = 13
        summary["rejected"] = 2
        summary.setGroup("reject_reasons", ["invalid_time": 2])
        XCTAssertEqual(summary.line, "account events: 16 in, 0 new, 0 duplicates, 1 ignored, 13 other_tenant, 2 rejected (invalid_time 2)")
        XCTAssertEqual(summary.json.description,
                       #"{"stage":"account events","in":16,"new":0,"duplicates":0,"rejected":2,"contacts_changed":0,"ignored":1,"other_tenant":13,"reject_reasons":{"invalid_time":2}}"#)
        summary["ignored"] = 0
        XCTAssertEqual(summary.line, "account events: 16 in, 0 new, 0 duplicates, 13 other_tenant, 2 rejected (invalid_time 2)")
        summary["other_tenant"] = 0
        XCTAssertEqual(summary.line, "account events: 16 in, 0 new, 0 duplicates, 2 rejected (invalid_time 2)")
    }

    func testEverySetAsideNameInTouchedOrder() {
        var summary = Summary(stage: "validate", headline: ["in", "out"])
        for (i, name) in ["other_shards", "other_shard", "other_tenant", "ignored"].enumerated() { summary[name] = i + 1 }
        summary["in"] = 20
        summary["blank_lines"] = 5
        // No `rejected` in the headline: at the end.
        XCTAssertEqual(summary.line, "validate: 20 in, 0 out, 1 other_shards, 2 other_shard, 3 other_tenant, 4 ignored")
        XCTAssertEqual(Summary.setAside, ["other_shards", "other_shard", "other_tenant", "ignored"])
    }

    func testACountInTheHeadlineIsShownOnce() {
        var summary = Summary(stage: "tag", headline: ["in", "out", "other_shards", "rejected"])
        summary["in"] = 4
        summary["out"] = 1
        summary["other_shards"] = 3
        XCTAssertEqual(summary.line, "tag: 4 in, 1 out, 3 other_shards, 0 rejected")
    }
}
