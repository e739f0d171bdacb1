import MailpipeCore
import MailpipeHTTP
import MailpipeStore

/// RFC 8058 one-click unsubscribe at the path of each tenant's `unsubscribe.url`, with the
/// query render signs: `t` tenant, `c` campaign, `e` address, `s` token.
///
/// - POST with `List-Unsubscribe=One-Click` (form or multipart body): the token is checked in
///   constant time, the unsubscribe is appended through the tenant's group commit, and the
///   answer (200) comes only once it is durable; 503 when the books could not be written.
/// - GET (and HEAD): a page in the contact's language with a button that POSTs; nothing is
///   recorded (mail scanners follow links).
/// - A missing parameter is 400, an unknown tenant 404, a wrong token 403: nothing recorded.
public struct UnsubscribeRoute {
    /// Tenants served at this path, by slug.
    let tenants: [String: ServedTenant]

    func handle(_ request: HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard let t = request.queryValue("t"), let c = request.queryValue("c"), let e = request.queryValue("e"),
              let s = request.queryValue("s"), !t.isEmpty, !c.isEmpty, !e.isEmpty, !s.isEmpty else {
            return respond(.text(400, "This unsubscribe link is incomplete.", outcome: "missing_parameters"))
        }
        guard let tenant = tenants[t] else { return respond(.text(404, "Not found.", outcome: "unknown_tenant")) }
        let language = ConfirmationPage.language(contact: request.method == .post ? nil : tenant.contactLanguage(e),
                                                 acceptLanguage: request.header("Accept-Language"),
                                                 fallback: tenant.config.fallbackLanguage)
        guard tenant.tokens.verify(s, tenant: t, email: e, campaign: c) else {
            return respond(.html(403, ConfirmationPage.html(.invalid, language: language, brand: tenant.brand, email: e),
                                 outcome: "bad_token"))
        }
        if request.method != .post {
            return respond(.html(200, ConfirmationPage.html(.ask, language: language, brand: tenant.brand, email: e), outcome: "page"))
        }
        guard UnsubscribeRoute.isOneClick(request) else {
            return respond(.text(400, "The body must be List-Unsubscribe=One-Click (RFC 8058).", outcome: "not_one_click"))
        }
        let email = EmailKey.normalize(e)
        // One id per (tenant, address, campaign): a retried POST, or the page's button after a
        // mail client's one-click, records nothing twice.
        let event = BookEvent(id: EventID.hash(["unsubscribe", t, email, c]), email: email, type: "unsubscribed",
                              reason: "one-click", campaign: c, at: .current(), source: "one-click")
        let brand = tenant.brand
        tenant.commits.submit([event]) { outcome in
            switch outcome {
            case .recorded, .duplicate:
                let word: String
                if case .recorded(let new, _) = outcome, new > 0 { word = "recorded" } else { word = "duplicate" }
                respond(.html(200, ConfirmationPage.html(.done, language: language, brand: brand, email: email), outcome: word))
            case .failed:
                var r = HTTPResponse.html(503, ConfirmationPage.html(.failed, language: language, brand: brand, email: email),
                                          outcome: "not_durable")
                r.headers.append(("Retry-After", "60"))
                respond(r)
            }
        }
    }

    /// RFC 8058 §3.1: the body holds `List-Unsubscribe=One-Click`, sent as
    /// application/x-www-form-urlencoded or multipart/form-data.
    public static func isOneClick(_ request: HTTPRequest) -> Bool {
        if let fields = request.formFields {
            return fields.contains { $0.0 == "List-Unsubscribe" && $0.1 == "One-Click" }
        }
        guard let type = request.header("Content-Type"), type.lowercased().hasPrefix("multipart/form-data") else { return false }
        return MultipartForm.value(named: "List-Unsubscribe", in: request.body, contentType: type) == "One-Click"
    }
}

/// The one field RFC 8058 needs from a multipart/form-data body (RFC 7578): the part whose
/// Content-Disposition names it.
enum MultipartForm {
    static func value(named name: String, in body: [UInt8], contentType: String) -> String? {
        guard let boundary = contentType.split(separator: ";").dropFirst().lazy
            .map({ $0.trimmingBlanks }).first(where: { $0.lowercased().hasPrefix("boundary=") })?.dropFirst(9) else { return nil }
        let delimiter = Array(("--" + boundary.trimmingCharacters(quote: "\"")).utf8)
        for part in split(body, on: delimiter).dropFirst() {
            // Each part: CRLF, header lines, an empty line, the content, CRLF (before the next delimiter).
            guard let headerEnd = find([13, 10, 13, 10], in: part) else { continue }
            let headers = String(decoding: part[..<headerEnd], as: UTF8.self).lowercased()
            guard headers.contains("content-disposition: form-data"),
                  headers.contains("name=\"\(name.lowercased())\"") else { continue }
            var content = Array(part[(headerEnd + 4)...])
            if content.suffix(2) == [13, 10] { content.removeLast(2) }
            return String(decoding: content, as: UTF8.self)
        }
        return nil
    }

    static func split(_ bytes: [UInt8], on delimiter: [UInt8]) -> [ArraySlice<UInt8>] {
        var parts: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while i + delimiter.count <= bytes.count {
            if bytes[i] == delimiter[0] && Array(bytes[i..<(i + delimiter.count)]) == delimiter {
                parts.append(bytes[start..<i])
                i += delimiter.count
                start = i
            } else {
                i += 1
            }
        }
        parts.append(bytes[start...])
        return parts
    }

    static func find(_ needle: [UInt8], in hay: ArraySlice<UInt8>) -> Int? {
        var i = hay.startIndex
        while i + needle.count <= hay.endIndex {
            if Array(hay[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }
}

extension Substring {
    func trimmingCharacters(quote: Character) -> String {
        var s = self
        if s.first == quote && s.last == quote && s.count >= 2 { s = s.dropFirst().dropLast() }
        return String(s)
    }
}
