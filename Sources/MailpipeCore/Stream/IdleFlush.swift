#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sends what the output sinks hold before a read that would block, so records from a
/// trickling pipe (a scraper, `tail -f`) come out as they arrive instead of waiting for 1 MB of
/// output or the end of the input. A full pipe or a file never blocks a read, so a bulk run
/// still writes in large blocks.
///
/// Each `OutputSink` that writes to a descriptor registers here (weakly); `InputReader` calls
/// `flushBeforeWaiting()` when a pipe has nothing to read. Only sinks created on the reading
/// thread are flushed: another thread's sink is that thread's business.
enum IdleFlush {
    private struct Entry {
        let descriptor: FileDescriptor
        weak var storage: ByteBuffer.Storage?
        let thread: pthread_t
    }

    private static let registry = Guarded<[Entry]>([])

    static func register(_ descriptor: FileDescriptor, _ buffer: ByteBuffer) {
        let entry = Entry(descriptor: descriptor, storage: buffer.storage, thread: pthread_self())
        registry.withLock { entries in
            entries.removeAll { $0.storage == nil }
            entries.append(entry)
        }
    }

    /// Writes out the calling thread's sinks. Errors are left for the sink's own next flush to
    /// report (a closed reader then ends the stage as usual): the bytes stay in the buffer.
    static func flushBeforeWaiting() {
        let me = pthread_self()
        let mine = registry.withLock { $0.filter { pthread_equal($0.thread, me) != 0 } }
        for entry in mine {
            guard let storage = entry.storage, storage.count > 0 else { continue }
            do {
                try entry.descriptor.writeAll(UnsafeRawBufferPointer(start: storage.base, count: storage.count))
                storage.count = 0
            } catch {
                continue
            }
        }
    }
}
