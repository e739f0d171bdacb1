#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// Reading an append log by appends: the seals name where each append starts, so a reader can
/// inflate appends on several cores, or read only the appends after a known offset.
extension AppendLog {
    /// The byte ranges of the sealed appends in the first `length` bytes (oldest first), each
    /// without its seal. `length` must be a sealed end (e.g. `readableLength(path:)`).
    public static func appendRanges(path: String, length: Int) throws -> [Range<Int>] {
        guard length > 0 else { return [] }
        let fd = try FileDescriptor.openForReading(path, options: .noFollow)
        defer { fd.close() }
        var ranges: [Range<Int>] = []
        var end = length
        var seal = [UInt8](repeating: 0, count: sealSize)
        while end > 0 {
            guard end >= sealSize else { throw chainDamage(path, "no seal before offset \(end)") }
            let got = try seal.withUnsafeMutableBytes { try fd.readFully(into: $0.baseAddress!, count: sealSize, at: end - sealSize) }
            guard got == sealSize, seal[0] == 0x1F, seal[1] == 0x8B, Array(seal[28..<32]) == magic else {
                throw chainDamage(path, "expected a seal ending at offset \(end)")
            }
            var start: UInt64 = 0
            for i in 0..<8 { start |= UInt64(seal[16 + i]) << (8 * UInt64(i)) }
            guard Int(start) < end - sealSize + 1 else { throw chainDamage(path, "the seal at \(end - sealSize) points forward") }
            ranges.append(Int(start)..<(end - sealSize))
            end = Int(start)
        }
        return ranges.reversed()
    }

    /// The seals no longer lead from one append to the one before (bytes of an earlier seal
    /// changed): damage naming fsck, which rebuilds the suppression list and names an event log
    /// that only a backup restores.
    private static func chainDamage(_ path: String, _ problem: String) -> StateDamage {
        StateDamage(file: path, problem: "damaged appends: \(problem)", repair: .fsck)
    }

    /// The start of the first sealed append (in the first `length` bytes) whose bytes do not
    /// match the checksum in its seal, or nil when every one does (`account fsck`; an opener
    /// checks only the last).
    public static func firstDamagedAppend(path: String, length: Int) throws -> Int? {
        let fd = try FileDescriptor.openForReading(path, options: .noFollow)
        defer { fd.close() }
        var seal = [UInt8](repeating: 0, count: sealSize)
        for range in try appendRanges(path: path, length: length) {
            _ = try seal.withUnsafeMutableBytes { try fd.readFully(into: $0.baseAddress!, count: sealSize, at: range.upperBound) }
            var crc: UInt32 = 0
            for i in 0..<4 { crc |= UInt32(seal[24 + i]) << (8 * UInt32(i)) }
            if try checksum(fd, from: range.lowerBound, to: range.upperBound) != crc { return range.lowerBound }
        }
        return nil
    }

