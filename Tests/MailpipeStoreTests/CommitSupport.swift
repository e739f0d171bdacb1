import AccountStage
import Foundation
import MailpipeCore
import MailpipeStore
import XCTest

extension XCTestCase {
    /// Commits `input` into tenant `t`'s store under `state` (made when it is not there yet), as
    /// `account commit` does; returns the summary.
    func commitContacts(_ input: String, state: String, chunkBytes: Int = 1 << 30, threads: Int) throws -> Summary {
        let slug = try TenantSlug("t")
        let stateRoot = StateRoot(explicit: state)
        if !FileManager.default.fileExists(atPath: stateRoot.tenant(slug).contactsPath) {
            try AccountInit.run(.init(tenant: slug, state: stateRoot))
        }
        let options = AccountCommit.Options(tenant: slug, state: stateRoot, now: Timestamp(seconds: 1_800_000_000),
                                            stream: StreamOptions(stage: "account commit", inputs: [input]),
                                            chunkBytes: chunkBytes, threads: threads)
        let (summary, status) = try AccountCommit.run(options)
        XCTAssertEqual(status, .success)
        return summary
    }
}
