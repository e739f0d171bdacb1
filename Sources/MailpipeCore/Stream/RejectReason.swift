/// Why a stage refused an input record: the stable `reason` code of its reject line (docs/design.md
/// §3, docs/contract.md). One enum for every stage, so a code is spelt once and the summary's
/// `reject_reasons` group them.
public enum RejectReason: String, Sendable, CaseIterable {
    // The line itself.
    case invalidJSON = "invalid_json"
    case invalidUTF8 = "invalid_utf8"
    case tooDeep = "too_deep"
    case notAnObject = "not_an_object"
    case emptyLine = "empty_line"
    case lineTooLong = "line_too_long"
    case truncatedJSON = "truncated_json"
    case trailingData = "trailing_data"
    case notJSON = "not_json"
    case binaryData = "binary_data"
    // CSV rows.
    case unterminatedQuote = "unterminated_quote"
    case raggedRow = "ragged_row"
    case fieldTooLong = "field_too_long"
    case missingHeader = "missing_header"
    // Identity: email and tenant.
    case missingEmail = "missing_email"
    case invalidEmail = "invalid_email"
    case missingTenant = "missing_tenant"
    case invalidTenant = "invalid_tenant"
    case tenantMismatch = "tenant_mismatch"
    case unknownTenant = "unknown_tenant"
    case wrongShard = "wrong_shard"
    case duplicate = "duplicate"
    // Record fields.
    case invalidTags = "invalid_tags"
    case invalidNumber = "invalid_number"
    case invalidTime = "invalid_time"
    case missingTime = "missing_time"
    case invalidType = "invalid_type"
    case invalidOutcome = "invalid_outcome"
    case invalidBounceClass = "invalid_bounce_class"
    case missingCampaign = "missing_campaign"
    case invalidCampaign = "invalid_campaign"
    // Messages.
    case missingFrom = "missing_from"
    case missingBody = "missing_body"
    case invalidHeader = "invalid_header"
    /// No SMTP route takes the recipient's domain (`inject smtp` routes).
    case noRoute = "no_route"
    case invalidMessage = "invalid_message"
    case noTemplate = "no_template"
    case missingVariable = "missing_variable"
    case invalidVariant = "invalid_variant"
    case spamScore = "spam_score"
    case spamcheckFailed = "spamcheck_failed"
    // Unsubscribe requests sent by mail (account events --unsubscribe-mbox).
    case notUnsubscribe = "not_unsubscribe"
    case missingToken = "missing_token"
    case badToken = "bad_token"
}

/// A record refused, with the reason code and a readable detail.
public struct RecordRefusal: Error, Sendable {
    public var reason: RejectReason
    public var detail: String
    public init(_ reason: RejectReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }
}

/// The one tenant check of every stage (docs/design.md §1): a record's `tenant`, when present, must
/// be a string and, when the stage has a tenant (`--tenant`, or the stream's first), equal it.
public struct TenantCheck: Sendable {
    public let expected: String
    private let expectedBytes: [UInt8]
    /// How the expected tenant was given, for the detail text (`--tenant acme`).
    private let source: String

    public init(expected: String, source: String? = nil) {
        self.expected = expected
        expectedBytes = Array(expected.utf8)
        self.source = source ?? "--tenant \(expected)"
    }

    /// The refusal for a record whose `tenant` member is `node` (nil when absent or equal).
    public func refusal(_ node: JSONNode?) -> RecordRefusal? {
        guard let node else { return nil }
        guard node.kind == .string else { return RecordRefusal(.invalidTenant, "tenant must be a string") }
        if !node.isEscaped && Bytes.equal(node.rawContent, expectedBytes) { return nil }
        let value = node.string ?? ""
        return value == expected ? nil : mismatch(value)
    }

    /// The refusal for a record's `tenant` member when the stage may have no tenant yet (`check`
    /// nil: only a tenant that is not a string is refused).
    public static func refusal(_ node: JSONNode?, against check: TenantCheck?) -> RecordRefusal? {
        if let check { return check.refusal(node) }
        guard let node, node.kind != .string else { return nil }
        return RecordRefusal(.invalidTenant, "tenant must be a string")
    }

    /// The same for a tenant already decoded (nil: absent).
    public func refusal(tenant value: String?) -> RecordRefusal? {
        guard let value, value != expected else { return nil }
        return mismatch(value)
    }

    /// The same for the token at `index` of a tape (-1: absent).
    public func refusal(_ tape: Tape, _ index: Int, scratch: inout [UInt8]) -> RecordRefusal? {
        guard index >= 0 else { return nil }
        guard tape.kind(index) == .string else { return RecordRefusal(.invalidTenant, "tenant must be a string") }
        return tape.withString(index, scratch: &scratch) { refusal(tenantBytes: $0) }
    }

    /// The same for a tenant string's decoded bytes.
    public func refusal(tenantBytes: UnsafeRawBufferPointer) -> RecordRefusal? {
        Bytes.equal(tenantBytes, expectedBytes) ? nil : mismatch(String(decoding: tenantBytes, as: UTF8.self))
    }

    private func mismatch(_ value: String) -> RecordRefusal {
        RecordRefusal(.tenantMismatch, "record of tenant '\(value)' given to \(source)")
    }
}
