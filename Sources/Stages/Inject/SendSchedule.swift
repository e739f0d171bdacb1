import MailpipeCore
import MailpipeStore

/// `--window [DAYS] HH:MM-HH:MM`: the local hours (and optionally weekdays) messages may leave.
/// A window whose end is before its start runs over midnight (`22:00-06:00`); its weekday is
/// the day it opens.
public struct SendWindow: Equatable, Sendable, CustomStringConvertible {
    /// Minutes after local midnight.
    public let start: Int
    public let end: Int
    /// Weekdays the window opens on (0 = Sunday … 6 = Saturday); all seven when none are given.
    public let days: Set<Int>
    let text: String

    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// `09:00-18:00`, `mon-fri 09:00-18:00`, `sat,sun 10:00-12:30`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.count == 1 || parts.count == 2 else {
            throw StageError.usage("--window takes [DAYS] HH:MM-HH:MM, e.g. 09:00-18:00 or 'mon-fri 09:00-18:00', got '\(text)'")
        }
        let hours = parts.last!.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard hours.count == 2, let start = SendWindow.minutes(hours[0]), let end = SendWindow.minutes(hours[1]) else {
            throw StageError.usage("--window: '\(parts.last!)' is not HH:MM-HH:MM (24-hour clock)")
        }
        guard start != end else { throw StageError.usage("--window: the window opens and closes at the same minute") }
        var days = Set<Int>()
        if parts.count == 2 {
            for item in parts[0].lowercased().split(separator: ",") {
                let range = item.split(separator: "-").map(String.init)
                guard (1...2).contains(range.count), let a = SendWindow.dayNames.firstIndex(of: range[0]),
                      let b = SendWindow.dayNames.firstIndex(of: range.last!) else {
                    throw StageError.usage("--window: days are sun mon tue wed thu fri sat, as a list or a range (mon-fri), got '\(item)'")
                }
                var d = a
                while true {
                    days.insert(d)
                    if d == b { break }
                    d = (d + 1) % 7
                }
            }
        } else {
            days = Set(0..<7)
        }
        self.start = start
        self.end = end
        self.days = days
        self.text = text
    }

    static func minutes(_ s: String) -> Int? {
        let hm = s.split(separator: ":", omittingEmptySubsequences: false)
        guard hm.count == 2, hm[0].count == 2, hm[1].count == 2, let h = Int(hm[0]), let m = Int(hm[1]) else { return nil }
        if h == 24 && m == 0 { return 1440 }
        guard (0..<24).contains(h), (0..<60).contains(m) else { return nil }
        return h * 60 + m
    }

    public var description: String { text }

    /// Nil when `t` is inside the window in `zone`; else the instant it next opens.
    public func nextOpening(after t: Timestamp, zone: ZoneInfo) -> Timestamp? {
        let local = t.seconds + zone.offset(at: t)
        let day = floorDiv(local, 86_400)
        let minute = Int((local - day * 86_400) / 60)
        if isOpen(day: day, minute: minute) { return nil }
        // The next day (today included) on which the window opens after now.
        for ahead in 0...7 {
            let d = day + Int64(ahead)
            guard days.contains(SendWindow.weekday(d)) else { continue }
            let opening = d * 86_400 + Int64(start) * 60
            guard opening > local else { continue }
            // Local time → UTC with the offset in force then (twice: across a change of offset).
            let guess = opening - zone.offset(at: Timestamp(seconds: opening))
            return Timestamp(seconds: opening - zone.offset(at: Timestamp(seconds: guess)))
        }
        return nil   // unreachable: some weekday opens within a week
    }

    func isOpen(day: Int64, minute: Int) -> Bool {
        if start < end { return days.contains(SendWindow.weekday(day)) && minute >= start && minute < end }
        // Over midnight: the evening part belongs to today, the morning part to yesterday's window.
        if minute >= start { return days.contains(SendWindow.weekday(day)) }
        if minute < end { return days.contains(SendWindow.weekday(day - 1)) }
        return false
    }

    /// 0 = Sunday; 1970-01-01 was a Thursday.
    static func weekday(_ days: Int64) -> Int { Int(((days + 4) % 7 + 7) % 7) }

    func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a - b + 1) / b }
}

