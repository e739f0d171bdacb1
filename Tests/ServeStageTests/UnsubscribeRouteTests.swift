import MailpipeCore
import MailpipeHTTP
import ServeStage
import XCTest

/// The route table, RFC 8058 bodies (form and multipart), the confirmation page's language
/// and escaping.
final class UnsubscribeRouteTests: XCTestCase {
    func testRouter() {
        let r = Router()
        r.add("a", [.post], "/webhooks/:tenant/sendgrid") { _, respond in respond(.text(200, "")) }
        r.add("b", [.get, .post], "/unsubscribe") { _, respond in respond(.text(200, "")) }
        guard case .found(let route, let p) = r.match(.post, path: "/webhooks/sos-expat/sendgrid") else { return XCTFail() }
        XCTAssertEqual(route.name, "a")
        XCTAssertEqual(p["tenant"], "sos-expat")
        guard case .wrongMethod(let allowed) = r.match(.get, path: "/webhooks/x/sendgrid") else { return XCTFail() }
        XCTAssertEqual(allowed, [.post])
        guard case .found = r.match(.head, path: "/unsubscribe/") else { return XCTFail("HEAD is served as GET") }
        guard case .notFound = r.match(.post, path: "/webhooks/x/other") else { return XCTFail() }
        guard case .wrongMethod = r.match(.delete, path: "/unsubscribe") else { return XCTFail() }
    }

    func testFormAndMultipartBodies() {
        func request(_ type: String, _ body: String) -> HTTPRequest {
            HTTPRequest(method: .post, path: "/u", query: [], headers: [("Content-Type", type)], body: Array(body.utf8), client: "127.0.0.1")
        }
        XCTAssertTrue(UnsubscribeRoute.isOneClick(request("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")))
        XCTAssertTrue(UnsubscribeRoute.isOneClick(request("application/x-www-form-urlencoded; charset=utf-8", "a=b&List-Unsubscribe=One-Click")))
        XCTAssertFalse(UnsubscribeRoute.isOneClick(request("application/x-www-form-urlencoded", "List-Unsubscribe=Yes")))
        XCTAssertFalse(UnsubscribeRoute.isOneClick(request("text/plain", "List-Unsubscribe=One-Click")))
        let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n"
        XCTAssertTrue(UnsubscribeRoute.isOneClick(request("multipart/form-data; boundary=XyZ", multipart)))
        XCTAssertTrue(UnsubscribeRoute.isOneClick(request("multipart/form-data; boundary=\"XyZ\"", multipart)))
        XCTAssertFalse(UnsubscribeRoute.isOneClick(request("multipart/form-data; boundary=Other", multipart)))
        XCTAssertEqual(FormDecoding.fields(Array("e=ana%2Bnews%40x.org&c=nov+2026&s=a-b_c".utf8)).map(\.1), ["ana+news@x.org", "nov 2026", "a-b_c"])
    }

    func testConfirmationPage() {
        XCTAssertEqual(ConfirmationPage.language(contact: "ar", acceptLanguage: "fr", fallback: "en"), "ar")
        XCTAssertEqual(ConfirmationPage.language(contact: nil, acceptLanguage: "nl-BE, de;q=0.8, fr;q=0.9", fallback: "en"), "fr")
        XCTAssertEqual(ConfirmationPage.language(contact: "xx", acceptLanguage: nil, fallback: "es"), "es")
        let ar = ConfirmationPage.html(.ask, language: "ar", brand: "SOS <Expat>", email: "a&b@x.org")
        XCTAssertTrue(ar.contains("<html lang=\"ar\" dir=\"rtl\">"))
        XCTAssertTrue(ar.contains("<bdi>SOS &lt;Expat&gt;</bdi>") && ar.contains("a&amp;b@x.org"))
        XCTAssertTrue(ar.contains("<form method=\"post\">") && ar.contains("name=\"List-Unsubscribe\" value=\"One-Click\""))
        for language in ["fr", "en", "es", "de", "pt", "ru", "zh", "hi", "ar"] {
            let page = ConfirmationPage.html(.ask, language: language, brand: "B", email: "e@x.org")
            XCTAssertTrue(page.contains("lang=\"\(language)\""), language)
            XCTAssertFalse(page.contains("{brand}") || page.contains("{email}"), language)
            XCTAssertFalse(ConfirmationPage.html(.done, language: language, brand: "B", email: "e@x.org").contains("<form"), language)
        }
    }
}
