#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// A run's `.idx` file: where each gzip member of the run starts, every contact's email hash →
/// (member, offset of its line in the inflated member), and the hashes of the folded forms of
/// the addresses `--canonical gmail` / `plus` change.
///
/// Layout `MPIDX003` (little-endian):
///
///     header, 64 bytes: "MPIDX003", then u64 counts — contacts, members, gmail folds, plus
///                       folds — then the u32 CRC32s of the four sections below, the CRC32 of
///                       the header's first 56 bytes, and 4 zero bytes
///     offsets           members + 1 u64: the start of each member, then the run file's size
///     hashes            contacts u64, sorted
///     locations         contacts u64: member << 32 | offset of the line in the inflated member
///     folds             the gmail fold hashes, sorted, then the plus fold hashes, sorted
///
/// An index is derived data: each section is checked against its CRC (and its shape) before
/// use, and one that fails — or an older index without checksums (`MPIDX001`/`MPIDX002`) — is
/// never trusted: it is rebuilt from its run (`RunIndex.rebuild`).
final class RunIndex {
    static let magic: [UInt8] = Array("MPIDX003".utf8)
    static let headerSize = 64

    let blockOffsets: [UInt64]   // blockCount + 1 entries: start of each member, then the file size
    let hashes: [UInt64]         // sorted
    let locations: [UInt64]      // block << 32 | offset of the line inside the inflated block
    let gmailFolds: [UInt64]
    let plusFolds: [UInt64]

    init(blockOffsets: [UInt64], hashes: [UInt64] = [], locations: [UInt64] = [], gmailFolds: [UInt64] = [], plusFolds: [UInt64] = []) {
        self.blockOffsets = blockOffsets
        self.hashes = hashes
        self.locations = locations
        self.gmailFolds = gmailFolds
        self.plusFolds = plusFolds
    }

    var blockCount: Int { blockOffsets.count - 1 }

    /// An index file that fails a check (or predates checksums). Callers rebuild the index
    /// from its run; it never reaches a user as such.
    struct Damage: Error, CustomStringConvertible {
        let path: String
        let problem: String
        var description: String { "\(path): \(problem)" }
    }

    /// The parsed header: counts, section checksums, and where each section starts.
    private struct Header {
        var records = 0, blocks = 0, gmail = 0, plus = 0
        var crcs: [UInt32] = []

        enum Section: Int { case offsets, hashes, locations, folds }

        func range(_ section: Section) -> Range<Int> {
            let offsets = RunIndex.headerSize..<(RunIndex.headerSize + (blocks + 1) * 8)
            let hashes = offsets.upperBound..<(offsets.upperBound + records * 8)
            let locations = hashes.upperBound..<(hashes.upperBound + records * 8)
            let folds = locations.upperBound..<(locations.upperBound + (gmail + plus) * 8)
            switch section {
            case .offsets: return offsets
            case .hashes: return hashes
            case .locations: return locations
            case .folds: return folds
            }
        }

        var fileSize: Int { range(.folds).upperBound }
    }

