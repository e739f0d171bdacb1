import Foundation
import MailpipeCore
import XCTest

/// A test case with a fresh temporary folder for each test, removed after it.
class FolderTestCase: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mailpipe-test-\(UUID().uuidString)").path
        try FileSystem.createDirectory(folder)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }
}
