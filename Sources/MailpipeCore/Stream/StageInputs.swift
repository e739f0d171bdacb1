#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The inputs a stage was given (file operands, or standard input), as opposed to the state
/// files it also reads: how much of them was read (for the progress line's percentage), and
/// their first bytes (so that a run in which nothing was usable can say what the input looked
/// like and which stage reads that: "this looks like CSV: use ingest").
public enum StageInputs {
    /// What the start of an input looks like.
    public enum Kind: Equatable {
        case ndjson
        /// A JSON array, or one JSON document spread over lines (an import envelope).
        case json
        /// Delimited text with a header line (CSV, TSV, `;`-separated).
        case delimited(header: String)
        /// A PowerMTA accounting file (a header line starting `type,` and naming `rcpt`).
        case pmtaAccounting
        case binary
        case text(firstLine: String)
    }

    nonisolated(unsafe) private static var watched: Set<String> = ["-"]
    nonisolated(unsafe) private static var sample: (input: String, bytes: [UInt8])?
    private static let sampleSize = 4096
    /// Bytes read so far from the stage's inputs (compressed bytes for a .gz).
    nonisolated(unsafe) public private(set) static var bytesRead = 0
    /// Their total size when every one is a regular file (nil: a pipe or a terminal is among them).
    nonisolated(unsafe) public private(set) static var totalBytes: Int? = nil

    /// Names the stage's inputs (none: standard input).
    public static func watch(_ inputs: [String]) {
        let names = inputs.isEmpty ? ["-"] : inputs
        watched = Set(names)
        var total = 0
        for name in names {
            var info = stat()
            let found = name == "-" ? fstat(0, &info) == 0 : stat(name, &info) == 0
            guard found, info.st_mode & S_IFMT == S_IFREG else { totalBytes = nil; return }
            total += Int(info.st_size)
        }
        totalBytes = total
    }

    static func isWatched(_ input: String) -> Bool { watched.contains(input) }

    /// Called by `InputReader` for every block it reads from one of the stage's inputs.
    static func didRead(_ count: Int) {
        bytesRead += count
        ProgressLine.update()
    }

    /// Called by `InputReader` with the first bytes it hands out.
    static func offer(input: String, _ bytes: UnsafeRawBufferPointer) {
        guard sample == nil, watched.contains(input) else { return }
        sample = (input, Array(bytes.prefix(sampleSize)))
    }

    /// What the first sampled input looks like (nil: nothing was read).
    public static var kind: Kind? {
        guard let bytes = sample?.bytes else { return nil }
        return classify(bytes)
    }

    /// The input the sample came from ("-" for standard input).
    public static var inputName: String? { sample?.input }

    public static func classify(_ bytes: [UInt8]) -> Kind {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        while let b = body.first, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { body = body.dropFirst() }
        if body.contains(0) { return .binary }
        let line = body.prefix { $0 != 0x0A && $0 != 0x0D }
        let text = String(decoding: line, as: UTF8.self)
        if text.unicodeScalars.contains("\u{FFFD}") && !line.contains(0xEF) { return .binary }
        switch line.first {
        case UInt8(ascii: "{"):
            return (try? JSONValue.parse(Array(line))) != nil ? .ndjson : .json
        case UInt8(ascii: "["):
            return .json
        default:
            for separator: Character in [",", ";", "\t", "|"] where text.contains(separator) {
                let fields = text.split(separator: separator).map { $0.trimmingCharacters(in: "\" ").lowercased() }
                if fields.first == "type" && fields.contains("rcpt") { return .pmtaAccounting }
                return .delimited(header: text)
            }
            return .text(firstLine: text)
        }
    }

    /// A sentence for a run in which nothing of the input was usable: what the input looks like
    /// and, when another stage reads that, which (nil: no better idea than the rejects).
    public static func hint(stage: String, reasons: Set<String> = []) -> String? {
        if reasons == ["invalid_utf8"] {
            return stage == "ingest" ? "the input is not UTF-8: give --encoding latin1 or cp1252 (what Excel writes)"
                : "the input is not UTF-8: read it with ingest --encoding latin1 or cp1252"
        }
        guard let kind else { return nil }
        let readsContacts = stage != "ingest"
        switch kind {
        case .delimited(let header):
            return "this looks like CSV (first line: \(shortened(header)))"
                + (readsContacts ? ": use ingest to turn it into contact records" : "")
        case .json:
            return "this looks like one JSON document (an array or an envelope), not NDJSON"
                + (readsContacts ? ": use ingest to turn it into contact records" : "")
        case .pmtaAccounting:
            return stage == "account events" ? nil
                : "this looks like a PowerMTA accounting file: use account events --pmta"
        case .ndjson:
            return stage == "account events" ? "this looks like NDJSON: give event records as operands or on standard input, not with --pmta or --mailwizz" : nil
        case .binary:
            return "this does not look like text (a binary file?)"
        case .text(let first):
            return "this does not look like JSON (first line: \(shortened(first)))"
        }
    }

    private static func shortened(_ text: String) -> String {
        let scalars = text.unicodeScalars
        return scalars.count <= 60 ? "'\(text)'" : "'\(String(String.UnicodeScalarView(scalars.prefix(57))))…'"
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
