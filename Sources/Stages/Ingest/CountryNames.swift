import Foundation
import MailpipeCore

/// Country names and codes → ISO 3166-1 alpha-2 (upper case), from the CLDR data that
/// Foundation's `Locale` carries: every region's name in the nine reference languages and
/// English, and ISO alpha-3 codes (which `Locale` canonicalises). On top, a short list of the
/// official ISO forms (`Korea, Republic of`) and common names CLDR does not give.
public enum CountryCodes {
    /// The alpha-2 code for `FR`, `fra`, `France`, `Frankreich`, `Франция`, `法国`…, or nil.
    public static func code(for text: String) -> String? {
        let trimmed = text.trimmingSpaces
        let utf8 = trimmed.utf8.count
        if utf8 == 2 || utf8 == 3, trimmed.allSatisfy({ $0.isASCII && $0.isLetter }) {
            let upper = trimmed.uppercased()
            if utf8 == 2 {
                if regions.contains(upper) { return upper }
                if upper == "UK" { return "GB" }
            } else if let region = Locale(identifier: "und_" + upper).region?.identifier, region.utf8.count == 2,
                      regions.contains(region) {
                return region
            }
        }
        return region(named: HeaderAliases.compact(trimmed))
    }

    /// ISO regions: CLDR's less its groupings (`001`, `EU`, `QO`), written out — asking `Locale`
    /// for them (`regionsInCLDR`) cost every run 4.6 M instructions, a tenth of its start-up;
    /// `StartUpTableTests` checks the two agree.
    public static let regions: Set<String> = [
        "AC", "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
        "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT",
        "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CP",
        "CQ", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DG", "DJ", "DK", "DM", "DO", "DZ", "EA", "EC",
        "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
        "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM", "HN",
        "HR", "HT", "HU", "IC", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO",
        "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK",
        "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN",
        "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG",
        "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN",
        "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG",
        "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TA", "TC",
        "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG",
        "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "XK", "YE", "YT", "ZA",
        "ZM", "ZW",
    ]

    /// CLDR's ISO regions as this Foundation has them, less its groupings.
    public static func regionsInCLDR() -> Set<String> {
        Set(Locale.Region.isoRegions.map(\.identifier).filter {
            $0.utf8.count == 2 && $0.allSatisfy { $0.isASCII && $0.isUppercase } && !["EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"].contains($0)
        })
    }

    /// Display languages whose names are read: the nine reference languages and English.
    static let displayLanguages = ["fr", "en", "es", "de", "pt", "ru", "zh", "hi", "ar", "it", "nl"]

    /// The region a compact name is of: an alias's (they override CLDR), else the first display
    /// language's that has the name, the first region in code order within it — as one table
    /// built in that order, first name kept, would say (`namesInEveryLanguage`, the tests'
    /// reference). Languages are read as far as a name needs: all of CLDR's names (2 750, each
    /// slugged) cost 119 M instructions, ~30 ms, where `France` needs the first language's.
    public static func region(named key: String) -> String? {
        if let code = aliasNames[key] { return code }
        for language in displayLanguages.indices {
            if let region = names(in: language)[key] { return region }
        }
        return nil
    }

    /// Each display language's CLDR names, read when a name is first looked for in it (under the
    /// core's lock: the parsing threads look names up).
    private static let namesByLanguage = Guarded([[String: String]?](repeating: nil, count: displayLanguages.count))

    private static func names(in language: Int) -> [String: String] {
        namesByLanguage.withLock { tables in
            if let table = tables[language] { return table }
            var table: [String: String] = [:]
            addNames(in: displayLanguages[language], to: &table)
            tables[language] = table
            return table
        }
    }

    /// Each region's name in `language` (CLDR's), and its short form, into `table` where the
    /// name has no region yet.
    private static func addNames(in language: String, to table: inout [String: String]) {
        let locale = Locale(identifier: language)
        for region in regions.sorted() {
            guard let name = locale.localizedString(forRegionCode: region) else { continue }
            let key = HeaderAliases.compact(name)
            if table[key] == nil { table[key] = region }
            // CLDR qualifies some names: `Myanmar (Burma)`, `Hong Kong SAR China`, `Congo - Kinshasa`.
            if let open = name.firstIndex(of: "(") {
                let short = HeaderAliases.compact(String(name[..<open]))
                if !short.isEmpty && table[short] == nil { table[short] = region }
            }
        }
    }

    /// Every name at once, in the order `region(named:)` reads them (the tests compare the two).
    public static func namesInEveryLanguage() -> [String: String] {
        var table: [String: String] = [:]
        for language in displayLanguages { addNames(in: language, to: &table) }
        for (name, code) in aliases { table[HeaderAliases.compact(name)] = code }
        return table
    }

