import MailpipeCore

/// An append-only NDJSON file checked by a **seal** beside it: inject's journals and dead-letter
/// files (`journal/<channel>/<campaign>.ndjson`, `<campaign>.dead.ndjson`). The lines stay plain
/// NDJSON (`jq` reads them); `<file>.seal` vouches for the file's first `length` bytes.
///
/// The seal, 24 bytes, little-endian (docs/inject.md, "The journal's seal"):
///
///     offset  size  field
///     0       4     "MPSL"
///     4       1     version (1)
///     5       3     zero
///     8       8     length: the bytes of the file the seal vouches for (whole lines)
///     16      4     CRC-32 of those bytes
///     20      4     CRC-32 of bytes 0–19 (the seal's own check)
///
/// Each append is one `write(2)` of whole lines, then the seal is rewritten in place (one
/// `pwrite(2)` of 24 bytes), before the caller starts anything the lines record — for a journal,
/// before any send. So after a SIGKILL at any instant the file is at least as long as its seal
/// says, and what lies past the seal's length (a kill between the two writes) is whole lines the
/// next open seals, or a torn last line it cuts off. A file shorter than its seal (a cut, even at
/// a line boundary; a lost tail), bytes that no longer match its checksum (a flip), a file gone
/// while its seal is there, a folder in its place, or a seal that fails its own check are all
/// `StateDamage` naming `account fsck --repair`, never an empty or shorter journal taken as true.
///
/// A file that starts a seal's life writes the seal first (length 0, created whole by a rename),
/// then its lines: no instant leaves lines without their seal. A file written before seals
/// (format 1: no seal beside it) is read as it is and sealed by its next writer. With a
/// `marker` (a journal's `{"journal":2}` line, written first, or appended to an old journal when
/// it is sealed), a file holding that line whose seal is missing is damage too: without the seal
/// a cut could not be seen.
public final class SealedLines {
    public let path: String
    public var sealPath: String { SealedLines.sealPath(path) }
    /// The bytes the seal vouches for, and their CRC-32.
    public private(set) var length: Int
    private var checksum: UInt32
    private let file: FileDescriptor
    private let seal: FileDescriptor

    public static let sealSize = 24
    static let magic: [UInt8] = Array("MPSL".utf8)
    static let version: UInt8 = 1

    public static func sealPath(_ path: String) -> String { path + ".seal" }

    /// What a check of a sealed file found (it threw `StateDamage` otherwise).
    public struct Reading {
        /// The whole lines of the file (sealed, then any whole lines past the seal).
        public var lines: [UInt8]
        /// Bytes the seal vouches for (nil: no seal, a file of format 1 or none at all).
        public var sealed: Int?
        /// Bytes of a torn last line past the sealed part (a crash inside a write).
        public var torn: Int
        /// Whether there is a file at all.
        public var exists: Bool
    }