/// When records may be sent: the window (in the tenant's zone, or each contact's with
/// `--window-local`) and `--not-before`. A record that may not leave yet is `deferred` with the
/// instant it may (`not_before`); it never reaches the network or the journal, so a later run
/// sends it.
public struct SendSchedule: Sendable {
    public var window: SendWindow?
    /// The contact's zone: its `timezone` (tz name), else its country's principal zone, else the tenant's.
    public var windowLocal = false
    public var notBefore: Timestamp?

    public init(window: SendWindow? = nil, windowLocal: Bool = false, notBefore: Timestamp? = nil) {
        self.window = window
        self.windowLocal = windowLocal
        self.notBefore = notBefore
    }

    public var isEmpty: Bool { window == nil && notBefore == nil }
}

/// The zones of contacts, loaded once each.
final class ZoneCache {
    private var zones: [String: ZoneInfo?] = [:]

    func zone(named name: String) -> ZoneInfo? {
        if let known = zones[name] { return known }
        let zone = try? ZoneInfo.load(name)
        zones[name] = zone
        return zone
    }

    /// A contact's zone: `timezone`, else the principal zone of `country`; nil when neither helps.
    func zone(of contact: JSONNode?) -> ZoneInfo? {
        guard let contact, contact.kind == .object else { return nil }
        if let name = contact["timezone"]?.string, let zone = zone(named: name) { return zone }
        if let country = contact["country"]?.string, let name = CountryZones.zoneName(country: country) { return zone(named: name) }
        return nil
    }
}

/// A campaign's pause switch: the file `state/<tenant>/pause/<campaign>` (the campaign's name as
/// in the journal's file names), or `pause/ALL` for every campaign of the tenant (campaign file
/// names never hold upper-case letters, so no campaign can be called that). `inject pause` and
/// `inject resume` make and remove it; `touch` and `rm` do as well. A running inject looks at it
/// between batches (every 200 ms at most): once it is there, nothing more of that campaign
/// starts, and what was not sent is `deferred` (`paused`), for a later run to send.
public enum PauseSwitch {
    public static let everyCampaign = "ALL"

    public static func folder(_ dir: TenantDirectory) -> String { "\(dir.path)/pause" }

    /// The switch of one campaign (nil: of every campaign).
    public static func path(_ dir: TenantDirectory, campaign: String?) -> String {
        "\(folder(dir))/" + (campaign.map(Journal.fileName) ?? everyCampaign)
    }

    /// Whether the campaign is paused, by its own switch or the tenant's.
    public static func isPaused(_ dir: TenantDirectory, campaign: String) -> Bool {
        FileSystem.exists(path(dir, campaign: campaign)) || FileSystem.exists(path(dir, campaign: nil))
    }

    /// Pauses (writes `{"at":…,"reason":…}`) or resumes (removes the file); false when it was
    /// already so.
    @discardableResult
    public static func set(_ paused: Bool, _ dir: TenantDirectory, campaign: String?, at: Timestamp, reason: String?) throws -> Bool {
        try dir.requireExisting()
        let file = path(dir, campaign: campaign)
        // Never a linked pause/ folder: the switch would be made or removed outside the state.
        guard try FileSystem.requireFolder(folder(dir), creating: paused) else { return false }
        if !paused {
            guard FileSystem.exists(file) else { return false }
            try FileSystem.remove(file)
            return true
        }
        let was = FileSystem.exists(file)
        var line = ByteBuffer(capacity: 128)
        var w = JSONObjectWriter(into: &line)
        w.member("at", string: at.rfc3339, into: &line)
        if let campaign { w.member("campaign", string: campaign, into: &line) }
        if let reason { w.member("reason", string: reason, into: &line) }
        w.finish(into: &line)
        line.append(0x0A)
        try FileSystem.writeAtomically(file, line.bytes)
        return !was
    }
}
