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

/// Writes one run from lines given in email order, as gzip members of a block of lines each.
///
/// Lines come one at a time (`add(line:key:)`: a fold, a status update), gathered into blocks a
/// side thread compresses on every core while the caller goes on; or a batch at a time with
/// their index keys (`add(lines:indexKeys:)`: a commit), whose blocks are gathered and compressed
/// on every core at once, so no thread copies every line alone. Either way a block closes after
/// the line that brings it to `blockSize` bytes or more: the files are the same byte for byte.
final class RunWriter {
    static let blockSize = 32 << 10
    static let batchBlocks = 32

    let directory: String
    let info: RunInfo
    private let descriptor: FileDescriptor
    /// The block under way: whole lines, each followed by a newline.
    private var block: [UInt8] = []
    private var pending: [[UInt8]] = []
    /// Touched only by the thread that writes members (see `compressAndWrite`).
    private var blockOffsets: [UInt64] = [0]
    private var index = RunIndexBuilder()
    private var written = 0
    private var records = 0
    /// Blocks closed so far: the number of the block being filled.
    private var closedBlocks = 0
    private var inFlight: SideThread?
    private var inFlightError: Error?
    private let members: MemberCompressor
    /// The index `finish()` wrote (what a lookup of the new run reads, without loading it again).
    private(set) var finishedIndex: RunIndex?

