import Dispatch

/// Reads records like `RecordStream`, but parses them on several threads: lines are gathered in
/// batches (up to `batchLines`, or fewer when the input has nothing more buffered, so a trickling
/// pipe is never held back), each thread parses a contiguous share of a batch and runs `extract`
/// on its records, and the caller's thread then gets every record's bytes with what `extract`
/// made of it — in input order, with the rejects for bad lines written at their place in it.
///
/// `extract` runs concurrently on several threads: it must only read shared state.
///
///     var stream = try ParallelRecordStream(options: o, rejects: r, threads: 2) { record in
///         record["email"]?.string
///     }
///     try stream.forEach { line, email in … }
public struct ParallelRecordStream<Item> {
    /// One valid record as the caller's thread sees it.
    public struct Line {
        /// The record's original bytes (valid during the call).
        public let bytes: UnsafeRawBufferPointer
        public let line: Int
        public let file: String?
        /// Which input the record came from (0 for the first operand), cheaper to compare than `file`.
        public let input: Int
        public var origin: RejectSink.Origin { RejectSink.Origin(line: line, file: file) }
    }

    private enum Kind: UInt8 { case record, tooLong, invalid, otherShard }

    private struct Entry {
        var start: Int
        var end: Int
        var line: Int
        var file: Int
        var kind: Kind
        var error: JSONParseError?
    }

    public let options: StreamOptions
    public let rejects: RejectSink
    public let threads: Int
    public let batchLines: Int
    private let extract: (Record) -> Item
    private var inputs: [String]
    private var files: [String?] = []
    private var parsers: [JSONParser]
    private var bytes: [UInt8] = []
    private var entries: [Entry] = []
    private var items: [Item?]
    public private(set) var linesRead = 0
    public private(set) var blankLines = 0
    public private(set) var recordsRead = 0
    /// Records skipped because they belong to another shard (`StreamOptions.shard`).
    public private(set) var otherShards = 0
    /// Every line that was not blank: records plus the lines rejected here. A stage's "in".
    public var linesIn: Int { linesRead - blankLines }
    public var progress: Progress

    public init(options: StreamOptions, rejects: RejectSink, threads: Int, batchLines: Int = 4096,
                extract: @escaping (Record) -> Item) throws {
        self.options = options
        self.rejects = rejects
        self.threads = max(1, threads)
        self.batchLines = max(1, batchLines)
        self.extract = extract
        inputs = options.inputs.isEmpty ? ["-"] : options.inputs
        parsers = (0..<max(1, threads)).map { _ in JSONParser(maxDepth: options.maxDepth) }
        items = [Item?](repeating: nil, count: max(1, batchLines))
        progress = Progress(stage: options.stage, enabled: options.progress)
        for path in inputs where path != "-" {
            if !FileSystem.exists(path) { throw StageError.usage("\(path): no such file") }
        }
    }

    /// Frees buffers; the stream is unusable after.
    public func close() {
        for p in parsers { p.deallocate() }
        progress.finish()
    }

    /// Every valid record of every input, in order, with what `extract` made of it.
    public mutating func forEach(_ body: (Line, Item) throws -> Void) throws {
        for path in inputs {
            var reader = LineReader(input: try InputReader(path: path), maxLine: options.maxLine)
            defer { reader.deallocate() }
            files.append(path == "-" ? nil : path)
            let file = files.count - 1
            var more = true
            while more {
                // Gather what is buffered (a batch at most), then hand it out.
                bytes.removeAll(keepingCapacity: true)
                entries.removeAll(keepingCapacity: true)
                repeat {
                    guard let event = try reader.next() else { more = false; break }
                    linesRead += 1
                    switch event {
                    case .tooLong(let number, let length):
                        entries.append(Entry(start: 0, end: length, line: number, file: file, kind: .tooLong))
                    case .line(let line, let number):
                        if RecordStream.isBlank(line) { blankLines += 1; continue }
                        let start = bytes.count
                        bytes.append(contentsOf: line)
                        entries.append(Entry(start: start, end: bytes.count, line: number, file: file, kind: .record))
                    }
                } while entries.count < batchLines && reader.hasBufferedLine()
                guard !entries.isEmpty else { continue }
                parseBatch()
                try deliver(body)
            }
        }
    }

    private mutating func parseBatch() {
        let count = entries.count
        let n = count < 64 ? 1 : min(threads, count / 32)
        let shard = options.shard
        let extract = self.extract
        bytes.withUnsafeBytes { all in
            entries.withUnsafeMutableBufferPointer { entryBuffer in
                items.withUnsafeMutableBufferPointer { itemBuffer in
                    parsers.withUnsafeMutableBufferPointer { parserBuffer in
                        // Each thread writes only its own share of the entries and items.
                        let es = entryBuffer, its = itemBuffer, ps = parserBuffer
                        let work = { (w: Int) in
                            var email: [UInt8] = []
                            var key: [UInt8] = []
                            for i in (count * w / n)..<(count * (w + 1) / n) where es[i].kind == .record {
                                let line = UnsafeRawBufferPointer(rebasing: all[es[i].start..<es[i].end])
                                do throws(JSONParseError) {
                                    let document = try ps[w].parse(line)
                                    guard document.root.kind == .object else { throw JSONParseError(.notAnObject, at: 0) }
                                    if let shard, !RecordStream.inShard(document.root, shard, email: &email, key: &key) {
                                        es[i].kind = .otherShard
                                        continue
                                    }
                                    its[i] = extract(Record(document: document, line: es[i].line, file: nil))
                                } catch {
                                    es[i].kind = .invalid
                                    es[i].error = error
                                }
                            }
                        }
                        if n == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: n, execute: work) }
                    }
                }
            }
        }
    }

    private mutating func deliver(_ body: (Line, Item) throws -> Void) throws {
        try bytes.withUnsafeBytes { all in
            for i in entries.indices {
                let e = entries[i]
                let file = files[e.file]
                switch e.kind {
                case .record:
                    recordsRead += 1
                    progress.tick(records: recordsRead)
                    let item = items[i].take()!
                    try body(Line(bytes: UnsafeRawBufferPointer(rebasing: all[e.start..<e.end]), line: e.line, file: file, input: e.file), item)
                case .otherShard:
                    otherShards += 1
                case .tooLong:
                    RecordStream.rejectTooLong(length: e.end, maxLine: options.maxLine, origin: .init(line: e.line, file: file), rejects: rejects)
                case .invalid:
                    let bytes = UnsafeRawBufferPointer(rebasing: all[e.start..<e.end])
                    RecordStream.rejectUnparsable(bytes, error: e.error!, origin: .init(line: e.line, file: file), rejects: rejects)
                }
            }
        }
    }
}
