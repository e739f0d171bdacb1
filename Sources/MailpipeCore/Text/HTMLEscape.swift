/// Text placed in HTML: `& < > " '` as entities (element content and quoted attributes).
/// The one table of them: render's fused HTML-and-JSON escape (JSONText.appendHTMLEscaped)
/// reads it too.
public enum HTMLEscape {
    /// The entity standing for `byte` in HTML text, or nil when the byte stands for itself.
    @inlinable @inline(__always)
    public static func entity(_ byte: UInt8) -> StaticString? {
        switch byte {
        case 0x26: return "&amp;"
        case 0x3C: return "&lt;"
        case 0x3E: return "&gt;"
        case 0x22: return "&quot;"
        case 0x27: return "&#39;"
        default: return nil
        }
    }

    public static func text(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            if let e = entity(b) {
                out.append(contentsOf: UnsafeBufferPointer(start: e.utf8Start, count: e.utf8CodeUnitCount))
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
