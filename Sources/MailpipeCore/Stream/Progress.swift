#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The progress line on standard error, as `pv` draws it: one line, redrawn in place twice a
/// second, with a percentage, a bar, the rate and an ETA when the inputs' size is known
/// (regular files), else what was read and the rate.
///
///     ingest  45% [=========>            ] 123.4MiB/272.0MiB  10.2MiB/s  51.2k rec/s  ETA 0:00:14
///
/// By default only on a terminal (never on a pipe, in a file, or with CI set), and only in the
/// stage that reads files: a stage reading a pipe is downstream in a pipeline whose head shows
/// the one line (`--progress` asks for it anyway). Long steps after the reading name themselves
/// (`phase`).
public enum ProgressLine {
    nonisolated(unsafe) private static var enabled = false
    nonisolated(unsafe) private static var stage = ""
    nonisolated(unsafe) private static var started = 0.0
    nonisolated(unsafe) private static var lastShown = 0.0
    nonisolated(unsafe) private static var shown = false
    nonisolated(unsafe) private static var records = 0
    nonisolated(unsafe) private static var phaseName: String?
    /// The first line waits this long (a short run shows nothing), then one redraw per interval.
    /// `MAILPIPE_PROGRESS_DELAY` (seconds, as `pv -D`) changes the wait.
    public static let defaultFirstAfter = 0.25
    static let interval = 0.5

    /// The wait before the first line: `MAILPIPE_PROGRESS_DELAY` when it is a number of seconds
    /// from 0 to 3600, else the default (a malformed value is not worth failing a run for).
    public static func firstAfter(environment value: String?) -> Double {
        guard let value, let seconds = Double(value), seconds >= 0, seconds <= 3600 else { return defaultFirstAfter }
        return seconds
    }

    /// Decides whether the line is drawn: `requested` (`--progress` / `--no-progress`), else
    /// standard error is a terminal, CI is unset and every input is a regular file.
    public static func configure(stage: String, requested: Bool?) {
        self.stage = stage
        let terminal = FileDescriptor.standardError.isTerminal && FileSystem.environment("CI") == nil
        enabled = requested ?? (terminal && StageInputs.totalBytes != nil)
        started = now()
        lastShown = started - interval + firstAfter(environment: FileSystem.environment("MAILPIPE_PROGRESS_DELAY"))
    }

    /// A stage that reads no input files (the store, for instance) but shows its progress.
    public static func configure(stage: String, requested: Bool?, readsFiles: Bool) {
        configure(stage: stage, requested: requested)
        if requested == nil && readsFiles {
            enabled = FileDescriptor.standardError.isTerminal && FileSystem.environment("CI") == nil
        }
    }

    /// Records handled so far (shown beside the bytes).
    public static func count(records: Int) {
        self.records = records
        update()
    }

    /// Names a long step that follows the reading ("merging 4 runs"); nil ends it.
    public static func phase(_ name: String?) {
        guard enabled else { return }
        phaseName = name
        lastShown = 0
        update()
    }

    /// Redraws when the interval has passed. Cheap enough to call per block read.
    static func update() {
        guard enabled else { return }
        let t = now()
        guard t - lastShown >= interval else { return }
        lastShown = t
        let line = render(width: terminalWidth())
        shown = true
        try? FileDescriptor.standardError.writeAll("\r" + line + "\u{1B}[K")
    }

    /// Clears the line (before the summary takes its place).
    public static func finish() {
        guard shown else { return }
        shown = false
        try? FileDescriptor.standardError.writeAll("\r\u{1B}[K")
    }

    static func render(width: Int) -> String {
        let elapsed = max(now() - started, 1e-6)
        return render(stage: stage, phase: phaseName, elapsed: elapsed, bytesRead: StageInputs.bytesRead,
                      totalBytes: StageInputs.totalBytes, records: records, width: width)
    }

    /// The line for a given state (pure: tests call it directly).
    public static func render(stage: String, phase: String?, elapsed: Double, bytesRead: Int, totalBytes: Int?,
                              records: Int, width: Int) -> String {
        if let phase { return "\(stage): \(phase)… \(clock(elapsed))" }
        let byteRate = Double(bytesRead) / elapsed
        var tail = "  \(size(Double(bytesRead)))"
        if let totalBytes { tail += "/\(size(Double(totalBytes)))" }
        tail += "  \(size(byteRate))/s"
        if records > 0 { tail += "  \(short(Double(records) / elapsed)) rec/s" }
        guard let totalBytes, totalBytes > 0 else {
            return "\(stage)\(tail)  \(clock(elapsed))"
        }
        let fraction = min(1, Double(bytesRead) / Double(totalBytes))
        let percent = Int(fraction * 100)
        let eta = byteRate > 0 ? Double(totalBytes - min(bytesRead, totalBytes)) / byteRate : 0
        tail += "  ETA \(clock(eta))"
        let head = "\(stage) \(percent < 10 ? "  " : percent < 100 ? " " : "")\(percent)% "
        let barWidth = width - 1 - head.count - tail.count - 2
        guard barWidth >= 10 else { return head.dropLast() + tail }
        let filled = Int(fraction * Double(barWidth))
        var bar = String(repeating: "=", count: filled)
        if filled < barWidth { bar += ">" + String(repeating: " ", count: barWidth - filled - 1) }
        return head + "[" + bar + "]" + tail
    }

    /// 0:01:23
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(s / 3600):\(two(s / 60 % 60)):\(two(s % 60))"
    }

    /// 123.4MiB (binary units, as pv)
    static func size(_ bytes: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = bytes, unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(Int(value))B" : "\(oneDecimal(value))\(units[unit])"
    }

    /// 51.2k
    static func short(_ value: Double) -> String {
        value >= 1_000_000 ? "\(oneDecimal(value / 1_000_000))M" : value >= 1000 ? "\(oneDecimal(value / 1000))k" : "\(Int(value))"
    }

    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// The terminal's width (standard error's window), else $COLUMNS, else 80.
    static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 { return Int(size.ws_col) }
        return FileSystem.environment("COLUMNS").flatMap(Int.init) ?? 80
    }
}

/// A record stream's handle on the progress line: counts records, cheaply.
public struct Progress {
    private var sinceCheck = 0

    /// The line itself is configured once per process (`ProgressLine.configure`).
    public init() {}

    /// Cheap to call per record: it hands the count over every few thousand calls.
    @inline(__always)
    public mutating func tick(records: Int) {
        sinceCheck += 1
        if sinceCheck < 4096 { return }
        sinceCheck = 0
        ProgressLine.count(records: records)
    }

    public func finish() {
        ProgressLine.finish()
    }
}
