#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import MailpipeCore

/// `--csv`, `--delimiter`, `--bom`: contact records as a spreadsheet opens them.
public struct CSVFlags: ParsableArguments {
    @Flag(help: "Write CSV (for spreadsheets) instead of NDJSON: fixed columns, tags joined by ', '.")
    public var csv = false
    @Option(help: ArgumentHelp("CSV delimiter: ',', ';' (what Excel expects where the decimal mark is a comma) or 'tab'.", valueName: "char"),
            completion: .list([",", ";", "tab"]))
    public var delimiter: String?
    @Flag(help: "Start the CSV with a UTF-8 byte order mark (so Excel reads it as UTF-8).")
    public var bom = false

    public init() {}

    public func validate() throws {
        if !csv && (delimiter != nil || bom) { throw ValidationError("--delimiter and --bom go with --csv") }
        _ = try format()
    }

    func format() throws -> ContactCSV {
        switch delimiter ?? "," {
        case ",": return ContactCSV(delimiter: UInt8(ascii: ","), byteOrderMark: bom)
        case ";": return ContactCSV(delimiter: UInt8(ascii: ";"), byteOrderMark: bom)
        case "tab", "\t", "\\t": return ContactCSV(delimiter: 0x09, byteOrderMark: bom)
        default: throw ValidationError("--delimiter is ',', ';' or 'tab', got '\(delimiter!)'")
        }
    }

    /// With --csv, turns what the stage writes to standard output into CSV until `finish()`.
    public func start() throws -> CSVConversion? {
        csv ? try CSVConversion(format: try format()) : nil
    }
}

/// The stage writes NDJSON as always; standard output is a pipe whose other end a side thread
/// turns into CSV rows on the real standard output. No stage knows about CSV.
public final class CSVConversion {
    private let realOutput: Int32
    private var thread: SideThread?
    private var failure: Error?

    init(format: ContactCSV) throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw StageError.runtime("--csv: pipe: \(String(cString: strerror(errno)))") }
        realOutput = dup(1)
        guard realOutput >= 0, dup2(ends[1], 1) >= 0 else { throw StageError.runtime("--csv: cannot redirect standard output") }
        close(ends[1])
        let input = ends[0], output = realOutput
        thread = try SideThread { [unowned self] in
            do { try CSVConversion.convert(from: input, to: output, format: format) } catch { self.failure = error }
            close(input)   // a reader that went away: the stage's next write gets EPIPE and stops quietly
        }
    }

    /// Ends the stage's output and waits for the last rows.
    public func finish() throws {
        close(1)
        thread?.wait()
        thread = nil
        if let failure { throw failure }
    }

    static func convert(from input: Int32, to output: Int32, format: ContactCSV) throws {
        let source = FileDescriptor(rawValue: input), sink = FileDescriptor(rawValue: output)
        var out: [UInt8] = []
        format.header(into: &out)
        var pending: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 1 << 16)
        var parser = JSONParser(maxDepth: 256)
        defer { parser.deallocate() }
        while true {
            let n = try block.withUnsafeMutableBytes { try source.read(into: $0.baseAddress!, count: $0.count) }
            if n == 0 { break }
            pending.append(contentsOf: block[0..<n])
            var start = 0
            while let end = pending[start...].firstIndex(of: 0x0A) {
                try pending.withUnsafeBytes { bytes in
                    let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                    if let document = try? parser.parse(line) { format.row(document.root, into: &out) }
                }
                start = end + 1
            }
            pending.removeFirst(start)
            if out.count >= 1 << 16 { try write(&out, to: sink) }
        }
        try write(&out, to: sink)
    }

    private static func write(_ out: inout [UInt8], to sink: FileDescriptor) throws {
        do { try sink.writeAll(out) } catch let error as SystemError where error.errno == .brokenPipe {
            throw StageError.outputClosed
        }
        out.removeAll(keepingCapacity: true)
    }
}