    private static func readHeader(_ fd: FileDescriptor, path: String) throws -> Header {
        var raw = [UInt8](repeating: 0, count: headerSize)
        let got = try raw.withUnsafeMutableBytes { try fd.readFully(into: $0.baseAddress!, count: headerSize, at: 0) }
        guard got >= 8 else { throw Damage(path: path, problem: "shorter than an index header") }
        guard Array(raw[0..<8]) == magic else {
            let version = String(decoding: raw[0..<8].map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            throw Damage(path: path, problem: version.hasPrefix("MPIDX00") ? "an index without checksums (\(version))" : "not a run index")
        }
        guard got == headerSize else { throw Damage(path: path, problem: "truncated header") }
        let size = try fd.size()
        return try raw.withUnsafeBytes { r in
            func u64(_ at: Int) -> UInt64 { r.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian }
            func u32(_ at: Int) -> UInt32 { r.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian }
            guard CRC32.checksum(UnsafeRawBufferPointer(rebasing: r[0..<56])) == u32(56) else {
                throw Damage(path: path, problem: "header checksum mismatch")
            }
            // Counts are checked against the file size before any arithmetic or allocation.
            let limit = UInt64(size / 8)
            let counts = [u64(8), u64(16), u64(24), u64(32)]
            guard counts.allSatisfy({ $0 <= limit }) else { throw Damage(path: path, problem: "counts larger than the file") }
            var h = Header(records: Int(counts[0]), blocks: Int(counts[1]), gmail: Int(counts[2]), plus: Int(counts[3]))
            h.crcs = [u32(40), u32(44), u32(48), u32(52)]
            guard h.fileSize == size else { throw Damage(path: path, problem: "\(size) bytes where the header says \(h.fileSize)") }
            return h
        }
    }

    /// One section's values, checked against its CRC32.
    private static func readSection(_ fd: FileDescriptor, _ header: Header, _ section: Header.Section, path: String,
                                    appendingTo values: inout [UInt64]) throws {
        let range = header.range(section)
        let start = values.count
        let count = range.count / 8
        values.append(contentsOf: repeatElement(0, count: count))
        let crc = try values.withUnsafeMutableBytes { all -> UInt32 in
            let part = UnsafeMutableRawBufferPointer(rebasing: all[(start * 8)...])
            let got = try fd.readFully(into: part.baseAddress!, count: range.count, at: range.lowerBound)
            guard got == range.count else { throw Damage(path: path, problem: "shorter than its header says") }
            return CRC32.checksum(UnsafeRawBufferPointer(part))
        }
        guard crc == header.crcs[section.rawValue] else {
            values.removeLast(count)
            throw Damage(path: path, problem: "checksum mismatch in its \(section) section")
        }
        #if _endian(big)
        for i in start..<values.count { values[i] = UInt64(littleEndian: values[i]) }
        #endif
    }

    private static func open<T>(_ path: String, _ body: (FileDescriptor, Header) throws -> T) throws -> T {
        let fd = try FileDescriptor.openForReading(path, options: .noFollow)
        defer { fd.close() }
        return try body(fd, try readHeader(fd, path: path))
    }

    /// Offsets must start at 0, never go down, and end at the run file's size.
    private static func checkOffsets(_ offsets: [UInt64], dataSize: Int, path: String) throws {
        guard offsets.first == 0, offsets.last == UInt64(dataSize) else {
            throw Damage(path: path, problem: "its member offsets do not span the run file (\(dataSize) bytes)")
        }
        for i in 1..<offsets.count where offsets[i] < offsets[i - 1] {
            throw Damage(path: path, problem: "member offsets out of order")
        }
    }

    /// The whole index (what point lookups need), every section checked.
    static func load(path: String, dataSize: Int) throws -> RunIndex {
        try open(path) { fd, h in
            var offsets: [UInt64] = [], hashes: [UInt64] = [], locations: [UInt64] = [], folds: [UInt64] = []
            try readSection(fd, h, .offsets, path: path, appendingTo: &offsets)
            try checkOffsets(offsets, dataSize: dataSize, path: path)
            try readSection(fd, h, .hashes, path: path, appendingTo: &hashes)
            try readSection(fd, h, .locations, path: path, appendingTo: &locations)
            try readSection(fd, h, .folds, path: path, appendingTo: &folds)
            let blocks = UInt64(h.blocks)
            guard locations.allSatisfy({ $0 >> 32 < blocks }) else { throw Damage(path: path, problem: "a location outside the run") }
            return RunIndex(blockOffsets: offsets, hashes: hashes, locations: locations,
                            gmailFolds: Array(folds[..<h.gmail]), plusFolds: Array(folds[h.gmail...]))
        }
    }

    /// Only the member offsets (what a full scan needs): reading a 10 M-contact run then costs
    /// about 1 MB of index, not 160 MB.
    static func loadBlockOffsets(path: String, dataSize: Int) throws -> RunIndex {
        try open(path) { fd, h in
            var offsets: [UInt64] = []
            try readSection(fd, h, .offsets, path: path, appendingTo: &offsets)
            try checkOffsets(offsets, dataSize: dataSize, path: path)
            return RunIndex(blockOffsets: offsets)
        }
    }

    /// Only the sorted email hashes, read straight into `hashes` (what a membership index
    /// needs): 8 bytes a contact, none of the locations.
    static func appendHashes(path: String, to hashes: inout [UInt64]) throws {
        try open(path) { fd, h in try readSection(fd, h, .hashes, path: path, appendingTo: &hashes) }
    }

    /// Appends the folded hashes `form` keeps for this run to `hashes`.
    static func appendFoldedHashes(path: String, form: CanonicalForm, to hashes: inout [UInt64]) throws {
        guard form != .exact else { return }
        var folds: [UInt64] = []
        let gmail = try open(path) { fd, h -> Int in
            try readSection(fd, h, .folds, path: path, appendingTo: &folds)
            return h.gmail
        }
        hashes.append(contentsOf: form == .gmail ? folds[..<gmail] : folds[gmail...])
    }

    /// Whether the file is a current, intact index (for compaction and fsck): every section is
    /// read and checked.
    static func verify(path: String, dataSize: Int) throws {
        _ = try load(path: path, dataSize: dataSize)
    }

    /// The same answers from an index held in memory (one rebuilt from its run).
    func appendHashes(to all: inout [UInt64]) { all.append(contentsOf: hashes) }

    func appendFoldedHashes(form: CanonicalForm, to all: inout [UInt64]) {
        switch form {
        case .exact: return
        case .gmail: all.append(contentsOf: gmailFolds)
        case .plus: all.append(contentsOf: plusFolds)
        }
    }

    /// Writes the index to `path` (fsynced). A rebuilt index replaces a damaged one atomically.
    func write(path: String, atomically: Bool = false) throws {
        let foldBytes = (gmailFolds.count + plusFolds.count) * 8
        var body: [UInt8] = []
        body.reserveCapacity(blockOffsets.count * 8 + hashes.count * 16 + foldBytes)
        var crcs: [UInt32] = []
        for section in [blockOffsets, hashes, locations, gmailFolds + plusFolds] {
            let start = body.count
            #if _endian(little)
            section.withUnsafeBytes { body.append(contentsOf: $0) }
            #else
            for v in section { withUnsafeBytes(of: v.littleEndian) { body.append(contentsOf: $0) } }
            #endif
            crcs.append(body.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[start...])) })
        }
        var bytes = RunIndex.magic
        bytes.reserveCapacity(RunIndex.headerSize + body.count)
        func put(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        for n in [hashes.count, blockCount, gmailFolds.count, plusFolds.count] { put(UInt64(n)) }
        for c in crcs { put32(c) }
        put32(bytes.withUnsafeBytes { CRC32.checksum($0) })
        put32(0)
        bytes += body
        if atomically {
            try FileSystem.writeAtomically(path, bytes)
        } else {
            let fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate, .noFollow])
            defer { fd.close() }
            try fd.writeAll(bytes)
            try fd.sync()
        }
    }

    /// Index range of entries whose hash equals `hash` (usually empty or one).
    @inline(__always)
    func entries(for hash: UInt64) -> Range<Int> {
        var (lo, hi) = bracket(hash)
        while lo < hi {
            let mid = (lo + hi) >> 1
            if hashes[mid] < hash { lo = mid + 1 } else { hi = mid }
        }
        var end = lo
        while end < hashes.count && hashes[end] == hash { end += 1 }
        return lo..<end
    }

    func contains(hash: UInt64) -> Bool { !entries(for: hash).isEmpty }

    /// Bounds lo…hi for the first position of `hash`: hashes before lo are smaller, from hi on
    /// not. Email hashes are uniform, so the search starts where `hash` would sit and widens
    /// from there (a few cache misses, where bisecting a million hashes takes twenty).
    private func bracket(_ hash: UInt64) -> (Int, Int) {
        let n = hashes.count
        guard n > 64 else { return (0, n) }
        let guess = Int(hash.multipliedFullWidth(by: UInt64(n)).high)
        var step = 8
        if hashes[guess] < hash {
            var lo = guess + 1
            while guess + step < n {
                if hashes[guess + step] >= hash { return (lo, guess + step) }
                lo = guess + step + 1
                step <<= 1
            }
            return (lo, n)
        }
        var hi = guess
        while guess - step >= 0 {
            if hashes[guess - step] < hash { return (guess - step + 1, hi) }
            hi = guess - step
            step <<= 1
        }
        return (0, hi)
    }
}

