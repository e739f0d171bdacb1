import Foundation
import MailpipeCore
import RenderStage
import XCTest

/// render --track's link rewriter and the signed tracking token (account serve checks it).
final class TrackingTests: XCTestCase {
    let keys = TrackingToken.Keys(secret: "tracking-test-secret")

    func rewriteHTML(_ html: String, pixel: String? = nil) -> (String, [String]) {
        var seen: [String] = []
        let out = LinkRewriter.html(Array(html.utf8), track: { url in
            guard TrackingToken.isTrackable(url),
                  !TrackingToken.isExempt(url, unsubscribeBase: "https://ex.com/unsubscribe", trackingBase: "https://t.ex.com/t") else { return nil }
            seen.append(url)
            return "https://t.ex.com/t/click?u=\(seen.count)&x=1"
        }, pixel: pixel)
        return (String(decoding: out, as: UTF8.self), seen)
    }

    func testHTMLLinks() {
        let (out, seen) = rewriteHTML("""
            <p><a href="https://ex.com/a?x=1&amp;y=2">A</a> <A class="b" HREF='http://ex.com/b'>B</A>
            <a href=https://ex.com/c>C</a> <area shape="rect" href="https://ex.com/d">
            <a href="mailto:x@ex.com">m</a> <a href="#top">t</a> <a href="tel:+331">p</a>
            <a href="https://ex.com/unsubscribe?t=a&amp;e=b">u</a> <a href="https://other.com/Unsubscribe-me">u2</a>
            <a data-notrack href="https://ex.com/keep">k</a> <a title="a>b" href="https://ex.com/e">e</a>
            <abbr href="https://ex.com/no">n</abbr> <link href="https://ex.com/style.css">
            <a href="https://t.ex.com/t/click?already">again</a></p>
            """)
        XCTAssertEqual(seen, ["https://ex.com/a?x=1&y=2", "http://ex.com/b", "https://ex.com/c", "https://ex.com/d", "https://ex.com/e"],
                       "entities decoded before signing; every quoting; <a> and <area> only")
        XCTAssertTrue(out.contains("<a href=\"https://t.ex.com/t/click?u=1&amp;x=1\">A</a>"), "written back escaped: \(out)")
        XCTAssertTrue(out.contains("<A class=\"b\" HREF='https://t.ex.com/t/click?u=2&amp;x=1'>B</A>"), out)
        XCTAssertTrue(out.contains("<a href=\"https://t.ex.com/t/click?u=3&amp;x=1\">C</a>"), "an unquoted value is quoted: \(out)")
        for kept in ["mailto:x@ex.com", "#top", "tel:+331", "https://ex.com/unsubscribe?t=a&amp;e=b", "https://other.com/Unsubscribe-me",
                     "https://ex.com/keep", "https://ex.com/no", "https://ex.com/style.css", "https://t.ex.com/t/click?already"] {
            XCTAssertTrue(out.contains("\"\(kept)\""), "\(kept) left as it is")
        }
    }

    func testPixel() {
        let (out, _) = rewriteHTML("<html><BODY><p>x</p></BODY></html>", pixel: "https://t.ex.com/t/open?a=1&s=2")
        XCTAssertTrue(out.hasSuffix("<img src=\"https://t.ex.com/t/open?a=1&amp;s=2\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;width:1px;height:1px;border:0\"></BODY></html>"), out)
        let (bare, _) = rewriteHTML("<p>no body</p>", pixel: "https://t.ex.com/t/open")
        XCTAssertTrue(bare.hasPrefix("<p>no body</p><img src=\"https://t.ex.com/t/open\""), bare)
    }

    func testTextLinks() {
        var seen: [String] = []
        let text = "Book: https://ex.com/book?a=1. Site (https://ex.com/x). See http://ex.com/y, or\nhttps://ex.com/unsubscribe?e=1 ahttps://no"
        let out = String(decoding: LinkRewriter.text(Array(text.utf8), track: { url in
            guard !TrackingToken.isExempt(url, unsubscribeBase: "https://ex.com/unsubscribe", trackingBase: "https://t.ex.com/t") else { return nil }
            seen.append(url)
            return "T\(seen.count)"
        }), as: UTF8.self)
        XCTAssertEqual(seen, ["https://ex.com/book?a=1", "https://ex.com/x", "http://ex.com/y"])
        XCTAssertEqual(out, "Book: T1. Site (T2). See T3, or\nhttps://ex.com/unsubscribe?e=1 ahttps://no")
        seen = []
        let cjk = String(decoding: LinkRewriter.text(Array("请访问https://ex.cn/a?b=1。谢谢 مرحبا https://ex.com/ar،".utf8), track: { url in
            seen.append(url)
            return "T"
        }), as: UTF8.self)
        XCTAssertEqual(seen, ["https://ex.cn/a?b=1", "https://ex.com/ar"], "a URL ends where another script's text starts")
        XCTAssertEqual(cjk, "请访问T。谢谢 مرحبا T،")
    }

