#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One input — a file or standard input — read in large blocks, gunzipped transparently when it
/// starts with the gzip magic (multi-member files included).
public final class InputReader {
    public let name: String
    private let descriptor: FileDescriptor
    private let ownsDescriptor: Bool
    private var decoder: GzipDecoder?
    private var compressed: UnsafeMutableRawBufferPointer
    private var compressedStart = 0
    private var compressedEnd = 0
    private var sourceEnded = false
    private var sniffed = false
    /// Bytes of the file still allowed to be read (nil: all). Readers of append logs stop at the
    /// last sealed append, so a writer's torn tail is never read.
    private var remaining: Int?
    /// A look-ahead reader of standard input: what it reads is kept for the next reader of it.
    private let recordsForReplay: Bool
    /// Whether the first bytes of this input were offered to `StageInputs`.
    private var sampled = false
    /// One of the stage's inputs (not a state file): its reads move the progress line.
    private var metered = false

    /// Standard input read ahead by a look-ahead reader, handed out first by the next reader of it.
    nonisolated(unsafe) private static var standardInputReplay: [UInt8] = []
    /// How much a look-ahead reader may take from standard input (it all fits the sniff buffer).
    public static let lookAheadLimit = 1 << 20

    /// A reader of standard input that only looks ahead: everything it reads (at most
    /// `lookAheadLimit` bytes, then it reports the end) is read again by the next reader of
    /// standard input, so a stage can find what the input holds before processing it.
    public static func lookingAheadAtStandardInput() throws -> InputReader {
        try InputReader(path: nil, limit: lookAheadLimit - standardInputReplay.count, recordsForReplay: true)
    }

    /// What to do about UTF-16 text; set before the first read.
    public enum UTF16Handling: Sendable {
        /// Bytes are handed over as they are.
        case none
        /// A UTF-16 byte-order mark (or text whose every other byte is zero) at the start turns
        /// on decoding to UTF-8; `utf16Found` says what was found.
        case detect
        /// The input is UTF-16 in this byte order (a leading mark is dropped).
        case decode(UTF16Transcoder.ByteOrder)
    }
    public var utf16: UTF16Handling = .none
    /// The UTF-16 found by `.detect` (or given by `.decode`), and whether it had a byte-order mark.
    public private(set) var utf16Found: (order: UTF16Transcoder.ByteOrder, marked: Bool)?
    private var utf16Checked = false
    private var transcoder: UTF16Transcoder?
    /// Bytes read ahead: the head looked at for a mark (raw), or decoded text not yet handed over.
    private var pending: [UInt8] = []
    private var pendingStart = 0
    private var decoded: [UInt8] = []
    private var decodedStart = 0
    private var rawEnded = false

    /// `path` nil or "-" means standard input; `limit` caps how many bytes of the file are read;
    /// state files are opened with `options: .noFollow`.
    public convenience init(path: String?, limit: Int? = nil, options: FileDescriptor.OpenOptions = []) throws {
        try self.init(path: path, limit: limit, options: options, recordsForReplay: false)
    }

    private init(path: String?, limit: Int?, options: FileDescriptor.OpenOptions = [], recordsForReplay: Bool) throws {
        remaining = limit
        self.recordsForReplay = recordsForReplay
        if let path, path != "-" {
            descriptor = try FileDescriptor.openForReading(path, options: options)
            name = path
            ownsDescriptor = true
        } else {
            descriptor = .standardInput
            name = "-"
            ownsDescriptor = false
        }
        compressed = .allocate(byteCount: InputReader.lookAheadLimit, alignment: 16)
        var info = stat()
        mayWait = fstat(descriptor.rawValue, &info) != 0 || (info.st_mode & S_IFMT) != S_IFREG
        metered = !recordsForReplay && StageInputs.isWatched(name)
        if name == "-" {
            // What a look-ahead reader took comes first (it starts the sniff buffer); a further
            // look-ahead reader keeps it to read again too.
            let replay = InputReader.standardInputReplay
            let buffer = compressed
            replay.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            compressedEnd = replay.count
            if !recordsForReplay {
                InputReader.standardInputReplay = []
                if StageInputs.isWatched("-") { StageInputs.didRead(replay.count) }
            }
        }
    }

    /// A pipe, socket or terminal: a read may wait for the writer.
    public let mayWait: Bool