    /// Calls `body` with every line of the bytes `range` of a gzip file (whole members).
    public static func forEachLine(path: String, range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = try FileDescriptor.openForReading(path, options: .noFollow)
        defer { fd.close() }
        let decoder = try GzipDecoder()
        let inSize = 1 << 20
        let outSize = 4 << 20
        let input = UnsafeMutableRawBufferPointer.allocate(byteCount: inSize, alignment: 16)
        defer { input.deallocate() }
        var output = UnsafeMutableRawBufferPointer.allocate(byteCount: outSize, alignment: 16)
        defer { output.deallocate() }
        var carry = 0  // bytes of an unfinished line at the start of `output`
        var offset = range.lowerBound
        var inStart = 0
        var inEnd = 0
        while true {
            if inStart == inEnd {
                if offset >= range.upperBound { break }
                let want = min(inSize, range.upperBound - offset)
                let got = try fd.readFully(into: input.baseAddress!, count: want, at: offset)
                if got == 0 { throw StateDamage(file: path, problem: "shorter than its seals say", repair: .fsck) }
                offset += got
                inStart = 0
                inEnd = got
            }
            if carry == output.count {  // a line longer than the buffer: grow it
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: output.count * 2, alignment: 16)
                bigger.baseAddress!.copyMemory(from: output.baseAddress!, byteCount: carry)
                output.deallocate()
                output = bigger
            }
            let consumed: Int, produced: Int
            do {
                (consumed, produced) = try decoder.inflate(
                    input: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[inStart..<inEnd]),
                    output: UnsafeMutableRawBufferPointer(rebasing: output[carry...]))
            } catch let error as ZlibError {
                // A sealed append that does not inflate: its bytes changed after it was written.
                throw StateDamage(file: path, problem: "the append at offset \(range.lowerBound) does not inflate (\(error))", repair: .restore)
            }
            inStart += consumed
            let filled = carry + produced
            var lineStart = 0
            let base = UnsafeRawPointer(output.baseAddress!)
            while lineStart < filled {
                guard let nl = memchr(base + lineStart, 0x0A, filled - lineStart) else { break }
                let end = base.distance(to: UnsafeRawPointer(nl))
                if end > lineStart { try body(UnsafeRawBufferPointer(start: base + lineStart, count: end - lineStart)) }
                lineStart = end + 1
            }
            carry = filled - lineStart
            if carry > 0 && lineStart > 0 { memmove(output.baseAddress!, base + lineStart, carry) }
            if consumed == 0 && produced == 0 && inStart < inEnd {
                throw StageError.runtime("\(path): inflate made no progress")
            }
        }
        if carry > 0 { try body(UnsafeRawBufferPointer(start: output.baseAddress!, count: carry)) }
    }

    /// Reads the sealed appends of a log on up to `workers` threads. Each worker gets its own
    /// state from `makeState` and sees whole appends; the states are returned in worker order
    /// (appends are dealt round-robin, so merge results that do not depend on order).
    public static func parallelScan<State>(path: String, from: Int = 0, workers: Int,
                                           makeState: () -> State,
                                           line: @escaping (inout State, UnsafeRawBufferPointer) throws -> Void) throws -> [State] {
        let length = try readableLength(path: path)
        let ranges = try appendRanges(path: path, length: length).filter { $0.lowerBound >= from }
        let n = max(1, min(workers, ranges.count))
        let states = UnsafeMutableBufferPointer<State>.allocate(capacity: n)
        for i in 0..<n { (states.baseAddress! + i).initialize(to: makeState()) }
        defer { states.deinitialize(); states.deallocate() }
        let errors = UnsafeMutableBufferPointer<Error?>.allocate(capacity: n)
        errors.initialize(repeating: nil)
        defer { errors.deinitialize(); errors.deallocate() }
        // Largest appends first, dealt to the least loaded worker.
        var load = [Int](repeating: 0, count: n)
        var assigned = [[Range<Int>]](repeating: [], count: n)
        for r in ranges.sorted(by: { $0.count > $1.count }) {
            let w = load.indices.min { load[$0] < load[$1] }!
            assigned[w].append(r)
            load[w] += r.count
        }
        try WorkCrew.perform(workers: n) { w in
            do {
                for r in assigned[w] {
                    try forEachLine(path: path, range: r) { try line(&states[w], $0) }
                }
            } catch {
                errors[w] = error
            }
        }
        if let e = errors.compactMap({ $0 }).first { throw e }
        return Array(states)
    }

    /// Replaces a log by one holding `lines` (one sealed append), atomically: written beside the
    /// old file, fsynced, renamed. An empty `lines` leaves an empty log.
    public static func replace(path: String, lines: [UInt8]) throws {
        let temp = path + ".new"
        try FileSystem.remove(temp)
        let log = try AppendLog(path: temp, warn: { _ in })
        try log.append(lines)
        let fd = try FileDescriptor.openForReading(temp, options: .noFollow)
        try fd.sync()
        fd.close()
        try FileSystem.rename(temp, to: path)
        try FileSystem.syncDirectory(FileSystem.dirname(of: path))
    }
}