    func testTrackable() {
        XCTAssertTrue(TrackingToken.isTrackable("https://ex.com/a b".replacingOccurrences(of: " ", with: "%20")))
        XCTAssertFalse(TrackingToken.isTrackable("https://ex.com/a\r\nSet-Cookie: x"), "no header splitting")
        XCTAssertFalse(TrackingToken.isTrackable("javascript:alert(1)"))
        XCTAssertFalse(TrackingToken.isTrackable("https:///path"))
        XCTAssertFalse(TrackingToken.isTrackable("//ex.com/a"))
    }

    /// Parses a query render wrote into (name, decoded value) pairs.
    func parameters(_ query: String) -> [String: String] {
        var p: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            p[kv[0]] = kv[1].removingPercentEncoding
        }
        return p
    }

    func testTokenRoundTripAndTampering() {
        let email = "claire.martin@cabinet-martin-avocats.fr"
        let r = keys.sealRecipient(tenant: "sos-expat", email: email, campaign: "welcome-nov")
        XCTAssertEqual(r, keys.sealRecipient(tenant: "sos-expat", email: email, campaign: "welcome-nov"), "stable across re-renders")
        XCTAssertNotEqual(r, keys.sealRecipient(tenant: "sos-expat", email: email, campaign: "other"), "campaigns not linkable")
        XCTAssertFalse(r.lowercased().contains("claire"), "no readable address")
        let encoded = Data(email.utf8).base64EncodedString()
        XCTAssertFalse(r.contains(String(encoded.prefix(12))), "not a plain encoding of the address")
        let at = Timestamp(seconds: 1_796_000_000)
        let q = keys.query(.click, tenant: "sos-expat", campaign: "welcome-nov", recipient: r, signedAt: at, url: "https://ex.com/a?b=1&c=2")
        let p = parameters(q)
        guard case .success(let link) = keys.verify(.click, { p[$0] }) else { return XCTFail("a valid link") }
        XCTAssertEqual(link, TrackingToken.Link(purpose: .click, tenant: "sos-expat", campaign: "welcome-nov", email: email, signedAt: at,
                                                url: "https://ex.com/a?b=1&c=2"))
        // Any change of a signed parameter is refused.
        for (name, value) in [("u", "https://evil.example/"), ("u", "https://ex.com/a?b=1&c=3"), ("t", "ulixai"), ("c", "other"),
                              ("a", "1796000001"), ("r", keys.sealRecipient(tenant: "sos-expat", email: "x@y.fr", campaign: "welcome-nov")),
                              ("s", String(p["s"]!.dropLast()) + (p["s"]!.hasSuffix("A") ? "B" : "A"))] {
            var changed = p
            changed[name] = value
            guard case .failure(let why) = keys.verify(.click, { changed[$0] }) else { return XCTFail("\(name) changed but accepted") }
            XCTAssertEqual(why, .badSignature, name)
        }
        var missing = p
        missing["s"] = nil
        guard case .failure(.incomplete) = keys.verify(.click, { missing[$0] }) else { return XCTFail() }
        guard case .failure(.badSignature) = keys.verify(.open, { p[$0] }) else { return XCTFail("a click token is no open token") }
        guard case .failure(.badSignature) = TrackingToken.Keys(secret: "other").verify(.click, { p[$0] }) else { return XCTFail() }
        XCTAssertNil(keys.openRecipient(r, tenant: "ulixai"), "the recipient is bound to its tenant")

        let open = parameters(keys.query(.open, tenant: "sos-expat", campaign: "welcome-nov", recipient: r, signedAt: at))
        guard case .success(let o) = keys.verify(.open, { open[$0] }) else { return XCTFail("a valid open") }
        XCTAssertNil(o.url)
        XCTAssertEqual(o.email, email)
    }

    /// The tracking signer is the unsubscribe token's: (tenant, email, campaign) signs as before.
    func testSameSignerAsUnsubscribe() {
        let v = UnsubscribeToken.Verifier(secret: "tracking-test-secret")
        let token = UnsubscribeToken.make(secret: "tracking-test-secret", tenant: "t", email: "A@B.fr", campaign: "c")
        XCTAssertEqual(String(decoding: v.sign(["t", "a@b.fr", "c"]), as: UTF8.self), token)
        XCTAssertTrue(keys.signer.verify(UnsubscribeToken.make(secret: "tracking-test-secret", tenant: "t", email: "a@b.fr", campaign: "c"),
                                         tenant: "t", email: "a@b.fr", campaign: "c"))
    }
}
