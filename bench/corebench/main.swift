// corebench: measures the stream core alone, stdin → stdout.
//   corebench lines    split lines and write them back (the I/O ceiling)
//   corebench pass     parse and validate every record, pass the untouched ones through as bytes
//   corebench rewrite  parse every record and write it back with one member changed and one added
//                      (every member re-emitted through the writer)
// It is a benchmark harness, not a stage: bench/core.sh runs it beside jq and friends.
import MailpipeCore

ignoreBrokenPipeSignal()
let mode = CommandLine.arguments.dropFirst().first ?? "pass"
var out = OutputSink()
let rejects = try RejectSink(stage: "corebench")
do {
    switch mode {
    case "lines":
        var reader = LineReader(input: try InputReader(path: nil))
        while let event = try reader.next() {
            if case .line(let bytes, _) = event { try out.writeLine(bytes) }
        }
    case "pass", "rewrite":
        var stream = try RecordStream(options: StreamOptions(stage: "corebench"), rejects: rejects)
        var patch = RecordPatch()
        if mode == "rewrite" {
            patch.set("status", string: "validated")
            patch.set("bench", .bool(true))
        }
        while let record = try stream.next() {
            patch.write(record, into: &out.buffer)
            out.buffer.append(0x0A)
            try out.flushIfNeeded()
        }
    default:
        try FileDescriptor.standardError.writeAll("usage: corebench lines|pass|rewrite < in > out\n")
        exit(2)
    }
    try out.flush()
} catch StageError.outputClosed {
}

#if canImport(Glibc)
import Glibc
#endif
