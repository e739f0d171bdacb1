#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File-system operations the state layer needs, each a single honest system call or a short,
/// documented sequence of them.
public enum FileSystem {
    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The file's device and inode (nil when it does not exist): a file replaced by a rename
    /// has another identity.
    public static func identity(_ path: String) -> (device: UInt64, inode: UInt64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    /// What a name is, without following a link.
    public enum EntryKind: Sendable { case file, folder, symbolicLink, other }

    /// The kind of `path` itself (lstat), or nil when nothing has that name; any other failure
    /// (EACCES on a folder above it, …) throws, so "missing" is never confused with "unreachable".
    public static func entryKind(_ path: String) throws -> EntryKind? {
        var st = stat()
        if lstat(path, &st) != 0 {
            let error = SystemError("lstat", path: path)
            if error.errno == .noSuchFileOrDirectory { return nil }
            throw error
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .folder
        case S_IFLNK: return .symbolicLink
        default: return .other
        }
    }

    /// Whether `path` itself (not what it points to) is a symbolic link.
    public static func isSymbolicLink(_ path: String) -> Bool {
        (try? entryKind(path)) == .symbolicLink
    }

    /// Whether anything — a file, a folder, a link, even a dangling one — has this name.
    public static func entryExists(_ path: String) -> Bool {
        ((try? entryKind(path)) ?? nil) != nil
    }

    /// Checks that `path` is a real folder, not a link to one (state folders: a write below a
    /// linked folder would land outside the state); with `creating`, a missing folder is made
    /// (its parent must exist). Returns whether the folder exists.
    @discardableResult
    public static func requireFolder(_ path: String, creating: Bool = false, mode: mode_t = 0o700) throws -> Bool {
        switch try entryKind(path) {
        case .folder:
            return true
        case .symbolicLink:
            throw SymbolicLinkRefused(path: path)
        case .file, .other:
            throw SystemError("open folder", path: path, errno: .notDirectory)
        case nil:
            guard creating else { return false }
            if mkdir(path, mode) != 0 && currentErrno() != EEXIST { throw SystemError("mkdir", path: path) }
            return try requireFolder(path)
        }
    }

    public static func fileSize(_ path: String) throws -> Int {
        var st = stat()
        if stat(path, &st) != 0 { throw SystemError("stat", path: path) }
        return Int(st.st_size)
    }

    /// Creates a folder (and its parents) with the given mode; an existing folder is fine.
    public static func createDirectory(_ path: String, mode: mode_t = 0o700) throws {
        if isDirectory(path) { return }
        let parent = dirname(of: path)
        if !parent.isEmpty && parent != path && !isDirectory(parent) {
            try createDirectory(parent, mode: mode)
        }
        if mkdir(path, mode) != 0 && currentErrno() != EEXIST {
            throw SystemError("mkdir", path: path)
        }
    }

    public static func remove(_ path: String) throws {
        if unlink(path) != 0 && currentErrno() != ENOENT { throw SystemError("unlink", path: path) }
    }

    public static func rename(_ from: String, to: String) throws {
        if Glibc.rename(from, to) != 0 { throw SystemError("rename", path: "\(from) -> \(to)") }
    }

    /// fsync of a folder makes a rename or a new entry in it durable.
    public static func syncDirectory(_ path: String) throws {
        let fd = try FileDescriptor.open(path, .readOnly, options: .directory)
        defer { fd.close() }
        try fd.sync()
    }

    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw SystemError("opendir", path: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The whole file. State files are read with `options: .noFollow`.
    public static func readFile(_ path: String, options: FileDescriptor.OpenOptions = []) throws -> [UInt8] {
        let fd = try FileDescriptor.openForReading(path, options: options)
        defer { fd.close() }
        return try readToEnd(fd)
    }

    /// Standard input, all of it (a small document piped in: an alert).
    public static func readStandardInput() throws -> [UInt8] { try readToEnd(.standardInput) }

    static func readToEnd(_ fd: FileDescriptor) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0.baseAddress!, count: $0.count) }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// The whole file, or nil when nothing has that name (any other failure throws).
    public static func readFileIfPresent(_ path: String, options: FileDescriptor.OpenOptions = []) throws -> [UInt8]? {
        do { return try readFile(path, options: options) } catch let error as SystemError where error.errno == .noSuchFileOrDirectory {
            return nil
        }
    }

    /// Replaces `path` atomically: the bytes go to a temporary file beside it, which is fsynced,
    /// renamed over the target, and the folder fsynced — a crash leaves the old or the new file.
    /// The temporary is created afresh (never through a link left at its name), and the rename
    /// replaces a link at `path` rather than writing through it.
    public static func writeAtomically(_ path: String, _ bytes: UnsafeRawBufferPointer, mode: mode_t = 0o600) throws {
        let temporary = "\(path).tmp-\(getpid())"
        try remove(temporary)
        let fd = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .exclusiveCreate, .noFollow], permissions: mode)
        do {
            try fd.writeAll(bytes)
            try fd.sync()
            fd.close()
        } catch {
            fd.close()
            try? remove(temporary)
            throw error
        }
        try rename(temporary, to: path)
        try syncDirectory(dirname(of: path))
    }

    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws {
        try bytes.withUnsafeBytes { try writeAtomically(path, $0, mode: mode) }
    }

    public static func dirname(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func basename(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    public static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}

/// An advisory lock (flock) on a file, held until `unlock` or process exit — so a killed writer
/// never leaves a stale lock behind. The lock file is never a link (`SymbolicLinkRefused`).
public final class FileLock {
    public let path: String
    private let descriptor: FileDescriptor

    /// Blocks until the lock is granted: exclusive, or `shared` with other shared holders.
    public convenience init(path: String, shared: Bool = false) throws {
        try self.init(path: path, descriptor: FileDescriptor.open(path, .readWrite, options: [.create, .noFollow]), shared: shared)
    }

    /// A reader's shared lock: the lock file opened read-only, never created — so a check works
    /// on a read-only state and writes nothing. Nil when there is no lock file (no writer ran
    /// there yet) or it cannot be opened (another user's state, readable to us).
    public static func sharedIfPresent(path: String) throws -> FileLock? {
        let descriptor: FileDescriptor
        do { descriptor = try FileDescriptor.open(path, .readOnly, options: .noFollow) } catch let error as SystemError
            where error.errno == .noSuchFileOrDirectory || error.errno == .permissionDenied {
            return nil
        }
        return try FileLock(path: path, descriptor: descriptor, shared: true)
    }

    private init(path: String, descriptor: FileDescriptor, shared: Bool) throws {
        self.path = path
        self.descriptor = descriptor
        if retryingEINTR({ flock(descriptor.rawValue, shared ? LOCK_SH : LOCK_EX) }) != 0 {
            let error = SystemError("flock", path: path)
            descriptor.close()
            throw error
        }
    }

    private var held = true

    public func unlock() {
        guard held else { return }
        held = false
        _ = flock(descriptor.rawValue, LOCK_UN)
        descriptor.close()
    }

    deinit { unlock() }
}
