import Crypto
import Foundation
import MailpipeCore
import MailpipeStore

/// Open and click tracking links (`render --track`, answered by `account serve`).
///
///     <tracking.url>/click?t=TENANT&c=CAMPAIGN&r=RECIPIENT&a=SIGNED_AT&u=URL&s=SIGNATURE
///     <tracking.url>/open?t=TENANT&c=CAMPAIGN&r=RECIPIENT&a=SIGNED_AT&s=SIGNATURE
///
/// The signature is the unsubscribe token's HMAC-SHA256 (same secret, `UnsubscribeToken.Verifier`)
/// over the purpose (`track:click` / `track:open`) and every other parameter, so the target URL of
/// a click is the one render signed: changing any byte makes it a 403, never a redirect elsewhere.
/// The recipient is not readable: `r` is the normalised address sealed with ChaCha20-Poly1305
/// under a key derived from the secret (HKDF-SHA256), bound to the tenant. Its nonce is derived
/// from (tenant, address, campaign), so a message's links are stable across re-renders while the
/// same person's links in two campaigns share nothing.
public enum TrackingToken {
    public enum Purpose: String, Sendable {
        case click = "track:click"
        case open = "track:open"
    }

    /// What a valid link says.
    public struct Link: Equatable, Sendable {
        public var purpose: Purpose
        public var tenant: String
        public var campaign: String
        /// The normalised address.
        public var email: String
        /// When render signed it (the message's earliest possible delivery).
        public var signedAt: Timestamp
        /// The click's target (nil for an open).
        public var url: String?

        public init(purpose: Purpose, tenant: String, campaign: String, email: String, signedAt: Timestamp, url: String?) {
            self.purpose = purpose
            self.tenant = tenant
            self.campaign = campaign
            self.email = email
            self.signedAt = signedAt
            self.url = url
        }
    }

    public enum Refusal: String, Error, Sendable {
        /// A parameter is missing or malformed.
        case incomplete = "missing_parameters"
        /// The signature does not sign these parameters.
        case badSignature = "bad_signature"
        /// Signed, but the recipient does not open with this tenant's key (cannot happen without
        /// the secret: kept apart for the log).
        case badRecipient = "bad_recipient"
    }

    /// The secret's keys: the signer (shared with the unsubscribe token) and the recipient cipher.
    public struct Keys: @unchecked Sendable {
        public let signer: UnsubscribeToken.Verifier
        /// A value (key bytes), never mutated: safe to share between threads.
        let cipher: SymmetricKey

