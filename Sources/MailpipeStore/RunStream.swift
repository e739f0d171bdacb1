#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// Hands out a run's lines in order, its members inflated on every core: while the caller's body
/// reads the lines of one batch of members, the crew inflates the next batch (two batches, their
/// buffers kept from batch to batch), so inflating and the caller's work overlap.
///
/// A damaged member throws before any line of its batch is handed out, after every line of the
/// batches before it: as when each batch was inflated whole before its lines went out.
final class RunStream {
    /// Members per batch: enough for every core, few enough to keep two batches small.
    static let batchMembers = 64

    private let path: String
    private let descriptor: FileDescriptor
    private let offsets: [UInt64]
    private let crew: WorkCrew
    /// One per worker (0 is the caller's thread in `crew.finish()`).
    private let inflaters: [MemberInflater]

    init(path: String, descriptor: FileDescriptor, blockOffsets: [UInt64], workers: Int) throws {
        self.path = path
        self.descriptor = descriptor
        offsets = blockOffsets
        crew = try WorkCrew(helpers: workers - 1)
        inflaters = try (0...crew.helpers).map { _ in try MemberInflater() }
    }

    deinit { crew.stop() }

    private var memberCount: Int { max(0, offsets.count - 1) }

    func forEachLine(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard memberCount > 0 else { return }
        var ready = MemberBatch(), next = MemberBatch()
        try read(into: ready, from: 0)
        inflate(ready)
        crew.finish()
        try ready.checkInflated(path: path)
        while true {
            let hasNext = ready.members.upperBound < memberCount
            // A short read of the next batch is reported where it was before: after this batch's lines.
            var readFailure: Error?
            if hasNext {
                do { try read(into: next, from: ready.members.upperBound); inflate(next) } catch { readFailure = error }
            }
            do { try ready.forEachLine(body) } catch {
                crew.finish()
                throw error
            }
            guard hasNext else { return }
            crew.finish()
            if let readFailure { throw readFailure }
            try next.checkInflated(path: path)
            swap(&ready, &next)
        }
    }

    private func read(into batch: MemberBatch, from first: Int) throws {
        let last = min(memberCount, first + RunStream.batchMembers)
        let start = Int(offsets[first])
        let count = Int(offsets[last]) - start
        batch.prepare(members: first..<last, fileStart: start, byteCount: count)
        let got = try descriptor.readFully(into: batch.compressed.baseAddress!, count: count, at: start)
        guard got == count else { throw StateDamage(file: path, problem: "shorter than its index says", repair: .restore) }
    }

    /// Starts the crew on `batch`'s members (one slice each); `crew.finish()` waits for them.
    private func inflate(_ batch: MemberBatch) {
        let offsets = offsets, inflaters = inflaters
        crew.start(slices: batch.members.count) { slice, worker in
            let member = batch.members.lowerBound + slice
            let lo = Int(offsets[member]) - batch.fileStart
            let hi = Int(offsets[member + 1]) - batch.fileStart
            let input = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(batch.compressed)[lo..<hi])
            batch.inflated[slice].removeAll(keepingCapacity: true)
            do { try inflaters[worker].inflate(input, appendingTo: &batch.inflated[slice]) } catch { batch.unreadable[slice] = true }
        }
    }
}

/// One batch of a run's members: their compressed bytes as read and each one inflated. Workers
/// write distinct slots of `inflated` and `unreadable` at once, hence raw storage.
private final class MemberBatch {
    private(set) var members = 0..<0
    private(set) var fileStart = 0
    private(set) var compressed = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    let inflated = UnsafeMutableBufferPointer<[UInt8]>.allocate(capacity: RunStream.batchMembers)
    let unreadable = UnsafeMutableBufferPointer<Bool>.allocate(capacity: RunStream.batchMembers)

    init() {
        inflated.initialize(repeating: [])
        unreadable.initialize(repeating: false)
    }

    deinit {
        inflated.deinitialize()
        inflated.deallocate()
        unreadable.deallocate()
        compressed.deallocate()
    }

    func prepare(members: Range<Int>, fileStart: Int, byteCount: Int) {
        self.members = members
        self.fileStart = fileStart
        if compressed.count < byteCount {
            compressed.deallocate()
            compressed = .allocate(byteCount: max(byteCount, 2 * compressed.count, 1), alignment: 16)
        }
        for i in 0..<members.count { unreadable[i] = false }
    }

    func checkInflated(path: String) throws {
        if unreadable[0..<members.count].contains(true) {
            throw StateDamage(file: path, problem: "a gzip member is unreadable", repair: .restore)
        }
    }

    func forEachLine(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        for slot in 0..<members.count {
            try inflated[slot].withUnsafeBytes { raw in
                var lineStart = 0
                while lineStart < raw.count {
                    let rest = raw.count - lineStart
                    let nl = memchr(raw.baseAddress! + lineStart, 0x0A, rest).map { raw.baseAddress!.distance(to: UnsafeRawPointer($0)) } ?? raw.count
                    if nl > lineStart { try body(UnsafeRawBufferPointer(start: raw.baseAddress! + lineStart, count: nl - lineStart)) }
                    lineStart = nl + 1
                }
            }
        }
    }
}
