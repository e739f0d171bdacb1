#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// One sorted run of the contact store: `run-NNNNNN.ndjson.gz` (contacts sorted by email, as gzip
/// members of about 32 KiB each) and `run-NNNNNN.idx` (where each member starts, and every
/// contact's email hash → member and offset, so a lookup inflates one small member).
public struct RunInfo: Equatable, Sendable {
    public var name: String
    public var records: Int
    public var bytes: Int

    public var dataFile: String { "\(name).ndjson.gz" }
    public var indexFile: String { "\(name).idx" }

    /// The number of a run name (`run-000042` → 42), or nil when `name` is not one.
    static func number(of name: String) -> Int? {
        guard name.hasPrefix("run-"), name.utf8.count > 4, name.utf8.dropFirst(4).allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(name.dropFirst(4))
    }

    /// The run a file of the store belongs to (`run-000042.idx` → `run-000042`), or nil.
    static func runName(ofFile file: String) -> String? {
        for suffix in [".ndjson.gz", ".idx"] where file.hasSuffix(suffix) {
            let name = String(file.dropLast(suffix.count))
            return number(of: name) != nil ? name : nil
        }
        return nil
    }
}

/// Writes one run from lines given in email order; members are compressed on all cores, beside
/// the caller.
final class RunWriter {
    static let blockSize = 32 << 10
    static let batchBlocks = 32

    let directory: String
    let info: RunInfo
    private let descriptor: FileDescriptor
    private var block: [UInt8] = []
    private var pending: [[UInt8]] = []
    /// Touched only by the thread that writes batches (see `compressAndWrite`).
    private var blockOffsets: [UInt64] = [0]
    private var index = RunIndexBuilder()
    private var written = 0
    private var records = 0
    /// Blocks closed so far: the number of the block being filled.
    private var closedBlocks = 0
    private var inFlight: SideThread?
    private var inFlightError: Error?
    private let encoders: [GzipEncoder]

    init(directory: String, name: String, level: Int32 = 1) throws {
        self.directory = directory
        info = RunInfo(name: name, records: 0, bytes: 0)
        descriptor = try FileDescriptor.open("\(directory)/\(name).ndjson.gz", .writeOnly, options: [.create, .truncate, .noFollow])
        let workers = Cores.workers
        encoders = try (0..<workers).map { _ in try GzipEncoder(level: level) }
        block.reserveCapacity(RunWriter.blockSize + 4096)
    }

    /// Adds one contact line; `key` is its normalised email.
    func add(line: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) throws {
        index.add(key: key, block: closedBlocks, offset: block.count)
        try append(line)
    }

    /// Adds one contact line whose index key is computed already.
    func add(line: UnsafeRawBufferPointer, indexKey: RunIndexKey) throws {
        index.add(indexKey, block: closedBlocks, offset: block.count)
        try append(line)
    }

    private func append(_ line: UnsafeRawBufferPointer) throws {
        block.append(contentsOf: line)
        block.append(0x0A)
        records += 1
        if block.count >= RunWriter.blockSize { try closeBlock() }
    }

    private func closeBlock() throws {
        guard !block.isEmpty else { return }
        pending.append(block)
        closedBlocks += 1
        block.removeAll(keepingCapacity: true)
        if pending.count >= RunWriter.batchBlocks { try flushPending() }
    }

    /// Hands the pending blocks to a side thread, which compresses them on every core and writes
    /// them in order, while the caller fills the next batch (on 2 cores the merge and the
    /// compression then overlap instead of taking turns). One batch is in flight at a time.
    private func flushPending() throws {
        try awaitBatch()
        guard !pending.isEmpty else { return }
        let blocks = pending
        pending = []
        inFlight = try SideThread { [self] in
            do { try compressAndWrite(blocks) } catch { inFlightError = error }
        }
    }

    /// Waits for the batch in flight; throws its error.
    private func awaitBatch() throws {
        inFlight?.wait()
        inFlight = nil
        if let error = inFlightError {
            inFlightError = nil
            throw naming(error)
        }
    }

    /// A failed write names the run file (a full disk says where).
    private func naming(_ error: Error) -> Error {
        guard let e = error as? SystemError, e.path == nil else { return error }
        return SystemError(e.operation, path: "\(directory)/\(info.dataFile)", errno: e.errno)
    }

