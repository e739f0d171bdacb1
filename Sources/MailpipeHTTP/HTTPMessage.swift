import MailpipeCore

/// What a route handler sees of a request and gives back. The server layer (HTTPServer) owns
/// the connection, the codec (SwiftNIO's NIOHTTP1) and the limits; handlers deal only in these.
public enum HTTPMethod: String, Sendable {
    case get = "GET", head = "HEAD", post = "POST", put = "PUT", delete = "DELETE", options = "OPTIONS", patch = "PATCH"
}

public struct HTTPRequest: Sendable {
    /// Nil for a method the server does not know (answered 405 or 501 before any route runs).
    public var method: HTTPMethod
    /// The path, percent-decoded, without the query.
    public var path: String
    /// The query's parameters, decoded as a form (`+` is a space), in order.
    public var query: [(String, String)]
    /// Header fields as received (names compared case-insensitively by `header(_:)`).
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// The peer's address (no port).
    public var client: String
    /// Values of `:name` segments of the route's pattern.
    public var parameters: [String: String] = [:]

    public init(method: HTTPMethod, path: String, query: [(String, String)], headers: [(String, String)], body: [UInt8],
                client: String) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.client = client
    }

    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.0.lowercased() == lower }?.1
    }

    public func queryValue(_ name: String) -> String? { query.first { $0.0 == name }?.1 }

    /// The body's fields when it is a form (`application/x-www-form-urlencoded`), else nil.
    public var formFields: [(String, String)]? {
        guard let type = header("Content-Type")?.lowercased(),
              type.split(separator: ";").first?.trimmingCharacters(in: " ") == "application/x-www-form-urlencoded" else { return nil }
        return FormDecoding.fields(body)
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// A short word for the access log saying what the request did or why it was refused
    /// (`recorded`, `duplicate`, `bad_token`…). Never sent to the client.
    public var outcome: String?

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], outcome: String? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.outcome = outcome
    }

    public static func text(_ status: Int, _ text: String, outcome: String? = nil) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array((text + "\n").utf8),
                     outcome: outcome)
    }

    public static func html(_ status: Int, _ page: String, outcome: String? = nil) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/html; charset=utf-8"),
                                               ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
                                               ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                                               ("Cache-Control", "no-store")],
                     body: Array(page.utf8), outcome: outcome)
    }

    public static func json(_ status: Int, _ bytes: [UInt8], outcome: String? = nil) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: bytes + [0x0A], outcome: outcome)
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        default: return "Status \(status)"
        }
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String { String(self).trimmingCharacters(in: set) }
}
