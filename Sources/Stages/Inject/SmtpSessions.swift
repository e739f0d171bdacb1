#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCurl
import MailpipeCore
import MailpipeCurl

/// N SMTP connections driven from one thread with poll(2), like Postfix's smtp-source.
///
/// libcurl sets each connection up (`CURLOPT_CONNECT_ONLY`: TCP, greeting, EHLO, STARTTLS, AUTH,
/// with the options of `SmtpChannel.prepare`); the mail transactions go over it with
/// `curl_easy_send`/`curl_easy_recv`: `MAIL FROM`, `RCPT TO`, `DATA` (one write when the server
/// announced PIPELINING, RFC 2920), then the dot-stuffed message and `.` in one write.
///
/// Why not `curl_easy_perform` per message: libcurl 7.88 waits *blocking* for the reply to the
/// final `.` (smtp_done), so a multi handle serialises the connections, and one thread per
/// connection costs a sleep and a wake-up per server reply (≥ 4 per message). Here one poll
/// serves every connection whose reply has come, and a message takes 2 round trips, not 4.
final class SmtpSessions: Transport {
    /// What a transaction ended with: the last reply that decided it, or a connection error.
    struct Result {
        var code: Int
        var reply: String
        var error: CurlError?
        /// Setting the connection up failed: nothing of the message was sent.
        var atConnect = false
    }

    private enum Await { case rset, mail, rcpt, data, dot }

    private final class Session {
        /// Forgets what was queued on the connection (a new one, or one dropped).
        func clearQueues() {
            awaiting.removeAll()
            held.removeAll()
            out.removeAll(keepingCapacity: true)
            outOffset = 0
            body = []
            bodyOffset = 0
            needsReset = false
        }

        var easy: CurlEasy?
        var url = ""
        var fd: Int32 = -1
        var pipelining = false
        var job: Job?
        var out: [UInt8] = []
        var outOffset = 0
        /// The message after `out` (the job's payload, already in wire form; not copied).
        var body: [UInt8] = []
        var bodyOffset = 0
        var hasPending: Bool { outOffset < out.count || bodyOffset < body.count }
        /// TLS: OpenSSL may hold bytes poll(2) does not see, so reads go on until EAGAIN.
        var tls = false
        var input: [UInt8] = []
        var awaiting: [Await] = []
        /// Commands held back until the previous reply (no PIPELINING).
        var held: [[UInt8]] = []
        var failure: (code: Int, reply: String)?
        var needsReset = false
        var deadline = 0.0
        var lastCode = 0
        var lastReply = ""
    }

    let slotCount: Int
    private let channel: SmtpChannel
    private let timeout: Double
    private var sessions: [Session]
    private var finished: [(Int, Finish)] = []
    private var readBuffer = [UInt8](repeating: 0, count: 1 << 16)

    init(channel: SmtpChannel, connections: Int, timeout: Double) {
        self.channel = channel
        self.timeout = timeout
        slotCount = max(1, connections)
        sessions = (0..<slotCount).map { _ in Session() }
    }

    // MARK: Transport

    func start(_ slot: Int, _ job: Job) throws {
        let s = sessions[slot]
        s.job = job
        s.failure = nil
        s.lastCode = 0
        s.lastReply = ""
        s.input.removeAll(keepingCapacity: true)
        s.deadline = monotonicNow() + timeout
        channel.beforeStart(job)
        let url = job.uid ?? ""
        if s.easy != nil && s.url != url { disconnect(s) }
        if s.easy == nil {
            do { try connect(s, url: url, for: job) } catch let error as CurlError {
                end(slot, Result(code: 0, reply: "", error: error, atConnect: true))
                return
            }
        }
        if s.pipelining {
            // One write: [RSET] MAIL RCPT DATA (RFC 2920), built in place.
            if s.needsReset { s.out.append(contentsOf: "RSET\r\n".utf8); s.awaiting.append(.rset); s.needsReset = false }
            s.out.append(contentsOf: "MAIL FROM:<".utf8)
            s.out.append(contentsOf: job.envelopeFrom.utf8)
            s.out.append(contentsOf: ">\r\nRCPT TO:<".utf8)
            s.out.append(contentsOf: job.items[0].email.utf8)
            s.out.append(contentsOf: ">\r\nDATA\r\n".utf8)
            s.awaiting.append(contentsOf: [.mail, .rcpt, .data])
        } else {
            // One command at a time: the rest waits in `held` for the previous reply.
            var commands: [[UInt8]] = []
            if s.needsReset { commands.append(Array("RSET\r\n".utf8)); s.awaiting.append(.rset); s.needsReset = false }
            commands.append(Array("MAIL FROM:<\(job.envelopeFrom)>\r\n".utf8))
            commands.append(Array("RCPT TO:<\(job.items[0].email)>\r\n".utf8))
            commands.append(Array("DATA\r\n".utf8))
            s.awaiting.append(contentsOf: [.mail, .rcpt, .data])
            s.out.append(contentsOf: commands[0])
            s.held = Array(commands.dropFirst())
        }
        flush(slot)
    }

