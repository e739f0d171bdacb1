import CZlibShim

/// A zlib failure: the function and zlib's own message.
public struct ZlibError: Error, CustomStringConvertible {
    public let operation: String
    public let code: Int32
    public let message: String
    public var description: String { "\(operation) failed (\(code)): \(message)" }
}

/// Inflates gzip data, member after member (a multi-member file reads as one stream, as zcat does).
public final class GzipDecoder {
    private var stream = z_stream()
    private var finishedMember = false
    /// Set once a member ends exactly at the input's end; more input starts a new member.
    public private(set) var atMemberBoundary = true

    public init() throws {
        // 15 + 16: gzip wrapper only, largest window.
        let rc = mp_inflateInit2(&stream, 15 + 16)
        if rc != Z_OK { throw ZlibError(operation: "inflateInit2", code: rc, message: "cannot start inflate") }
    }

    deinit { inflateEnd(&stream) }

    /// Inflates from `input` into `output`; returns (bytes consumed, bytes produced).
    /// Throws on corrupt data. Members are chained: at a member's end it resets and goes on.
    public func inflate(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) throws -> (consumed: Int, produced: Int) {
        var consumed = 0
        var produced = 0
        while produced < output.count && consumed < input.count {
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self) + consumed)
            stream.avail_in = uInt(input.count - consumed)
            stream.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
            stream.avail_out = uInt(output.count - produced)
            atMemberBoundary = false
            let rc = CZlibShim.inflate(&stream, Z_NO_FLUSH)
            consumed = input.count - Int(stream.avail_in)
            produced = output.count - Int(stream.avail_out)
            if rc == Z_STREAM_END {
                inflateReset(&stream)
                atMemberBoundary = true
                continue
            }
            if rc == Z_BUF_ERROR { break }
            if rc != Z_OK {
                let message = stream.msg.map { String(cString: $0) } ?? "corrupt data"
                throw ZlibError(operation: "inflate", code: rc, message: message)
            }
        }
        return (consumed, produced)
    }
}

/// Compresses whole buffers into complete gzip members.
public final class GzipEncoder {
    private var stream = z_stream()
    public let level: Int32

    public init(level: Int32 = 6) throws {
        self.level = level
        let rc = mp_deflateInit2(&stream, level, 15 + 16, 8)
        if rc != Z_OK { throw ZlibError(operation: "deflateInit2", code: rc, message: "cannot start deflate") }
    }

    deinit { deflateEnd(&stream) }

    /// Appends one gzip member holding `input` to `output`.
    public func compressMember(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws {
        deflateReset(&stream)
        let bound = Int(deflateBound(&stream, uLong(input.count))) + 32
        let start = output.count
        output.reserveCapacity(start + bound)
        output.append(contentsOf: repeatElement(0, count: bound))
        let written: Int = try output.withUnsafeMutableBytes { out in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + start
            stream.avail_out = uInt(bound)
            let rc = deflate(&stream, Z_FINISH)
            if rc != Z_STREAM_END {
                throw ZlibError(operation: "deflate", code: rc, message: "member did not finish")
            }
            return bound - Int(stream.avail_out)
        }
        output.removeLast(bound - written)
    }
}

public enum CRC32 {
    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return seed }
        return UInt32(crc32(uLong(seed), base.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
    }
}
