/// A plain-text table for a terminal: columns as wide as their widest cell in display columns
/// (so CJK names line up), the first column left-aligned, the others right-aligned, two spaces
/// between columns and two before the first.
public enum TextTable {
    public static func render(_ header: [String], _ rows: [[String]], leftColumns: Int = 1) -> String {
        if rows.isEmpty { return "  (none)\n" }
        var widths = header.map(DisplayWidth.of)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], DisplayWidth.of(cell)) } }
        func line(_ cells: [String]) -> String {
            var text = "  " + cells.enumerated().map { i, cell in
                DisplayWidth.pad(cell, to: widths[i], alignRight: i >= leftColumns)
            }.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text + "\n"
        }
        return line(header) + rows.map(line).joined()
    }

    /// 0.142857 → "14.3%"; nil → "-".
    public static func percent(_ rate: Double?) -> String {
        guard let rate else { return "-" }
        let tenths = Int((rate * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }
}
