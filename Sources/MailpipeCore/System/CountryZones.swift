/// The time zone most of a country's people live in, for sending at a local hour when a contact
/// gives its country but not its zone.
///
/// From the tz database's `zone.tab` (`$TZDIR`, else `/usr/share/zoneinfo`): a country's first
/// zone there is its capital's or most populous one, except where the file lists a country's
/// zones east to west or north to south (Lord Howe before Sydney, St John's before Toronto,
/// Kaliningrad before Moscow): for those the table below names the zone most people live in.
public enum CountryZones {
    /// Countries whose first `zone.tab` entry is not where most of their people live.
    static let principal: [String: String] = [
        "AU": "Australia/Sydney", "BR": "America/Sao_Paulo", "CA": "America/Toronto", "CD": "Africa/Kinshasa",
        "RU": "Europe/Moscow", "UA": "Europe/Kyiv", "UZ": "Asia/Tashkent", "FM": "Pacific/Pohnpei",
        "KI": "Pacific/Tarawa", "PS": "Asia/Hebron", "US": "America/New_York", "GL": "America/Nuuk",
    ]

    /// The zone name for an ISO 3166 alpha-2 code (any case), or nil for an unknown country.
    public static func zoneName(country: String) -> String? {
        let code = country.uppercased()
        guard code.utf8.count == 2, code.utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }) else { return nil }
        if let name = principal[code] { return name }
        return table[code]
    }

    /// `zone.tab`'s first zone per country, read once.
    static let table: [String: String] = {
        let root = FileSystem.environment("TZDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/share/zoneinfo"
        guard let bytes = try? FileSystem.readFile("\(root)/zone.tab") else { return [:] }
        var first: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 3 else { continue }
            let code = String(fields[0])
            if first[code] == nil { first[code] = String(fields[2]) }
        }
        return first
    }()
}
