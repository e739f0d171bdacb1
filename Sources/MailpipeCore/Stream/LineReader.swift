#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the line reader yields.
public enum LineEvent {
    /// A line without its `\n` (and without a `\r` before it). Valid until the next call.
    case line(UnsafeRawBufferPointer, number: Int)
    /// A line longer than the limit: skipped without being loaded.
    case tooLong(number: Int, length: Int)
}

/// Splits an input into lines without copying them: lines are slices of one large buffer.
///
/// A line is valid until the next call — or, with `holdsLines`, until the caller gives back the
/// buffer it is in: the reader then never moves nor overwrites bytes it has handed out, and goes
/// on in another buffer when one is full (`takeRetired`, `recycle`). A caller that works on a
/// batch of lines while the reader reads the next (`ParallelRecordStream`) needs no copy of them.
public struct LineReader {
    public let maxLine: Int
    public let holdsLines: Bool
    private let input: InputReader
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    /// Room for a full line of the maximum length plus a large read behind it. The buffer
    /// starts smaller and grows to this only for a line that needs it, so a large `maxLine`
    /// costs no memory until such a line comes.
    private let maxCapacity: Int
    private var start = 0
    private var end = 0
    private var scanned = 0
    private var ended = false
    /// Whether a line has been handed out of the current buffer (only then must it stay put).
    private var lent = false
    /// With `holdsLines`: buffers moved off, not yet taken by the caller; and buffers given back.
    private var retired: [LineBlock] = []
    private var spares: [LineBlock] = []
    public private(set) var lineNumber = 0

    public init(input: InputReader, maxLine: Int = 1 << 20, holdsLines: Bool = false) {
        self.input = input
        self.maxLine = maxLine
        self.holdsLines = holdsLines
        // 8 spare bytes let wide loads run past a line's end.
        maxCapacity = max(4 << 20, maxLine + (1 << 20))
        capacity = 4 << 20
        buffer = .allocate(byteCount: capacity + 8, alignment: 16)
    }

    public func deallocate() { buffer.deallocate() }

    public var inputName: String { input.name }

    /// The first bytes of what is not yet consumed (at least `count`, unless the input is
    /// shorter), without consuming them — for sniffing a format or a delimiter.
    public mutating func peek(_ count: Int) throws -> UnsafeRawBufferPointer {
        while end - start < min(count, capacity) && !ended { try fill() }
        return UnsafeRawBufferPointer(start: buffer + start, count: end - start)
    }

    /// `peek`, except that on an input that may wait (a pipe) it stops once a complete line is
    /// buffered and nothing more can be read without waiting: a trickling writer's first line
    /// is not held back while the head of its input is sniffed.
    public mutating func peekReady(_ count: Int) throws -> UnsafeRawBufferPointer {
        while end - start < min(count, capacity) && !ended {
            if input.mayWait && end > start && memchr(buffer + start, 0x0A, end - start) != nil && !input.isReadable { break }
            try fill()
        }
        return UnsafeRawBufferPointer(start: buffer + start, count: end - start)
    }

    /// Everything not yet consumed, to the end of the input (for whole JSON documents).
    public mutating func readAll() throws -> [UInt8] {
        var all: [UInt8] = []
        while true {
            if start < end { all.append(contentsOf: UnsafeRawBufferPointer(start: buffer + start, count: end - start)) }
            start = end; scanned = end
            if ended { return all }
            try fill()
        }
    }

    /// Whether reading may wait on a writer (a pipe, not a file): only then must a batching
    /// reader hand over what it holds when nothing more is buffered.
    public var inputMayWait: Bool { input.mayWait }

    /// True when `next()` can answer without reading the input (a complete line is buffered, or
    /// the input has ended): a batching reader stops gathering here rather than wait on a pipe.
    public mutating func hasBufferedLine() -> Bool {
        ended || findNewline() != nil || end - start > maxLine
    }

    /// `hasBufferedLine()`, or else, on a plain input whose writer is ahead (bytes ready in the
    /// pipe), the same after one read of them — a read that cannot wait. A batching reader then
    /// keeps up with a fast writer through a pipe (a pipe holds 64 KB: ~150 records) and still
    /// never holds back the lines of a trickling one. A gzip input is not read ahead: its
    /// decoder may need more than the pipe holds to give a byte.
    public mutating func hasReadyLine() throws -> Bool {
        if hasBufferedLine() { return true }
        guard !input.isGzip, input.isReadable else { return false }
        try fill()
        return hasBufferedLine()
    }

