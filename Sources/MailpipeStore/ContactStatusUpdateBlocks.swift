#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore

/// Many status updates at once (an import of a day's accounting files): instead of merging every
/// run of the store line by line on one core, each update is located through the runs' indexes
/// (a merge of the updates' sorted email hashes with each run's sorted hashes, newest run first),
/// only the gzip members that hold updated contacts are inflated — on every core — and only
/// those lines are parsed and rewritten. The new run gets the same lines, in the same order, as
/// the point-lookup path would give it.
extension ContactStatusUpdate {
    /// Updates per window: bounds the memory held by rewritten lines.
    static let blockWindow = 262_144

    /// Where an update's current line is: (run, location), or why it is not known yet.
    private enum Place {
        case missing
        case found(run: Int, location: UInt64)
        /// Hash collision inside a run, or a key that did not match: the point lookup decides.
        case lookUp
    }

    /// `sorted`: unique keys in ascending order. Adds one run (not committed).
    static func applyByBlocks(_ sorted: [ContactFieldUpdate], writer: ContactStoreWriter, updatedAt: String,
                              result: inout Result) throws {
        let store = writer.store
        let runs = store.runs
        let indexes = try runs.map { try store.fullIndex($0) }
        let files = try runs.map { try FileDescriptor.openForReading("\(store.directory)/\($0.dataFile)", options: .noFollow) }
        defer { for f in files { f.close() } }

        // 1. Locate: updates by hash, merged with each run's sorted hashes, newest run first.
        var places = [Place](repeating: .missing, count: sorted.count)
        var byHash: [(hash: UInt64, update: Int32)] = []
        byHash.reserveCapacity(sorted.count)
        for (i, u) in sorted.enumerated() {
            byHash.append((u.key.withUnsafeBytes { EmailKey.hash($0) }, Int32(i)))
        }
        byHash.sort { $0.hash < $1.hash }
        var pending = byHash
        for r in stride(from: runs.count - 1, through: 0, by: -1) where !pending.isEmpty {
            let index = indexes[r]
            var still: [(hash: UInt64, update: Int32)] = []
            index.hashes.withUnsafeBufferPointer { h in
                var j = 0
                for p in pending {
                    while j < h.count && h[j] < p.hash { j += 1 }
                    if j < h.count && h[j] == p.hash {
                        var end = j + 1
                        while end < h.count && h[end] == p.hash { end += 1 }
                        places[Int(p.update)] = end - j == 1 ? .found(run: r, location: index.locations[j]) : .lookUp
                    } else {
                        still.append(p)
                    }
                }
            }
            pending = still
        }

        // 2. Per window of updates (in key order): inflate the members holding them on every
        // core, rewrite the lines; then add the changed ones in key order.
        let workers = Cores.workers
        var pointLookup: ContactStore.Lookup? = nil
        var parser = JSONParser(maxDepth: 256)
        defer { parser.deallocate() }
        var out = ByteBuffer(capacity: 4096)
        try writer.addRun { add in
            var w0 = 0
            while w0 < sorted.count {
                let w1 = min(sorted.count, w0 + blockWindow)
                // (run, block) → the window's updates in it.
                var jobs: [(key: UInt64, update: Int32)] = []
                for i in w0..<w1 {
                    if case .found(let r, let location) = places[i] {
                        jobs.append((UInt64(r) << 40 | (location >> 32), Int32(i)))
                    }
                }
                jobs.sort { $0.key < $1.key }
                var groups: [Range<Int>] = []
                var g = 0
                while g < jobs.count {
                    var e = g + 1
                    while e < jobs.count && jobs[e].key == jobs[g].key { e += 1 }
                    groups.append(g..<e)
                    g = e
                }
                // Outputs: nil = unchanged or missing; `changed` flags; `retry` for the point lookup.
                let count = w1 - w0
                let outputs = UnsafeMutableBufferPointer<[UInt8]?>.allocate(capacity: count)
                outputs.initialize(repeating: nil)
                defer { outputs.deinitialize(); outputs.deallocate() }
                let states = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: count)  // 0 missing, 1 unchanged, 2 changed, 3 retry
                states.initialize(repeating: 0)
                defer { states.deallocate() }
                let errors = UnsafeMutableBufferPointer<String?>.allocate(capacity: workers)
                errors.initialize(repeating: nil)
                defer { errors.deinitialize(); errors.deallocate() }
                let n = max(1, min(workers, groups.count))
                try WorkCrew.perform(workers: n) { worker in
                    var parser = JSONParser(maxDepth: 256)
                    defer { parser.deallocate() }
                    var out = ByteBuffer(capacity: 4096)
                    var compressed: [UInt8] = []
                    var inflater: MemberInflater?
                    var inflated: [UInt8] = []
                    var key: [UInt8] = []
                    var gi = worker
                    do {
                        while gi < groups.count {
                            let group = groups[gi]
                            gi += n
                            let first = jobs[group.lowerBound]
                            let r = Int(first.key >> 40)
                            let block = Int(first.key & 0xFF_FFFF_FFFF)
                            try RunLookup.readMember(block, of: indexes[r], from: files[r], name: "\(store.directory)/\(runs[r].dataFile)",
                                                     compressed: &compressed, inflater: &inflater, into: &inflated)
                            try inflated.withUnsafeBytes { raw in
                                for job in jobs[group] {
                                    let i = Int(job.update)
                                    guard case .found(_, let location) = places[i] else { continue }
                                    let offset = Int(location & 0xFFFF_FFFF)
                                    guard offset < raw.count else { states[i - w0] = 3; continue }
                                    let lineEnd = memchr(raw.baseAddress! + offset, 0x0A, raw.count - offset)
                                        .map { raw.baseAddress!.distance(to: UnsafeRawPointer($0)) } ?? raw.count
                                    let line = UnsafeRawBufferPointer(rebasing: raw[offset..<lineEnd])
                                    key.removeAll(keepingCapacity: true)
                                    try StoredContact.key(of: line, parser: &parser, into: &key)
                                    guard key == sorted[i].key else { states[i - w0] = 3; continue }
                                    let root = try parser.parse(line).root
                                    if rewrite(root, sorted[i], updatedAt: updatedAt, into: &out) {
                                        states[i - w0] = 2
                                        outputs[i - w0] = out.bytes
                                    } else {
                                        states[i - w0] = 1
                                    }
                                }
                            }
                        }
                    } catch {
                        errors[worker] = "\(error)"
                    }
                }
                if let e = errors.compactMap({ $0 }).first { throw StageError.runtime(e) }
                for i in w0..<w1 {
                    let u = sorted[i]
                    var state = states[i - w0]
                    if case .lookUp = places[i] { state = 3 }
                    if state == 3 {
                        // The general way: newest run first, keys compared.
                        if pointLookup == nil { pointLookup = try writer.lookup() }
                        let stored = try u.key.withUnsafeBytes { try pointLookup!.find(key: $0) }
                        guard let stored else { result.missing += 1; continue }
                        let changed = try stored.withUnsafeBytes { line -> Bool in
                            rewrite(try parser.parse(line).root, u, updatedAt: updatedAt, into: &out)
                        }
                        if changed {
                            result.changed += 1
                            try out.withUnsafeBytes { o in try u.key.withUnsafeBytes { try add(o, $0) } }
                        } else {
                            result.unchanged += 1
                        }
                        continue
                    }
                    switch state {
                    case 2:
                        result.changed += 1
                        try outputs[i - w0]!.withUnsafeBytes { o in try u.key.withUnsafeBytes { try add(o, $0) } }
                    case 1: result.unchanged += 1
                    default: result.missing += 1
                    }
                }
                w0 = w1
            }
        }
    }
}
