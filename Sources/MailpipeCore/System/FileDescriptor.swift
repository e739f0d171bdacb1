#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A thin, honest wrapper over a POSIX file descriptor: EINTR retried, errors typed, no buffering.
public struct FileDescriptor: Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    /// How a file is opened: for reading, writing, or both.
    public enum AccessMode: Sendable {
        case readOnly, writeOnly, readWrite

        var flags: Int32 {
            switch self {
            case .readOnly: return O_RDONLY
            case .writeOnly: return O_WRONLY
            case .readWrite: return O_RDWR
            }
        }
    }

    /// open(2) options (close-on-exec is always set).
    public struct OpenOptions: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let create = OpenOptions(rawValue: O_CREAT)
        public static let truncate = OpenOptions(rawValue: O_TRUNC)
        public static let append = OpenOptions(rawValue: O_APPEND)
        /// With `.create`: fail if the name exists (even as a dangling link).
        public static let exclusiveCreate = OpenOptions(rawValue: O_EXCL)
        /// Refuse a symbolic link as the last component: `SymbolicLinkRefused`. Every state file
        /// is opened so.
        public static let noFollow = OpenOptions(rawValue: O_NOFOLLOW)
        public static let directory = OpenOptions(rawValue: O_DIRECTORY)
    }

    public static func open(_ path: String, _ mode: AccessMode, options: OpenOptions = [],
                            permissions: mode_t = 0o600) throws -> FileDescriptor {
        let fd = retryingEINTR { Glibc.open(path, mode.flags | options.rawValue | O_CLOEXEC, permissions) }
        if fd >= 0 { return FileDescriptor(rawValue: fd) }
        let error = SystemError("open", path: path)
        // O_NOFOLLOW answers ELOOP for a link as the last component (a loop further up is a
        // plain ELOOP).
        if options.contains(.noFollow) && error.errno == .tooManySymbolicLinkLevels && FileSystem.isSymbolicLink(path) {
            throw SymbolicLinkRefused(path: path)
        }
        throw error
    }

    public static func openForReading(_ path: String, options: OpenOptions = []) throws -> FileDescriptor {
        try open(path, .readOnly, options: options)
    }

    public func close() {
        _ = Glibc.close(rawValue)
    }

    /// Reads up to `count` bytes; 0 means end of file.
    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        let n = retryingEINTR { Glibc.read(rawValue, buffer, count) }
        if n < 0 { throw SystemError("read") }
        return n
    }

    public func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) throws -> Int {
        let n = retryingEINTR { Glibc.pread(rawValue, buffer, count, off_t(offset)) }
        if n < 0 { throw SystemError("pread") }
        return n
    }

    /// Reads exactly `count` bytes at `offset` unless the file ends first; returns how many were read.
    public func readFully(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) throws -> Int {
        var done = 0
        while done < count {
            let n = try read(into: buffer + done, count: count - done, at: offset + done)
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes every byte, looping over short writes. EPIPE surfaces as `SystemError` with errno EPIPE.
    public func writeAll(_ buffer: UnsafeRawBufferPointer) throws {
        guard var base = buffer.baseAddress else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let n = retryingEINTR { Glibc.write(rawValue, base, remaining) }
            if n < 0 { throw SystemError("write") }
            base += n
            remaining -= n
        }
    }

    /// Writes several buffers in order with writev(2), as many per call as the kernel takes.
    public func writeAll(gathering parts: [UnsafeRawBufferPointer]) throws {
        var vectors = parts.filter { $0.count > 0 }.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress!), iov_len: $0.count) }
        var first = 0
        while first < vectors.count {
            let count = Int32(min(vectors.count - first, 1024))
            var n = vectors.withUnsafeBufferPointer { v in retryingEINTR { Glibc.writev(rawValue, v.baseAddress! + first, count) } }
            if n < 0 { throw SystemError("writev") }
            // Skip what was written: whole vectors, then the start of a partly written one.
            while first < vectors.count && n >= vectors[first].iov_len { n -= vectors[first].iov_len; first += 1 }
            if n > 0 {
                vectors[first].iov_base += n
                vectors[first].iov_len -= n
            }
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll($0) }
    }

    /// Writes every byte at `offset` (pwrite(2)), leaving the file offset alone.
    public func writeAll(_ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = retryingEINTR { Glibc.pwrite(rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done)) }
                if n < 0 { throw SystemError("pwrite") }
                done += n
            }
        }
    }

    public func writeAll(_ string: String) throws {
        var copy = string
        try copy.withUTF8 { try writeAll(UnsafeRawBufferPointer($0)) }
    }

    public func sync() throws {
        if retryingEINTR({ fsync(rawValue) }) != 0 { throw SystemError("fsync") }
    }

    public func size() throws -> Int {
        var st = stat()
        if fstat(rawValue, &st) != 0 { throw SystemError("fstat") }
        return Int(st.st_size)
    }

    public func truncate(to length: Int) throws {
        if retryingEINTR({ ftruncate(rawValue, off_t(length)) }) != 0 { throw SystemError("ftruncate") }
    }

    public func seekToEnd() throws -> Int {
        let off = lseek(rawValue, 0, SEEK_END)
        if off < 0 { throw SystemError("lseek") }
        return Int(off)
    }

    public var isTerminal: Bool { isatty(rawValue) == 1 }
}