    /// `aliases` by compact name (a later alias of the same name wins, as it did over CLDR's).
    private static let aliasNames: [String: String] = {
        var table: [String: String] = [:]
        for (name, code) in aliases { table[HeaderAliases.compact(name)] = code }
        return table
    }()

    /// ISO 3166 official short forms and names in common use that CLDR does not give.
    static let aliases: [(String, String)] = [
        ("Korea, Republic of", "KR"), ("Republic of Korea", "KR"), ("Korea", "KR"), ("Korea, Democratic People's Republic of", "KP"),
        ("Iran, Islamic Republic of", "IR"), ("Moldova, Republic of", "MD"), ("Tanzania, United Republic of", "TZ"),
        ("Venezuela, Bolivarian Republic of", "VE"), ("Bolivia, Plurinational State of", "BO"),
        ("Congo, The Democratic Republic of the", "CD"), ("Congo, Democratic Republic of the", "CD"), ("Democratic Republic of the Congo", "CD"),
        ("Micronesia, Federated States of", "FM"), ("Taiwan, Province of China", "TW"), ("Palestine, State of", "PS"),
        ("Lao People's Democratic Republic", "LA"), ("Syrian Arab Republic", "SY"), ("Russian Federation", "RU"),
        ("Viet Nam", "VN"), ("Brunei Darussalam", "BN"), ("Holy See (Vatican City State)", "VA"), ("Holy See", "VA"),
        ("Macedonia, the Former Yugoslav Republic of", "MK"), ("Macedonia", "MK"), ("Virgin Islands, British", "VG"),
        ("Virgin Islands, U.S.", "VI"), ("Saint Martin (French part)", "MF"), ("Sint Maarten (Dutch part)", "SX"),
        ("Libyan Arab Jamahiriya", "LY"), ("Czech Republic", "CZ"), ("Swaziland", "SZ"), ("Cape Verde", "CV"),
        ("Turkey", "TR"), ("Burma", "MM"), ("Ivory Coast", "CI"), ("Cote d'Ivoire", "CI"), ("Holland", "NL"),
        ("England", "GB"), ("Scotland", "GB"), ("Wales", "GB"), ("Northern Ireland", "GB"), ("Great Britain", "GB"),
        ("Britain", "GB"), ("UK", "GB"), ("U.K.", "GB"), ("USA", "US"), ("U.S.A.", "US"), ("U.S.", "US"),
        ("United States of America", "US"), ("America", "US"), ("UAE", "AE"), ("U.A.E.", "AE"), ("Hong Kong", "HK"),
        ("Macau", "MO"), ("Macao", "MO"), ("The Netherlands", "NL"), ("The Gambia", "GM"), ("The Bahamas", "BS"),
        ("East Timor", "TL"), ("Vatican", "VA"), ("Vatican City", "VA"), ("Kosovo", "XK"),
        ("Etats-Unis", "US"), ("EEUU", "US"), ("EE. UU.", "US"), ("Emirats arabes unis", "AE"), ("Grande-Bretagne", "GB"),
        ("Angleterre", "GB"), ("Corée", "KR"), ("Russie", "RU"), ("Россия", "RU"), ("Российская Федерация", "RU"),
        ("Соединённые Штаты", "US"), ("Соединенные Штаты Америки", "US"), ("Великобритания", "GB"), ("ОАЭ", "AE"),
        ("美国", "US"), ("英国", "GB"), ("阿联酋", "AE"), ("Deutschland", "DE"), ("Schweiz", "CH"), ("Österreich", "AT"),
        ("La Réunion", "RE"), ("Île Maurice", "MU"), ("Suisse", "CH"), ("Belgique", "BE"),
        // CLDR here names China `China mainland` in every language.
        ("China", "CN"), ("Chine", "CN"), ("中国", "CN"), ("中國", "CN"), ("Китай", "CN"), ("الصين", "CN"), ("चीन", "CN"),
        ("People's Republic of China", "CN"), ("China, People's Republic of", "CN"), ("République populaire de Chine", "CN"),
        ("República Popular China", "CN"), ("República Popular da China", "CN"), ("Volksrepublik China", "CN"), ("PRC", "CN"),
        ("Palestine", "PS"), ("Palestina", "PS"), ("Palästina", "PS"), ("Палестина", "PS"), ("巴勒斯坦", "PS"), ("فلسطين", "PS"),
        ("République démocratique du Congo", "CD"), ("RDC", "CD"), ("DR Congo", "CD"), ("DRC", "CD"),
        ("Demokratische Republik Kongo", "CD"), ("República Democrática do Congo", "CD"), ("Republic of the Congo", "CG"),
        ("Congo", "CG"), ("République du Congo", "CG"), ("République tchèque", "CZ"), ("Tschechische Republik", "CZ"),
        ("República Checa", "CZ"), ("Чешская Республика", "CZ"), ("Birmanie", "MM"), ("Macédoine", "MK"),
    ]
}
