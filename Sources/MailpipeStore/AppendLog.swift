#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// An append-only gzip NDJSON file (events, suppression): each append is one whole gzip member
/// followed by a small empty "seal" member, then an fsync.
///
/// The seal is a standard gzip member (an empty deflate block) whose header carries an extra
/// field with the append's start offset and a CRC32 of its compressed bytes. `zcat` reads the
/// file as plain NDJSON; the seal lets an opener check the last append in O(its size) and, when a
/// crash tore it, cut the file back to the last sealed append.
public final class AppendLog {
    public let path: String
    /// Bytes of the file that are whole, sealed appends.
    public private(set) var validLength: Int
    /// Opened for appending (`init(path:warn:)`).
    let writable: Bool

    static let sealSize = 42
    static let magic: [UInt8] = Array("MPLG".utf8)

    /// Opens for appending (the caller holds the tenant's lock). A torn tail is cut off, and
    /// `warn` is told so.
    public init(path: String, warn: (String) -> Void) throws {
        self.path = path
        writable = true
        let fd = try FileDescriptor.open(path, .readWrite, options: [.create, .noFollow])
        defer { fd.close() }
        let size = try fd.size()
        validLength = try AppendLog.lastSealedEnd(fd, size: size)
        if validLength < size {
            warn("\(path): cut off a torn last append (\(size - validLength) bytes after offset \(validLength))")
            try fd.truncate(to: validLength)
            try fd.sync()
        }
    }

    /// A log read only (a session that writes nothing): its sealed part, a torn tail left alone.
    public init(readOnly path: String) throws {
        self.path = path
        validLength = try AppendLog.readableLength(path: path)
        writable = false
    }

    /// A log not looked at yet (nothing valid, nothing may be appended).
    public init(unopened path: String) {
        self.path = path
        validLength = 0
        writable = false
    }

    /// The length of the readable, sealed part of a log, without changing it (for readers).
    public static func readableLength(path: String) throws -> Int {
        guard FileSystem.entryExists(path) else { return 0 }
        let fd = try FileDescriptor.openForReading(path, options: .noFollow)
        defer { fd.close() }
        return try lastSealedEnd(fd, size: try fd.size())
    }

    /// Appends NDJSON lines (each ending in `\n`) as one sealed member; durable on return.
    public func append(_ lines: [UInt8], level: Int32 = 6) throws {
        try lines.withUnsafeBytes { try append(bytes: $0, level: level) }
    }

    /// `append(_:level:)` for lines held in other storage (no copy into an array first).
    public func append(bytes lines: UnsafeRawBufferPointer, level: Int32 = 6) throws {
        precondition(writable, "\(path): appending to a log opened read-only")
        guard !lines.isEmpty else { return }
        var bytes: [UInt8] = []
        if lines.count > 2 * ParallelGzip.chunkSize {
            // Large appends (event imports): one member, compressed on every core.
            let workers = Cores.workers
            try ParallelGzip.compressMember(lines, level: level, workers: workers, appendingTo: &bytes)
        } else {
            let encoder = try GzipEncoder(level: level)
            try encoder.compressMember(lines, appendingTo: &bytes)
        }
        let crc = bytes.withUnsafeBytes { CRC32.checksum($0) }
        bytes.append(contentsOf: AppendLog.seal(start: UInt64(validLength), crc: crc))
        let fd = try FileDescriptor.open(path, .writeOnly, options: [.append, .create, .noFollow])
        defer { fd.close() }
        try fd.writeAll(bytes)
        try fd.sync()
        validLength += bytes.count
    }

    static func seal(start: UInt64, crc: UInt32) -> [UInt8] {
        var s: [UInt8] = [0x1F, 0x8B, 0x08, 0x04, 0, 0, 0, 0, 0, 0xFF]  // header, FLG.FEXTRA
        s += [20, 0]                                                   // XLEN
        s += [UInt8(ascii: "M"), UInt8(ascii: "P"), 16, 0]             // subfield id and length
        for i in 0..<8 { s.append(UInt8(truncatingIfNeeded: start >> (8 * UInt64(i)))) }
        for i in 0..<4 { s.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))) }
        s += magic
        s += [0x03, 0x00]                                              // empty final deflate block
        s += [0, 0, 0, 0, 0, 0, 0, 0]                                  // CRC32 and ISIZE of nothing
        return s
    }

    /// Finds the end of the last seal that checks out, scanning back from the end of the file.
    static func lastSealedEnd(_ fd: FileDescriptor, size: Int) throws -> Int {
        if size == 0 { return 0 }
        let chunk = 1 << 16
        var hi = size
        while hi >= sealSize {
            let lo = max(0, hi - chunk)
            var window = [UInt8](repeating: 0, count: hi - lo)
            _ = try window.withUnsafeMutableBytes { try fd.readFully(into: $0.baseAddress!, count: $0.count, at: lo) }
            // Candidate seal ends, from the highest down.
            var end = window.count
            while end >= sealSize {
                let s = end - sealSize
                if window[s] == 0x1F && window[s + 1] == 0x8B && window[s + 12] == UInt8(ascii: "M")
                    && window[s + 13] == UInt8(ascii: "P") && Array(window[(s + 28)..<(s + 32)]) == magic {
                    var start: UInt64 = 0
                    for i in 0..<8 { start |= UInt64(window[s + 16 + i]) << (8 * UInt64(i)) }
                    var crc: UInt32 = 0
                    for i in 0..<4 { crc |= UInt32(window[s + 24 + i]) << (8 * UInt32(i)) }
                    let sealOffset = lo + s
                    if start <= UInt64(sealOffset), try checksum(fd, from: Int(start), to: sealOffset) == crc {
                        return sealOffset + sealSize
                    }
                }
                end -= 1
            }
            if lo == 0 { break }
            hi = lo + sealSize - 1  // overlap so a seal across the chunk edge is seen
        }
        return 0
    }

    static func checksum(_ fd: FileDescriptor, from: Int, to: Int) throws -> UInt32 {
        var crc: UInt32 = 0
        var offset = from
        var buffer = [UInt8](repeating: 0, count: min(1 << 20, max(1, to - from)))
        while offset < to {
            let want = min(buffer.count, to - offset)
            let got = try buffer.withUnsafeMutableBytes { try fd.readFully(into: $0.baseAddress!, count: want, at: offset) }
            if got < want { return ~crc }  // file shorter than the seal claims: cannot match
            crc = buffer.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<got]), seed: crc) }
            offset += got
        }
        return crc
    }
}
