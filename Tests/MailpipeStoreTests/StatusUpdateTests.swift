import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// Status updates by point lookups and by store members (the many-updates path) give the same
/// store and the same counts, over several runs, sticky statuses, forced changes and misses.
final class StatusUpdateTests: FolderTestCase {
    func build(_ dir: String) throws -> ContactStoreWriter {
        let writer = try ContactStoreWriter(directory: dir)
        writer.foldRatio = 0  // several runs: updates must find each contact's newest version
        func run(_ range: Range<Int>, _ status: (Int) -> String) throws {
            let lines = range.map { i in (String(format: "c%05d@x.fr", i), #"{"email":"\#(String(format: "c%05d@x.fr", i))","status":"\#(status(i))","n":\#(i)}"#) }
            try writer.addRun { add in
                for (key, line) in lines.sorted(by: { $0.0 < $1.0 }) {
                    try Array(line.utf8).withUnsafeBytes { l in try Array(key.utf8).withUnsafeBytes { try add(l, $0) } }
                }
            }
            try writer.commit()
        }
        try run(0..<6000) { $0 % 7 == 0 ? "bounced" : "validated" }
        try run(3000..<4500) { $0 % 5 == 0 ? "unsubscribed" : "injected" }
        try run(4000..<4100) { _ in "validated" }
        return writer
    }

    func updates() -> [ContactFieldUpdate] {
        var list: [ContactFieldUpdate] = []
        for i in stride(from: 0, to: 7000, by: 3) {  // past 6000: missing contacts
            let key = Array(String(format: "c%05d@x.fr", i).utf8)
            switch i % 4 {
            case 0: list.append(ContactFieldUpdate(key: key, status: "complained"))
            case 1: list.append(ContactFieldUpdate(key: key, status: "injected", fields: [("last_campaign", .string("k\(i % 3)"))]))
            case 2: list.append(ContactFieldUpdate(key: key, status: "validated", force: true))
            default: list.append(ContactFieldUpdate(key: key, status: nil, fields: [("n", .int(i))]))  // often unchanged
            }
        }
        return list.shuffled()
    }

    func testMemberPathMatchesPointLookups() throws {
        let a = try build(folder + "/a")
        let b = try build(folder + "/b")
        XCTAssertEqual(a.store.runs.count, 3)
        let list = updates()
        let byLookup = try ContactStatusUpdate.apply(list, writer: a, updatedAt: "2026-11-24T00:00:00Z", scanThreshold: Int.max)
        let byMembers = try ContactStatusUpdate.apply(list, writer: b, updatedAt: "2026-11-24T00:00:00Z", scanThreshold: 0)
        XCTAssertEqual(byLookup.changed, byMembers.changed)
        XCTAssertEqual(byLookup.unchanged, byMembers.unchanged)
        XCTAssertEqual(byLookup.missing, byMembers.missing)
        XCTAssertEqual(byMembers.missing, 334)
        XCTAssertGreaterThan(byMembers.changed, 1000)
        XCTAssertGreaterThan(byMembers.unchanged, 100)
        var linesA: [String] = [], linesB: [String] = []
        try ContactStore(directory: folder + "/a").forEach { linesA.append(String(decoding: $0, as: UTF8.self)) }
        try ContactStore(directory: folder + "/b").forEach { linesB.append(String(decoding: $0, as: UTF8.self)) }
        XCTAssertEqual(linesA.count, 6000)
        XCTAssertEqual(linesA, linesB)
        XCTAssertTrue(linesB.contains(#"{"email":"c03996@x.fr","status":"complained","n":3996,"updated_at":"2026-11-24T00:00:00Z"}"#))
    }
}