        public init(secret: String) {
            signer = UnsubscribeToken.Verifier(secret: secret)
            cipher = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: Array(secret.utf8)),
                                             info: Array("mailpipe tracking recipient v1".utf8), outputByteCount: 32)
        }

        /// `r`: base64url of nonce ‖ ciphertext ‖ tag.
        public func sealRecipient(tenant: String, email: String, campaign: String) -> String {
            let nonceBytes = Array(signer.sign(["track:nonce", tenant, email, campaign]).prefix(12))
            // A 12-byte nonce is always valid, and sealing cannot fail for a valid key.
            let sealed = try! ChaChaPoly.seal(Array(email.utf8), using: cipher, nonce: try! ChaChaPoly.Nonce(data: nonceBytes),
                                              authenticating: Array(tenant.utf8))
            var out: [UInt8] = []
            sealed.combined.withUnsafeBytes { Renderer.base64url($0, into: &out) }
            return String(decoding: out, as: UTF8.self)
        }

        public func openRecipient(_ r: String, tenant: String) -> String? {
            guard let combined = Base64URL.decode(r), combined.count > 28,
                  let box = try? ChaChaPoly.SealedBox(combined: combined),
                  let plain = try? ChaChaPoly.open(box, using: cipher, authenticating: Array(tenant.utf8)) else { return nil }
            return String(decoding: plain, as: UTF8.self)
        }

        func fields(_ purpose: Purpose, tenant: String, campaign: String, recipient: String, signedAt: Int64, url: String?) -> [String] {
            var f = [purpose.rawValue, tenant, campaign, recipient, String(signedAt)]
            if let url { f.append(url) }
            return f
        }

        /// The query of a link (everything after `?`); `r` is `sealRecipient`'s.
        public func query(_ purpose: Purpose, tenant: String, campaign: String, recipient r: String, signedAt: Timestamp, url: String? = nil) -> String {
            let s = signer.sign(fields(purpose, tenant: tenant, campaign: campaign, recipient: r, signedAt: signedAt.seconds, url: url))
            var q = "t=\(Renderer.percentEncode(tenant))&c=\(Renderer.percentEncode(campaign))&r=\(r)&a=\(signedAt.seconds)"
            if let url { q += "&u=\(Renderer.percentEncode(url))" }
            return q + "&s=\(String(decoding: s, as: UTF8.self))"
        }

        /// Checks a request's (decoded) query parameters; `value` gives one by name.
        public func verify(_ purpose: Purpose, _ value: (String) -> String?) -> Result<Link, Refusal> {
            guard let t = value("t"), let c = value("c"), let r = value("r"), let a = value("a"), let s = value("s"),
                  !t.isEmpty, !c.isEmpty, !r.isEmpty, let at = Int64(a) else { return .failure(.incomplete) }
            let url = value("u")
            if purpose == .click && (url == nil || !TrackingToken.isTrackable(url!)) { return .failure(.incomplete) }
            let expected = signer.sign(fields(purpose, tenant: t, campaign: c, recipient: r, signedAt: at, url: purpose == .click ? url : nil))
            guard ConstantTime.equal(expected, Array(s.utf8)) else { return .failure(.badSignature) }
            guard let email = openRecipient(r, tenant: t) else { return .failure(.badRecipient) }
            return .success(Link(purpose: purpose, tenant: t, campaign: c, email: email, signedAt: Timestamp(seconds: at),
                                 url: purpose == .click ? url : nil))
        }
    }

    /// A URL render may sign and the server may send a browser to: absolute http(s), no white
    /// space or control characters (so it cannot split a header), nothing a browser would read
    /// as another scheme.
    public static func isTrackable(_ url: String) -> Bool {
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else { return false }
        let rest = lower.drop { $0 != "/" }.dropFirst(2)
        guard let host = rest.first, host != "/" && host != "?" && host != "#" else { return false }
        return url.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F }
    }

    /// Links never tracked, whatever the template: an unsubscribe or opt-out link (a person
    /// leaving is not engagement, and RFC 8058 links must stay as signed), and the tenant's own
    /// unsubscribe and tracking endpoints.
    public static func isExempt(_ url: String, unsubscribeBase: String, trackingBase: String) -> Bool {
        let lower = url.lowercased()
        if lower.hasPrefix(unsubscribeBase.lowercased()) || lower.hasPrefix(trackingBase.lowercased() + "/") { return true }
        return ["unsub", "opt-out", "optout", "opt_out", "desabonn", "désabonn", "abmelden"].contains { lower.contains($0) }
    }
}

/// base64url without padding, decoded (the token's alphabet).
enum Base64URL {
    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case 65...90: v = c - 65
            case 97...122: v = c - 71
            case 48...57: v = c + 4
            case 45: v = 62
            case 95: v = 63
            default: return nil
            }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return bits >= 6 ? nil : out
    }
}

/// Rewrites one message's links and adds the open pixel (render `--track`). Works on the parts
/// as the recipient gets them (variables already in), so a link built from variables is tracked
/// as it is sent.
public struct LinkRewriter {
    /// The tracked link for a URL, or nil to leave it as it is.
    public typealias Track = (String) -> String?

