import MailpipeCore
import SegmentStage
import XCTest

/// `segment --split`: a variant per contact, the same on every run, in proportion to the weights.
final class VariantSplitTests: XCTestCase {
    func contacts(_ n: Int) -> [String] {
        (0..<n).map { #"{"tenant":"t1","email":"person\#($0)@example\#($0 % 7).com","tags":["a"]}"# }
    }

    func options(_ input: String, split: String, campaign: String) throws -> SegmentStage.Options {
        var o = SegmentStage.Options(source: .stdin, stream: StreamOptions(stage: "segment", inputs: [input]), criteria: [SegmentCriteria()])
        o.split = try VariantSplit(parsing: split, campaign: campaign)
        return o
    }

    func variants(_ lines: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for line in lines {
            let v = try! JSONValue.parse(line)
            out[v["email"]!.string!] = v["variant"]!.string!
        }
        return out
    }

    func testSharesFollowTheWeights() throws {
        let h = Harness()
        let input = h.write("in.ndjson", contacts(4000))
        for (split, shares) in [("a=50,b=50", ["a": 0.5, "b": 0.5]), ("a=90,b=10", ["a": 0.9, "b": 0.1]),
                                ("x=1,y=1,z=2", ["x": 0.25, "y": 0.25, "z": 0.5]), ("a=0,b=3", ["b": 1.0])] {
            let run = try h.run(options(input, split: split, campaign: "nov"))
            let got = variants(run.lines)
            XCTAssertEqual(got.count, 4000, split)
            var counts: [String: Int] = [:]
            for v in got.values { counts[v, default: 0] += 1 }
            XCTAssertEqual(Set(counts.keys), Set(shares.keys), split)
            for (name, share) in shares {
                // 4000 draws: two standard deviations of a 50 % share are 1.6 points.
                XCTAssertEqual(Double(counts[name] ?? 0) / 4000, share, accuracy: 0.03, "\(split): \(name)")
            }
            // The summary counts the same.
            let group = run.result.summary.groups.first { $0.name == "variants" }?.counts ?? []
            for (name, n) in group where shares[name] != nil { XCTAssertEqual(n, counts[name] ?? 0, "\(split): summary \(name)") }
        }
    }

    func testTheSameContactGetsTheSameVariantWhateverTheRun() throws {
        let h = Harness()
        let people = contacts(600)
        let input = h.write("in.ndjson", people)
        let reversed = h.write("rev.ndjson", people.reversed())
        let first = variants(try h.run(options(input, split: "a=50,b=50", campaign: "nov")).lines)
        XCTAssertEqual(variants(try h.run(options(reversed, split: "a=50,b=50", campaign: "nov")).lines), first)
        // A sample keeps each contact's variant.
        var sampled = try options(input, split: "a=50,b=50", campaign: "nov")
        sampled.sample = 50
        let sample = variants(try h.run(sampled).lines)
        XCTAssertEqual(sample.count, 50)
        for (email, v) in sample { XCTAssertEqual(first[email], v, email) }
        // The library's answer for one address, in any case, is the record's.
        let split = try VariantSplit(parsing: "a=50,b=50", campaign: "nov")
        for (email, v) in first.prefix(20) {
            XCTAssertEqual(split.variant(email: email), v)
            XCTAssertEqual(split.variant(email: email.uppercased()), v)
        }
        // Another campaign draws again: about half the contacts change variant.
        let other = variants(try h.run(options(input, split: "a=50,b=50", campaign: "dec")).lines)
        let same = first.filter { other[$0.key] == $0.value }.count
        XCTAssertGreaterThan(same, 600 * 35 / 100)
        XCTAssertLessThan(same, 600 * 65 / 100)
    }

    func testCountGivesOneLinePerVariant() throws {
        let h = Harness()
        let input = h.write("in.ndjson", contacts(300))
        let listed = variants(try h.run(options(input, split: "a=30,b=70", campaign: "nov")).lines)
        var o = try options(input, split: "a=30,b=70", campaign: "nov")
        o.mode = .count
        let lines = try h.run(o).lines
        XCTAssertEqual(lines.count, 2)
        let a = listed.values.filter { $0 == "a" }.count
        XCTAssertEqual(lines, [#"{"variant":"a","count":\#(a)}"#, #"{"variant":"b","count":\#(300 - a)}"#])
    }

    func testBadSplitsAreUsageErrors() {
        for bad in ["a=50", "a=50,a=50", "a=50,B=50", "a=-1,b=2", "a=0,b=0", "a,b", "a=x,b=1", "=1,b=1", "a=1,b=1,"] {
            XCTAssertThrowsError(try VariantSplit(parsing: bad, campaign: "nov"), bad)
        }
        XCTAssertThrowsError(try VariantSplit(parsing: "a=1,b=1", campaign: ""))
        XCTAssertNoThrow(try VariantSplit(parsing: " a = 1 , b_2-x = 3 ", campaign: "nov"))
    }
}