    /// Whether a read would return at once (data or the end is there); always true for a file.
    public var isReadable: Bool {
        guard mayWait else { return true }
        if compressedStart < compressedEnd || pendingStart < pending.count || decodedStart < decoded.count { return true }
        var p = pollfd(fd: descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    deinit {
        compressed.deallocate()
        if ownsDescriptor { descriptor.close() }
    }

    public var isGzip: Bool { decoder != nil }

    /// Reads decompressed (and, when UTF-16 was found, decoded) bytes; 0 means the end of this input.
    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        let n = try readText(into: buffer, count: count)
        if !sampled && n > 0 && !recordsForReplay {
            sampled = true
            StageInputs.offer(input: name, UnsafeRawBufferPointer(start: buffer, count: n))
        }
        return n
    }

    /// Decompressed bytes, decoded to UTF-8 when UTF-16 was found.
    private func readText(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        if !utf16Checked { try checkUTF16() }
        guard transcoder != nil else {
            if pendingStart < pending.count {
                let n = min(count, pending.count - pendingStart)
                pending.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + pendingStart, byteCount: n) }
                pendingStart += n
                return n
            }
            return try readDecompressed(into: buffer, count: count)
        }
        while decodedStart == decoded.count {
            decoded.removeAll(keepingCapacity: true)
            decodedStart = 0
            if rawEnded { return 0 }
            try decodeMore()
        }
        let n = min(count, decoded.count - decodedStart)
        decoded.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + decodedStart, byteCount: n) }
        decodedStart += n
        return n
    }

    /// Looks at the first bytes for UTF-16 (as many as the first read gives: a trickling pipe is
    /// not waited on for more).
    private func checkUTF16() throws {
        utf16Checked = true
        var order: UTF16Transcoder.ByteOrder
        switch utf16 {
        case .none:
            return
        case .decode(let given):
            order = given
        case .detect:
            order = .littleEndian
        }
        pending = [UInt8](repeating: 0, count: 4096)
        var have = 0
        while have < 2 {
            let n = try pending.withUnsafeMutableBytes { try readDecompressed(into: $0.baseAddress! + have, count: $0.count - have) }
            if n == 0 { break }
            have += n
        }
        pending.removeSubrange(have...)
        let marked = pending.withUnsafeBytes { UTF16Transcoder.byteOrderMark($0) }
        if case .detect = utf16 {
            guard let found = marked ?? pending.withUnsafeBytes({ UTF16Transcoder.unmarkedOrder($0) }) else { return }
            order = found
        }
        if let marked, marked == order { pendingStart = 2 }
        transcoder = UTF16Transcoder(order: order)
        utf16Found = (order, marked == order)
    }

    /// Decodes the bytes read ahead, or the next block of the input, into `decoded`.
    private func decodeMore() throws {
        let block = 256 << 10
        let room = UTF16Transcoder.maxOutput(forInput: block)
        decoded.reserveCapacity(room)
        if pendingStart < pending.count {
            withUnsafeTemporaryAllocation(byteCount: room, alignment: 1) { out in
                let made = pending.withUnsafeBytes { transcoder!.transcode(UnsafeRawBufferPointer(rebasing: $0[pendingStart...]), into: out.baseAddress!) }
                decoded.append(contentsOf: UnsafeRawBufferPointer(rebasing: out[0..<made]))
            }
            pendingStart = pending.count
            return
        }
        try withUnsafeTemporaryAllocation(byteCount: block + room, alignment: 16) { scratch in
            let raw = scratch.baseAddress!
            let out = raw + block
            let n = try readDecompressed(into: raw, count: block)
            let made: Int
            if n == 0 {
                rawEnded = true
                made = transcoder!.finish(into: out)
            } else {
                made = transcoder!.transcode(UnsafeRawBufferPointer(start: raw, count: n), into: out)
            }
            decoded.append(contentsOf: UnsafeRawBufferPointer(start: out, count: made))
        }
    }

    private func readDecompressed(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        if !sniffed { try sniff() }
        guard let decoder else {
            // Plain input: hand over what sniffing read, then read straight into the caller's buffer.
            if compressedStart < compressedEnd {
                let n = min(count, compressedEnd - compressedStart)
                buffer.copyMemory(from: compressed.baseAddress! + compressedStart, byteCount: n)
                compressedStart += n
                return n
            }
            return try readSource(into: buffer, count: count)
        }
        let output = UnsafeMutableRawBufferPointer(start: buffer, count: count)
        while true {
            if compressedStart == compressedEnd && !sourceEnded { try refill() }
            if compressedStart == compressedEnd {
                if !decoder.atMemberBoundary {
                    throw ZlibError(operation: "inflate", code: -5, message: "\(name): unexpected end of gzip data (truncated file)")
                }
                return 0
            }
            let input = UnsafeRawBufferPointer(start: compressed.baseAddress! + compressedStart,
                                               count: compressedEnd - compressedStart)
            let (used, made) = try decoder.inflate(input: input, output: output)
            compressedStart += used
            if made > 0 { return made }
            if used == 0 && compressedStart < compressedEnd && !sourceEnded {
                // zlib wants more input than is buffered: move the tail down and read more.
                try refill()
            }
        }
    }

    private func refill() throws {
        if compressedStart > 0 {
            let remaining = compressedEnd - compressedStart
            if remaining > 0 {
                memmove(compressed.baseAddress!, compressed.baseAddress! + compressedStart, remaining)
            }
            compressedStart = 0
            compressedEnd = remaining
        }
        let n = try readSource(into: compressed.baseAddress! + compressedEnd, count: compressed.count - compressedEnd)
        if n == 0 { sourceEnded = true }
        compressedEnd += n
    }

    private func readSource(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        let want = remaining.map { min($0, count) } ?? count
        if want == 0 { return 0 }
        if mayWait {
            // Nothing to read yet: what was written so far goes out before we wait.
            var p = pollfd(fd: descriptor.rawValue, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 0) == 0 { IdleFlush.flushBeforeWaiting() }
        }
        let n = try descriptor.read(into: buffer, count: want)
        if remaining != nil { remaining! -= n }
        if recordsForReplay && n > 0 {
            InputReader.standardInputReplay.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: n))
        } else if metered {
            StageInputs.didRead(n)
        }
        return n
    }

    private func sniff() throws {
        sniffed = true
        // Read until two bytes are known (a pipe may deliver one byte at a time) or the input ends.
        while compressedEnd < 2 {
            let n = try readSource(into: compressed.baseAddress! + compressedEnd, count: compressed.count - compressedEnd)
            if n == 0 { sourceEnded = true; break }
            compressedEnd += n
        }
        if compressedEnd >= 2 && compressed[0] == 0x1F && compressed[1] == 0x8B {
            decoder = try GzipDecoder()
        }
    }
}
