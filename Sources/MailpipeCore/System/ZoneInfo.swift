/// A time zone read from the system's tz database (`/usr/share/zoneinfo`, or `$TZDIR`): the
/// UTC offset at any instant, and the local calendar day. A tenant's days ("sent today", the
/// warm-up week, counters per day) are days in its `timezone`.
///
/// The TZif file (RFC 8536) gives the transitions it lists; past the last one, its footer's POSIX
/// TZ rule (`CET-1CEST,M3.5.0,M10.5.0/3`) gives the offsets of every later year, so a "slim"
/// tzdata file answers the same as a "fat" one.
public struct ZoneInfo: Sendable, Equatable {
    public let name: String
    /// Transition instants (UTC seconds), ascending, and the offset in force from each one.
    let transitions: [Int64]
    let offsets: [Int32]
    /// The offset before the first transition.
    let initialOffset: Int32
    /// Offsets after the last transition.
    let rule: PosixRule?

    public static let utc = ZoneInfo(name: "UTC", transitions: [], offsets: [], initialOffset: 0, rule: nil)

    /// Loads a zone by its tz database name (`Europe/Paris`, `UTC`). Names with `..`, a leading
    /// `/` or other characters than letters, digits, `/ _ - +` are refused.
    public static func load(_ name: String) throws(ZoneInfoError) -> ZoneInfo {
        if name == "UTC" || name == "Etc/UTC" || name == "Z" || name == "GMT" || name == "Etc/GMT" { return ZoneInfo(utcNamed: name) }
        let allowed = name.utf8.allSatisfy { b in
            (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 47 || b == 95 || b == 45 || b == 43
        }
        guard !name.isEmpty, allowed, !name.hasPrefix("/"), !name.contains("..") else { throw .invalidName(name) }
        let root = FileSystem.environment("TZDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/share/zoneinfo"
        let path = "\(root)/\(name)"
        guard FileSystem.exists(path), !FileSystem.isDirectory(path), let bytes = try? FileSystem.readFile(path) else {
            throw .unknown(name, root)
        }
        guard let zone = ZoneInfo(name: name, tzif: bytes) else { throw .unreadable(path) }
        return zone
    }

    init(name: String, transitions: [Int64], offsets: [Int32], initialOffset: Int32, rule: PosixRule?) {
        self.name = name
        self.transitions = transitions
        self.offsets = offsets
        self.initialOffset = initialOffset
        self.rule = rule
    }

    private init(utcNamed name: String) {
        self.init(name: name, transitions: [], offsets: [], initialOffset: 0, rule: nil)
    }

    /// Seconds east of UTC in force at `t`.
    public func offset(at t: Timestamp) -> Int64 {
        let s = t.seconds
        if let last = transitions.last, s >= last, let rule { return rule.offset(at: s) }
        if transitions.isEmpty { return rule?.offset(at: s) ?? Int64(initialOffset) }
        if s < transitions[0] { return Int64(initialOffset) }
        var lo = 0, hi = transitions.count
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if transitions[mid] <= s { lo = mid } else { hi = mid }
        }
        return Int64(offsets[lo])
    }

    /// The local calendar day of `t`, as days since 1970-01-01.
    public func localDays(_ t: Timestamp) -> Int64 {
        Timestamp(seconds: t.seconds + offset(at: t)).days
    }

    /// The local calendar day of `t`: `2026-11-23`.
    public func date(_ t: Timestamp) -> String {
        Timestamp(seconds: t.seconds + offset(at: t)).date
    }

    public var isUTC: Bool { transitions.isEmpty && rule == nil && initialOffset == 0 }

    // MARK: TZif

    /// A zone from TZif bytes (nil when they are not TZif).
    public init?(name: String, tzif b: [UInt8]) {
        func u32(_ at: Int) -> Int64 {
            Int64(Int32(bitPattern: UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])))
        }
        func i64(_ at: Int) -> Int64 {
            var v: UInt64 = 0
            for i in 0..<8 { v = v << 8 | UInt64(b[at + i]) }
            return Int64(bitPattern: v)
        }
        guard b.count >= 44, b[0] == 0x54, b[1] == 0x5A, b[2] == 0x69, b[3] == 0x66 else { return nil }
        let version = b[4]
        /// One header + data block: counts, then where its data starts and ends.
        func block(at start: Int, timeSize: Int) -> (counts: [Int], data: Int, end: Int)? {
            guard start + 44 <= b.count else { return nil }
            let counts = (0..<6).map { Int(u32(start + 20 + 4 * $0)) }   // isut, isstd, leap, time, type, char
            guard counts.allSatisfy({ $0 >= 0 }) else { return nil }
            let size = counts[3] * timeSize + counts[3] + counts[4] * 6 + counts[5] + counts[2] * (timeSize + 4) + counts[1] + counts[0]
            guard start + 44 + size <= b.count else { return nil }
            return (counts, start + 44, start + 44 + size)
        }
        guard var header = block(at: 0, timeSize: 4) else { return nil }
        var timeSize = 4
        if version >= 0x32 {  // '2' or later: the 64-bit block follows the first
            guard let second = block(at: header.end, timeSize: 8) else { return nil }
            header = second
            timeSize = 8
        }
        let timeCount = header.counts[3], typeCount = header.counts[4]
        guard typeCount > 0 else { return nil }
        var p = header.data
        var times: [Int64] = []
        for _ in 0..<timeCount {
            times.append(timeSize == 8 ? i64(p) : u32(p))
            p += timeSize
        }
        var typeIndexes: [Int] = []
        for _ in 0..<timeCount { typeIndexes.append(Int(b[p])); p += 1 }
        var typeOffsets: [Int32] = []
        var typeIsDST: [Bool] = []
        for _ in 0..<typeCount {
            typeOffsets.append(Int32(truncatingIfNeeded: u32(p)))
            typeIsDST.append(b[p + 4] != 0)
            p += 6
        }
        guard typeIndexes.allSatisfy({ $0 < typeCount }) else { return nil }
        var rule: PosixRule? = nil
        if timeSize == 8, header.end < b.count, b[header.end] == 0x0A,
           let close = b[(header.end + 1)...].firstIndex(of: 0x0A) {
            let text = String(decoding: b[(header.end + 1)..<close], as: UTF8.self)
            if !text.isEmpty {
                guard let parsed = PosixRule(text) else { return nil }
                rule = parsed
            }
        }
        // Before the first transition: the first standard-time type (RFC 8536 §3.2), else type 0.
        let initial = typeIsDST.firstIndex(of: false) ?? 0
        self.init(name: name, transitions: times, offsets: typeIndexes.map { typeOffsets[$0] },
                  initialOffset: typeOffsets[initial], rule: rule)
    }
}