/// Gathers a run's index entries as its lines are written (`RunWriter`) or read back from the
/// run (`RunIndex.rebuild`): both go through `add`, so a rebuilt index equals the written one.
struct RunIndexBuilder {
    private var entries: [(hash: UInt64, location: UInt64)] = []
    /// Hashes of the folded forms of the addresses `--canonical gmail` / `plus` change.
    private var gmailFolds: [UInt64] = []
    private var plusFolds: [UInt64] = []
    private var folded: [UInt8] = []

    var count: Int { entries.count }

    /// One contact: `key` is its normalised email, its line at `offset` in member `block`.
    mutating func add(key: UnsafeRawBufferPointer, block: Int, offset: Int) {
        add(RunIndexKey(key: key, hash: EmailKey.hash(key), folded: &folded), block: block, offset: offset)
    }

    mutating func add(_ key: RunIndexKey, block: Int, offset: Int) {
        entries.append((key.hash, UInt64(block) << 32 | UInt64(offset)))
        if let fold = key.gmailFold { gmailFolds.append(fold) }
        if let fold = key.plusFold { plusFolds.append(fold) }
    }

    /// The index, given where the run's members start (and the file's size last); sorted on
    /// `workers` threads.
    mutating func finish(blockOffsets: [UInt64], workers: Int = 1) throws -> RunIndex {
        // Hashes are uniform: the buckets come out about even.
        entries = try BucketSort.sorted(entries, bucket: { $0.hash }, workers: workers) {
            $0.hash != $1.hash ? $0.hash < $1.hash : $0.location < $1.location
        }
        gmailFolds = try BucketSort.sorted(gmailFolds, bucket: { $0 }, workers: workers, by: <)
        plusFolds = try BucketSort.sorted(plusFolds, bucket: { $0 }, workers: workers, by: <)
        return RunIndex(blockOffsets: blockOffsets, hashes: entries.map(\.hash), locations: entries.map(\.location),
                        gmailFolds: gmailFolds, plusFolds: plusFolds)
    }
}