    /// Runs on the side thread: only it touches `written`, `blockOffsets` and the file until
    /// `awaitBatch()` joins it.
    private func compressAndWrite(_ blocks: [[UInt8]]) throws {
        let count = blocks.count
        let outputs = UnsafeMutableBufferPointer<[UInt8]>.allocate(capacity: count)
        outputs.initialize(repeating: [])
        defer { outputs.deinitialize(); outputs.deallocate() }
        let failures = UnsafeMutableBufferPointer<Bool>.allocate(capacity: encoders.count)
        failures.initialize(repeating: false)
        defer { failures.deallocate() }
        let encoders = self.encoders
        try WorkCrew.perform(workers: encoders.count) { worker in
            var i = worker
            while i < count {
                do {
                    var out: [UInt8] = []
                    try blocks[i].withUnsafeBytes { try encoders[worker].compressMember($0, appendingTo: &out) }
                    outputs[i] = out
                } catch {
                    failures[worker] = true
                }
                i += encoders.count
            }
        }
        if failures.contains(true) { throw StageError.runtime("compression failed writing \(info.dataFile)") }
        var batch: [UInt8] = []
        batch.reserveCapacity(outputs.reduce(0) { $0 + $1.count })
        for out in outputs {
            batch.append(contentsOf: out)
            written += out.count
            blockOffsets.append(UInt64(written))
        }
        try descriptor.writeAll(batch)
    }

    /// Flushes, fsyncs, writes the index; the run is complete but not yet part of the store.
    /// On failure its files are removed (on a full disk they would hold the space).
    func finish() throws -> RunInfo {
        do {
            try closeBlock()
            try flushPending()
            try awaitBatch()
            do { try descriptor.sync() } catch { throw naming(error) }
            descriptor.close()
            closed = true
            try index.finish(blockOffsets: blockOffsets).write(path: "\(directory)/\(info.indexFile)")
            return RunInfo(name: info.name, records: records, bytes: written)
        } catch {
            abandon()
            throw error
        }
    }

    private var closed = false

    /// Gives the run up: waits for the batch in flight and removes the run's files.
    func abandon() {
        try? awaitBatch()
        if !closed { descriptor.close(); closed = true }
        try? FileSystem.remove("\(directory)/\(info.dataFile)")
        try? FileSystem.remove("\(directory)/\(info.indexFile)")
    }
}

/// Random access to a run's contacts: inflate the one member that holds an address.
final class RunLookup {
    let info: RunInfo
    /// The run file's path (named in errors).
    let path: String
    let index: RunIndex
    private let descriptor: FileDescriptor
    private var cachedBlock = -1
    private var inflated: [UInt8] = []
    private var compressed: [UInt8] = []

    /// `index`: the run's index, checked (`ContactStore.fullIndex`).
    init(directory: String, info: RunInfo, index: RunIndex) throws {
        self.info = info
        self.index = index
        path = "\(directory)/\(info.dataFile)"
        descriptor = try FileDescriptor.openForReading(path, options: .noFollow)
    }

    deinit { descriptor.close() }

    /// The stored line for `key` (normalised email), or nil.
    func find(key: UnsafeRawBufferPointer, hash: UInt64, parser: inout JSONParser) throws -> [UInt8]? {
        for e in index.entries(for: hash) {
            let location = index.locations[e]
            let block = Int(location >> 32)
            let offset = Int(location & 0xFFFF_FFFF)
            try loadBlock(block)
            guard offset < inflated.count else {
                throw StateDamage(file: path, problem: "member \(block) is shorter than its index says", repair: .restore)
            }
            let line: [UInt8] = inflated.withUnsafeBytes { raw in
                let start = raw.baseAddress! + offset
                let end = memchr(start, 0x0A, raw.count - offset).map { raw.baseAddress!.distance(to: UnsafeRawPointer($0)) } ?? raw.count
                return Array(UnsafeRawBufferPointer(start: start, count: end - offset))
            }
            if try StoredContact.key(of: line, parser: &parser) == Array(key) { return line }
        }
        return nil
    }

