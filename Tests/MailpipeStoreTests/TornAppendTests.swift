import AccountStage
import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

/// Issue 14, items 3 and 4, at every byte offset of the last append (the shell tests cut at a
/// few): a suppression list cut anywhere in its last append is rebuilt from the event log by the
/// next writer — no address lost; an event log cut anywhere in its last append keeps the list
/// (entries of the lost events stay), recounts the ledger from the events that remain, and a
/// re-import of the lost events counts them once.
final class TornAppendTests: FolderTestCase {
    private let now = Timestamp(seconds: 1_800_000_000)
    private let at = Timestamp(seconds: 1_799_990_000)

    private func bounces(_ range: Range<Int>) -> [BookEvent] {
        range.map { BookEvent(id: UInt64(1000 + $0), email: "c\($0)@example.org", type: "bounced", bounceClass: "hard",
                              campaign: "nov", vmta: "v1", at: at, source: "test") }
    }

    private func hardBounces(_ dir: TenantDirectory) throws -> Int? {
        try Ledger.load(path: dir.ledgerPath).campaigns["nov"]?["bounced_hard"]
    }

    /// A tenant with 40 contacts and two imports of 20 hard bounces each; returns its folder and
    /// the lengths of the event log and the list after the first import (the last append's start).
    private func tenant() throws -> (TenantDirectory, events: Int, list: Int) {
        let slug = try TenantSlug("torn")
        let state = StateRoot(explicit: folder)
        try AccountInit.run(.init(tenant: slug, state: state, shards: nil))
        let input = "\(folder!)/contacts.ndjson"
        try (0..<40).map { #"{"email":"c\#($0)@example.org","status":"validated"}"# }.joined(separator: "\n")
            .write(toFile: input, atomically: true, encoding: .utf8)
        _ = try AccountCommit.run(.init(tenant: slug, state: state, now: now,
                                        stream: StreamOptions(stage: "account commit", inputs: [input])))
        let dir = state.tenant(slug)
        _ = try Books(dir: dir, now: now, warn: { _ in }).commit(bounces(0..<20), now: now)
        let events = try FileSystem.fileSize(dir.eventsPath), list = try FileSystem.fileSize(dir.suppressionPath)
        _ = try Books(dir: dir, now: now, warn: { _ in }).commit(bounces(20..<40), now: now)
        XCTAssertEqual(try hardBounces(dir), 40)
        return (dir, events, list)
    }

    private func restore(_ saved: String, to dir: TenantDirectory) throws {
        try FileManager.default.removeItem(atPath: dir.path)
        try FileManager.default.copyItem(atPath: saved, toPath: dir.path)
    }

    private func truncate(_ path: String, to length: Int) throws {
        let fd = try FileDescriptor.open(path, .writeOnly)
        defer { fd.close() }
        try fd.truncate(to: length)
    }

    func testAListCutAtEveryOffsetOfItsLastAppendLosesNoAddress() throws {
        let (dir, _, listStart) = try tenant()
        let saved = "\(folder!)/saved"
        try FileManager.default.copyItem(atPath: dir.path, toPath: saved)
        let full = try FileSystem.fileSize(dir.suppressionPath)
        XCTAssertGreaterThan(full, listStart)
        for cut in listStart..<full {
            try restore(saved, to: dir)
            try truncate(dir.suppressionPath, to: cut)
            let books = try Books(dir: dir, now: now, warn: { _ in })
            let missing = (0..<40).filter { !books.isSuppressed("c\($0)@example.org") }
            XCTAssertEqual(missing, [], "list cut to \(cut) of \(full) bytes")
            XCTAssertEqual(books.ledger.campaigns["nov"]?["bounced_hard"], 40, "list cut to \(cut): the counts stay")
        }
    }

    func testAnEventLogCutAtEveryOffsetOfItsLastAppendKeepsTheListAndCountsOnce() throws {
        let (dir, eventsStart, _) = try tenant()
        let saved = "\(folder!)/saved"
        try FileManager.default.copyItem(atPath: dir.path, toPath: saved)
        let full = try FileSystem.fileSize(dir.eventsPath)
        XCTAssertGreaterThan(full, eventsStart)
        for cut in eventsStart..<full {
            try restore(saved, to: dir)
            try truncate(dir.eventsPath, to: cut)
            do {
                let books = try Books(dir: dir, now: now, warn: { _ in })
                let missing = (0..<40).filter { !books.isSuppressed("c\($0)@example.org") }
                XCTAssertEqual(missing, [], "events cut to \(cut) of \(full) bytes: the list is loaded")
                XCTAssertEqual(books.ledger.campaigns["nov"]?["bounced_hard"], 20, "events cut to \(cut): recounted from what remains")
            }
            _ = try Books(dir: dir, now: now, warn: { _ in }).commit(bounces(20..<40), now: now)
            XCTAssertEqual(try hardBounces(dir), 40, "events cut to \(cut): the re-import counts the lost events once")
        }
    }
}