    /// Every `href` of `<a>` and `<area>` (quoted or not, entities decoded before signing,
    /// written back escaped), except those of a tag with `data-notrack`; then the pixel before
    /// the last `</body>` (or at the end).
    public static func html(_ source: [UInt8], track: Track, pixel: String?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(source.count + 512)
        var i = 0
        let n = source.count
        while i < n {
            guard source[i] == 0x3C, let name = tagName(source, i + 1), name == "a" || name == "area",
                  let end = tagEnd(source, i) else {
                out.append(source[i]); i += 1; continue
            }
            let tag = Array(source[i...end])
            out += rewriteTag(tag, track: track)
            i = end + 1
        }
        guard let pixel else { return out }
        let img = Array("<img src=\"\(HTMLEscape.text(pixel))\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;width:1px;height:1px;border:0\">".utf8)
        if let body = lastIndex(of: Array("</body".utf8), in: out) {
            out.insert(contentsOf: img, at: body)
        } else {
            out += img
        }
        return out
    }

    /// Every bare http(s) URL of a text part; closing punctuation after a URL stays outside it,
    /// and so does any non-ASCII letter or mark (`访问https://x.cn/a。谢谢`: scripts without spaces
    /// run text on; an address with such letters is written percent-encoded).
    public static func text(_ source: [UInt8], track: Track) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(source.count + 512)
        var i = 0
        let n = source.count
        while i < n {
            let rest = n - i
            let isURL = (rest >= 8 && lowerStarts(source, i, "https://")) || (rest >= 7 && lowerStarts(source, i, "http://"))
            guard isURL, i == 0 || !isWordByte(source[i - 1]) else { out.append(source[i]); i += 1; continue }
            var j = i
            while j < n, source[j] > 0x20, source[j] < 0x7F, source[j] != 0x22, source[j] != 0x3C, source[j] != 0x3E { j += 1 }
            // Trailing sentence punctuation, and a ')' that closes text around the URL.
            while j > i, [UInt8](".,;:!?'".utf8).contains(source[j - 1]) || (source[j - 1] == 0x29 && !source[i..<j].contains(0x28)) { j -= 1 }
            let url = String(decoding: source[i..<j], as: UTF8.self)
            if let tracked = track(url) { out += Array(tracked.utf8) } else { out += source[i..<j] }
            i = j
        }
        return out
    }

    static func rewriteTag(_ tag: [UInt8], track: Track) -> [UInt8] {
        let lower = tag.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
        if contains(Array("data-notrack".utf8), in: lower) { return tag }
        // Attribute names start after white space; find ` href` followed by optional spaces and '='.
        var k = 1
        while k + 5 <= lower.count {
            if isSpace(lower[k - 1]) && Array(lower[k..<(k + 4)]) == Array("href".utf8) {
                var j = k + 4
                while j < lower.count && isSpace(lower[j]) { j += 1 }
                if j < lower.count && lower[j] == 0x3D {
                    j += 1
                    while j < lower.count && isSpace(lower[j]) { j += 1 }
                    guard j < lower.count else { return tag }
                    let quote = lower[j]
                    let start: Int, stop: Int
                    if quote == 0x22 || quote == 0x27 {
                        start = j + 1
                        guard let q = tag[start...].firstIndex(of: quote) else { return tag }
                        stop = q
                    } else {
                        start = j
                        stop = tag[start...].firstIndex(where: { isSpace($0) || $0 == 0x3E }) ?? tag.count
                    }
                    let raw = String(decoding: tag[start..<stop], as: UTF8.self)
                    let url = HTMLText.decodeEntities(raw).trimmingCharacters(" \t\r\n")
                    guard let tracked = track(url) else { return tag }
                    var value = Array(HTMLEscape.text(tracked).utf8)
                    if quote != 0x22 && quote != 0x27 { value = [0x22] + value + [0x22] }
                    return Array(tag[..<start]) + value + Array(tag[stop...])
                }
            }
            k += 1
        }
        return tag
    }

    /// The lowercased name of a tag starting at `i` (after '<'), nil for a closing tag or text.
    static func tagName(_ b: [UInt8], _ i: Int) -> String? {
        var j = i
        while j < b.count, (b[j] | 0x20) >= 97 && (b[j] | 0x20) <= 122 { j += 1 }
        guard j > i, j < b.count, isSpace(b[j]) || b[j] == 0x3E || b[j] == 0x2F else { return nil }
        return String(decoding: b[i..<j].map { $0 | 0x20 }, as: UTF8.self)
    }

    /// The index of the '>' closing the tag opened at `i`, skipping quoted attribute values.
    static func tagEnd(_ b: [UInt8], _ i: Int) -> Int? {
        var quote: UInt8 = 0
        var j = i + 1
        while j < b.count {
            let c = b[j]
            if quote != 0 { if c == quote { quote = 0 } }
            else if c == 0x22 || c == 0x27 { quote = c }
            else if c == 0x3E { return j }
            j += 1
        }
        return nil
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0C }
    static func isWordByte(_ b: UInt8) -> Bool { (b | 0x20) >= 97 && (b | 0x20) <= 122 || (b >= 48 && b <= 57) || b == 0x5F }

    static func lowerStarts(_ b: [UInt8], _ i: Int, _ prefix: StaticString) -> Bool {
        let p = UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        for k in 0..<p.count where (b[i + k] >= 65 && b[i + k] <= 90 ? b[i + k] | 0x20 : b[i + k]) != p[k] { return false }
        return true
    }

    static func contains(_ needle: [UInt8], in hay: [UInt8]) -> Bool {
        guard needle.count <= hay.count else { return false }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return true }
        return false
    }

    static func lastIndex(of needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = hay.count - needle.count
        while i >= 0 {
            var match = true
            for k in 0..<needle.count where (hay[i + k] >= 65 && hay[i + k] <= 90 ? hay[i + k] | 0x20 : hay[i + k]) != needle[k] { match = false; break }
            if match { return i }
            i -= 1
        }
        return nil
    }
}

