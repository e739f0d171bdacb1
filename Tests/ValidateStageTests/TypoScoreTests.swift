import MailpipeCore
import ValidateStage
import XCTest

/// Typo suggestions scored on lists kept beside this file: `Data/typos.tsv` (mistyped domains
/// and the provider meant) must be at least 95 % right, and `Data/real-domains.txt` (real
/// domains that look like providers) must get no suggestion at all.
final class TypoScoreTests: XCTestCase {
    let validator = EmailValidator()

    /// The data lines of a file in Data/ (comments and blank lines skipped).
    func lines(_ name: String) throws -> [Substring] {
        let folder = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let text = String(decoding: try FileSystem.readFile("\(folder)/Data/\(name)"), as: UTF8.self)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
    }

    func testMistypingsAreCorrected() throws {
        let cases = try lines("typos.tsv").map { $0.split(separator: "\t").map(String.init) }
        XCTAssertGreaterThanOrEqual(cases.count, 100)
        var wrong: [String] = []
        for c in cases {
            XCTAssertEqual(c.count, 2, "a line of typos.tsv: \(c)")
            let got = validator.assess("someone@" + c[0]).suggestion
            if got != "someone@" + c[1] { wrong.append("\(c[0]) → \(got ?? "nothing") (meant \(c[1]))") }
        }
        let score = Double(cases.count - wrong.count) / Double(cases.count)
        print("typo suggestions: \(cases.count - wrong.count) of \(cases.count) right (\((score * 1000).rounded() / 10) %)")
        for w in wrong { print("  wrong: \(w)") }
        XCTAssertGreaterThanOrEqual(score, 0.95, "typo suggestions right: \(wrong)")
    }

    func testRealLookalikesAreLeftAlone() throws {
        let domains = try lines("real-domains.txt").map(String.init)
        XCTAssertGreaterThanOrEqual(domains.count, 100)
        var fixed: [String] = []
        for d in domains {
            let a = validator.assess("someone@" + d)
            if let s = a.suggestion { fixed.append("\(d) → \(s)") }
            XCTAssertFalse(a.reasons.contains(.syntax), "\(d) is a valid domain")
        }
        print("real look-alikes: \(domains.count - fixed.count) of \(domains.count) left alone")
        XCTAssertEqual(fixed, [], "real domains must never be corrected")
    }
}