public enum ZoneInfoError: Error, CustomStringConvertible, Equatable {
    case invalidName(String)
    case unknown(String, String)
    case unreadable(String)

    public var description: String {
        switch self {
        case .invalidName(let n): return "'\(n)' is not a time zone name (e.g. Europe/Paris, UTC)"
        case .unknown(let n, let root): return "unknown time zone '\(n)' (not in \(root); is the tzdata package installed?)"
        case .unreadable(let path): return "\(path): not a readable TZif file"
        }
    }
}

/// A POSIX TZ rule (the TZif footer): standard offset, and optionally daylight time with its
/// start and end rules (`Mm.w.d[/time]`, `Jn[/time]`, `n[/time]`).
struct PosixRule: Sendable, Equatable {
    var standard: Int64          // seconds east of UTC
    var daylight: Int64?
    var start: DateRule?
    var end: DateRule?

    struct DateRule: Sendable, Equatable {
        enum Kind: Sendable, Equatable { case julianNoLeap(Int), zeroBased(Int), monthWeekDay(Int, Int, Int) }
        var kind: Kind
        var time: Int64 = 7200   // seconds after local midnight (may be negative or past 24 h)

        /// Local seconds since 1970 at which the rule fires in `year`, in the time then in force.
        func localSeconds(year: Int64) -> Int64 {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            let jan1 = Timestamp.days(fromCivil: year, 1, 1)
            let day: Int64
            switch kind {
            case .julianNoLeap(let n):
                day = jan1 + Int64(n) - 1 + (leap && n >= 60 ? 1 : 0)
            case .zeroBased(let n):
                day = jan1 + Int64(n)
            case .monthWeekDay(let m, let w, let d):
                let first = Timestamp.days(fromCivil: year, Int64(m), 1)
                let weekday = ((first + 4) % 7 + 7) % 7   // 1970-01-01 was a Thursday (4)
                var date = first + (Int64(d) - weekday + 7) % 7 + Int64(w - 1) * 7
                if w == 5 {
                    let nextMonth = m == 12 ? Timestamp.days(fromCivil: year + 1, 1, 1) : Timestamp.days(fromCivil: year, Int64(m) + 1, 1)
                    while date >= nextMonth { date -= 7 }
                }
                day = date
            }
            return day * 86_400 + time
        }
    }