    /// `workers`: threads that compress (and gather) the members.
    init(directory: String, name: String, level: Int32 = 1, workers: Int = Cores.workers) throws {
        self.directory = directory
        info = RunInfo(name: name, records: 0, bytes: 0)
        descriptor = try FileDescriptor.open("\(directory)/\(name).ndjson.gz", .writeOnly, options: [.create, .truncate, .noFollow])
        do {
            members = try MemberCompressor(level: level, workers: max(1, workers))
        } catch {
            descriptor.close()
            throw error
        }
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

    /// Adds lines in email order with their index keys. The blocks they fill are laid out first
    /// (the lengths are known), then gathered and compressed on every worker and written; the
    /// lines left over go into the block under way, which the next batch's first block (or
    /// `finish()`) goes on from. The lines need stay valid only during the call.
    func add(lines: [UnsafeRawBufferPointer], indexKeys: [RunIndexKey]) throws {
        precondition(lines.count == indexKeys.count, "RunWriter: a line without its index key")
        if !pending.isEmpty { try flushPending() }
        try awaitBatch()
        // The line after each block this batch closes.
        var ends: [Int] = []
        var filled = block.count
        for i in lines.indices {
            index.add(indexKeys[i], block: closedBlocks + ends.count, offset: filled)
            filled += lines[i].count + 1
            if filled >= RunWriter.blockSize {
                ends.append(i + 1)
                filled = 0
            }
        }
        records += lines.count
        if !ends.isEmpty {
            do {
                try members.compress(count: ends.count) { b, input in
                    if b == 0 { block.withUnsafeBytes { input.append($0) } }
                    for line in lines[(b == 0 ? 0 : ends[b - 1])..<ends[b]] {
                        input.append(line)
                        input.append(0x0A)
                    }
                }
                try writeMembers()
            } catch {
                throw naming(error)
            }
            closedBlocks += ends.count
            block.removeAll(keepingCapacity: true)
        }
        for line in lines[(ends.last ?? 0)...] {
            block.append(contentsOf: line)
            block.append(0x0A)
        }
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

    /// Runs on the side thread: only it touches `written`, `blockOffsets`, `members` and the
    /// file until `awaitBatch()` joins it.
    private func compressAndWrite(_ blocks: [[UInt8]]) throws {
        try members.compress(count: blocks.count) { i, input in blocks[i].withUnsafeBytes { input.append($0) } }
        try writeMembers()
    }

    /// Writes the members `members` compressed last, in order, noting where each ends.
    private func writeMembers() throws {
        let compressed = members.compressed
        try descriptor.writeAll(gathering: compressed)
        for member in compressed {
            written += member.count
            blockOffsets.append(UInt64(written))
        }
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
            let built = try index.finish(blockOffsets: blockOffsets, workers: members.workers)
            try built.write(path: "\(directory)/\(info.indexFile)")
            finishedIndex = built
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

/// Compresses blocks into gzip members on several threads: each worker gathers a block into its
/// own input buffer and deflates it into its own output buffer, with its own encoder; the
/// members of the last `compress` are then at hand in block order (`compressed`).
final class MemberCompressor {
    /// One worker's encoder and memory, kept from block to block.
    private struct Worker {
        let encoder: GzipEncoder
        var input = ByteBuffer(capacity: RunWriter.blockSize + 4096)
        var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        var outputUsed = 0
        var failure: Error?

        /// Deflates `input` after what the output holds; returns where its member lies.
        mutating func deflate() throws -> Range<Int> {
            let room = encoder.bound(input.count)
            if output.count - outputUsed < room {
                let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(output.count * 2, outputUsed + room), alignment: 16)
                if outputUsed > 0 { grown.baseAddress!.copyMemory(from: output.baseAddress!, byteCount: outputUsed) }
                output.deallocate()
                output = grown
            }
            let length = try input.withUnsafeBytes {
                try encoder.compressMember($0, into: UnsafeMutableRawBufferPointer(rebasing: output[outputUsed..<(outputUsed + room)]))
            }
            outputUsed += length
            return (outputUsed - length)..<outputUsed
        }
    }

    private let crew: UnsafeMutableBufferPointer<Worker>
    /// Where each member of the last `compress` lies: its worker and its bytes in that worker's output.
    private var placed: [(worker: Int, bytes: Range<Int>)] = []

    var workers: Int { crew.count }

    init(level: Int32, workers: Int) throws {
        let encoders = try (0..<workers).map { _ in try GzipEncoder(level: level) }
        crew = .allocate(capacity: workers)
        _ = crew.initialize(from: encoders.map { Worker(encoder: $0) })
    }

    deinit {
        for w in crew.indices { crew[w].output.deallocate() }
        crew.deinitialize().deallocate()
    }

    /// Compresses blocks 0..<count, block i gathered by `gather(i, input)` into an empty buffer
    /// (called on the workers' threads, each block once). Block i goes to worker i mod workers.
    func compress(count: Int, gather: (_ block: Int, _ input: inout ByteBuffer) -> Void) throws {
        placed = Array(repeating: (worker: 0, bytes: 0..<0), count: count)
        guard count > 0 else { return }
        let n = min(crew.count, count)
        let crew = self.crew
        for w in 0..<n { crew[w].outputUsed = 0 }
        try placed.withUnsafeMutableBufferPointer { placed in
            try WorkCrew.perform(workers: n) { w in
                for i in stride(from: w, to: count, by: n) {
                    crew[w].input.removeAll()
                    gather(i, &crew[w].input)
                    do {
                        let bytes = try crew[w].deflate()
                        placed[i] = (w, bytes)
                    } catch {
                        crew[w].failure = error
                        return
                    }
                }
            }
        }
        let failure = (0..<n).lazy.compactMap { crew[$0].failure }.first
        for w in 0..<n { crew[w].failure = nil }
        if let failure { throw failure }
    }

    /// The members of the last `compress`, in block order (valid until the next one).
    var compressed: [UnsafeRawBufferPointer] {
        placed.map { UnsafeRawBufferPointer(rebasing: crew[$0.worker].output[$0.bytes]) }
    }
}

/// Random access to a run's contacts: inflate the one member that holds an address.
///
/// What a lookup keeps between finds (the member it inflated last) is the caller's `Cursor`, so
/// several threads can read one run at once, each with a cursor of its own: the index is never
/// changed and the file is read with positioned reads.
final class RunLookup {
    let info: RunInfo
    /// The run file's path (named in errors).
    let path: String
    let index: RunIndex
    private let descriptor: FileDescriptor

    /// One reader's place in the run: the member it inflated last (a commit looks its sorted
    /// keys up in order, so consecutive finds mostly land in the same member) and its buffers.
    struct Cursor {
        fileprivate var block = -1
        fileprivate var inflated: [UInt8] = []
        fileprivate var compressed: [UInt8] = []
        fileprivate var inflater: MemberInflater?
        fileprivate var key: [UInt8] = []
    }

    /// `index`: the run's index, checked (`ContactStore.fullIndex`).
    init(directory: String, info: RunInfo, index: RunIndex) throws {
        self.info = info
        self.index = index
        path = "\(directory)/\(info.dataFile)"
        descriptor = try FileDescriptor.openForReading(path, options: .noFollow)
    }

    deinit { descriptor.close() }

    /// The stored line for `key` (normalised email), or nil.
    func find(key: UnsafeRawBufferPointer, hash: UInt64, parser: inout JSONParser, cursor: inout Cursor) throws -> [UInt8]? {
        for e in index.entries(for: hash) {
            let location = index.locations[e]
            let block = Int(location >> 32)
            let offset = Int(location & 0xFFFF_FFFF)
            try load(block, into: &cursor)
            guard offset < cursor.inflated.count else {
                throw StateDamage(file: path, problem: "member \(block) is shorter than its index says", repair: .restore)
            }
            let end = cursor.inflated.withUnsafeBytes { raw in
                memchr(raw.baseAddress! + offset, 0x0A, raw.count - offset).map { raw.baseAddress!.distance(to: UnsafeRawPointer($0)) } ?? raw.count
            }
            // The line's key, into the cursor's buffer (no allocation a find).
            var lineKey = cursor.key
            cursor.key = []
            defer { cursor.key = lineKey }
            lineKey.removeAll(keepingCapacity: true)
            try cursor.inflated.withUnsafeBytes { raw in
                try StoredContact.key(of: UnsafeRawBufferPointer(rebasing: raw[offset..<end]), parser: &parser, into: &lineKey)
            }
            if lineKey.elementsEqual(key) { return Array(cursor.inflated[offset..<end]) }
        }
        return nil
    }

    private func load(_ block: Int, into cursor: inout Cursor) throws {
        if block == cursor.block { return }
        cursor.block = -1
        try RunLookup.readMember(block, of: index, from: descriptor, name: path, compressed: &cursor.compressed,
                                 inflater: &cursor.inflater, into: &cursor.inflated)
        cursor.block = block
    }

    /// Member `block` of a run, inflated into `out` (replacing its contents); `compressed` and
    /// `inflater` are scratch kept by the caller from member to member (made on first use).
    static func readMember(_ block: Int, of index: RunIndex, from descriptor: FileDescriptor, name: String,
                           compressed: inout [UInt8], inflater: inout MemberInflater?, into out: inout [UInt8]) throws {
        let start = Int(index.blockOffsets[block])
        let count = Int(index.blockOffsets[block + 1]) - start
        if compressed.count < count { compressed = [UInt8](repeating: 0, count: count) }
        let got = try compressed.withUnsafeMutableBytes { try descriptor.readFully(into: $0.baseAddress!, count: count, at: start) }
        guard got == count else { throw StateDamage(file: name, problem: "shorter than its index says", repair: .restore) }
        out.removeAll(keepingCapacity: true)
        do {
            if inflater == nil { inflater = try MemberInflater() }
            let member = inflater!
            try compressed.withUnsafeBytes { try member.inflate(UnsafeRawBufferPointer(rebasing: $0[0..<count]), appendingTo: &out) }
        } catch {
            throw StateDamage(file: name, problem: "member \(block) is unreadable: \(error)", repair: .restore)
        }
    }
}

/// Inflates gzip members one after another with one zlib stream and one scratch chunk, kept from
/// member to member (a scan inflates thousands; each fresh stream and zeroed chunk cost more than
/// a small member's inflate). One per thread.
final class MemberInflater {
    private var decoder: GzipDecoder
    private var chunk = [UInt8](repeating: 0, count: 1 << 17)

    init() throws { decoder = try GzipDecoder() }

    /// Appends `member` inflated to `out`; throws when zlib rejects it or when the bytes end
    /// inside a member (the index says where each member ends, and a writer only writes whole
    /// ones: a stream still open at the end is damage — bytes that read as deflate data without
    /// an error but never close — whose lines must not be handed out as the member's). The output
    /// is what a fresh decoder would make of `member` alone: a stream left inside a member
    /// (rejected, or followed by more bytes) is replaced before the next.
    func inflate(_ member: UnsafeRawBufferPointer, appendingTo out: inout [UInt8]) throws {
        if !decoder.atMemberBoundary { decoder = try GzipDecoder() }
        var consumed = 0
        while true {
            let (used, made) = try chunk.withUnsafeMutableBytes {
                try decoder.inflate(input: UnsafeRawBufferPointer(rebasing: member[consumed...]), output: $0)
            }
            consumed += used
            out.append(contentsOf: chunk[0..<made])
            if made == 0 && (consumed == member.count || used == 0) { break }
        }
        guard decoder.atMemberBoundary else { throw Truncated() }
    }

    /// The member's bytes end before its gzip stream does.
    struct Truncated: Error, CustomStringConvertible {
        var description: String { "the member ends before its gzip stream does" }
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
