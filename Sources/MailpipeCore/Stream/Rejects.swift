#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The reject stream (docs/design.md §3): one JSON object per refused input line, on standard error
/// or in the file named by `--rejects`.
public final class RejectSink {
    public let stage: String
    private var output: OutputSink
    private let ownsDescriptor: Bool
    /// Rejects kept in memory for `forward(to:)` (a worker thread's sink), never written.
    private let capturing: Bool
    public private(set) var count = 0
    public private(set) var reasons: [String: Int] = [:]
    /// The file of `--rejects FILE`, whose first failed write `finish()` reports: rejects are
    /// data, and a disk that filled up must not pass for a run without them.
    private let path: String?
    private var writeError: Error?

    public init(stage: String, path: String? = nil) throws {
        self.stage = stage
        self.path = path
        if let path {
            let fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate], permissions: 0o644)
            output = OutputSink(descriptor: fd, flushThreshold: 64 << 10)
            ownsDescriptor = true
        } else {
            // Standard error is shared with diagnostics: flush each reject so lines never interleave.
            output = OutputSink(descriptor: .standardError, flushThreshold: 1)
            ownsDescriptor = false
        }
        capturing = false
    }

    /// A sink for one worker thread: it keeps its rejects in memory until `forward(to:)` hands
    /// them, in order, to the stage's real sink.
    public init(capturingFor stage: String) {
        self.stage = stage
        path = nil
        output = .memory(capacity: 4096)
        ownsDescriptor = false
        capturing = true
    }

    deinit {
        if !capturing && writeError == nil { try? output.flush() }
        if ownsDescriptor { output.descriptor.close() }
    }

    /// Moves the captured rejects (and their counts) to `sink`, after what it already holds.
    public func forward(to sink: RejectSink) {
        guard count > 0 else { return }
        output.buffer.withUnsafeBytes { sink.output.buffer.append($0) }
        sink.count += count
        for (reason, n) in reasons { sink.reasons[reason, default: 0] += n }
        output.buffer.removeAll()
        count = 0
        reasons.removeAll(keepingCapacity: true)
        if !sink.capturing { sink.flushIfNeeded() }
    }

    /// Where the refused line came from.
    public struct Origin {
        public var line: Int
        public var file: String?
        public init(line: Int, file: String? = nil) {
            self.line = line
            self.file = (file == "-") ? nil : file
        }
    }

    /// A reject carrying the record as parsed JSON (its original bytes).
    public func reject(_ reason: RejectReason, _ detail: String? = nil, origin: Origin, record: UnsafeRawBufferPointer) {
        write(reason: reason.rawValue, detail: detail, origin: origin, extra: [], record: record)
    }

    public func reject(_ refusal: RecordRefusal, origin: Origin, record: UnsafeRawBufferPointer) {
        reject(refusal.reason, refusal.detail, origin: origin, record: record)
    }

    /// A reject carrying the raw line (not JSON, or not valid UTF-8).
    public func reject(_ reason: RejectReason, _ detail: String? = nil, origin: Origin, raw: UnsafeRawBufferPointer?) {
        write(reason: reason.rawValue, detail: detail, origin: origin, raw: raw)
    }

    /// A reject with extra members written by the caller (for example the first line of a duplicate).
    public func reject(_ reason: RejectReason, _ detail: String? = nil, origin: Origin, extra: [(String, JSONValue)], record: UnsafeRawBufferPointer) {
        write(reason: reason.rawValue, detail: detail, origin: origin, extra: extra, record: record)
    }

    // The string-coded forms, for stages not yet on RejectReason.
    @available(*, deprecated, message: "give a RejectReason")
    public func reject(reason: String, detail: String? = nil, origin: Origin, record: UnsafeRawBufferPointer) {
        write(reason: reason, detail: detail, origin: origin, extra: [], record: record)
    }

    @available(*, deprecated, message: "give a RejectReason")
    public func reject(reason: String, detail: String? = nil, origin: Origin, raw: UnsafeRawBufferPointer?) {
        write(reason: reason, detail: detail, origin: origin, raw: raw)
    }

    @available(*, deprecated, message: "give a RejectReason")
    public func reject(reason: String, detail: String? = nil, origin: Origin, extra: [(String, JSONValue)], record: UnsafeRawBufferPointer) {
        write(reason: reason, detail: detail, origin: origin, extra: extra, record: record)
    }

    private func write(reason: String, detail: String?, origin: Origin, extra: [(String, JSONValue)], record: UnsafeRawBufferPointer) {
        write(reason: reason, detail: detail, origin: origin) { buffer in
            for (key, value) in extra {
                buffer.appendJSONString(key)
                buffer.append(UInt8(ascii: ":"))
                value.write(into: &buffer)
                buffer.append(UInt8(ascii: ","))
            }
            buffer.append("\"record\":")
            buffer.append(record)
        }
    }

    private func write(reason: String, detail: String?, origin: Origin, raw: UnsafeRawBufferPointer?) {
        write(reason: reason, detail: detail, origin: origin) { buffer in
            guard let raw else { buffer.append("\"raw\":null"); return }
            buffer.append("\"raw\":")
            buffer.appendJSONStringLossy(raw)
        }
    }

    private func write(reason: String, detail: String?, origin: Origin, payload: (inout ByteBuffer) -> Void) {
        count += 1
        reasons[reason, default: 0] += 1
        var b = output.buffer
        output.buffer = ByteBuffer(capacity: 0)
        b.append("{\"stage\":")
        b.appendJSONString(stage)
        b.append(",\"reason\":")
        b.appendJSONString(reason)
        if let detail {
            b.append(",\"detail\":")
            b.appendJSONString(detail)
        }
        if let file = origin.file {
            b.append(",\"file\":")
            b.appendJSONString(file)
        }
        b.append(",\"line\":")
        b.appendDecimal(origin.line)
        b.append(UInt8(ascii: ","))
        payload(&b)
        b.append("}\n")
        output.buffer = b
        flushIfNeeded()
    }

    /// Writes what is buffered once the buffer is full. A failed write to `--rejects FILE` is
    /// kept for `finish()`; on standard error (shared with diagnostics) a closed stream must not
    /// stop the stage.
    private func flushIfNeeded() {
        do { try output.flushIfNeeded() } catch { keep(error) }
    }

    private func keep(_ error: Error) {
        guard let path, writeError == nil else { return }
        writeError = StageError.runtime("--rejects \(path): cannot write the rejected records: \(error)")
        output.buffer.removeAll()
    }

    /// Writes every reject still buffered; throws when any write to `--rejects FILE` failed.
    public func finish() throws {
        guard !capturing else { return }
        do { try output.flush() } catch { keep(error) }
        if let writeError { throw writeError }
    }
}