    init?(_ text: String) {
        var s = Substring(text)
        func name() -> Bool {
            if s.first == "<" {
                guard let close = s.firstIndex(of: ">") else { return false }
                s = s[s.index(after: close)...]
                return true
            }
            let n = s.prefix { $0.isLetter }
            guard n.count >= 3 else { return false }
            s = s.dropFirst(n.count)
            return true
        }
        /// `[+-]hh[:mm[:ss]]` as seconds.
        func duration() -> Int64? {
            var sign: Int64 = 1
            if s.first == "+" { s = s.dropFirst() } else if s.first == "-" { sign = -1; s = s.dropFirst() }
            var parts: [Int64] = []
            while true {
                let digits = s.prefix { $0.isASCII && $0.isNumber }
                guard !digits.isEmpty, let v = Int64(digits) else { return nil }
                parts.append(v)
                s = s.dropFirst(digits.count)
                if s.first == ":" && parts.count < 3 { s = s.dropFirst() } else { break }
            }
            let secs = parts[0] * 3600 + (parts.count > 1 ? parts[1] * 60 : 0) + (parts.count > 2 ? parts[2] : 0)
            return sign * secs
        }
        func dateRule() -> DateRule? {
            var kind: DateRule.Kind
            if s.first == "M" {
                s = s.dropFirst()
                let fields = s.prefix { $0 != "/" && $0 != "," }.split(separator: ".").compactMap { Int($0) }
                s = s.dropFirst(s.prefix { $0 != "/" && $0 != "," }.count)
                guard fields.count == 3, (1...12).contains(fields[0]), (1...5).contains(fields[1]), (0...6).contains(fields[2]) else { return nil }
                kind = .monthWeekDay(fields[0], fields[1], fields[2])
            } else {
                let julian = s.first == "J"
                if julian { s = s.dropFirst() }
                let digits = s.prefix { $0.isASCII && $0.isNumber }
                guard let n = Int(digits) else { return nil }
                s = s.dropFirst(digits.count)
                kind = julian ? .julianNoLeap(n) : .zeroBased(n)
            }
            var rule = DateRule(kind: kind)
            if s.first == "/" {
                s = s.dropFirst()
                guard let t = duration() else { return nil }
                rule.time = t
            }
            return rule
        }
        guard name(), let std = duration() else { return nil }
        standard = -std   // POSIX offsets are west of UTC
        if s.isEmpty { return }
        guard name() else { return nil }
        if s.first != "," && !s.isEmpty {
            guard let dst = duration() else { return nil }
            daylight = -dst
        } else {
            daylight = standard + 3600
        }
        if s.isEmpty {
            // Daylight time without rules: POSIX leaves them to the implementation; the US
            // rules are what glibc assumes.
            start = DateRule(kind: .monthWeekDay(3, 2, 0))
            end = DateRule(kind: .monthWeekDay(11, 1, 0))
            return
        }
        guard s.first == "," else { return nil }
        s = s.dropFirst()
        guard let a = dateRule(), s.first == "," else { return nil }
        s = s.dropFirst()
        guard let b = dateRule(), s.isEmpty else { return nil }
        start = a
        end = b
    }

    func offset(at t: Int64) -> Int64 {
        guard let daylight, let start, let end else { return standard }
        let year = Timestamp.civil(fromDays: Timestamp(seconds: t + standard).days).0
        // The rules' instants in UTC: the start is given in standard time, the end in daylight time.
        let on = start.localSeconds(year: year) - standard
        let off = end.localSeconds(year: year) - daylight
        if on < off { return t >= on && t < off ? daylight : standard }
        // Southern hemisphere: daylight time spans New Year.
        return t >= off && t < on ? standard : daylight
    }
}
