import MailpipeCore

/// What `RecordPatch` writes for `input` with the members `patch` sets from its record: the
/// reference a stage's own splice of a compact record (validate's, tag's) must equal.
public func writtenByRecordPatch(_ input: String, _ patch: (Record, inout RecordPatch) throws -> Void) throws -> String {
    var parser = JSONParser()
    defer { parser.deallocate() }
    var output = ByteBuffer()
    try Array(input.utf8).withUnsafeBytes { raw in
        let record = Record(document: try parser.parse(raw), line: 1, file: nil)
        var recordPatch = RecordPatch()
        try patch(record, &recordPatch)
        recordPatch.write(record, into: &output)
    }
    return String(decoding: output.bytes, as: UTF8.self)
}
