#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock time as whole seconds since the Unix epoch, UTC. `--now` pins it for tests and
/// reproducible runs.
public struct Timestamp: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var seconds: Int64

    public init(seconds: Int64) { self.seconds = seconds }

    public static func current() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(seconds: Int64(ts.tv_sec))
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.seconds < b.seconds }

    public var days: Int64 { seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400 }

    /// `2026-11-23T19:27:57Z`
    public var rfc3339: String {
        let (y, m, d) = Timestamp.civil(fromDays: days)
        let s = seconds - days * 86_400
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(s / 3600, 2)):\(pad(s / 60 % 60, 2)):\(pad(s % 60, 2))Z"
    }

    /// `2026-11-23`
    public var date: String {
        let (y, m, d) = Timestamp.civil(fromDays: days)
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    public var description: String { rfc3339 }

    private func pad(_ v: Int64, _ width: Int) -> String {
        let text = String(v)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    /// Parses RFC 3339 (`2026-11-23T19:27:57Z`, `…+02:00`, fractions ignored), a plain date
    /// (`2026-11-23`, midnight UTC), the `2016-05-29 01:10:51+0200` form PowerMTA writes, or
    /// Unix seconds.
    public init?(parsing text: String) {
        let b = Array(text.utf8)
        if !b.isEmpty && b.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            guard let v = Int64(text) else { return nil }
            seconds = v
            return
        }
        func num(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + count) {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            return v
        }
        guard let y = num(0, 4), b.count >= 10, b[4] == 45, let mo = num(5, 2), b[7] == 45, let d = num(8, 2),
              (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var total = Timestamp.days(fromCivil: y, mo, d) * 86_400
        if b.count == 10 { seconds = total; return }
        guard b.count >= 19, b[10] == 84 || b[10] == 116 || b[10] == 32,
              let h = num(11, 2), b[13] == 58, let mi = num(14, 2), b[16] == 58, let s = num(17, 2),
              h < 24, mi < 60, s <= 60 else { return nil }
        total += h * 3600 + mi * 60 + s
        var i = 19
        if i < b.count && b[i] == 46 {  // fraction
            i += 1
            while i < b.count && b[i] >= 48 && b[i] <= 57 { i += 1 }
        }
        if i == b.count { seconds = total; return }  // no zone: taken as UTC
        if b[i] == 90 || b[i] == 122 {
            guard i + 1 == b.count else { return nil }
            seconds = total
            return
        }
        guard b[i] == 43 || b[i] == 45, let zh = num(i + 1, 2) else { return nil }
        var j = i + 3
        if j < b.count && b[j] == 58 { j += 1 }
        guard let zm = num(j, 2), j + 2 == b.count else { return nil }
        let offset = zh * 3600 + zm * 60
        seconds = b[i] == 43 ? total - offset : total + offset
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
    public static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
