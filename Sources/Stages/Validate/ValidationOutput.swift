import MailpipeCore

/// The members `validate` sets on a record, as a `RecordPatch` (reused from record to record):
/// `RecordPatch.write(_:keeping:reparser:into:)` writes a record parsed keeping `memberSlots`
/// as its own bytes around them when it is compact, `RecordPatch.write(_:into:)` any record
/// from its full parse.
struct ValidationOutput {
    private static let names: [StaticString] = ["validation", "status", "email_original", "email", "email_ascii"]

    /// The members `set` gave, in the order it set them (a new member is appended in that order).
    private(set) var patch = RecordPatch()

    /// The root members to keep when parsing a record for validate: those it sets (what it reads
    /// is among them), watching for repeated keys (`RecordPatch.write(_:keeping:reparser:into:)`).
    static func memberSlots() -> FieldSlots {
        let slots = FieldSlots()
        for name in names { _ = slots.slot(name.description) }
        slots.noticesRepeatedKeys = true
        return slots
    }

    /// Works out the members an assessment sets on `record`: `validation`, `status` (unless the
    /// record's is one validate keeps), and after a typo fix `email` and `email_original`; for an
    /// IDN domain `email_ascii`. What it reads of the record is among `memberSlots`.
    mutating func set(_ record: Record, _ a: Assessment, fixed: String?) {
        patch.removeAll()
        patch.set("validation") { Self.appendValidation(a, fixed: fixed, to: &$0) }
        let current = record["status"]
        if current == nil || !Validate.keptStatuses.contains(where: { current!.stringEquals($0) }) {
            let status: StaticString
            switch a.verdict {
            case .valid: status = "\"validated\""
            case .risky: status = "\"risky\""
            case .invalid: status = "\"invalid\""
            }
            patch.set("status") { $0.append(status) }
        }
        if let fixed {
            if record["email_original"] == nil, let original = record["email"] {
                patch.set("email_original", rawJSON: original.raw)
            }
            patch.set("email", string: fixed)
        }
        if let ascii = a.asciiEmail { patch.set("email_ascii", string: ascii) }
    }

    /// The `validation` member's value: the verdict, its score and reasons, and a suggestion
    /// not applied.
    private static func appendValidation(_ a: Assessment, fixed: String?, to values: inout ByteBuffer) {
        switch a.verdict {
        // (StaticString: a plain literal would take `append(String)`, a copy and a call each.)
        case .valid: values.append("{\"verdict\":\"valid\",\"score\":" as StaticString)
        case .risky: values.append("{\"verdict\":\"risky\",\"score\":" as StaticString)
        case .invalid: values.append("{\"verdict\":\"invalid\",\"score\":" as StaticString)
        }
        values.appendDecimal(a.score)
        values.append(",\"reasons\":[" as StaticString)
        for (i, r) in a.reasons.enumerated() {
            if i > 0 { values.append(UInt8(ascii: ",")) }
            values.append(UInt8(ascii: "\""))
            values.append(r.rawValue)
            values.append(UInt8(ascii: "\""))
        }
        values.append(UInt8(ascii: "]"))
        if let s = a.suggestion, fixed == nil {
            values.append(",\"suggestion\":" as StaticString)
            values.appendJSONString(s)
        }
        values.append(UInt8(ascii: "}"))
    }
}
