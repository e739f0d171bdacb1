import CZlibShim

/// One gzip member compressed on several cores, pigz-style: the input is cut into fixed-size
/// chunks, each deflated raw with the previous chunk's last 32 KiB as its dictionary and ended
/// with a sync flush (the last with the final block); the CRC32s are combined. The output is a
/// single ordinary member and depends only on the input and level (not on the worker count).
public enum ParallelGzip {
    public static let chunkSize = 1 << 20

    public static func compressMember(_ input: UnsafeRawBufferPointer, level: Int32, workers: Int,
                                      appendingTo output: inout [UInt8]) throws {
        let n = max(1, (input.count + chunkSize - 1) / chunkSize)
        let parts = UnsafeMutableBufferPointer<[UInt8]>.allocate(capacity: n)
        parts.initialize(repeating: [])
        defer { parts.deinitialize(); parts.deallocate() }
        let crcs = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: n)
        crcs.initialize(repeating: 0)
        defer { crcs.deallocate() }
        let failed = UnsafeMutableBufferPointer<Int32>.allocate(capacity: n)
        failed.initialize(repeating: Int32(Z_OK))
        defer { failed.deallocate() }
        let w = max(1, min(workers, n))
        try WorkCrew.perform(workers: w) { worker in
            var stream = z_stream()
            guard mp_deflateInit2(&stream, level, -15, 8) == Z_OK else { failed[worker] = Z_MEM_ERROR; return }
            defer { deflateEnd(&stream) }
            var i = worker
            while i < n {
                let lo = i * chunkSize
                let hi = min(input.count, lo + chunkSize)
                let chunk = UnsafeRawBufferPointer(rebasing: input[lo..<hi])
                crcs[i] = CRC32.checksum(chunk)
                deflateReset(&stream)
                if lo > 0 {
                    let d = max(0, lo - 32768)
                    _ = deflateSetDictionary(&stream, input.baseAddress!.assumingMemoryBound(to: Bytef.self) + d, uInt(lo - d))
                }
                let bound = Int(deflateBound(&stream, uLong(chunk.count))) + 64
                var out = [UInt8](repeating: 0, count: bound)
                let last = i == n - 1
                let rc: Int32 = out.withUnsafeMutableBytes { o in
                    stream.next_in = UnsafeMutablePointer(mutating: chunk.baseAddress?.assumingMemoryBound(to: Bytef.self))
                    stream.avail_in = uInt(chunk.count)
                    stream.next_out = o.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(bound)
                    return deflate(&stream, last ? Z_FINISH : Z_SYNC_FLUSH)
                }
                if rc != (last ? Z_STREAM_END : Z_OK) || stream.avail_in != 0 { failed[i] = rc == Z_OK ? Z_BUF_ERROR : rc; return }
                out.removeLast(Int(stream.avail_out))
                parts[i] = out
                i += w
            }
        }
        if let bad = failed.first(where: { $0 != Z_OK }) {
            throw ZlibError(operation: "deflate", code: bad, message: "parallel member did not finish")
        }
        var crc = crcs[0]
        for i in 1..<n {
            let len = min(input.count, (i + 1) * chunkSize) - i * chunkSize
            crc = UInt32(crc32_combine(uLong(crc), uLong(crcs[i]), numericCast(len)))
        }
        let xfl: UInt8 = level == 1 ? 4 : (level == 9 ? 2 : 0)
        output.reserveCapacity(output.count + parts.reduce(18) { $0 + $1.count })
        output += [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, xfl, 0x03]
        for p in parts { output.append(contentsOf: p) }
        let size = UInt32(truncatingIfNeeded: input.count)
        for v in [crc, size] { for k in 0..<4 { output.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) } }
    }
}
