import MailpipeCore

/// The one Message-ID rule (`render` writes it into `headers`, `inject smtp` uses the same when a
/// record has none): `<32 hex digits@domain>`, the digits a 128-bit hash of (tenant, campaign,
/// normalised email) — the same message to the same contact in the same campaign always has the
/// same id, so a re-send after a crash is recognisably the same message, and nothing else shares it.
/// The domain: tenant.json `sending_domain`, else `brand_domain`, else the From address's domain.
public enum MessageID {
    public static func domain(config: TenantConfig?, from: String?) -> String {
        if let d = config?.mailDomain, !d.isEmpty { return d }
        if let from, let at = from.lastIndex(of: "@") {
            let d = from[from.index(after: at)...].filter { $0 != ">" && $0 != " " && $0 != "\"" }
            if !d.isEmpty { return String(d) }
        }
        return "localhost"
    }

    /// Writes `<hex@domain>` for the normalised `email`.
    public static func append(tenant: [UInt8], campaign: [UInt8], email: UnsafeRawBufferPointer, domain: [UInt8], into out: inout ByteBuffer) {
        var key = tenant
        key.append(0)
        key.append(contentsOf: campaign)
        key.append(0)
        key.append(contentsOf: email)
        let (a, b) = key.withUnsafeBytes { (EventID.hash($0, seed: 0x6D6964_31), EventID.hash($0, seed: 0x6D6964_32)) }
        out.append(UInt8(ascii: "<"))
        for v in [a, b] {
            for i in (0..<16).reversed() { out.append(EventID.digits[Int((v >> (4 * UInt64(i))) & 0xF)]) }
        }
        out.append(UInt8(ascii: "@"))
        out.append(domain)
        out.append(UInt8(ascii: ">"))
    }

    public static func make(tenant: String, campaign: String, email: String, domain: String) -> String {
        var out = ByteBuffer(capacity: 48 + domain.utf8.count)
        Array(EmailKey.normalize(email).utf8).withUnsafeBytes {
            append(tenant: Array(tenant.utf8), campaign: Array(campaign.utf8), email: $0, domain: Array(domain.utf8), into: &out)
        }
        return String(decoding: out.bytes, as: UTF8.self)
    }
}
