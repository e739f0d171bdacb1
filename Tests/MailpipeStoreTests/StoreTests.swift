import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

final class StoreTests: FolderTestCase {
    func testSlugsRefusePathTricks() {
        for good in ["sos-expat", "ulixai", "a", "t1", String(repeating: "a", count: 63)] {
            XCTAssertNoThrow(try TenantSlug(good), good)
        }
        for bad in ["", "..", "../x", "a/b", "A", "-a", "a_b", "a.b", "é", String(repeating: "a", count: 64), "a\u{0}"] {
            XCTAssertThrowsError(try TenantSlug(bad), bad) { error in
                XCTAssertEqual((error as? StageError)?.exitStatus, .usage)
            }
        }
    }

    func readAll(_ path: String) throws -> String {
        var reader = LineReader(input: try InputReader(path: path, limit: try AppendLog.readableLength(path: path)))
        defer { reader.deallocate() }
        var lines: [String] = []
        while let event = try reader.next() {
            if case .line(let bytes, _) = event { lines.append(String(decoding: bytes, as: UTF8.self)) }
        }
        return lines.joined(separator: "\n")
    }

    func testAppendLogRepairsATornTail() throws {
        let path = folder + "/events.ndjson.gz"
        var warnings: [String] = []
        let log = try AppendLog(path: path) { warnings.append($0) }
        try log.append(Array("{\"n\":1}\n{\"n\":2}\n".utf8))
        try log.append(Array("{\"n\":3}\n".utf8))
        let good = try FileSystem.fileSize(path)
        // A third append torn halfway: bytes of a member without its seal.
        let fd = try FileDescriptor.open(path, .writeOnly, options: .append)
        try fd.writeAll([0x1F, 0x8B, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        fd.close()
        XCTAssertEqual(try AppendLog.readableLength(path: path), good)
        XCTAssertEqual(try readAll(path), "{\"n\":1}\n{\"n\":2}\n{\"n\":3}")
        let reopened = try AppendLog(path: path) { warnings.append($0) }
        XCTAssertEqual(warnings.count, 1)
        XCTAssertEqual(try FileSystem.fileSize(path), good)
        try reopened.append(Array("{\"n\":4}\n".utf8))
        XCTAssertEqual(try readAll(path), "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}")
        // Corrupting a sealed append's bytes makes its seal fail: the log falls back to the one before.
        var bytes = try FileSystem.readFile(path)
        bytes[good + 12] ^= 0xFF
        try FileSystem.writeAtomically(path, bytes)
        XCTAssertEqual(try AppendLog.readableLength(path: path), good)
    }

    func commit(_ writer: ContactStoreWriter, _ lines: [String]) throws {
        var parser = JSONParser()
        defer { parser.deallocate() }
        let sorted = try lines.map { line -> (String, String) in
            let value = try JSONValue.parse(line)
            return (value["email"]!.string!, line)
        }.sorted { $0.0 < $1.0 }
        try writer.addRun { add in
            for (key, line) in sorted {
                try Array(line.utf8).withUnsafeBytes { l in try Array(key.utf8).withUnsafeBytes { try add(l, $0) } }
            }
        }
        try writer.commit()
    }

    func exported(_ store: ContactStore) throws -> [String] {
        var lines: [String] = []
        try store.forEach { lines.append(String(decoding: $0, as: UTF8.self)) }
        return lines
    }

    func testRunsMergeNewestWinsAndFoldKeepsEveryContact() throws {
        let dir = folder + "/contacts"
        let writer = try ContactStoreWriter(directory: dir)
        writer.foldRatio = 0  // keep runs apart to test the merge of several
        try commit(writer, (0..<500).map { #"{"email":"c\#($0)@x.fr","v":1}"# })
        try commit(writer, (250..<750).map { #"{"email":"c\#($0)@x.fr","v":2}"# })
        try commit(writer, [#"{"email":"c0@x.fr","v":3}"#])
        XCTAssertEqual(writer.store.runs.count, 3)
        let lines = try exported(ContactStore(directory: dir))
        XCTAssertEqual(lines.count, 750)
        XCTAssertEqual(lines.first, #"{"email":"c0@x.fr","v":3}"#)
        XCTAssertTrue(lines.contains(#"{"email":"c300@x.fr","v":2}"#))
        XCTAssertTrue(lines.contains(#"{"email":"c100@x.fr","v":1}"#))
        XCTAssertEqual(lines.map { try! JSONValue.parse($0)["email"]!.string! }, lines.map { try! JSONValue.parse($0)["email"]!.string! }.sorted())
        let lookup = try writer.lookup()
        XCTAssertEqual(try Array("c300@x.fr".utf8).withUnsafeBytes { try lookup.find(key: $0) }.map { String(decoding: $0, as: UTF8.self) },
                       #"{"email":"c300@x.fr","v":2}"#)
        XCTAssertNil(try Array("nobody@x.fr".utf8).withUnsafeBytes { try lookup.find(key: $0) })
        try writer.compact(all: true)
        XCTAssertEqual(writer.store.runs.count, 1)
        XCTAssertEqual(try exported(ContactStore(directory: dir)), lines)
        // Only the live run's files remain.
        XCTAssertEqual(try FileSystem.listDirectory(dir).count, 3)
    }

    func merged(_ stored: String, _ incoming: String, updatedAt: String? = "2026-11-24T00:00:00Z") throws -> String {
        var parser1 = JSONParser(), parser2 = JSONParser()
        defer { parser1.deallocate(); parser2.deallocate() }
        let s = Array(stored.utf8), i = Array(incoming.utf8)
        var out = ByteBuffer()
        try s.withUnsafeBytes { sb in
            try i.withUnsafeBytes { ib in
                ContactMerge.merge(stored: try parser1.parse(sb).root, incoming: try parser2.parse(ib).root, updatedAt: updatedAt, into: &out)
            }
        }
        return String(decoding: out.bytes, as: UTF8.self)
    }

    func inserted(_ incoming: String) throws -> String {
        var parser = JSONParser()
        defer { parser.deallocate() }
        var out = ByteBuffer()
        try Array(incoming.utf8).withUnsafeBytes { raw in
            ContactMerge.insert(try parser.parse(raw).root, key: "a@b.fr", tenant: "t", now: Timestamp(seconds: 0), into: &out)
        }
        return String(decoding: out.bytes, as: UTF8.self)
    }

    func testInsertNormalisesTagsKeysAndMarkers() throws {
        XCTAssertEqual(try inserted(#"{"email":"A@B.fr","tags":["x", "y"],"n":1}"#),
                       #"{"email":"a@b.fr","tags":["x","y"],"n":1,"tenant":"t","created_at":"1970-01-01T00:00:00Z"}"#)
        XCTAssertEqual(try inserted(#"{"email":"a@b.fr","tags":["x","y","x",""],"a":1,"a":2,"\u0061":3,"dedupe":"new","tenant":"t","created_at":"2026-01-01T00:00:00Z"}"#),
                       #"{"email":"a@b.fr","tags":["x","y"],"a":1,"tenant":"t","created_at":"2026-01-01T00:00:00Z"}"#)
    }

    func testMergeRules() throws {
        let stored = #"{"email":"a@b.fr","first_name":"Ann","tags":["x","y"],"status":"unsubscribed","created_at":"2026-01-01T00:00:00Z","custom":{"a":1,"b":2},"dedupe":"new"}"#
        let incoming = #"{"email":"A@B.FR","first_name":"","last_name":"Lee","tags":["y","z"],"status":"validated","created_at":"2026-11-01T00:00:00Z","custom":{"b":3,"c":null,"d":4},"dedupe":"existing"}"#
        XCTAssertEqual(try merged(stored, incoming),
                       #"{"email":"a@b.fr","first_name":"Ann","tags":["x","y","z"],"status":"unsubscribed","created_at":"2026-01-01T00:00:00Z","custom":{"a":1,"b":3,"d":4},"last_name":"Lee","updated_at":"2026-11-24T00:00:00Z"}"#)
        // A status that is not sticky is replaced.
        XCTAssertEqual(try merged(#"{"email":"a@b.fr","status":"pending"}"#, #"{"status":"validated"}"#, updatedAt: nil),
                       #"{"email":"a@b.fr","status":"validated"}"#)
        // Nothing new: the merge reproduces the stored bytes (this is how "unchanged" is decided).
        let canonical = #"{"email":"a@b.fr","tags":["x"],"n":12345678901234567890}"#
        XCTAssertEqual(try merged(canonical, #"{"tags":["x"],"n":12345678901234567890,"first_name":null}"#, updatedAt: nil), canonical)
    }
}

#if canImport(Glibc)
import Glibc
#endif