    public mutating func next() throws -> LineEvent? {
        while true {
            if let newline = findNewline() {
                lineNumber += 1
                var length = newline - start
                if length > 0 && buffer.load(fromByteOffset: newline - 1, as: UInt8.self) == 0x0D { length -= 1 }
                let line = UnsafeRawBufferPointer(start: buffer + start, count: length)
                start = newline + 1
                scanned = start
                if length > maxLine { return .tooLong(number: lineNumber, length: length) }
                lent = true
                return .line(line, number: lineNumber)
            }
            if end - start > maxLine {
                // The line is over the limit: count and drop it without holding it.
                lineNumber += 1
                let number = lineNumber
                var length = end - start
                start = end
                scanned = end
                length += try skipToNewline()
                return .tooLong(number: number, length: length)
            }
            if ended {
                guard start < end else { return nil }
                lineNumber += 1
                var length = end - start
                if buffer.load(fromByteOffset: end - 1, as: UInt8.self) == 0x0D { length -= 1 }
                let line = UnsafeRawBufferPointer(start: buffer + start, count: length)
                start = end
                scanned = end
                if length > maxLine { return .tooLong(number: lineNumber, length: length) }
                lent = true
                return .line(line, number: lineNumber)
            }
            try fill()
        }
    }

    @inline(__always)
    private mutating func findNewline() -> Int? {
        guard scanned < end else { return nil }
        if let hit = memchr(buffer + scanned, 0x0A, end - scanned) {
            return buffer.distance(to: hit)
        }
        scanned = end
        return nil
    }

    private mutating func fill() throws {
        if holdsLines && lent {
            // The lines handed out stay where they are: read on behind them while a large read
            // fits, then go on in another buffer.
            if capacity - end < capacity / 8 { moveToAnotherBuffer() }
        } else if start > 0 {
            let remaining = end - start
            if remaining > 0 { memmove(buffer, buffer + start, remaining) }
            scanned -= start
            end = remaining
            start = 0
        }
        if end == capacity && capacity < maxCapacity {
            // One line fills the buffer: make room for it, up to the limit.
            capacity = min(maxCapacity, capacity * 2)
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity + 8, alignment: 16)
            bigger.copyMemory(from: buffer, byteCount: end)
            buffer.deallocate()
            buffer = bigger
        }
        let n = try input.read(into: buffer + end, count: capacity - end)
        if n == 0 { ended = true }
        end += n
    }

    /// With `holdsLines`: the buffer the lines handed out so far are in becomes the caller's, and
    /// the unread rest goes on at the start of another (a spare given back, or a new one).
    private mutating func moveToAnotherBuffer() {
        var next: UnsafeMutableRawPointer? = nil
        while next == nil, let spare = spares.popLast() {
            if spare.capacity == capacity { next = spare.take() }
        }
        let other = next ?? .allocate(byteCount: capacity + 8, alignment: 16)
        let remaining = end - start
        if remaining > 0 { other.copyMemory(from: buffer + start, byteCount: remaining) }
        retired.append(LineBlock(bytes: buffer, capacity: capacity))
        buffer = other
        scanned -= start
        end = remaining
        start = 0
        lent = false
    }

    /// With `holdsLines`: the buffers moved off since the last call. The lines handed out of
    /// them stay valid while the caller holds them; `recycle` gives them back for reuse.
    public mutating func takeRetired() -> [LineBlock] {
        defer { retired.removeAll(keepingCapacity: true) }
        return retired
    }

    /// Takes back buffers from `takeRetired` (of this reader or another) whose lines are done with.
    public mutating func recycle(_ blocks: [LineBlock]) {
        for block in blocks where spares.count < 4 && block.capacity == capacity { spares.append(block) }
    }

    /// Discards bytes up to and including the next newline; returns how many were discarded.
    private mutating func skipToNewline() throws -> Int {
        var skipped = 0
        while true {
            if start == end {
                if ended { return skipped }
                try fill()
                if start == end { return skipped }
            }
            if let hit = memchr(buffer + start, 0x0A, end - start) {
                let newline = buffer.distance(to: hit)
                skipped += newline - start
                start = newline + 1
                scanned = start
                return skipped
            }
            skipped += end - start
            start = end
            scanned = end
        }
    }
}

/// A buffer a `LineReader` that `holdsLines` has moved off: the caller holds it while it uses
/// the lines in it; it frees its memory when dropped.
public final class LineBlock {
    private var bytes: UnsafeMutableRawPointer?
    fileprivate let capacity: Int

    fileprivate init(bytes: UnsafeMutableRawPointer, capacity: Int) {
        self.bytes = bytes
        self.capacity = capacity
    }

    /// The memory, for the reader to read into again: the block no longer owns it.
    fileprivate func take() -> UnsafeMutableRawPointer? {
        defer { bytes = nil }
        return bytes
    }

    deinit { bytes?.deallocate() }
}
