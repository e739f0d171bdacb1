import Foundation
import MailpipeCore
import XCTest

final class StreamTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mailpipe-core-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func lines(_ path: String, maxLine: Int = 1 << 20) throws -> [String] {
        var reader = LineReader(input: try InputReader(path: path), maxLine: maxLine)
        defer { reader.deallocate() }
        var result: [String] = []
        while let event = try reader.next() {
            switch event {
            case .line(let bytes, let n): result.append("\(n):" + String(decoding: bytes, as: UTF8.self))
            case .tooLong(let n, let length): result.append("\(n):TOO LONG \(length)")
            }
        }
        return result
    }

    /// The sequential stream's records ("file:line:" and what `describe` says of each) and its
    /// counts (lines, blank lines, records, other shards' records, rejects): what the parallel
    /// stream is held to.
    func sequentialRun(_ options: StreamOptions, rejectsPath: String,
                       describe: (Record) -> String) throws -> (records: [String], counts: [Int]) {
        let rejects = try RejectSink(stage: "t", path: rejectsPath)
        var stream = try RecordStream(options: options, rejects: rejects)
        var records: [String] = []
        while let r = try stream.next() { records.append("\(r.file ?? "-"):\(r.line):\(describe(r))") }
        let counts = [stream.linesIn, stream.blankLines, stream.recordsRead, stream.otherShards, rejects.count]
        stream.close()
        try rejects.finish()
        return (records, counts)
    }

    /// The parallel reader gives what the sequential one gives: the same records in the same
    /// order, the same rejects at the same places, the same counts — across batches and files.
    func testParallelRecordStreamMatchesRecordStream() throws {
        var text = ""
        for i in 0..<3000 {
            switch i % 97 {
            case 5: text += "{\"email\": broken\n"
            case 11: text += "[1,2]\n"
            case 17: text += "   \n"
            case 23: text += "{\"email\":\"" + String(repeating: "y", count: 3000) + "\"}\n"
            case 29: text += "{\"email\":\"\u{FF}\"}\n"
            default: text += "{\"email\":\"c\(i)@example.org\",\"n\":\(i)}\n"
            }
        }
        var bytes = Array(text.utf8)
        if let bad = bytes.firstIndex(of: 0xC3) { bytes[bad + 1] = 0x28 }   // invalid UTF-8 inside a line
        let a = try write("a.ndjson", bytes)
        let b = try write("b.ndjson", Array("{\"email\":\"last@example.org\"}".utf8))
        let shard = try Shard(parsing: "1/2")
        for shardOption in [nil, shard] {
            let options = StreamOptions(stage: "t", inputs: [a, b], maxLine: 2000, shard: shardOption)
            let seqRejects = folder.appendingPathComponent("seq-\(shardOption == nil).rej").path
            let parRejects = folder.appendingPathComponent("par-\(shardOption == nil).rej").path
            let (expected, seqCounts) = try sequentialRun(options, rejectsPath: seqRejects) { $0.string("email") ?? "" }
            var got: [String] = []
            var parCounts: [Int] = []
            do {
                let rejects = try RejectSink(stage: "t", path: parRejects)
                var stream = try ParallelRecordStream<String>(options: options, rejects: rejects, threads: 3, batchLines: 257) { record in
                    record.string("email") ?? ""
                }
                try stream.forEach { line, email in got.append("\(line.file ?? "-"):\(line.line):\(email)") }
                parCounts = [stream.linesIn, stream.blankLines, stream.recordsRead, stream.otherShards, rejects.count]
                stream.close()
                try rejects.finish()
            }
            XCTAssertEqual(got, expected)
            XCTAssertEqual(parCounts, seqCounts)
            XCTAssertGreaterThan(seqCounts[4], 90)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: parRejects)), try Data(contentsOf: URL(fileURLWithPath: seqRejects)))
        }
    }

    /// Lines of every shape across several reader buffers: short and long lines split across
    /// buffer ends, CRLF, blank, not JSON, a record larger than the reader's first buffer, one
    /// over the limit, and a last line without a newline.
    func writeLinesAcrossBuffers() throws -> String {
        var text = ""
        for i in 0..<30_000 {
            switch i {
            case 9_000: text += "{\"email\":\"big@example.org\",\"note\":\"" + String(repeating: "b", count: 5_000_000) + "\"}\n"
            case 17_000: text += "{\"email\":\"" + String(repeating: "z", count: 7_000_000) + "\"}\n"
            default:
                switch i % 97 {
                case 13: text += "\n"
                case 31: text += "{\"email\": broken\r\n"
                case 47: text += "{\"email\":\"crlf\(i)@example.org\"}\r\n"
                default: text += "{\"email\":\"c\(i)@example.org\",\"pad\":\"" + String(repeating: "p", count: i * 37 % 500) + "\"}\n"
                }
            }
        }
        text += "{\"email\":\"last@example.org\"}"
        return try write("across.ndjson", Array(text.utf8))
    }

    /// A reader that holds its lines never moves nor overwrites one handed out while the caller
    /// holds the buffers it moved off: every line read is still intact at the end.
    func testHeldLinesStayIntactAcrossBuffers() throws {
        let path = try writeLinesAcrossBuffers()
        let expected = try lines(path, maxLine: 6_000_000)
        var reader = LineReader(input: try InputReader(path: path), maxLine: 6_000_000, holdsLines: true)
        defer { reader.deallocate() }
        var held: [(Int, UnsafeRawBufferPointer?, Int)] = []
        var blocks: [LineBlock] = []
        while let event = try reader.next() {
            switch event {
            case .line(let bytes, let n): held.append((n, bytes, 0))
            case .tooLong(let n, let length): held.append((n, nil, length))
            }
            blocks += reader.takeRetired()
        }
        XCTAssertGreaterThan(blocks.count, 1, "the input spans several buffers")
        let got = held.map { n, bytes, length in
            bytes.map { "\(n):" + String(decoding: $0, as: UTF8.self) } ?? "\(n):TOO LONG \(length)"
        }
        XCTAssertEqual(got.count, expected.count)
        XCTAssertEqual(got, expected)
        XCTAssertEqual(got.last, "30001:{\"email\":\"last@example.org\"}")
    }

    /// The parallel stream reads its lines where the reader holds them: with 1, 2 or 3 threads
    /// and batches that end anywhere in the reader's buffers, the records (every byte), rejects
    /// and counts are those of the sequential stream.
    func testParallelRecordStreamAcrossReaderBuffersEqualsSequential() throws {
        let path = try writeLinesAcrossBuffers()
        let options = StreamOptions(stage: "t", inputs: [path, path], maxLine: 6_000_000)
        let seqRejects = folder.appendingPathComponent("seq.rej").path
        let (expected, seqCounts) = try sequentialRun(options, rejectsPath: seqRejects) { String(EmailKey.hash($0.document.bytes)) }
        XCTAssertEqual(seqCounts[4], 2 * (1 + 309), "the line over the limit and the broken ones")
        for threads in 1...3 {
            let parRejects = folder.appendingPathComponent("par\(threads).rej").path
            var got: [String] = []
            var parCounts: [Int] = []
            let rejects = try RejectSink(stage: "t", path: parRejects)
            var stream = try ParallelRecordStream<UInt64>(options: options, rejects: rejects, threads: threads, batchLines: 1_000) { record in
                EmailKey.hash(record.document.bytes)
            }
            try stream.forEach { line, parsed in
                // The bytes the caller gets are still those the thread parsed, and the line's.
                let delivered = EmailKey.hash(line.bytes)
                got.append("\(line.file ?? "-"):\(line.line):\(delivered == parsed ? String(delivered) : "changed")")
            }
            parCounts = [stream.linesIn, stream.blankLines, stream.recordsRead, stream.otherShards, rejects.count]
            stream.close()
            try rejects.finish()
            XCTAssertEqual(got, expected, "threads \(threads)")
            XCTAssertEqual(parCounts, seqCounts, "threads \(threads)")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: parRejects)), try Data(contentsOf: URL(fileURLWithPath: seqRejects)), "threads \(threads)")
        }
    }

    func testCRLFAndMissingFinalNewline() throws {
        let path = try write("a.ndjson", Array("a\r\nb\n\nc".utf8))
        XCTAssertEqual(try lines(path), ["1:a", "2:b", "3:", "4:c"])
    }

    func testTooLongLinesAreSkippedNotLoaded() throws {
        let long = String(repeating: "x", count: 10_000_000)
        let path = try write("b.ndjson", Array("short\n\(long)\nafter\n\(long)".utf8))
        XCTAssertEqual(try lines(path, maxLine: 1000), ["1:short", "2:TOO LONG 10000000", "3:after", "4:TOO LONG 10000000"])
    }

    func testMultiMemberGzipReadsLikeZcat() throws {
        var bytes: [UInt8] = []
        let encoder = try GzipEncoder(level: 6)
        for chunk in ["{\"a\":1}\n{\"a\":2}\n", "{\"a\":3}\n", "{\"a\":4}"] {
            try Array(chunk.utf8).withUnsafeBytes { try encoder.compressMember($0, appendingTo: &bytes) }
        }
        let path = try write("c.ndjson.gz", bytes)
        XCTAssertEqual(try lines(path), ["1:{\"a\":1}", "2:{\"a\":2}", "3:{\"a\":3}", "4:{\"a\":4}"])
    }

    /// GzipEncoder (libdeflate) writes members that zlib's GzipDecoder and gzip itself read back
    /// whole, at the levels the store uses (0 for spills, 1 for runs, 6) and the largest, for
    /// empty, tiny and multi-megabyte inputs of text that compresses and bytes that do not.
    func testEncoderMembersInflateAtEveryLevel() throws {
        var seed: UInt64 = 0x9E3779B97F4A7C15
        let noise = (0..<3_000_000).map { _ -> UInt8 in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: seed >> 33)
        }
        let text = Array((0..<40_000).map { "{\"email\":\"user\($0)@example.com\",\"tags\":[\"lang-fr\"]}\n" }.joined().utf8)
        let inputs: [[UInt8]] = [[], Array("x".utf8), text, noise]
        for level: Int32 in [0, 1, 6, 12] {
            let encoder = try GzipEncoder(level: level)
            var bytes: [UInt8] = []
            for input in inputs { try input.withUnsafeBytes { try encoder.compressMember($0, appendingTo: &bytes) } }
            let expected = inputs.reduce([], +)
            // zlib, member after member.
            let decoder = try GzipDecoder()
            var inflated = [UInt8](repeating: 0, count: expected.count + 1)
            var consumed = 0, produced = 0
            try bytes.withUnsafeBytes { input in
                try inflated.withUnsafeMutableBytes { out in
                    while consumed < input.count {
                        let (c, p) = try decoder.inflate(input: UnsafeRawBufferPointer(rebasing: input[consumed...]),
                                                         output: UnsafeMutableRawBufferPointer(rebasing: out[produced...]))
                        consumed += c
                        produced += p
                        if c == 0 && p == 0 { break }
                    }
                }
            }
            XCTAssertEqual(consumed, bytes.count, "level \(level): every byte read")
            XCTAssertEqual(produced, expected.count, "level \(level): every byte written back")
            XCTAssertTrue(decoder.atMemberBoundary, "level \(level): ends on a member's end")
            XCTAssertTrue(Array(inflated.prefix(produced)) == expected, "level \(level): the same bytes")
            // gzip itself (the format's reference reader) says the file is sound.
            let path = try write("level\(level).gz", bytes)
            let gzip = Process()
            gzip.executableURL = URL(fileURLWithPath: "/bin/sh")
            gzip.arguments = ["-c", "gzip -t \"$0\"", path]
            try gzip.run()
            gzip.waitUntilExit()
            XCTAssertEqual(gzip.terminationStatus, 0, "level \(level): gzip -t")
        }
        XCTAssertThrowsError(try GzipEncoder(level: 13))
    }

    func testTruncatedGzipIsAnError() throws {
        var bytes: [UInt8] = []
        let encoder = try GzipEncoder(level: 6)
        try Array(String(repeating: "{\"a\":1}\n", count: 1000).utf8).withUnsafeBytes { try encoder.compressMember($0, appendingTo: &bytes) }
        let path = try write("d.ndjson.gz", Array(bytes.prefix(bytes.count - 10)))
        XCTAssertThrowsError(try lines(path))
    }

    func testRecordPatchReplacesAppendsRemovesAndPassesThrough() throws {
        let text = #"{"email":"a@b.c", "tags":["x"],"n":7.50e1,"drop":1}"#
        var parser = JSONParser()
        defer { parser.deallocate() }
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBytes { raw in
            let record = Record(document: try parser.parse(raw), line: 1, file: nil)
            var out = ByteBuffer()
            RecordPatch().write(record, into: &out)
            XCTAssertEqual(out.bytes, bytes, "an empty patch passes the original bytes")
            var patch = RecordPatch()
            patch.set("tags", .array([.string("x"), .string("émigré")]))
            patch.remove("drop")
            patch.set("status", string: "validated")
            out.removeAll()
            patch.write(record, into: &out)
            XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self),
                           #"{"email":"a@b.c","tags":["x","émigré"],"n":7.50e1,"status":"validated"}"#)
        }
    }

    func testTimestampsParseAndFormat() {
        XCTAssertEqual(Timestamp(parsing: "2026-11-23T19:27:57Z")?.rfc3339, "2026-11-23T19:27:57Z")
        XCTAssertEqual(Timestamp(parsing: "2016-05-29 01:10:51+0200")?.rfc3339, "2016-05-28T23:10:51Z")
        XCTAssertEqual(Timestamp(parsing: "2024-02-29T23:59:59.123+01:00")?.rfc3339, "2024-02-29T22:59:59Z")
        XCTAssertEqual(Timestamp(parsing: "1464477051")?.rfc3339, "2016-05-28T23:10:51Z")
        XCTAssertEqual(Timestamp(parsing: "2026-11-23")?.rfc3339, "2026-11-23T00:00:00Z")
        XCTAssertNil(Timestamp(parsing: "2026-13-01T00:00:00Z"))
        XCTAssertNil(Timestamp(parsing: "yesterday"))
    }

    func testShardHashIsStableFNV1a() throws {
        // FNV-1a 64 of "a@b.c", as any other implementation computes it.
        XCTAssertEqual(EmailKey.hash("a@b.c"), 0x92CC_4914_85C9_0B75)
        XCTAssertEqual(EmailKey.hash(""), 0xCBF2_9CE4_8422_2325)
        XCTAssertEqual(EmailKey.hash("a"), 0xAF63_DC4C_8601_EC8C)
        let shard = try Shard(parsing: "1/4")
        XCTAssertEqual(shard.contains(hash: 5), true)
        XCTAssertThrowsError(try Shard(parsing: "4/4"))
        XCTAssertThrowsError(try Shard(parsing: "x"))
        XCTAssertEqual(EmailKey.normalize("  Ann.Lee@Example.COM "), "ann.lee@example.com")
    }

    /// `normalize` appends the address trimmed of ASCII white space with A–Z lowered and every
    /// other byte as it is, whatever the bytes (UTF-8 or not).
    func testEmailKeyNormalizeLowersOnlyASCIILetters() {
        for b in 0...255 {
            let byte = UInt8(b)
            let input: [UInt8] = [0x20, 0x09, 0x41, byte, 0x5A, byte, 0x0D, 0x0A]
            var out: [UInt8] = [0x21]
            input.withUnsafeBytes { EmailKey.normalize($0, into: &out) }
            let lowered = byte >= 0x41 && byte <= 0x5A ? byte + 32 : byte
            let space = byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
            let expected: [UInt8] = space ? [0x21, 0x61, lowered, 0x7A] : [0x21, 0x61, lowered, 0x7A, lowered]
            XCTAssertEqual(out, expected, "byte \(b)")
        }
        var empty: [UInt8] = []
        [UInt8](" \t ".utf8).withUnsafeBytes { EmailKey.normalize($0, into: &empty) }
        XCTAssertEqual(empty, [])
    }

    func testSummaryLineAndStats() {
        var summary = Summary(stage: "validate")
        summary["in"] = 10
        summary["out"] = 8
        summary["rejected"] = 2
        summary.setGroup("reject_reasons", ["invalid_json": 1, "duplicate": 1])
        XCTAssertEqual(summary.line, "validate: 10 in, 8 out, 2 rejected (duplicate 1, invalid_json 1)")
        XCTAssertEqual(summary.json.description,
                       #"{"stage":"validate","in":10,"out":8,"rejected":2,"reject_reasons":{"duplicate":1,"invalid_json":1}}"#)
    }

    /// Rejects are data: a write that fails (a full disk) is an error at the end of the run,
    /// not rejects silently missing.
    func testRejectsThatCannotBeWrittenAreAnError() throws {
        guard FileManager.default.isWritableFile(atPath: "/dev/full") else {
            print("SKIP: no /dev/full")
            return
        }
        let rejects = try RejectSink(stage: "t", path: "/dev/full")
        rejects.reject(reason: "invalid_json", origin: .init(line: 1), raw: nil)
        XCTAssertThrowsError(try rejects.finish()) { error in
            XCTAssertTrue("\(error)".contains("--rejects /dev/full"), "\(error)")
            XCTAssertEqual(error.exitStatus, .failure)
        }
        // On standard error (shared with diagnostics) nothing is reported as failed.
        let onStderr = try RejectSink(stage: "t")
        XCTAssertNoThrow(try onStderr.finish())
    }

    func testStateFilesAreNeverOpenedThroughALink() throws {
        let target = try write("outside.txt", Array("keep".utf8))
        let link = folder.appendingPathComponent("events.ndjson.gz").path
        XCTAssertEqual(symlink(target, link), 0)
        XCTAssertThrowsError(try FileDescriptor.open(link, .readWrite, options: [.create, .noFollow])) { error in
            XCTAssertEqual(error as? SymbolicLinkRefused, SymbolicLinkRefused(path: link))
            XCTAssertTrue("\(error)".contains("is a symbolic link"))
        }
        XCTAssertThrowsError(try FileLock(path: link)) { XCTAssertTrue($0 is SymbolicLinkRefused) }
        // A dangling link is refused too (O_CREAT would otherwise create its target).
        let dangling = folder.appendingPathComponent("lock").path
        XCTAssertEqual(symlink(folder.appendingPathComponent("nowhere").path, dangling), 0)
        XCTAssertThrowsError(try FileLock(path: dangling)) { XCTAssertTrue($0 is SymbolicLinkRefused) }
        XCTAssertFalse(FileSystem.entryExists(folder.appendingPathComponent("nowhere").path))
        // A linked folder is refused by the folder check; errno comes back as a typed value.
        XCTAssertThrowsError(try FileSystem.requireFolder(link)) { XCTAssertTrue($0 is SymbolicLinkRefused) }
        XCTAssertThrowsError(try FileDescriptor.openForReading(folder.appendingPathComponent("absent").path)) { error in
            XCTAssertEqual((error as? SystemError)?.errno, .noSuchFileOrDirectory)
        }
        XCTAssertEqual(try FileSystem.readFile(target), Array("keep".utf8))
    }
}
