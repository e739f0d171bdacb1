import MailpipeCore

/// Inputs for checking that a stage on several threads writes what it writes on one: two files
/// of 6,000 lines each (more than one of `ParallelRecordStream`'s batches), with a bad line
/// between the records every `every` lines — every kind the stream core rejects, a blank line,
/// and the stage's own (`stageRejects`: line and reason) — and the rejects expected, in order.
public struct ThreadedInputs {
    public var paths: [String] = []
    /// Records written (numbered 0..<records in input order by `record`).
    public var records = 0
    /// The rejects expected, as `file:line:reason`.
    public var rejects: [String] = []

    /// `record(n, i)`: the line of record n, the i-th line of its file.
    public init(in dir: String, every: Int, stageRejects: [(line: String, reason: String)],
                record: (_ n: Int, _ i: Int) -> String) throws {
        let coreRejects: [(line: String, reason: String?)] = [
            ("  ", nil),
            (#"{"email":"broken@firm.fr","tags":["a""#, "invalid_json"),
            ("[1,2]", "not_an_object"),
            (#"{"email":"long@firm.fr","note":""# + String(repeating: "x", count: 5000) + #""}"#, "line_too_long"),
            ("{\"email\":\"bad@firm.fr\",\"note\":\"\u{1}\"}", "invalid_utf8"),   // 0x01 is written 0xFF
        ]
        let bad = coreRejects + stageRejects.map { ($0.line, Optional($0.reason)) }
        for name in ["first.ndjson", "second.ndjson"] {
            var lines: [String] = []
            for i in 0..<6000 {
                if i % every == every / 2 {
                    let (line, reason) = bad[(i / every) % bad.count]
                    lines.append(line)
                    if let reason { rejects.append("\(dir)/\(name):\(lines.count):\(reason)") }
                    continue
                }
                lines.append(record(records, i))
                records += 1
            }
            let path = "\(dir)/\(name)"
            try FileSystem.writeAtomically(path, (lines.joined(separator: "\n") + "\n").utf8.map { $0 == 1 ? 0xFF : $0 })
            paths.append(path)
        }
    }

    /// A rejects file's lines as `file:line:reason`, to compare with `rejects`.
    public static func rejects(_ lines: [String]) throws -> [String] {
        try lines.map { line in
            let value = try JSONValue.parse(line)
            return "\(value["file"]?.string ?? "-"):\(value["line"]?.int ?? -1):\(value["reason"]?.string ?? "-")"
        }
    }
}
