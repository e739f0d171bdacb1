import CCurl
import MailpipeCurl

/// How jobs travel: `slotCount` connections or transfers in flight, each slot one job at a time.
public protocol Transport: AnyObject {
    var slotCount: Int { get }
    /// Starts the job on a free slot (its journal begin lines are already written).
    func start(_ slot: Int, _ job: Job) throws
    /// Drives the transfers, waiting up to `milliseconds` for one to end; the jobs that ended.
    func step(milliseconds: Int) throws -> [(Int, Finish)]
    /// Ends the connections (at the end of the run).
    func close()
}

/// libcurl's multi interface, one easy handle per slot (MailWizz, HTTP).
final class MultiTransport: Transport {
    let channel: InjectChannel
    let multi: CurlMulti
    let handles: [CurlEasy]
    private var jobs: [Job?]

    init(channel: InjectChannel, connections: Int) throws {
        self.channel = channel
        multi = try CurlMulti()
        let n = max(1, connections)
        try multi.set(CURLMOPT_MAXCONNECTS, n)
        try multi.set(CURLMOPT_MAX_HOST_CONNECTIONS, n)
        handles = try (0..<n).map { i in
            let easy = try CurlEasy()
            easy.tag = i
            try channel.prepare(easy)
            return easy
        }
        jobs = Array(repeating: nil, count: n)
    }

    var slotCount: Int { handles.count }

    func start(_ slot: Int, _ job: Job) throws {
        try channel.configure(handles[slot], for: job)
        try multi.add(handles[slot])
        jobs[slot] = job
    }

    func step(milliseconds: Int) throws -> [(Int, Finish)] {
        let active = multi.activeCount > 0
        if active { try multi.perform() }
        var finished = multi.completed()
        if finished.isEmpty && (milliseconds > 0 || active) {
            try multi.poll(milliseconds: milliseconds)
            if active { try multi.perform() }
            finished = multi.completed()
        }
        return finished.compactMap { easy, error in
            guard let job = jobs[easy.tag] else { return nil }
            jobs[easy.tag] = nil
            return (easy.tag, channel.finish(job, easy: easy, error: error))
        }
    }

    func close() {}
}
