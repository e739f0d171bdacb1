import MailpipeCore
import MailpipeStore
import RenderStage

/// The `mailto:` half of List-Unsubscribe: the requests people sent by mail, read from an mbox
/// file or a Maildir folder (`cur/` and `new/`), checked and turned into unsubscribe events.
///
/// render writes the subject `unsubscribe TOKEN CAMPAIGN ADDRESS`; the token is checked in
/// constant time against (tenant, address, campaign), so the request holds whatever address it
/// was sent from (a forward, an alias). A subject with the token alone (a client that kept only
/// the first words) is checked against the sender's address and each campaign the ledger knows.
/// A message that is not such a request, has no token or whose token does not match is rejected
/// with its file and line. The event id is the one `account serve` gives a one-click POST of the
/// same (tenant, address, campaign), so a person who does both is recorded once.
enum UnsubscribeMailbox {
    struct Message {
        var headers: [(String, String)]
        var origin: RejectSink.Origin
        var raw: ArraySlice<UInt8>

        func header(_ name: String) -> String? {
            let lower = name.lowercased()
            return headers.first { $0.0.lowercased() == lower }?.1
        }
    }

    /// Reads every message of `path` (a Maildir folder or an mbox file), emits the verified
    /// unsubscribes and rejects the rest; returns the number of messages read.
    static func read(path: String, tenant: String, verifier: UnsubscribeToken.Verifier, campaigns: [String], now: Timestamp,
                     rejects: RejectSink, _ emit: (BookEvent) -> Void) throws -> Int {
        let messages = FileSystem.isDirectory(path) ? try maildir(path) : try mbox(path)
        for m in messages {
            switch request(m, tenant: tenant, verifier: verifier, campaigns: campaigns) {
            case .success(let (email, campaign)):
                let at = m.header("Date").flatMap(Mime.parseDate) ?? now
                emit(BookEvent(id: EventID.hash(["unsubscribe", tenant, email, campaign]), email: email, type: "unsubscribed",
                               reason: "mailto", campaign: campaign, at: at, source: "mailto"))
            case .failure(let refusal):
                Array(m.raw.prefix(4096)).withUnsafeBytes { rejects.reject(refusal.reason, refusal.detail, origin: m.origin, raw: $0) }
            }
        }
        return messages.count
    }

    /// The (address, campaign) the message's token signs.
    static func request(_ m: Message, tenant: String, verifier: UnsubscribeToken.Verifier,
                        campaigns: [String]) -> Result<(String, String), RecordRefusal> {
        let subject = Mime.decodeHeaderValue(m.header("Subject") ?? "")
        // A client may leave the mailto's %20 undecoded.
        let words = FormDecoding.decode(Array(subject.utf8), plus: false)
            .split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let badToken = RecordRefusal(.badToken, "the token does not sign this address and campaign for this tenant")
        guard words.first?.lowercased() == "unsubscribe" else {
            return .failure(RecordRefusal(.notUnsubscribe, "the subject is not 'unsubscribe TOKEN CAMPAIGN ADDRESS'"))
        }
        guard words.count >= 2 else { return .failure(RecordRefusal(.missingToken, "the subject holds no token")) }
        let token = words[1]
        if words.count >= 4 {
            // The address is the last word; a campaign name may hold spaces.
            let email = EmailKey.normalize(words[words.count - 1])
            let campaign = words[2..<(words.count - 1)].joined(separator: " ")
            return verifier.verify(token, tenant: tenant, email: email, campaign: campaign) ? .success((email, campaign)) : .failure(badToken)
        }
        guard let from = m.header("From") else { return .failure(badToken) }
        let email = EmailKey.normalize(Mime.splitAddress(Mime.decodeHeaderValue(from)).address)
        for c in campaigns where verifier.verify(token, tenant: tenant, email: email, campaign: c) { return .success((email, c)) }
        return .failure(badToken)
    }

    /// Maildir: one message per file in `cur/` and `new/` (names sorted: delivery order).
    static func maildir(_ path: String) throws -> [Message] {
        var out: [Message] = []
        for sub in ["cur", "new"] where FileSystem.isDirectory("\(path)/\(sub)") {
            for name in try FileSystem.listDirectory("\(path)/\(sub)").sorted() where !name.hasPrefix(".") {
                let file = "\(path)/\(sub)/\(name)"
                let bytes = try FileSystem.readFile(file)
                out.append(Message(headers: headers(bytes[...]), origin: .init(line: 1, file: file), raw: bytes[...]))
            }
        }
        return out
    }

    /// mbox (mboxrd or mboxo): a message starts at a line `From ` at the top or after an empty
    /// line; its origin is the line of its first header.
    static func mbox(_ path: String) throws -> [Message] {
        let bytes = try FileSystem.readFile(path)
        var out: [Message] = []
        var start: (offset: Int, line: Int)? = nil
        func close(_ end: Int) {
            guard let start else { return }
            // The headers begin after the `From ` separator line.
            var first = start.offset
            while first < end && bytes[first] != 0x0A { first += 1 }
            let message = bytes[min(first + 1, end)..<end]
            out.append(Message(headers: headers(message), origin: .init(line: start.line + 1, file: path), raw: message))
        }
        var line = 1
        var i = 0
        while i < bytes.count {
            let separator = i + 5 <= bytes.count && bytes[i..<(i + 5)].elementsEqual("From ".utf8)
                && (i == 0 || (i >= 2 && bytes[i - 2] == 0x0A) || (i >= 3 && bytes[i - 2] == 0x0D && bytes[i - 3] == 0x0A))
            if separator {
                close(i)
                start = (i, line)
            }
            // To the next line.
            while i < bytes.count && bytes[i] != 0x0A { i += 1 }
            i += 1
            line += 1
        }
        close(bytes.count)
        return out
    }

    /// The header fields (unfolded) up to the first empty line.
    static func headers(_ message: ArraySlice<UInt8>) -> [(String, String)] {
        var fields: [(String, String)] = []
        var i = message.startIndex
        while i < message.endIndex {
            var end = i
            while end < message.endIndex && message[end] != 0x0A { end += 1 }
            var lineEnd = end
            if lineEnd > i && message[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            if lineEnd == i { break }  // the empty line: the body follows
            let text = String(decoding: message[i..<lineEnd], as: UTF8.self)
            if message[i] == 0x20 || message[i] == 0x09 {
                if !fields.isEmpty { fields[fields.count - 1].1 += " " + text.trimmingBlanks }
            } else if let colon = text.firstIndex(of: ":") {
                fields.append((String(text[..<colon]), String(text[text.index(after: colon)...]).trimmingBlanks))
            }
            i = end + 1
        }
        return fields
    }
}
