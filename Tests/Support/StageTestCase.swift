#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import XCTest

/// A test case for a stage run in-process: a temporary folder of its own (removed afterwards),
/// files written into it, and the stage's output read back as lines.
open class StageTestCase: XCTestCase {
    public var dir = ""

    open override func setUp() {
        super.setUp()
        var template = Array("/tmp/mailpipe-stage-test-XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    open override func tearDown() {
        _ = system("rm -rf '\(dir)'")
        super.tearDown()
    }

    /// Writes `text` to `name` in the folder and returns its path.
    public func write(_ name: String, _ text: String) -> String {
        let path = "\(dir)/\(name)"
        try! FileSystem.writeAtomically(path, Array(text.utf8), mode: 0o644)
        return path
    }

    /// Runs a stage with its output going to a file of the folder; the output's lines and the
    /// summary the stage returned.
    public func runStage(_ stage: (inout OutputSink) throws -> Summary) throws -> (lines: [String], summary: Summary) {
        let outPath = "\(dir)/out.ndjson"
        let fd = try FileDescriptor.open(outPath, .writeOnly, options: [.create, .truncate], permissions: 0o644)
        var sink = OutputSink(descriptor: fd)
        let summary: Summary
        do { summary = try stage(&sink) } catch { fd.close(); throw error }
        fd.close()
        let text = String(decoding: try FileSystem.readFile(outPath), as: UTF8.self)
        return (text.split(separator: "\n").map(String.init), summary)
    }

    /// A stage's run: its output's lines, its rejects file's lines and its summary.
    public struct Run {
        public var lines: [String]
        public var rejects: [String]
        public var summary: JSONValue
    }

    /// `runStage` for a stage told to write its rejects to `rejectsPath`: the rejects' lines too.
    public func runStage(rejectsPath: String, _ stage: (inout OutputSink) throws -> Summary) throws -> Run {
        let (lines, summary) = try runStage(stage)
        let rejects = String(decoding: try FileSystem.readFile(rejectsPath), as: UTF8.self).split(separator: "\n").map(String.init)
        return Run(lines: lines, rejects: rejects, summary: summary.json)
    }
}
