#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// errno as a value, in the style of swift-system's `Errno`: the codes mailpipe tells apart have
/// names; any other is kept by its number.
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's errno, now.
    public static var current: Errno { Errno(rawValue: currentErrno()) }

    public static let notPermitted = Errno(rawValue: EPERM)
    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    public static let interrupted = Errno(rawValue: EINTR)
    public static let resourceTemporarilyUnavailable = Errno(rawValue: EAGAIN)
    public static let noMemory = Errno(rawValue: ENOMEM)
    public static let permissionDenied = Errno(rawValue: EACCES)
    public static let fileExists = Errno(rawValue: EEXIST)
    public static let notDirectory = Errno(rawValue: ENOTDIR)
    public static let isDirectory = Errno(rawValue: EISDIR)
    public static let noSpace = Errno(rawValue: ENOSPC)
    public static let readOnlyFileSystem = Errno(rawValue: EROFS)
    public static let brokenPipe = Errno(rawValue: EPIPE)
    public static let fileNameTooLong = Errno(rawValue: ENAMETOOLONG)
    public static let tooManySymbolicLinkLevels = Errno(rawValue: ELOOP)

    public var description: String { String(cString: strerror(rawValue)) }
}

/// A failed system call: the operation, the path it concerned, and errno as a value.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public let operation: String
    public let path: String?
    public let errno: Errno

    public init(_ operation: String, path: String? = nil, errno: Errno = .current) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        if let path { return "\(operation) \(path): \(errno)" }
        return "\(operation): \(errno)"
    }
}

/// A state file or folder that is a symbolic link. mailpipe never follows one below the state
/// root: a link there would let a write (an append, a repair, a truncation) land outside it.
public struct SymbolicLinkRefused: Error, CustomStringConvertible, Equatable {
    public let path: String
    public init(path: String) { self.path = path }

    public var description: String {
        "\(path) is a symbolic link; mailpipe does not follow links inside a tenant's state (a write through it would land outside the state). Put the file or folder itself there, or remove the link."
    }
}

@inline(__always)
public func currentErrno() -> Int32 {
    #if canImport(Glibc)
    return Glibc.errno
    #else
    return Darwin.errno
    #endif
}

/// Runs a system call again while it fails with EINTR (a signal arrived mid-call).
@inline(__always)
func retryingEINTR<T: BinaryInteger>(_ call: () -> T) -> T {
    while true {
        let result = call()
        if result == -1 && currentErrno() == EINTR { continue }
        return result
    }
}
