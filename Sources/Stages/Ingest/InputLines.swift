#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// One raw input (file or standard input, gzip read transparently) split into physical lines,
/// with a look at its first bytes before anything is consumed (format and delimiter sniffing).
final class InputLines {
    let input: InputReader
    let maxLine: Int
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0
    private var end = 0
    private var scanned = 0
    private(set) var ended = false
    private(set) var lineNumber = 0

    init(path: String, maxLine: Int) throws {
        input = try InputReader(path: path)
        self.maxLine = maxLine
        capacity = max(4 << 20, maxLine + (1 << 20))
        buffer = .allocate(byteCount: capacity + 8, alignment: 16)
    }

    deinit { buffer.deallocate() }

    var name: String { input.name }

    /// The first bytes of the input (at least `count`, unless the input is shorter).
    func peek(_ count: Int) throws -> UnsafeRawBufferPointer {
        while end - start < count && !ended { try fill() }
        return UnsafeRawBufferPointer(start: buffer + start, count: end - start)
    }

    enum Event {
        case line(UnsafeRawBufferPointer, number: Int)
        case tooLong(number: Int, length: Int)
    }

    /// The next line without `\n` or `\r\n`; valid until the next call.
    func next() throws -> Event? {
        while true {
            if scanned < end, let hit = memchr(buffer + scanned, 0x0A, end - scanned) {
                let newline = buffer.distance(to: hit)
                lineNumber += 1
                var length = newline - start
                if length > 0 && buffer.load(fromByteOffset: newline - 1, as: UInt8.self) == 0x0D { length -= 1 }
                let line = UnsafeRawBufferPointer(start: buffer + start, count: length)
                start = newline + 1
                scanned = start
                if length > maxLine { return .tooLong(number: lineNumber, length: length) }
                return .line(line, number: lineNumber)
            }
            scanned = end
            if end - start > maxLine {
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
                return .line(line, number: lineNumber)
            }
            try fill()
        }
    }

    /// Everything not yet consumed, to the end of the input (for whole JSON documents).
    func readAll() throws -> [UInt8] {
        var all: [UInt8] = []
        while true {
            if start < end { all.append(contentsOf: UnsafeRawBufferPointer(start: buffer + start, count: end - start)) }
            start = 0; end = 0; scanned = 0
            if ended { return all }
            try fill()
        }
    }

    private func fill() throws {
        if start > 0 {
            let remaining = end - start
            if remaining > 0 { memmove(buffer, buffer + start, remaining) }
            scanned -= start
            end = remaining
            start = 0
        }
        let n = try input.read(into: buffer + end, count: capacity - end)
        if n == 0 { ended = true }
        end += n
    }

    private func skipToNewline() throws -> Int {
        var skipped = 0
        while true {
            if start == end {
                start = 0; end = 0; scanned = 0
                if ended { return skipped }
                try fill()
                if end == 0 { return skipped }
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