    func step(milliseconds: Int) throws -> [(Int, Finish)] {
        if finished.isEmpty {
            var fds: [pollfd] = []
            var slots: [Int] = []
            for (i, s) in sessions.enumerated() where s.fd >= 0 {
                var events = Int16(POLLIN)
                if s.hasPending { events |= Int16(POLLOUT) }
                fds.append(pollfd(fd: s.fd, events: events, revents: 0))
                slots.append(i)
            }
            var wait = milliseconds
            if let soonest = sessions.filter({ $0.job != nil }).map(\.deadline).min() {
                wait = min(wait, max(0, Int(((soonest - monotonicNow()) * 1000).rounded(.up))))
            }
            let n = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), Int32(wait)) }
            if n < 0 && errno != EINTR { throw StageError.runtime("poll: \(String(cString: strerror(errno)))") }
            if n > 0 {
                for (k, p) in fds.enumerated() where p.revents != 0 {
                    let slot = slots[k]
                    if p.revents & Int16(POLLOUT) != 0 { flush(slot) }
                    if p.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 { readReplies(slot) }
                }
            }
            let now = monotonicNow()
            for (i, s) in sessions.enumerated() where s.job != nil && now >= s.deadline {
                disconnect(s)
                end(i, Result(code: s.lastCode, reply: s.lastReply,
                              error: CurlError(code: CURLE_OPERATION_TIMEDOUT, detail: "no reply within \(timeout) s")))
            }
        }
        let result = finished
        finished.removeAll(keepingCapacity: true)
        return result
    }

    func close() {
        for s in sessions { if s.easy != nil { quit(s) } }
    }

    // MARK: connections

    private func connect(_ s: Session, url: String, for job: Job) throws {
        let easy = try CurlEasy()
        try channel.prepare(easy, for: job)
        try easy.setURL(url)
        try easy.set(CURLOPT_CONNECT_ONLY, 1)
        try easy.perform()   // connect, greeting, EHLO (STARTTLS, AUTH): blocking, once per connection
        let fd = easy.activeSocket
        guard fd >= 0 else { throw CurlError(code: CURLE_COULDNT_CONNECT, detail: "no socket after connecting") }
        // The EHLO reply lines came through the header callback.
        let ehlo = String(decoding: easy.headers, as: UTF8.self).uppercased()
        s.pipelining = ehlo.contains("250-PIPELINING") || ehlo.contains("250 PIPELINING")
        s.tls = channel.settings.starttls || url.lowercased().hasPrefix("smtps:")
        s.easy = easy
        s.fd = fd
        s.url = url
        s.clearQueues()
    }

    /// Drops the connection (after an error or a timeout: no QUIT).
    private func disconnect(_ s: Session) {
        s.easy = nil   // curl_easy_cleanup closes the socket
        s.fd = -1
        s.clearQueues()
    }

    /// QUIT, then close, without waiting long for the 221.
    private func quit(_ s: Session) {
        if let easy = s.easy {
            let q = Array("QUIT\r\n".utf8)
            _ = q.withUnsafeBytes { try? easy.send($0) }
            var p = pollfd(fd: s.fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 1000) > 0 { _ = readBuffer.withUnsafeMutableBytes { try? easy.receive(into: $0) } }
        }
        disconnect(s)
    }

    // MARK: I/O

    private func flush(_ slot: Int) {
        let s = sessions[slot]
        guard let easy = s.easy else { return }
        while s.hasPending {
            let n: Int
            do {
                if s.outOffset < s.out.count {
                    n = try s.out.withUnsafeBytes { try easy.send(UnsafeRawBufferPointer(rebasing: $0[s.outOffset...])) }
                    s.outOffset += n
                } else {
                    n = try s.body.withUnsafeBytes { try easy.send(UnsafeRawBufferPointer(rebasing: $0[s.bodyOffset...])) }
                    s.bodyOffset += n
                }
            } catch let error as CurlError {
                fail(slot, error); return
            } catch { return }
            if n == 0 { return }   // would block: POLLOUT
        }
        s.out.removeAll(keepingCapacity: true)
        s.outOffset = 0
        s.body = []
        s.bodyOffset = 0
    }

    private func fail(_ slot: Int, _ error: CurlError) {
        let s = sessions[slot]
        disconnect(s)
        if s.job != nil { end(slot, Result(code: s.lastCode, reply: s.lastReply, error: error)) }
    }

    private func readReplies(_ slot: Int) {
        let s = sessions[slot]
        guard let easy = s.easy else { return }
        while true {
            let got: Int?
            do { got = try readBuffer.withUnsafeMutableBytes { try easy.receive(into: $0) } } catch let error as CurlError {
                fail(slot, error); return
            } catch { return }
            guard let got else { break }
            if got == 0 {
                fail(slot, CurlError(code: CURLE_RECV_ERROR, detail: "connection closed by the server"))
                return
            }
            s.input.append(contentsOf: readBuffer[0..<got])
            // Plain TCP: a short read took all there was; poll(2) reports the rest.
            if !s.tls && got < readBuffer.count { break }
        }
        // Whole replies: lines "ddd-…" continue, "ddd …" / "ddd" end one.
        var start = 0
        var lineStart = 0
        var i = 0
        let bytes = s.input
        while i < bytes.count {
            if bytes[i] == 0x0A {
                let line = bytes[lineStart..<i]
                lineStart = i + 1
                if line.count < 4 || line[line.startIndex + 3] != UInt8(ascii: "-") {
                    var code = 0
                    for b in line.prefix(3) where b >= 0x30 && b <= 0x39 { code = code * 10 + Int(b - 0x30) }
                    let text = line.last == 0x0D ? line.dropLast() : line
                    start = i + 1
                    reply(slot, code: code, text: String(decoding: text, as: UTF8.self))
                    if s.easy == nil { return }   // dropped inside
                }
            }
            i += 1
        }
        if start > 0 { s.input.removeFirst(start) }
    }

    private func reply(_ slot: Int, code: Int, text: String) {
        let s = sessions[slot]
        guard !s.awaiting.isEmpty else {
            // A reply nobody asked for (421 before closing): the connection is done.
            if code == 421 || s.job == nil { disconnect(s) }
            return
        }
        let what = s.awaiting.removeFirst()
        if what != .rset { s.lastCode = code; s.lastReply = text }
        let ok = (200..<300).contains(code)
        switch what {
        case .rset:
            if !ok { fail(slot, CurlError(code: CURLE_RECV_ERROR, detail: "RSET refused: \(text)")) } else if !s.pipelining && !s.held.isEmpty {
                s.out.append(contentsOf: s.held.removeFirst())
                flush(slot)
            }
        case .mail, .rcpt:
            if !ok && s.failure == nil { s.failure = (code, text) }
            if !s.pipelining {
                if s.failure != nil {
                    // Nothing more of this transaction: RSET before the next one.
                    s.awaiting.removeAll(); s.held.removeAll(); s.needsReset = true
                    finishFailure(slot)
                } else if !s.held.isEmpty {
                    s.out.append(contentsOf: s.held.removeFirst())
                    flush(slot)
                }
            }
        case .data:
            if code == 354 && s.failure == nil {
                sendMessage(slot)
                s.awaiting.insert(.dot, at: 0)
            } else if code == 354 {
                // Accepted DATA after a refused MAIL/RCPT: end the session rather than send.
                let failure = s.failure!
                disconnect(s)
                end(slot, Result(code: failure.code, reply: failure.reply, error: nil))
            } else {
                if s.failure == nil { s.failure = (code, text) }
                s.needsReset = true
                finishFailure(slot)
            }
        case .dot:
            end(slot, Result(code: code, reply: text, error: nil))
        }
    }

    private func finishFailure(_ slot: Int) {
        let s = sessions[slot]
        let failure = s.failure!
        end(slot, Result(code: failure.code, reply: failure.reply, error: nil))
    }

    /// The message, already dot-stuffed and ended with "." (`SmtpChannel.toWire`), sent from the
    /// job's own bytes.
    private func sendMessage(_ slot: Int) {
        let s = sessions[slot]
        guard let job = s.job else { return }
        s.body = job.payload
        s.bodyOffset = 0
        flush(slot)
    }

    private func end(_ slot: Int, _ result: Result) {
        let s = sessions[slot]
        guard let job = s.job else { return }
        s.job = nil
        finished.append((slot, channel.finish(job, code: result.code, reply: result.reply, error: result.error, atConnect: result.atConnect)))
    }
}
