#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffered output to a file descriptor, sent in large writes. A reader that went away (EPIPE)
/// becomes `StageError.outputClosed`, which stages turn into a quiet exit 0.
public struct OutputSink {
    public let descriptor: FileDescriptor
    public var buffer: ByteBuffer
    private let flushThreshold: Int

    public init(descriptor: FileDescriptor = .standardOutput, flushThreshold: Int = 1 << 20) {
        self.descriptor = descriptor
        self.flushThreshold = flushThreshold
        buffer = ByteBuffer(capacity: flushThreshold + (64 << 10))
        IdleFlush.register(descriptor, buffer)
    }

    /// A sink that never writes: a worker thread's share of the output, which its owner appends
    /// to the real sink in order.
    public static func memory(capacity: Int = 1 << 20) -> OutputSink {
        OutputSink(descriptor: .standardOutput, flushThreshold: .max, capacity: capacity)
    }

    private init(descriptor: FileDescriptor, flushThreshold: Int, capacity: Int) {
        self.descriptor = descriptor
        self.flushThreshold = flushThreshold
        buffer = ByteBuffer(capacity: capacity)
    }

    /// Appends one line (a newline is added).
    @inline(__always)
    public mutating func writeLine(_ bytes: UnsafeRawBufferPointer) throws {
        buffer.append(bytes)
        buffer.append(0x0A)
        if buffer.count >= flushThreshold { try flush() }
    }

    /// Call after appending directly to `buffer`.
    @inline(__always)
    public mutating func flushIfNeeded() throws {
        if buffer.count >= flushThreshold { try flush() }
    }

    /// Appends the contents of other buffers (a worker's share of the output, in order). Large
    /// contents go straight to the descriptor in one gathering write, not through this buffer.
    public mutating func write(_ parts: [ByteBuffer]) throws {
        let total = parts.reduce(0) { $0 + $1.count }
        if total < flushThreshold / 4 {   // small, or a memory sink (threshold .max)
            for part in parts { part.withUnsafeBytes { buffer.append($0) } }
            try flushIfNeeded()
            return
        }
        try flush()
        do {
            try descriptor.writeAll(gathering: parts.map { UnsafeRawBufferPointer(start: $0.storage.base, count: $0.count) })
        } catch let error as SystemError where error.errno == .brokenPipe {
            throw StageError.outputClosed
        }
    }

    public mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        do {
            try buffer.withUnsafeBytes { try descriptor.writeAll($0) }
        } catch let error as SystemError where error.errno == .brokenPipe {
            buffer.removeAll()
            throw StageError.outputClosed
        }
        buffer.removeAll()
    }
}

/// Broken pipes must surface as EPIPE from write(2), not kill the process silently mid-summary.
public func ignoreBrokenPipeSignal() {
    signal(SIGPIPE, SIG_IGN)
}
