/// Looks at the first records of a stage's inputs before the stage reads them (standard input
/// is read again afterwards: `InputReader.lookingAheadAtStandardInput`).
public enum RecordLookAhead {
    public enum Finding: Equatable {
        /// The first string value of the member among the records.
        case value(String)
        /// Records, none of which (within the look-ahead) has the member as a string.
        case absent
        /// No record at all: the inputs are empty (or not JSON).
        case noRecords
    }

    /// The first string value of `member` among the inputs' records, looking at no more than
    /// `InputReader.lookAheadLimit` bytes of each input (unreadable inputs are left for the
    /// stage to report).
    public static func firstString(_ member: String, inputs: [String], maxLine: Int) -> Finding {
        var sawRecord = false
        for path in inputs.isEmpty ? ["-"] : inputs {
            guard let reader = try? (path == "-" ? InputReader.lookingAheadAtStandardInput() : InputReader(path: path)) else { continue }
            var lines = LineReader(input: reader, maxLine: maxLine)
            defer { lines.deallocate() }
            var parser = JSONParser(maxDepth: 64)
            defer { parser.deallocate() }
            var seen = 0
            while seen < InputReader.lookAheadLimit, let event = try? lines.next() {
                guard case .line(let bytes, _) = event else { continue }
                seen += bytes.count + 1
                guard let document = try? parser.parse(bytes), document.root.kind == .object else { continue }
                sawRecord = true
                if let value = document.root[member]?.string { return .value(value) }
            }
        }
        return sawRecord ? .absent : .noRecords
    }
}
