/// Options every NDJSON stage shares (docs/design.md §3).
public struct StreamOptions: Sendable {
    public var stage: String
    public var inputs: [String]
    public var rejectsPath: String?
    public var statsPath: String?
    public var strict: Bool
    public var maxLine: Int
    public var maxDepth: Int
    public var progress: Bool?
    /// `--shard i/n`: records whose email hashes elsewhere are skipped and counted.
    public var shard: Shard?
    /// `--tenant`, for a stage that does not check it itself: `RecordStream` rejects a record
    /// naming another tenant (`tenant_mismatch`).
    public var tenant: String?

    public init(stage: String, inputs: [String] = [], rejectsPath: String? = nil, statsPath: String? = nil,
                strict: Bool = false, maxLine: Int = 1 << 20, maxDepth: Int = 64, progress: Bool? = nil,
                shard: Shard? = nil) {
        self.shard = shard
        self.stage = stage
        self.inputs = inputs
        self.rejectsPath = rejectsPath
        self.statsPath = statsPath
        self.strict = strict
        self.maxLine = maxLine
        self.maxDepth = maxDepth
        self.progress = progress
    }
}

/// Reads records from the inputs in order: lines are split, parsed, and the ones that are not
/// JSON objects go to the rejects with their line number. Blank lines are counted, not rejected.
///
///     var stream = try RecordStream(options: options, rejects: rejects)
///     while let record = try stream.next() { … }
public struct RecordStream {
    public let options: StreamOptions
    public let rejects: RejectSink
    private var inputs: [String]
    private var reader: LineReader?
    private var parser: JSONParser
    public private(set) var linesRead = 0
    public private(set) var blankLines = 0
    public private(set) var recordsRead = 0
    /// Records skipped because they belong to another shard (`StreamOptions.shard`).
    public private(set) var otherShards = 0
    private var keyScratch: [UInt8] = []
    private var emailScratch: [UInt8] = []

    /// Every line that was not blank: records plus the lines rejected here. A stage's "in".
    public var linesIn: Int { linesRead - blankLines }
    public var progress: Progress

    public init(options: StreamOptions, rejects: RejectSink) throws {
        self.options = options
        self.rejects = rejects
        inputs = options.inputs.isEmpty ? ["-"] : options.inputs
        parser = JSONParser(maxDepth: options.maxDepth)
        progress = Progress()
        // Open every file up front so a missing operand fails before any output.
        for path in inputs where path != "-" {
            if !FileSystem.exists(path) { throw StageError.usage("\(path): no such file") }
        }
    }

    /// Frees buffers; the stream is unusable after.
    public func close() {
        reader?.deallocate()
        parser.deallocate()
        progress.finish()
    }

    /// The next valid record, or nil at the end of the last input.
    public mutating func next() throws -> Record? {
        while true {
            if reader == nil {
                guard !inputs.isEmpty else { return nil }
                let path = inputs.removeFirst()
                reader = LineReader(input: try InputReader(path: path), maxLine: options.maxLine)
            }
            guard let event = try reader!.next() else {
                reader!.deallocate()
                reader = nil
                continue
            }
            linesRead += 1
            let file = reader!.inputName
            switch event {
            case .tooLong(let number, let length):
                RecordStream.rejectTooLong(length: length, maxLine: options.maxLine, origin: .init(line: number, file: file), rejects: rejects)
            case .line(let bytes, let number):
                if RecordStream.isBlank(bytes) { blankLines += 1; continue }
                do throws(JSONParseError) {
                    let document = try parser.parse(bytes)
                    guard document.root.kind == .object else {
                        throw JSONParseError(.notAnObject, at: 0)
                    }
                    if let shard = options.shard, !RecordStream.inShard(document.root, shard, email: &emailScratch, key: &keyScratch) {
                        otherShards += 1
                        continue
                    }
                    if let tenant = options.tenant, let named = document.root["tenant"]?.string, named != tenant {
                        rejects.reject(reason: "tenant_mismatch", detail: "record of tenant '\(named)' given to --tenant \(tenant)",
                                       origin: .init(line: number, file: file), record: bytes)
                        continue
                    }
                    recordsRead += 1
                    progress.tick(records: recordsRead)
                    return Record(document: document, line: number, file: file == "-" ? nil : file)
                } catch {
                    RecordStream.rejectUnparsable(bytes, error: error, origin: .init(line: number, file: file), rejects: rejects)
                }
            }
        }
    }

    /// The shard of a record is that of its normalised email; a record without one hashes as "".
    static func inShard(_ root: JSONNode, _ shard: Shard, email: inout [UInt8], key: inout [UInt8]) -> Bool {
        email.removeAll(keepingCapacity: true)
        key.removeAll(keepingCapacity: true)
        if let node = root["email"], node.kind == .string { node.appendDecodedString(to: &email) }
        email.withUnsafeBytes { EmailKey.normalize($0, into: &key) }
        return key.withUnsafeBytes { shard.contains(hash: EmailKey.hash($0)) }
    }

    static func rejectTooLong(length: Int, maxLine: Int, origin: RejectSink.Origin, rejects: RejectSink) {
        rejects.reject(.lineTooLong, "line of \(length) bytes is over --max-line \(maxLine)", origin: origin, raw: nil)
    }

    /// A line the parser refused; one that is not UTF-8 is reported as such, wherever the parser tripped.
    static func rejectUnparsable(_ bytes: UnsafeRawBufferPointer, error: JSONParseError, origin: RejectSink.Origin, rejects: RejectSink) {
        let badText = error.reason != .invalidUTF8 && !JSONParser.isValidUTF8(bytes)
        rejects.reject(badText ? .invalidUTF8 : error.rejectReason, badText ? "invalid UTF-8" : error.description,
                       origin: origin, raw: bytes)
    }

    @inline(__always)
    static func isBlank(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for b in bytes where !(b == 0x20 || b == 0x09) { return false }
        return true
    }
}
