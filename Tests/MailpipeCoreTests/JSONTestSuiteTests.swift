import MailpipeCore
import XCTest

/// Nicolas Seriot's JSONTestSuite (Tests/Data/jsontestsuite, MIT licence): every y_ file accepted,
/// every n_ file refused, i_ files neither crash nor hang; accepted values round-trip.
final class JSONTestSuiteTests: XCTestCase {
    /// Tests/Data/jsontestsuite/test_parsing, found from this file's own place in the repository.
    var suiteFolder: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Data/jsontestsuite/test_parsing").path
    }

    func files(_ prefix: String) throws -> [(String, [UInt8])] {
        let names = try FileManager.default.contentsOfDirectory(atPath: suiteFolder).filter { $0.hasPrefix(prefix) }.sorted()
        return try names.map { ($0, Array(try Data(contentsOf: URL(fileURLWithPath: suiteFolder + "/" + $0)))) }
    }

    func testAcceptsEveryYFileAndRoundTrips() throws {
        let ys = try files("y_")
        XCTAssertGreaterThan(ys.count, 90)
        for (name, bytes) in ys {
            do {
                let value = try JSONValue.parse(bytes, maxDepth: 512)
                let again = try JSONValue.parse(value.serialized, maxDepth: 512)
                XCTAssertEqual(value, again, "round trip changed \(name)")
            } catch {
                XCTFail("refused \(name): \(error)")
            }
        }
    }

    func testRefusesEveryNFile() throws {
        let ns = try files("n_")
        XCTAssertGreaterThan(ns.count, 150)
        for (name, bytes) in ns {
            XCTAssertThrowsError(try JSONValue.parse(bytes, maxDepth: 512), "accepted \(name)")
        }
    }

    /// The lazy member scan (`parse(_:keeping:)`) accepts and refuses every file of the suite as
    /// the full parse does, with the same error.
    func testLazyMemberScanAgreesWithTheFullParse() throws {
        let slots = FieldSlots()
        for key in ["a", "", "language", "tags"] { _ = slots.slot(key) }
        var full = JSONParser(maxDepth: 512)
        var lazy = JSONParser(maxDepth: 512)
        defer { full.deallocate(); lazy.deallocate() }
        var files = 0
        for (name, bytes) in try self.files("y_") + self.files("n_") + self.files("i_") {
            files += 1
            bytes.withUnsafeBytes { raw in
                var expected: JSONParseError?
                var got: JSONParseError?
                do throws(JSONParseError) { _ = try full.parse(raw) } catch { expected = error }
                do throws(JSONParseError) { _ = try lazy.parse(raw, keeping: slots) } catch { got = error }
                XCTAssertEqual(expected, got, name)
            }
        }
        XCTAssertGreaterThan(files, 300)
    }

    func testImplementationDefinedFilesDoNotCrash() throws {
        for (_, bytes) in try files("i_") {
            _ = try? JSONValue.parse(bytes, maxDepth: 512)
        }
    }
}

import Foundation