    /// Checks the file against its seal without changing anything (readers: `account fsck`,
    /// `inject --replay`). Throws `StateDamage` (repair: fsck) for damage; a symbolic link in
    /// either place is refused (`SymbolicLinkRefused`).
    public static func read(path: String, marker: [UInt8]? = nil) throws -> Reading {
        let sealPath = sealPath(path)
        func damage(_ file: String, _ problem: String) -> StateDamage { StateDamage(file: file, problem: problem, repair: .fsck) }
        for (name, what) in [(path, "file"), (sealPath, "seal")] {
            switch try FileSystem.entryKind(name) {
            case .symbolicLink?: throw SymbolicLinkRefused(path: name)
            case .folder?: throw damage(name, "a folder where the \(what) should be")
            case .other?: throw damage(name, "not a regular file where the \(what) should be")
            case .file?, nil: break
            }
        }
        let sealBytes = try FileSystem.readFileIfPresent(sealPath, options: .noFollow)
        let stated = try sealBytes.map { bytes -> (length: Int, checksum: UInt32) in
            guard let s = decodeSeal(bytes) else {
                throw damage(sealPath, "an unreadable seal (\(bytes.count) bytes; it fails its own check)")
            }
            return s
        }
        guard let all = try FileSystem.readFileIfPresent(path, options: .noFollow) else {
            if let stated, stated.length > 0 {
                throw damage(path, "missing, though its seal vouches for \(stated.length) bytes")
            }
            return Reading(lines: [], sealed: stated?.length, torn: 0, exists: false)
        }
        var whole = all.count
        while whole > 0 && all[whole - 1] != 0x0A { whole -= 1 }
        guard let stated else {
            if let marker, holdsLine(marker, in: all, upTo: whole) {
                throw damage(sealPath, "missing beside \(FileSystem.basename(of: path)), which says it is sealed: a cut of the file could not be seen")
            }
            return Reading(lines: Array(all[0..<whole]), sealed: nil, torn: all.count - whole, exists: true)
        }
        guard all.count >= stated.length else {
            throw damage(path, "shorter than its seal says (\(all.count) < \(stated.length) bytes): lines were lost — a cut, or a power loss that kept the seal but not the file's tail")
        }
        let actual = all.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<stated.length])) }
        guard actual == stated.checksum else {
            throw damage(path, "its first \(stated.length) bytes do not match the seal's checksum: the file changed after it was written")
        }
        // Past the seal: whole lines (a kill between the write and the seal) and a torn line.
        whole = max(whole, stated.length)
        return Reading(lines: Array(all[0..<whole]), sealed: stated.length, torn: all.count - whole, exists: true)
    }

    /// Opens for appending (the caller holds the file's lock): checks it as `read` does (throws
    /// the same damage), cuts off a torn last line past the seal (`warn` is told), seals a file
    /// that has no seal yet — a new one starts with `marker` — and returns what it read.
    public init(path: String, marker: [UInt8]? = nil, warn: (String) -> Void) throws {
        self.path = path
        let reading = try SealedLines.read(path: path, marker: marker)
        file = try FileDescriptor.open(path, .readWrite, options: [.create, .append, .noFollow])
        if reading.torn > 0 {
            warn("\(path): cut off a torn last line (\(reading.torn) bytes)")
            try file.truncate(to: reading.lines.count)
            try file.sync()
        }
        length = reading.lines.count
        checksum = reading.lines.withUnsafeBytes { CRC32.checksum($0) }
        let sealPath = SealedLines.sealPath(path)
        if reading.sealed == nil {
            // The seal first, made whole by a rename (no instant has lines but a partial seal).
            try FileSystem.writeAtomically(sealPath, SealedLines.encodeSeal(length: length, checksum: checksum))
        }
        seal = try FileDescriptor.open(sealPath, .readWrite, options: .noFollow)
        self.lines = reading.lines
        if let marker, !SealedLines.holdsLine(marker, in: reading.lines, upTo: reading.lines.count) {
            try append(marker + [0x0A])
        } else if reading.sealed != length {
            try writeSeal()   // whole lines past the old seal
        }
    }

    /// The whole lines found on opening (the caller parses them, then calls `dropLines`).
    public private(set) var lines: [UInt8]

    public func dropLines() { lines = [] }

    deinit {
        file.close()
        seal.close()
    }

    /// Appends whole lines (one write), then rewrites the seal to vouch for them. Durable against
    /// the process being killed on return; `sync` makes it durable against a power loss.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        precondition(bytes[bytes.count - 1] == 0x0A, "\(path): appending a partial line")
        try file.writeAll(bytes)
        length += bytes.count
        checksum = CRC32.checksum(bytes, seed: checksum)
        try writeSeal()
    }

    public func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    /// fdatasync of the file, then of its seal.
    public func sync() throws {
        try file.sync()
        try seal.sync()
    }

    /// The descriptors a background sync flushes, the file's first.
    public var descriptors: [Int32] { [file.rawValue, seal.rawValue] }

    private func writeSeal() throws {
        try seal.writeAll(SealedLines.encodeSeal(length: length, checksum: checksum), at: 0)
    }

    static func encodeSeal(length: Int, checksum: UInt32) -> [UInt8] {
        var s = magic + [version, 0, 0, 0]
        for i in 0..<8 { s.append(UInt8(truncatingIfNeeded: UInt64(length) >> (8 * UInt64(i)))) }
        for i in 0..<4 { s.append(UInt8(truncatingIfNeeded: checksum >> (8 * UInt32(i)))) }
        let own = s.withUnsafeBytes { CRC32.checksum($0) }
        for i in 0..<4 { s.append(UInt8(truncatingIfNeeded: own >> (8 * UInt32(i)))) }
        return s
    }

    static func decodeSeal(_ s: [UInt8]) -> (length: Int, checksum: UInt32)? {
        guard s.count == sealSize, Array(s[0..<4]) == magic, s[4] == version, s[5] == 0, s[6] == 0, s[7] == 0 else { return nil }
        func le(_ at: Int, _ n: Int) -> UInt64 { (0..<n).reduce(UInt64(0)) { $0 | UInt64(s[at + $1]) << (8 * UInt64($1)) } }
        let own = s.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
        guard UInt32(le(20, 4)) == own, le(8, 8) <= UInt64(Int.max) else { return nil }
        return (Int(le(8, 8)), UInt32(le(16, 4)))
    }

    /// Whether `line` (without its newline) is one of the whole lines in `bytes[0..<end]`.
    static func holdsLine(_ line: [UInt8], in bytes: [UInt8], upTo end: Int) -> Bool {
        var start = 0
        while start < end {
            var stop = start
            while stop < end && bytes[stop] != 0x0A { stop += 1 }
            if stop - start == line.count && bytes[start..<stop].elementsEqual(line) { return true }
            start = stop + 1
        }
        return false
    }
}
