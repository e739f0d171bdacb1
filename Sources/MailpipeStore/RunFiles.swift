#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
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
}

/// The in-memory form of a run's `.idx` file.
///
/// Layout (little-endian u64s): magic, contact count, member count, member offsets (count + 1),
/// email hashes (sorted), locations; since `MPIDX002` also the folded hashes of the addresses
/// `--canonical gmail` changes (count, then sorted), and the same for `plus`. A `MPIDX001` index
/// is still read; it lacks the folded hashes (dedupe then folds the stored emails itself).
final class RunIndex {
    static let magic: [UInt8] = Array("MPIDX002".utf8)
    static let magicWithoutFolds: [UInt8] = Array("MPIDX001".utf8)

    let blockOffsets: [UInt64]   // blockCount + 1 entries: start of each member, then the file size
    let hashes: [UInt64]         // sorted
    let locations: [UInt64]      // block << 32 | offset of the line inside the inflated block

    init(blockOffsets: [UInt64], hashes: [UInt64], locations: [UInt64]) {
        self.blockOffsets = blockOffsets
        self.hashes = hashes
        self.locations = locations
    }

    var blockCount: Int { blockOffsets.count - 1 }

    static func load(path: String) throws -> RunIndex {
        let bytes = try FileSystem.readFile(path)
        return try bytes.withUnsafeBytes { raw -> RunIndex in
            guard raw.count >= 24, Array(raw[0..<8]) == magic || Array(raw[0..<8]) == magicWithoutFolds else {
                throw StageError.runtime("\(path): not a mailpipe run index")
            }
            let records = Int(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian)
            let blocks = Int(raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self).littleEndian)
            var expected = 24 + (blocks + 1) * 8 + records * 16
            if Array(raw[0..<8]) == magic {
                for _ in 0..<2 {
                    guard raw.count >= expected + 8 else { throw StageError.runtime("\(path): run index is truncated") }
                    expected += 8 + Int(raw.loadUnaligned(fromByteOffset: expected, as: UInt64.self).littleEndian) * 8
                }
            }
            guard raw.count == expected else { throw StageError.runtime("\(path): run index is truncated") }
            var offset = 24
            func read(_ count: Int) -> [UInt64] {
                let values = [UInt64](unsafeUninitializedCapacity: count) { buffer, initialized in
                    memcpy(buffer.baseAddress!, raw.baseAddress! + offset, count * 8)
                    initialized = count
                }
                offset += count * 8
                return values
            }
            let blockOffsets = read(blocks + 1)
            let hashes = read(records)
            let locations = read(records)
            return RunIndex(blockOffsets: blockOffsets, hashes: hashes, locations: locations)
        }
    }

    /// The magic, then the contact and member counts; `folds`: whether the folded hashes follow.
    private static func readHeader(_ fd: FileDescriptor, path: String) throws -> (records: Int, blocks: Int, folds: Bool) {
        var header = [UInt8](repeating: 0, count: 24)
        let got = try header.withUnsafeMutableBytes { try fd.readFully(into: $0.baseAddress!, count: 24, at: 0) }
        let version = Array(header[0..<8])
        guard got == 24, version == magic || version == magicWithoutFolds else { throw StageError.runtime("\(path): not a mailpipe run index") }
        return header.withUnsafeBytes {
            (Int($0.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian),
             Int($0.loadUnaligned(fromByteOffset: 16, as: UInt64.self).littleEndian), version == magic)
        }
    }

    /// Only the member offsets (what a full scan needs): the header and the offsets table, not
    /// the per-contact entries — reading a 10 M-contact run then costs about 1 MB, not 160 MB.
    static func loadBlockOffsets(path: String) throws -> RunIndex {
        let fd = try FileDescriptor.openForReading(path)
        defer { fd.close() }
        let (_, blocks, _) = try readHeader(fd, path: path)
        var offsets = [UInt64](repeating: 0, count: blocks + 1)
        let want = (blocks + 1) * 8
        let read = try offsets.withUnsafeMutableBytes { try fd.readFully(into: $0.baseAddress!, count: want, at: 24) }
        guard read == want else { throw StageError.runtime("\(path): run index is truncated") }
        return RunIndex(blockOffsets: offsets.map { $0.littleEndian }, hashes: [], locations: [])
    }

    /// Only the sorted email hashes, read straight into `hashes` (what a membership index needs):
    /// 8 bytes a contact, none of the locations.
    static func appendHashes(path: String, to hashes: inout [UInt64]) throws {
        let fd = try FileDescriptor.openForReading(path)
        defer { fd.close() }
        let (records, blocks, _) = try readHeader(fd, path: path)
        let start = hashes.count
        hashes.append(contentsOf: repeatElement(0, count: records))
        let want = records * 8
        let read = try hashes.withUnsafeMutableBytes {
            try fd.readFully(into: $0.baseAddress! + start * 8, count: want, at: 24 + (blocks + 1) * 8)
        }
        guard read == want else { throw StageError.runtime("\(path): run index is truncated") }
        #if _endian(big)
        for i in start..<hashes.count { hashes[i] = UInt64(littleEndian: hashes[i]) }
        #endif
    }

    /// Whether the index holds the folded hashes (`MPIDX002`), read from its header alone.
    static func hasFoldedHashes(path: String) throws -> Bool {
        let fd = try FileDescriptor.openForReading(path)
        defer { fd.close() }
        return try readHeader(fd, path: path).folds
    }

    /// Appends the folded hashes `form` keeps for this run (see the layout) to `hashes`; false
    /// when the index predates them.
    static func appendFoldedHashes(path: String, form: CanonicalForm, to hashes: inout [UInt64]) throws -> Bool {
        guard form != .exact else { return true }
        let fd = try FileDescriptor.openForReading(path)
        defer { fd.close() }
        let (records, blocks, folds) = try readHeader(fd, path: path)
        guard folds else { return false }
        var at = 24 + (blocks + 1) * 8 + records * 16
        for section in [CanonicalForm.gmail, .plus] {
            var count: UInt64 = 0
            let got = try Swift.withUnsafeMutableBytes(of: &count) { try fd.readFully(into: $0.baseAddress!, count: 8, at: at) }
            guard got == 8 else { throw StageError.runtime("\(path): run index is truncated") }
            let n = Int(UInt64(littleEndian: count))
            if section == form {
                let start = hashes.count
                hashes.append(contentsOf: repeatElement(0, count: n))
                let read = try hashes.withUnsafeMutableBytes { try fd.readFully(into: $0.baseAddress! + start * 8, count: n * 8, at: at + 8) }
                guard read == n * 8 else { throw StageError.runtime("\(path): run index is truncated") }
                #if _endian(big)
                for i in start..<hashes.count { hashes[i] = UInt64(littleEndian: hashes[i]) }
                #endif
                return true
            }
            at += 8 + n * 8
        }
        return true
    }

    static func write(path: String, blockOffsets: [UInt64], entries: [(hash: UInt64, location: UInt64)],
                      gmailFolds: [UInt64], plusFolds: [UInt64]) throws {
        var bytes: [UInt8] = magic
        bytes.reserveCapacity(40 + blockOffsets.count * 8 + entries.count * 16 + (gmailFolds.count + plusFolds.count) * 8)
        func put(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        put(UInt64(entries.count))
        put(UInt64(blockOffsets.count - 1))
        for o in blockOffsets { put(o) }
        for e in entries { put(e.hash) }
        for e in entries { put(e.location) }
        for folds in [gmailFolds, plusFolds] {
            put(UInt64(folds.count))
            for h in folds { put(h) }
        }
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        defer { fd.close() }
        try fd.writeAll(bytes)
        try fd.sync()
    }

    /// Index range of entries whose hash equals `hash` (usually empty or one).
    @inline(__always)
    func entries(for hash: UInt64) -> Range<Int> {
        var lo = 0
        var hi = hashes.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if hashes[mid] < hash { lo = mid + 1 } else { hi = mid }
        }
        var end = lo
        while end < hashes.count && hashes[end] == hash { end += 1 }
        return lo..<end
    }

    func contains(hash: UInt64) -> Bool { !entries(for: hash).isEmpty }
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
    private var blockOffsets: [UInt64] = [0]
    private var entries: [(hash: UInt64, location: UInt64)] = []
    /// Hashes of the folded forms of the addresses `--canonical gmail` / `plus` change.
    private var gmailFolds: [UInt64] = []
    private var plusFolds: [UInt64] = []
    private var folded: [UInt8] = []
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
        descriptor = try FileDescriptor.open("\(directory)/\(name).ndjson.gz", O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        let workers = Cores.workers
        encoders = try (0..<workers).map { _ in try GzipEncoder(level: level) }
        block.reserveCapacity(RunWriter.blockSize + 4096)
    }

    /// Adds one contact line; `key` is its normalised email.
    func add(line: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) throws {
        entries.append((EmailKey.hash(key), UInt64(closedBlocks) << 32 | UInt64(block.count)))
        // Only addresses with a `+` or at a …mail.com domain can fold.
        let n = key.count
        if n > 0 && (memchr(key.baseAddress!, 0x2B, n) != nil || n > 9 && key[n - 8] == 0x6D && key[n - 4] == 0x2E) {
            if CanonicalForm.gmail.fold(key, into: &folded) { gmailFolds.append(folded.withUnsafeBytes { EmailKey.hash($0) }) }
            if CanonicalForm.plus.fold(key, into: &folded) { plusFolds.append(folded.withUnsafeBytes { EmailKey.hash($0) }) }
        }
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
        inFlight = SideThread { [self] in
            do { try compressAndWrite(blocks) } catch { inFlightError = error }
        }
    }

    /// Waits for the batch in flight; throws its error.
    private func awaitBatch() throws {
        inFlight?.wait()
        inFlight = nil
        if let error = inFlightError {
            inFlightError = nil
            throw error
        }
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
        DispatchQueue.concurrentPerform(iterations: encoders.count) { worker in
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
    func finish() throws -> RunInfo {
        try closeBlock()
        try flushPending()
        try awaitBatch()
        try descriptor.sync()
        descriptor.close()
        entries.sort { $0.hash != $1.hash ? $0.hash < $1.hash : $0.location < $1.location }
        gmailFolds.sort()
        plusFolds.sort()
        try RunIndex.write(path: "\(directory)/\(info.name).idx", blockOffsets: blockOffsets, entries: entries,
                           gmailFolds: gmailFolds, plusFolds: plusFolds)
        return RunInfo(name: info.name, records: records, bytes: written)
    }

    func abandon() {
        try? awaitBatch()
        descriptor.close()
    }
}

/// Random access to a run's contacts: inflate the one member that holds an address.
final class RunLookup {
    let info: RunInfo
    let index: RunIndex
    private let descriptor: FileDescriptor
    private var cachedBlock = -1
    private var inflated: [UInt8] = []
    private var compressed: [UInt8] = []

    init(directory: String, info: RunInfo) throws {
        self.info = info
        index = try RunIndex.load(path: "\(directory)/\(info.indexFile)")
        descriptor = try FileDescriptor.openForReading("\(directory)/\(info.dataFile)")
    }

    deinit { descriptor.close() }

    /// The stored line for `key` (normalised email), or nil.
    func find(key: UnsafeRawBufferPointer, hash: UInt64, parser: inout JSONParser) throws -> [UInt8]? {
        for e in index.entries(for: hash) {
            let location = index.locations[e]
            let block = Int(location >> 32)
            let offset = Int(location & 0xFFFF_FFFF)
            try loadBlock(block)
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
        try RunLookup.readMember(block, of: index, from: descriptor, name: info.dataFile, compressed: &compressed, into: &inflated)
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
        guard got == end - start else { throw StageError.runtime("\(name): shorter than its index says") }
        out.removeAll(keepingCapacity: true)
        try RunLookup.inflateMember(compressed, into: &out)
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

    init(directory: String, info: RunInfo) throws {
        self.info = info
        reader = LineReader(input: try InputReader(path: "\(directory)/\(info.dataFile)"), maxLine: 64 << 20)
    }

    deinit {
        reader.deallocate()
        parser.deallocate()
    }

    /// Moves to the next line; sets `done` at the end.
    func advance(needKey: Bool = true) throws {
        while true {
            guard let event = try reader.next() else { done = true; return }
            guard case .line(let bytes, _) = event, !bytes.isEmpty else { continue }
            line = bytes
            if needKey {
                key.removeAll(keepingCapacity: true)
                try StoredContact.key(of: bytes, parser: &parser, into: &key)
            }
            return
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