    private func loadBlock(_ block: Int) throws {
        if block == cachedBlock { return }
        try RunLookup.readMember(block, of: index, from: descriptor, name: path, compressed: &compressed, into: &inflated)
        cachedBlock = block
    }

    /// Member `block` of a run, inflated into `out` (replacing its contents); `compressed` is
    /// scratch space kept by the caller.
    static func readMember(_ block: Int, of index: RunIndex, from descriptor: FileDescriptor, name: String,
                           compressed: inout [UInt8], into out: inout [UInt8]) throws {
        let start = Int(index.blockOffsets[block])
        let end = Int(index.blockOffsets[block + 1])
        compressed = [UInt8](repeating: 0, count: end - start)
        let got = try compressed.withUnsafeMutableBytes { try descriptor.readFully(into: $0.baseAddress!, count: $0.count, at: start) }
        guard got == end - start else { throw StateDamage(file: name, problem: "shorter than its index says", repair: .restore) }
        out.removeAll(keepingCapacity: true)
        do { try RunLookup.inflateMember(compressed, into: &out) } catch {
            throw StateDamage(file: name, problem: "member \(block) is unreadable: \(error)", repair: .restore)
        }
    }

    static func inflateMember(_ member: [UInt8], into out: inout [UInt8]) throws {
        let decoder = try GzipDecoder()
        var chunk = [UInt8](repeating: 0, count: 1 << 17)
        try member.withUnsafeBytes { input in
            var consumed = 0
            while true {
                let (used, made) = try chunk.withUnsafeMutableBytes {
                    try decoder.inflate(input: UnsafeRawBufferPointer(rebasing: input[consumed...]), output: $0)
                }
                consumed += used
                out.append(contentsOf: chunk[0..<made])
                if made == 0 && (consumed == input.count || used == 0) { break }
            }
        }
    }
}

/// Reads a run front to back, line by line, with each line's key.
final class RunScanner {
    let info: RunInfo
    private var reader: LineReader
    var key: [UInt8] = []
    var line: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    private(set) var done = false
    private var parser = JSONParser(maxDepth: 64)
    private let path: String

    init(directory: String, info: RunInfo) throws {
        self.info = info
        path = "\(directory)/\(info.dataFile)"
        reader = LineReader(input: try InputReader(path: path, options: .noFollow), maxLine: 64 << 20)
    }

    deinit {
        reader.deallocate()
        parser.deallocate()
    }

    /// Moves to the next line; sets `done` at the end. A run that cannot be read to its end is
    /// `StateDamage` naming the file (its contacts must not silently go missing).
    func advance(needKey: Bool = true) throws {
        do {
            while true {
                guard let event = try reader.next() else { done = true; return }
                guard case .line(let bytes, let number) = event, !bytes.isEmpty else { continue }
                line = bytes
                if needKey {
                    key.removeAll(keepingCapacity: true)
                    do { try StoredContact.key(of: bytes, parser: &parser, into: &key) } catch {
                        throw StateDamage(file: path, problem: "line \(number): \(error)", repair: .restore)
                    }
                }
                return
            }
        } catch let error as ZlibError {
            throw StateDamage(file: path, problem: "unreadable gzip data: \(error)", repair: .restore)
        }
    }
}

/// Reading the key of a stored contact line.
enum StoredContact {
    static func key(of line: [UInt8], parser: inout JSONParser) throws -> [UInt8] {
        var key: [UInt8] = []
        try line.withUnsafeBytes { try StoredContact.key(of: $0, parser: &parser, into: &key) }
        return key
    }

    static func key(of line: UnsafeRawBufferPointer, parser: inout JSONParser, into key: inout [UInt8]) throws {
        if let r = StoredContactFastKey.email(line) {
            EmailKey.normalize(UnsafeRawBufferPointer(rebasing: line[r]), into: &key)
            return
        }
        let document: JSONDocument
        do { document = try parser.parse(line) } catch {
            throw StageError.runtime("contact store holds a line that is not JSON: \(error)")
        }
        guard let email = document.root["email"], email.kind == .string else {
            throw StageError.runtime("contact store holds a record without an email")
        }
        var decoded: [UInt8] = []
        email.appendDecodedString(to: &decoded)
        decoded.withUnsafeBytes { EmailKey.normalize($0, into: &key) }
    }
}
