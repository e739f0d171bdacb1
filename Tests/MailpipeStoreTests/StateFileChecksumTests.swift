import AccountStage
import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// ledger.json, contacts/manifest.json and contacts/layout.json carry a checksum: every single
/// bit flip of a real file — including the ones that leave valid JSON, a changed count or log
/// length — is `StateDamage` naming the file and fsck, never a value; a file written before
/// checksums (format 1) is still read, with the same values.
final class StateFileChecksumTests: FolderTestCase {
    /// A tenant with contacts (a manifest naming a run) and events (a ledger with counters, a
    /// vmta, soft bounces and the log lengths).
    private func tenant(shards: Int? = nil) throws -> TenantDirectory {
        let slug = try TenantSlug(shards == nil ? "flat" : "sharded")
        let root: String = folder
        let state = StateRoot(explicit: root)
        try AccountInit.run(.init(tenant: slug, state: state, shards: shards))
        let input = "\(root)/contacts-\(slug).ndjson"
        try (0..<20).map { #"{"email":"c\#($0)@example.org","status":"validated"}"# }.joined(separator: "\n")
            .write(toFile: input, atomically: true, encoding: .utf8)
        _ = try AccountCommit.run(.init(tenant: slug, state: state, now: Timestamp(seconds: 1_800_000_000),
                                        stream: StreamOptions(stage: "account commit", inputs: [input])))
        let dir = state.tenant(slug)
        let books = try Books(dir: dir, now: Timestamp(seconds: 1_800_000_000), warn: { _ in })
        let at = Timestamp(seconds: 1_799_990_000)
        _ = try books.commit([
            BookEvent(id: 1, email: "c1@example.org", type: "sent", campaign: "nov", vmta: "v1", at: at, source: "test"),
            BookEvent(id: 2, email: "c1@example.org", type: "bounced", bounceClass: "hard", campaign: "nov", vmta: "v1", at: at, source: "test"),
            BookEvent(id: 3, email: "c2@example.org", type: "bounced", bounceClass: "soft", campaign: "nov", vmta: "v1", at: at, source: "test"),
        ], now: Timestamp(seconds: 1_800_000_000))
        return dir
    }

    /// Flips every bit of `path` in turn; `read` must throw `StateDamage` naming the file each time.
    private func assertEveryFlipDetected(_ path: String, file: StaticString = #filePath, line: UInt = #line,
                                         _ read: () throws -> Void) throws {
        let original = try FileSystem.readFile(path)
        XCTAssertNoThrow(try read(), "the undamaged \(path) reads", file: file, line: line)
        defer { try? FileSystem.writeAtomically(path, original) }
        var accepted: [String] = []
        for bit in 0..<(original.count * 8) {
            var bytes = original
            bytes[bit / 8] ^= UInt8(1 << (bit % 8))
            try Data(bytes).write(to: URL(fileURLWithPath: path))   // no fsync: thousands of flips
            do {
                try read()
                accepted.append("byte \(bit / 8) bit \(bit % 8)")
            } catch let damage as StateDamage {
                XCTAssertEqual(damage.file, path, file: file, line: line)
                XCTAssertTrue("\(damage)".contains("account fsck"), "\(damage)", file: file, line: line)
            }
        }
        XCTAssertEqual(accepted, [], "flips of \(path) read as values", file: file, line: line)
    }

    func testEveryBitFlipOfTheLedgerAndTheManifestIsDamage() throws {
        let dir = try tenant()
        XCTAssertEqual(try Ledger.load(path: dir.ledgerPath).campaigns["nov"]?["sent"], 1)
        try assertEveryFlipDetected(dir.ledgerPath) { _ = try Ledger.load(path: dir.ledgerPath) }
        try assertEveryFlipDetected("\(dir.contactsPath)/manifest.json") { _ = try ContactStore(directory: dir.contactsPath) }
    }

    func testEveryBitFlipOfTheLayoutIsDamage() throws {
        let dir = try tenant(shards: 3)
        XCTAssertEqual(try StoreLayout.shardCount(contactsPath: dir.contactsPath), 3)
        try assertEveryFlipDetected("\(dir.contactsPath)/layout.json") { _ = try StoreLayout.shardCount(contactsPath: dir.contactsPath) }
        let shard = "\(dir.contactsPath)/\(StoreLayout.shardFolder(1, of: 3))/manifest.json"
        try assertEveryFlipDetected(shard) { _ = try TenantContacts(contactsPath: dir.contactsPath) }
    }

    /// A file of format 1 (no checksum, as written before) reads with the same values; a format-2
    /// file without its checksum is damage.
    func testFilesWithoutAChecksumAreStillRead() throws {
        let dir = try tenant()
        let manifestPath = "\(dir.contactsPath)/manifest.json"
        let ledger = try Ledger.load(path: dir.ledgerPath)
        let store = try ContactStore(directory: dir.contactsPath)
        let readers: [(String, () throws -> Void)] = [
            (dir.ledgerPath, { _ = try Ledger.load(path: dir.ledgerPath) }),
            (manifestPath, { _ = try ContactStore(directory: dir.contactsPath) }),
        ]
        for (path, read) in readers {
            var object = try JSONValue.parse(try FileSystem.readFile(path)).object!
            XCTAssertEqual(object["format"], .int(2), path)
            XCTAssertNotNil(object["checksum"], path)
            object["checksum"] = nil
            try FileSystem.writeAtomically(path, JSONValue.object(object).serialized)
            XCTAssertThrowsError(try read(), "format 2 without a checksum: \(path)") {
                XCTAssertTrue($0 is StateDamage, "\($0)")
            }
            object["format"] = .int(1)
            try FileSystem.writeAtomically(path, JSONValue.object(object).serialized)
        }
        let old = try Ledger.load(path: dir.ledgerPath)
        XCTAssertEqual(old.campaigns, ledger.campaigns)
        XCTAssertEqual(old.softBounces, ledger.softBounces)
        XCTAssertEqual(old.eventsLength, ledger.eventsLength)
        XCTAssertEqual(old.suppressionLength, ledger.suppressionLength)
        XCTAssertEqual(old.vmtas.keys.sorted(), ["v1"])
        XCTAssertEqual(try ContactStore(directory: dir.contactsPath).runs.map(\.name), store.runs.map(\.name))
    }
}