/// One tenant's tracking as render applies it: on, its base URL, which of opens and clicks.
final class Tracker {
    let keys: TrackingToken.Keys
    let base: String
    let opens: Bool
    let clicks: Bool
    let unsubscribeURL: String
    let signedAt: Timestamp
    let tenant: String
    let campaign: String
    /// Links rewritten so far (the summary's `tracked_links`).
    var links = 0
    var pixels = 0
    private var recipient = ""
    private var raw: [UInt8] = []

    init(settings: TenantConfig.Tracking, secret: String, tenant: String, campaign: String, unsubscribeURL: String, signedAt: Timestamp) {
        keys = TrackingToken.Keys(secret: secret)
        base = settings.url
        opens = settings.opens
        clicks = settings.clicks
        self.unsubscribeURL = unsubscribeURL
        self.signedAt = signedAt
        self.tenant = tenant
        self.campaign = campaign
    }

    /// Starts a message to `email` (normalised).
    func begin(email: [UInt8]) {
        recipient = keys.sealRecipient(tenant: tenant, email: String(decoding: email, as: UTF8.self), campaign: campaign)
    }

    func link(_ url: String) -> String? {
        guard clicks, TrackingToken.isTrackable(url), !TrackingToken.isExempt(url, unsubscribeBase: unsubscribeURL, trackingBase: base) else { return nil }
        links += 1
        return base + "/click?" + keys.query(.click, tenant: tenant, campaign: campaign, recipient: recipient, signedAt: signedAt, url: url)
    }

    /// Rewrites the part written (JSON-escaped) into `out` from `start` on.
    func rewrite(_ out: inout ByteBuffer, from start: Int, html: Bool) {
        guard clicks || (html && opens) else { return }
        raw.removeAll(keepingCapacity: true)
        JSONNode.unescape(out.bytes(start..<out.count), into: &raw)
        let pixel = html && opens ? base + "/open?" + keys.query(.open, tenant: tenant, campaign: campaign, recipient: recipient, signedAt: signedAt) : nil
        if pixel != nil { pixels += 1 }
        let rewritten = html ? LinkRewriter.html(raw, track: link, pixel: pixel) : LinkRewriter.text(raw, track: link)
        out.truncate(to: start)
        rewritten.withUnsafeBytes { JSONText.appendEscaped($0, into: &out) }
    }
}