/// What a run's index holds of one contact's email: its hash, and the hashes of its folded
/// forms when `--canonical gmail` / `plus` change it. It does not depend on where the line goes
/// in the run, so a commit computes it on its merging threads.
struct RunIndexKey {
    var hash: UInt64
    var gmailFold: UInt64?
    var plusFold: UInt64?

    /// `hash`: `EmailKey.hash(key)`; `folded`: scratch space.
    init(key: UnsafeRawBufferPointer, hash: UInt64, folded: inout [UInt8]) {
        self.hash = hash
        // Only addresses with a `+` or at a …mail.com domain can fold.
        let n = key.count
        if n > 0 && (memchr(key.baseAddress!, 0x2B, n) != nil || n > 9 && key[n - 8] == 0x6D && key[n - 4] == 0x2E) {
            if CanonicalForm.gmail.fold(key, into: &folded) { gmailFold = folded.withUnsafeBytes { EmailKey.hash($0) } }
            if CanonicalForm.plus.fold(key, into: &folded) { plusFold = folded.withUnsafeBytes { EmailKey.hash($0) } }
        }
    }
}

extension RunIndex {
    /// The index of a run, rebuilt from its data file: each gzip member inflated in turn, each
    /// line's key hashed. A run file that cannot be read whole is `StateDamage` (its contacts
    /// would otherwise be lost without a word).
    static func rebuild(directory: String, info: RunInfo) throws -> RunIndex {
        let path = "\(directory)/\(info.dataFile)"
        let fd = try FileDescriptor.openForReading(path, options: .noFollow)
        defer { fd.close() }
        let decoder = try GzipDecoder()
        var builder = RunIndexBuilder()
        var blockOffsets: [UInt64] = [0]
        var parser = JSONParser(maxDepth: 64)
        defer { parser.deallocate() }
        var key: [UInt8] = []
        var previousKey: [UInt8] = []
        var member: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var input = [UInt8](repeating: 0, count: 1 << 16)
        var fileOffset = 0        // of input[0]
        var inputStart = 0, inputEnd = 0
        func damaged(_ problem: String) -> StateDamage {
            StateDamage(file: path, problem: problem, repair: .restore)
        }
        func endMember() throws {
            var lineStart = 0
            try member.withUnsafeBytes { raw in
                while lineStart < raw.count {
                    let end = memchr(raw.baseAddress! + lineStart, 0x0A, raw.count - lineStart)
                        .map { raw.baseAddress!.distance(to: UnsafeRawPointer($0)) } ?? raw.count
                    if end > lineStart {
                        key.removeAll(keepingCapacity: true)
                        do {
                            try StoredContact.key(of: UnsafeRawBufferPointer(rebasing: raw[lineStart..<end]), parser: &parser, into: &key)
                        } catch {
                            throw damaged("member \(blockOffsets.count - 1) holds a line that is not a contact (\(error))")
                        }
                        // A run holds each address once, in email order (readers merge runs by it).
                        if builder.count > 0 && !previousKey.lexicographicallyPrecedes(key) {
                            throw damaged("member \(blockOffsets.count - 1) breaks the email order of the run")
                        }
                        swap(&key, &previousKey)
                        previousKey.withUnsafeBytes { builder.add(key: $0, block: blockOffsets.count - 1, offset: lineStart) }
                    }
                    lineStart = end + 1
                }
            }
            blockOffsets.append(UInt64(fileOffset + inputStart))
            member.removeAll(keepingCapacity: true)
        }
        while true {
            if inputStart == inputEnd {
                fileOffset += inputEnd
                inputStart = 0
                inputEnd = try input.withUnsafeMutableBytes { try fd.readFully(into: $0.baseAddress!, count: $0.count, at: fileOffset) }
                if inputEnd == 0 { break }
            }
            let (used, made, ended): (Int, Int, Bool)
            do {
                (used, made, ended) = try input.withUnsafeBytes { i in
                    try chunk.withUnsafeMutableBytes { o in
                        try decoder.inflateMember(input: UnsafeRawBufferPointer(rebasing: i[inputStart..<inputEnd]), output: o)
                    }
                }
            } catch {
                throw damaged("corrupt gzip data in member \(blockOffsets.count - 1) (near byte \(fileOffset + inputStart)): \(error)")
            }
            inputStart += used
            member.append(contentsOf: chunk[0..<made])
            if ended { try endMember() }
        }
        guard decoder.atMemberBoundary, member.isEmpty else {
            throw damaged("ends inside a gzip member (truncated)")
        }
        return try builder.finish(blockOffsets: blockOffsets)
    }
}
