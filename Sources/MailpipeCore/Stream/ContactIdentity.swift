/// The first checks a contact stage makes, in the order their rejects are judged: an email
/// string, a tenant that is a string when present, then a normalised email that is not empty
/// (that last one after the stage has judged the tenant).
public struct ContactIdentity: Sendable {
    public enum Problem: Sendable {
        case noEmail, tenantNotString, emptyEmail
        /// An unpaired `\uD800`-style escape in the email or tenant: it decodes to U+FFFD, so
        /// different addresses would become one.
        case loneSurrogate

        public func reject(_ record: UnsafeRawBufferPointer, origin: RejectSink.Origin, to rejects: RejectSink) {
            switch self {
            case .noEmail: rejects.reject(.missingEmail, "a contact needs an email string", origin: origin, record: record)
            case .tenantNotString: rejects.reject(.invalidTenant, "tenant must be a string", origin: origin, record: record)
            case .emptyEmail: rejects.reject(.missingEmail, "email is empty", origin: origin, record: record)
            case .loneSurrogate:
                rejects.reject(.invalidEmail, "the email or tenant holds an unpaired UTF-16 surrogate escape (such as \\uD800), which names no character",
                               origin: origin, record: record)
            }
        }
    }

    public var problem: Problem?
    /// The record's tenant (nil: none given, or the one `read(_:tenantOtherThan:)` expects).
    /// Slugs fit a small string: no allocation.
    public var tenant: String?
    /// The normalised email (trimmed, lower case); empty when there is a problem.
    public var key: [UInt8] = []

    public init(_ record: Record) { read(record) }

    /// An identity to `read` records into, one after the other.
    public init() {}

    /// Judges another record, reusing the key's storage (a thread that reads many records then
    /// allocates nothing per record).
    public mutating func read(_ record: Record) { read(record, tenantOtherThan: nil) }

    /// The same, `tenant` left nil also when the record writes it as `expected`'s UTF-8 bytes,
    /// unescaped (compared as bytes: no string is made for the records of the tenant a stage
    /// already knows; a tenant written otherwise is given as usual, for the stage to compare).
    public mutating func read(_ record: Record, tenantOtherThan expected: [UInt8]?) {
        read(email: record["email"], tenant: record["tenant"], tenantOtherThan: expected)
    }

    /// The same from a record's `email` and `tenant` members already found (nil: absent), as
    /// a parse that kept them in `FieldSlots` gives them.
    public mutating func read(email: JSONNode?, tenant named: JSONNode?, tenantOtherThan expected: [UInt8]?) {
        problem = nil
        tenant = nil
        key.removeAll(keepingCapacity: true)
        guard let email, email.kind == .string else { problem = .noEmail; return }
        if let t = named {
            guard t.kind == .string else { problem = .tenantNotString; return }
            if t.hasLoneSurrogate { problem = .loneSurrogate; return }
            if let expected, !t.isEscaped, Bytes.equal(t.rawContent, expected) { /* the known tenant */ } else {
                tenant = t.string
            }
        }
        if email.hasLoneSurrogate { problem = .loneSurrogate; return }
        if email.isEscaped {
            var decoded: [UInt8] = []
            email.appendDecodedString(to: &decoded)
            decoded.withUnsafeBytes { EmailKey.normalize($0, into: &key) }
        } else {
            // The usual case: the address's bytes are in the record as they are.
            EmailKey.normalize(email.rawContent, into: &key)
        }
        if key.isEmpty { problem = .emptyEmail }
    }
}
