import Foundation
import XCTest

/// Runs the built executables in real shell pipes (the shell tests in Tests/Shell go further).
final class ExecutablesTests: XCTestCase {
    var bin: String {
        if let b = ProcessInfo.processInfo.environment["MAILPIPE_BIN"] { return b }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for config in ["release", "debug"] {
            let path = root.appendingPathComponent(".build/\(config)").path
            if FileManager.default.isExecutableFile(atPath: path + "/account") { return path }
        }
        return root.appendingPathComponent(".build/release").path
    }

    /// Runs `script` with sh; returns (status, stdout, stderr).
    func sh(_ script: String, state: String) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = bin + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        env["MAILPIPE_STATE"] = state
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testCommitThenExportThroughPipes() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("mp-e2e-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        XCTAssertEqual(try sh("account init --tenant t1", state: state).0, 0)
        let (status, _, err) = try sh(#"printf '{"email":"b@x.fr"}\n{"email":"a@x.fr","tags":["é"]}\nbad\n' | account commit --tenant t1 --now 2026-11-23T00:00:00Z"#, state: state)
        XCTAssertEqual(status, 0)
        XCTAssertTrue(err.contains("account commit: 3 in, 2 new, 0 updated, 0 unchanged, 1 rejected"), err)
        let (s2, out, _) = try sh("account export --tenant t1 | head -1", state: state)
        XCTAssertEqual(s2, 0)
        XCTAssertEqual(out, #"{"email":"a@x.fr","tags":["é"],"tenant":"t1","created_at":"2026-11-23T00:00:00Z"}"# + "\n")
        XCTAssertEqual(try sh(#"printf 'x\n{"email":"c@x.fr"}\n' | account commit --tenant t1 --strict"#, state: state).0, 3)
        // Nothing usable at all is a failure (exit 1), --strict or not.
        XCTAssertEqual(try sh("printf 'x\\n' | account commit --tenant t1 --strict", state: state).0, 1)
        XCTAssertEqual(try sh("account export --tenant ../t1", state: state).0, 2)
        XCTAssertEqual(try sh("account commit --tenant t1 --bogus-flag", state: state).0, 2)
    }
}
