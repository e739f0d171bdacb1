// gen-contacts — deterministic, realistic synthetic contacts for the mailpipe benchmarks.
//
//   swiftc -O bench/gen-contacts.swift -o bench/.out/gen-contacts
//   gen-contacts --count N [--seed S] [--tenant T] [--format ndjson|csv|csv-export]
//                [--duplicates PCT] [--start K]
//
// Record `id` (start ..< start+count) is a pure function of (seed, id): the same arguments give
// byte-identical output, and two runs over overlapping id ranges produce the same contacts on
// the overlap (e.g. `--count 1000000` then `--start 995000 --count 10000` → 5,000 existing +
// 5,000 new). Emails are unique over all ids by construction (see `EmailSpace`), so disjoint
// ranges give disjoint email sets. `--duplicates PCT` turns about PCT % of the records into
// re-imports of an earlier id's contact (same email and names, other fields fresh); the target
// can lie before `--start`, which then looks like a contact already in the store.
//
// Standalone on purpose: no package dependencies and no Foundation (start-up time and RSS
// matter when generating 10 M records); output goes through one large buffer and write(2).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation  // CLDR country and language names for --format csv-export

// MARK: - Random numbers

/// splitmix64: tiny, fast, good enough statistically, and trivially seedable per record.
struct SplitMix64 {
    var state: UInt64

    @inline(__always) mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    @inline(__always) static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0 ..< n (multiply-high; the bias is far below anything a benchmark notices).
    @inline(__always) mutating func below(_ n: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(n)).high)
    }

    /// True with probability perMille / 1000.
    @inline(__always) mutating func chance(_ perMille: Int) -> Bool { below(1000) < perMille }
}

/// A keyed bijection on 0 ..< size: a bijective mixer on the enclosing power of two, applied by
/// cycle walking until the value falls back inside the range. It spreads name combinations
/// over ids without ever repeating one.
struct BlockPermutation {
    let size: UInt64
    let mask: UInt64
    let shift: UInt64
    let xorKey: UInt64, addKey: UInt64, mul1: UInt64, mul2: UInt64

    init(size: Int, seed: UInt64) {
        self.size = UInt64(size)
        let bits = UInt64(64 - UInt64(max(size - 1, 1)).leadingZeroBitCount)
        mask = bits == 64 ? ~0 : (1 << bits) - 1
        shift = max(1, bits / 2)
        var rng = SplitMix64(state: seed ^ 0x5851_F42D_4C95_7F2D)
        xorKey = rng.next() & mask
        addKey = rng.next() & mask
        mul1 = rng.next() | 1 // odd multipliers are invertible modulo 2^bits
        mul2 = rng.next() | 1
    }

    @inline(__always) func apply(_ value: UInt64) -> UInt64 {
        var x = value
        repeat {
            x = ((x ^ xorKey) &* mul1) & mask
            x ^= x >> shift
            x = ((x &+ addKey) &* mul2) & mask
            x ^= x >> shift
        } while x >= size
        return x
    }
}

// MARK: - Text: one byte pool for every table string plus a per-record scratch area

/// A UTF-8 string as a range of `Generator.mem`: table strings live in the pool part, strings
/// composed for the current record in the scratch part behind it. Plain values, so the hot loop
/// does no reference counting. `len == 0` means "field absent".
struct Str {
    var off: Int32
    var len: Int32
    static let none = Str(off: 0, len: 0)
    var isPresent: Bool { len != 0 }
}

/// Builds the pool while the tables are declared.
final class Pool {
    var bytes: [UInt8] = []
    func add(_ s: String) -> Str {
        let off = bytes.count
        bytes.append(contentsOf: s.utf8)
        return Str(off: Int32(off), len: Int32(bytes.count - off))
    }
    func add(_ list: [String]) -> [Str] { list.map { add($0) } }
    /// (display, ascii slug) pairs.
    func pairs(_ list: [(String, String)]) -> (display: [Str], slug: [Str]) {
        (list.map { add($0.0) }, list.map { add($0.1) })
    }
}

// MARK: - Tables

final class Country { // a class for the same reason as Language: one retain per fetch
    let iso: Str
    let dial: Str        // E.164 country code
    let mobilePrefixes: [Str]
    let restDigits: Int  // digits after the mobile prefix
    let cities: [Str]

    init(iso: Str, dial: Str, mobilePrefixes: [Str], restDigits: Int, cities: [Str]) {
        self.iso = iso; self.dial = dial; self.mobilePrefixes = mobilePrefixes
        self.restDigits = restDigits; self.cities = cities
    }
}

/// One piece of a company-name template such as "{F} {S} {A}".
enum Piece { case form, surname, activity, text(Str) }

final class Language {
    let code: Str
    let langTag: Str            // "lang-fr"
    let firstNames: [Str], firstSlugs: [Str]
    let lastNames: [Str], lastSlugs: [Str]
    let freemail: [Str]         // distinct within the list: each is its own email "slot"
    let forms: [Str], formSlugs: [Str]
    let activities: [Str], activitySlugs: [Str]
    let companyTemplate: [Piece]
    let domainOrder: [Piece]    // order of the slug tokens in the company domain
    let tlds: [Str]
    let countries: [Int]        // indexes into `countries`, repeated for weight
    let extraTags: [Str]        // language-specific tags (some in other scripts)
    let weight: Int             // share of contacts, in percent

    // A class, not a struct: the hot loop fetches a language per record, and a struct of
    // seventeen arrays would cost seventeen retain/release pairs each time.
    init(code: Str, langTag: Str, firstNames: [Str], firstSlugs: [Str], lastNames: [Str], lastSlugs: [Str],
         freemail: [Str], forms: [Str], formSlugs: [Str], activities: [Str], activitySlugs: [Str],
         companyTemplate: [Piece], domainOrder: [Piece], tlds: [Str], countries: [Int], extraTags: [Str], weight: Int) {
        self.code = code; self.langTag = langTag
        self.firstNames = firstNames; self.firstSlugs = firstSlugs
        self.lastNames = lastNames; self.lastSlugs = lastSlugs
        self.freemail = freemail
        self.forms = forms; self.formSlugs = formSlugs
        self.activities = activities; self.activitySlugs = activitySlugs
        self.companyTemplate = companyTemplate; self.domainOrder = domainOrder
        self.tlds = tlds; self.countries = countries; self.extraTags = extraTags; self.weight = weight
    }
}

/// Builds every table into one pool. Invariants the email construction relies on (verified by
/// generating several whole blocks and checking that no email repeats): all name slugs are
/// [a-z]+, first-name and last-name slugs are disjoint sets across *all* languages, and no two
/// (first, last) pairs concatenate to the same string. Tags are canonical slugs (DESIGN §2).
struct Tables {
    var pool = Pool()
    var countries: [Country] = []
    var languages: [Language] = []
    var expatCountries: [Int] = []
    var categories: [Str] = []      // weighted by repetition
    var sources: [Str] = []         // weighted by repetition
    var commonTags: [Str] = []
    var statuses: [Str] = []
    var statusWeights: [Int] = []   // per 10,000
    var reasonsInvalid: [Str] = []
    var reasonsRisky: [Str] = []
    var kvCustomNotes: [Str] = []
    /// For `--format csv-export`: each country's name in each language (CLDR, by language
    /// index), its trunk prefix, and each language's name in itself.
    var countryNames: [[Str]] = []
    var trunkPrefixes: [Str] = []
    var languageNames: [Str] = []

    init() {
        func country(_ iso: String, _ dial: String, _ prefixes: [String], _ rest: Int, _ cities: [String]) {
            countries.append(Country(iso: pool.add(iso), dial: pool.add(dial), mobilePrefixes: pool.add(prefixes),
                                     restDigits: rest, cities: pool.add(cities)))
        }
        // 0..
        country("FR", "33", ["6", "7"], 8, ["Paris", "Lyon", "Marseille", "Toulouse", "Bordeaux", "Nice", "Nantes", "Lille", "Strasbourg", "Montpellier", "Rennes", "Aix-en-Provence", "Saint-Étienne", "Orléans"])
        country("BE", "32", ["47", "48", "49"], 7, ["Bruxelles", "Liège", "Namur", "Charleroi", "Mons"])
        country("CH", "41", ["76", "78", "79"], 7, ["Genève", "Lausanne", "Zürich", "Basel", "Bern", "Neuchâtel"])
        country("CA", "1", ["514", "438", "416", "604"], 7, ["Montréal", "Québec", "Toronto", "Vancouver", "Ottawa"])
        country("MA", "212", ["6", "7"], 8, ["Casablanca", "Rabat", "Marrakech", "Tanger", "Agadir"])
        country("SN", "221", ["77", "78"], 7, ["Dakar", "Saint-Louis", "Thiès"])
        country("US", "1", ["212", "310", "305", "415", "713", "312"], 7, ["New York", "Los Angeles", "Miami", "San Francisco", "Houston", "Chicago", "Austin"])
        country("GB", "44", ["7"], 9, ["London", "Manchester", "Edinburgh", "Bristol", "Leeds"])
        country("AU", "61", ["4"], 8, ["Sydney", "Melbourne", "Brisbane", "Perth"])
        country("IE", "353", ["83", "85", "87"], 7, ["Dublin", "Cork", "Galway"])
        // 10..
        country("ES", "34", ["6", "7"], 8, ["Madrid", "Barcelona", "Valencia", "Sevilla", "Málaga", "Alicante", "A Coruña"])
        country("MX", "52", ["1"], 10, ["Ciudad de México", "Guadalajara", "Monterrey", "Cancún", "Mérida"])
        country("AR", "54", ["9"], 10, ["Buenos Aires", "Córdoba", "Rosario", "Mendoza"])
        country("CO", "57", ["3"], 9, ["Bogotá", "Medellín", "Cali", "Cartagena"])
        country("DE", "49", ["15", "16", "17"], 9, ["Berlin", "München", "Hamburg", "Köln", "Frankfurt am Main", "Düsseldorf", "Stuttgart", "Leipzig"])
        country("AT", "43", ["66", "67", "68"], 8, ["Wien", "Graz", "Salzburg", "Innsbruck"])
        country("PT", "351", ["91", "92", "93", "96"], 7, ["Lisboa", "Porto", "Coimbra", "Braga", "Faro"])
        country("BR", "55", ["11", "21", "31", "61"], 9, ["São Paulo", "Rio de Janeiro", "Belo Horizonte", "Brasília", "Florianópolis"])
        country("RU", "7", ["9"], 9, ["Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань", "Сочи"])
        country("BY", "375", ["29", "33", "44"], 7, ["Минск", "Гомель", "Брест"])
        // 20..
        country("KZ", "7", ["70", "77"], 8, ["Алматы", "Астана", "Шымкент"])
        country("CN", "86", ["13", "15", "18"], 9, ["北京", "上海", "广州", "深圳", "成都", "杭州", "武汉"])
        country("TW", "886", ["9"], 8, ["台北", "高雄", "台中"])
        country("SG", "65", ["8", "9"], 7, ["Singapore", "新加坡"])
        country("IN", "91", ["9", "8", "7"], 9, ["मुंबई", "दिल्ली", "बेंगलुरु", "कोलकाता", "चेन्नई", "पुणे", "जयपुर", "Mumbai", "Bengaluru"])
        country("AE", "971", ["50", "52", "55"], 7, ["دبي", "أبوظبي", "الشارقة", "Dubai", "Abu Dhabi"])
        country("SA", "966", ["5"], 8, ["الرياض", "جدة", "الدمام"])
        country("EG", "20", ["10", "11", "12"], 8, ["القاهرة", "الإسكندرية", "الجيزة"])
        country("LB", "961", ["3", "70", "71"], 6, ["بيروت", "طرابلس", "صيدا"])
        country("TN", "216", ["2", "5", "9"], 7, ["تونس", "صفاقس", "سوسة"])
        // 30..
        country("QA", "974", ["3", "5", "6", "7"], 7, ["الدوحة", "الوكرة"])
        country("TH", "66", ["8", "9"], 8, ["Bangkok", "Phuket", "Chiang Mai", "Pattaya", "Koh Samui"])
        country("VN", "84", ["9", "3"], 8, ["Hô Chi Minh-Ville", "Hanoï", "Đà Nẵng"])
        country("ID", "62", ["81", "82"], 9, ["Jakarta", "Denpasar", "Ubud"])
        country("MU", "230", ["5"], 7, ["Port-Louis", "Grand Baie", "Curepipe"])
        country("CI", "225", ["07", "05"], 8, ["Abidjan", "Yamoussoukro"])
        country("IT", "39", ["3"], 9, ["Roma", "Milano", "Torino", "Napoli", "Firenze"])
        country("CL", "56", ["9"], 8, ["Santiago", "Valparaíso", "Concepción"])
        expatCountries = [31, 31, 25, 25, 23, 32, 33, 34, 6, 3, 16, 10, 4, 36, 1, 2, 11, 7]

        func language(code: String, weight: Int,
                      first: [(String, String)], last: [(String, String)], freemail: [String],
                      forms: [(String, String)], activities: [(String, String)],
                      template: String, domainOrder: String, tlds: [String],
                      countries: [Int], extraTags: [String]) {
            let f = pool.pairs(first), l = pool.pairs(last)
            let fo = pool.pairs(forms), ac = pool.pairs(activities)
            languages.append(Language(
                code: pool.add(code), langTag: pool.add("lang-" + code),
                firstNames: f.display, firstSlugs: f.slug, lastNames: l.display, lastSlugs: l.slug,
                freemail: pool.add(freemail),
                forms: fo.display, formSlugs: fo.slug, activities: ac.display, activitySlugs: ac.slug,
                companyTemplate: parseTemplate(template), domainOrder: parseTemplate(domainOrder),
                tlds: pool.add(tlds), countries: countries, extraTags: pool.add(extraTags), weight: weight))
        }

        language(
            code: "fr", weight: 32,
            first: [("Marie", "marie"), ("Jean", "jean"), ("Pierre", "pierre"), ("Sophie", "sophie"), ("Élodie", "elodie"),
                    ("Hélène", "helene"), ("François", "francois"), ("Stéphane", "stephane"), ("Céline", "celine"),
                    ("Jérôme", "jerome"), ("Amélie", "amelie"), ("Benoît", "benoit"), ("Gaëlle", "gaelle"), ("Loïc", "loic"),
                    ("Anaïs", "anais"), ("Thibault", "thibault"), ("Camille", "camille"), ("Mathilde", "mathilde"),
                    ("Guillaume", "guillaume"), ("Aurélie", "aurelie"), ("Frédéric", "frederic"), ("Nathalie", "nathalie"),
                    ("Sébastien", "sebastien"), ("Valérie", "valerie"), ("Clémence", "clemence"), ("Rémi", "remi"),
                    ("Noémie", "noemie"), ("Océane", "oceane"), ("Maël", "mael"), ("Josée", "josee"),
                    ("Jean-Baptiste", "jeanbaptiste"), ("Marie-Claire", "marieclaire")],
            last: [("Dupont", "dupont"), ("Durand", "durand"), ("Lefèvre", "lefevre"), ("Moreau", "moreau"), ("Rousseau", "rousseau"),
                   ("Girard", "girard"), ("Bonnet", "bonnet"), ("Mercier", "mercier"), ("Lambert", "lambert"), ("Fontaine", "fontaine"),
                   ("Chevalier", "chevalier"), ("Garnier", "garnier"), ("Faure", "faure"), ("Rivière", "riviere"), ("Gauthier", "gauthier"),
                   ("Perrin", "perrin"), ("Morel", "morel"), ("Boyer", "boyer"), ("Blanchard", "blanchard"), ("Béranger", "beranger"),
                   ("Lemaître", "lemaitre"), ("Deschamps", "deschamps"), ("Lécuyer", "lecuyer"), ("Fournier", "fournier"),
                   ("Caron", "caron"), ("Brossard", "brossard"), ("Leblanc", "leblanc"), ("Marchand", "marchand"),
                   ("Dufresne", "dufresne"), ("Préval", "preval"), ("Le Goff", "legoff"), ("d'Aubigné", "daubigne")],
            freemail: ["gmail.com", "orange.fr", "free.fr", "yahoo.fr", "hotmail.fr", "laposte.net", "sfr.fr", "wanadoo.fr"],
            forms: [("Cabinet", "cabinet"), ("Étude", "etude"), ("Agence", "agence"), ("Groupe", "groupe"), ("Maison", "maison"), ("Atelier", "atelier")],
            activities: [("Avocats", "avocats"), ("Notaires", "notaires"), ("Conseil", "conseil"), ("Traduction", "traduction"),
                         ("Immobilier", "immobilier"), ("Déménagement", "demenagement")],
            template: "{F} {S} {A}", domainOrder: "{F}{S}{A}", tlds: ["fr", "com", "eu"],
            countries: [0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 35], extraTags: ["expatriation", "fiscalite-internationale", "retraite-a-l-etranger"])

        language(
            code: "en", weight: 20,
            first: [("James", "james"), ("Emily", "emily"), ("Oliver", "oliver"), ("Charlotte", "charlotte"), ("William", "william"),
                    ("Amelia", "amelia"), ("Harry", "harry"), ("Olivia", "olivia"), ("George", "george"), ("Isla", "isla"),
                    ("Jack", "jack"), ("Grace", "grace"), ("Noah", "noah"), ("Ruby", "ruby"), ("Henry", "henry"), ("Chloe", "chloe"),
                    ("Samuel", "samuel"), ("Lily", "lily"), ("Daniel", "daniel"), ("Ella", "ella"), ("Joshua", "joshua"),
                    ("Megan", "megan"), ("Ryan", "ryan"), ("Hannah", "hannah"), ("Ethan", "ethan"), ("Abigail", "abigail"),
                    ("Connor", "connor"), ("Zoë", "zoe"), ("Liam", "liam"), ("Kayla", "kayla"), ("Seán", "sean"), ("Siobhán", "siobhan")],
            last: [("Smith", "smith"), ("Johnson", "johnson"), ("Williams", "williams"), ("Brown", "brown"), ("Jones", "jones"),
                   ("Taylor", "taylor"), ("Davies", "davies"), ("Wilson", "wilson"), ("Evans", "evans"), ("Roberts", "roberts"),
                   ("Walker", "walker"), ("Wright", "wright"), ("Robinson", "robinson"), ("Thompson", "thompson"), ("White", "white"),
                   ("Hughes", "hughes"), ("Edwards", "edwards"), ("Green", "green"), ("Hall", "hall"), ("Wood", "wood"),
                   ("Harris", "harris"), ("Clarke", "clarke"), ("Jackson", "jackson"), ("Turner", "turner"), ("Hill", "hill"),
                   ("Cooper", "cooper"), ("Ward", "ward"), ("Morris", "morris"), ("Baker", "baker"), ("Parker", "parker"),
                   ("O'Brien", "obrien"), ("McAllister", "mcallister")],
            freemail: ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com", "protonmail.com"],
            forms: [("LLP", "llp"), ("Ltd", "ltd"), ("& Partners", "partners"), ("Group", "group"), ("Associates", "associates"), ("& Co", "co")],
            activities: [("Legal", "legal"), ("Law", "law"), ("Consulting", "consulting"), ("Translations", "translations"),
                         ("Relocation", "relocation"), ("Realty", "realty")],
            template: "{S} {A} {F}", domainOrder: "{S}{A}{F}", tlds: ["com", "co.uk", "com.au", "ie"],
            countries: [6, 6, 6, 7, 7, 7, 8, 9, 3], extraTags: ["relocation", "tax-advice"])

        language(
            code: "es", weight: 10,
            first: [("José", "jose"), ("María", "maria"), ("Lucía", "lucia"), ("Javier", "javier"), ("Carmen", "carmen"),
                    ("Alejandro", "alejandro"), ("Sofía", "sofia"), ("Pablo", "pablo"), ("Elena", "elena"), ("Álvaro", "alvaro"),
                    ("Marta", "marta"), ("Sergio", "sergio"), ("Nuria", "nuria"), ("Andrés", "andres"), ("Inés", "ines"),
                    ("Jesús", "jesus"), ("Rocío", "rocio"), ("Raúl", "raul"), ("Ángela", "angela"), ("Íñigo", "inigo"),
                    ("Begoña", "begona"), ("Adrián", "adrian"), ("Beatriz", "beatriz"), ("Gonzalo", "gonzalo"), ("Pilar", "pilar"),
                    ("Ramón", "ramon"), ("Cristina", "cristina"), ("Víctor", "victor"), ("Montserrat", "montserrat"), ("Ignacio", "ignacio")],
            last: [("García", "garcia"), ("Rodríguez", "rodriguez"), ("González", "gonzalez"), ("Fernández", "fernandez"), ("López", "lopez"),
                   ("Martínez", "martinez"), ("Sánchez", "sanchez"), ("Pérez", "perez"), ("Gómez", "gomez"), ("Jiménez", "jimenez"),
                   ("Ruiz", "ruiz"), ("Hernández", "hernandez"), ("Díaz", "diaz"), ("Moreno", "moreno"), ("Muñoz", "munoz"),
                   ("Álvarez", "alvarez"), ("Romero", "romero"), ("Alonso", "alonso"), ("Gutiérrez", "gutierrez"), ("Navarro", "navarro"),
                   ("Torres", "torres"), ("Domínguez", "dominguez"), ("Vázquez", "vazquez"), ("Ramos", "ramos"), ("Gil", "gil"),
                   ("Serrano", "serrano"), ("Blanco", "blanco"), ("Molina", "molina"), ("Ibáñez", "ibanez"), ("Peña", "pena")],
            freemail: ["gmail.com", "hotmail.es", "yahoo.es", "outlook.es", "telefonica.net", "libero.it"],
            forms: [("Despacho", "despacho"), ("Bufete", "bufete"), ("Grupo", "grupo"), ("Gestoría", "gestoria"), ("Agencia", "agencia"), ("Estudio", "estudio")],
            activities: [("Abogados", "abogados"), ("Asesores", "asesores"), ("Traducciones", "traducciones"), ("Inmobiliaria", "inmobiliaria"),
                         ("Notarial", "notarial"), ("Consultores", "consultores")],
            template: "{F} {S} {A}", domainOrder: "{F}{S}{A}", tlds: ["es", "com", "com.mx"],
            countries: [10, 10, 10, 10, 11, 11, 12, 13, 37, 36], extraTags: ["extranjeria", "residencia"])

        language(
            code: "de", weight: 8,
            first: [("Lukas", "lukas"), ("Jürgen", "juergen"), ("Günter", "guenter"), ("Jörg", "joerg"), ("Björn", "bjoern"),
                    ("Uwe", "uwe"), ("Sabine", "sabine"), ("Ursula", "ursula"), ("Dieter", "dieter"), ("Heike", "heike"),
                    ("Katrin", "katrin"), ("Stefan", "stefan"), ("Matthias", "matthias"), ("Andreas", "andreas"), ("Birgit", "birgit"),
                    ("Sönke", "soenke"), ("Jens", "jens"), ("Anke", "anke"), ("Wolfgang", "wolfgang"), ("Greta", "greta"),
                    ("Lena", "lena"), ("Maximilian", "maximilian"), ("Leonie", "leonie"), ("Felix", "felix"), ("Annika", "annika"),
                    ("Tobias", "tobias"), ("Mareike", "mareike"), ("Dörte", "doerte"), ("Klaus", "klaus"), ("Käthe", "kaethe")],
            last: [("Müller", "mueller"), ("Schmidt", "schmidt"), ("Schneider", "schneider"), ("Fischer", "fischer"), ("Weber", "weber"),
                   ("Meyer", "meyer"), ("Wagner", "wagner"), ("Becker", "becker"), ("Schulz", "schulz"), ("Hoffmann", "hoffmann"),
                   ("Schäfer", "schaefer"), ("Koch", "koch"), ("Bauer", "bauer"), ("Richter", "richter"), ("Klein", "klein"),
                   ("Wolf", "wolf"), ("Schröder", "schroeder"), ("Neumann", "neumann"), ("Schwarz", "schwarz"), ("Zimmermann", "zimmermann"),
                   ("Braun", "braun"), ("Krüger", "krueger"), ("Hofmann", "hofmann"), ("Hartmann", "hartmann"), ("Lange", "lange"),
                   ("Schmitt", "schmitt"), ("Werner", "werner"), ("Krause", "krause"), ("Köhler", "koehler"), ("Weiß", "weiss")],
            freemail: ["gmx.de", "web.de", "gmail.com", "t-online.de", "yahoo.de", "gmx.net", "posteo.de"],
            forms: [("GmbH", "gmbh"), ("& Partner", "partner"), ("AG", "ag"), ("KG", "kg"), ("Gruppe", "gruppe"), ("e.K.", "ek")],
            activities: [("Rechtsanwälte", "rechtsanwaelte"), ("Steuerberatung", "steuerberatung"), ("Übersetzungen", "uebersetzungen"),
                         ("Immobilien", "immobilien"), ("Notariat", "notariat"), ("Beratung", "beratung")],
            template: "{S} {A} {F}", domainOrder: "{S}{A}{F}", tlds: ["de", "at", "ch", "com"],
            countries: [14, 14, 14, 14, 15, 2], extraTags: ["auswanderung", "steuern"])

        language(
            code: "pt", weight: 7,
            first: [("João", "joao"), ("Luís", "luis"), ("Tiago", "tiago"), ("Gonçalo", "goncalo"), ("Rui", "rui"),
                    ("Leonor", "leonor"), ("Francisca", "francisca"), ("Matilde", "matilde"), ("Duarte", "duarte"), ("Afonso", "afonso"),
                    ("Rodrigo", "rodrigo"), ("Mariana", "mariana"), ("Carolina", "carolina"), ("Bruna", "bruna"), ("Thiago", "thiago"),
                    ("Fábio", "fabio"), ("Márcio", "marcio"), ("Conceição", "conceicao"), ("Graça", "graca"), ("Sebastião", "sebastiao"),
                    ("Vitória", "vitoria"), ("Letícia", "leticia"), ("Gabriela", "gabriela"), ("Lucas", "lucas"), ("Júlia", "julia"),
                    ("Antônio", "antonio"), ("Raimundo", "raimundo"), ("Simão", "simao"), ("Estêvão", "estevao"), ("Débora", "debora")],
            last: [("Silva", "silva"), ("Santos", "santos"), ("Ferreira", "ferreira"), ("Pereira", "pereira"), ("Oliveira", "oliveira"),
                   ("Costa", "costa"), ("Rodrigues", "rodrigues"), ("Martins", "martins"), ("Sousa", "sousa"), ("Fernandes", "fernandes"),
                   ("Gonçalves", "goncalves"), ("Gomes", "gomes"), ("Lopes", "lopes"), ("Marques", "marques"), ("Alves", "alves"),
                   ("Almeida", "almeida"), ("Ribeiro", "ribeiro"), ("Pinto", "pinto"), ("Carvalho", "carvalho"), ("Teixeira", "teixeira"),
                   ("Moreira", "moreira"), ("Correia", "correia"), ("Mendes", "mendes"), ("Nunes", "nunes"), ("Soares", "soares"),
                   ("Vieira", "vieira"), ("Monteiro", "monteiro"), ("Cardoso", "cardoso"), ("Rocha", "rocha"), ("Magalhães", "magalhaes")],
            freemail: ["gmail.com", "sapo.pt", "hotmail.com", "uol.com.br", "outlook.com", "bol.com.br"],
            forms: [("Escritório", "escritorio"), ("Grupo", "grupo"), ("Agência", "agencia"), ("Sociedade", "sociedade"),
                    ("Consultoria", "consultoria"), ("Ateliê", "atelie")],
            activities: [("Advogados", "advogados"), ("Contabilidade", "contabilidade"), ("Traduções", "traducoes"),
                         ("Imobiliária", "imobiliaria"), ("Notarial", "notarial"), ("Assessoria", "assessoria")],
            template: "{F} {S} {A}", domainOrder: "{F}{S}{A}", tlds: ["pt", "com.br", "com"],
            countries: [16, 16, 16, 17, 17, 17, 17], extraTags: ["imigracao", "visto-d7"])

        language(
            code: "ru", weight: 6,
            first: [("Иван", "ivan"), ("Дмитрий", "dmitry"), ("Сергей", "sergey"), ("Алексей", "alexey"), ("Андрей", "andrey"),
                    ("Ольга", "olga"), ("Наталья", "natalya"), ("Екатерина", "ekaterina"), ("Татьяна", "tatyana"), ("Анна", "anna"),
                    ("Мария", "mariya"), ("Елена", "yelena"), ("Юлия", "yulia"), ("Михаил", "mikhail"), ("Николай", "nikolay"),
                    ("Владимир", "vladimir"), ("Павел", "pavel"), ("Артём", "artyom"), ("Ксения", "kseniya"), ("Светлана", "svetlana"),
                    ("Игорь", "igor"), ("Максим", "maksim"), ("Евгений", "evgeny"), ("Людмила", "lyudmila"), ("Анастасия", "anastasia"),
                    ("Роман", "roman"), ("Виктория", "viktoriya"), ("Галина", "galina"), ("Фёдор", "fyodor"), ("Жанна", "zhanna")],
            last: [("Иванов", "ivanov"), ("Смирнов", "smirnov"), ("Кузнецов", "kuznetsov"), ("Попов", "popov"), ("Васильев", "vasilyev"),
                   ("Петров", "petrov"), ("Соколов", "sokolov"), ("Михайлов", "mikhaylov"), ("Новиков", "novikov"), ("Фёдоров", "fedorov"),
                   ("Морозов", "morozov"), ("Волков", "volkov"), ("Алексеев", "alekseev"), ("Лебедев", "lebedev"), ("Семёнов", "semenov"),
                   ("Егоров", "egorov"), ("Павлов", "pavlov"), ("Козлов", "kozlov"), ("Степанов", "stepanov"), ("Николаев", "nikolaev"),
                   ("Орлов", "orlov"), ("Андреев", "andreev"), ("Макаров", "makarov"), ("Никитин", "nikitin"), ("Захаров", "zakharov"),
                   ("Зайцев", "zaytsev"), ("Соловьёв", "solovyov"), ("Борисов", "borisov"), ("Яковлев", "yakovlev"), ("Григорьев", "grigoryev")],
            freemail: ["yandex.ru", "mail.ru", "gmail.com", "rambler.ru", "bk.ru", "list.ru"],
            forms: [("ООО", "ooo"), ("АО", "ao"), ("ИП", "ip"), ("Группа", "gruppa"), ("Бюро", "buro"), ("Центр", "centr")],
            activities: [("Юрист", "yurist"), ("Консалтинг", "konsalting"), ("Переводы", "perevody"), ("Недвижимость", "nedvizhimost"),
                         ("Нотариус", "notarius"), ("Аудит", "audit")],
            template: "{F} «{S} {A}»", domainOrder: "{S}{A}{F}", tlds: ["ru", "com", "by"],
            countries: [18, 18, 18, 18, 19, 20], extraTags: ["эмиграция", "визы", "внж"])

        language(
            code: "zh", weight: 6,
            first: [("志强", "zhiqiang"), ("秀英", "xiuying"), ("建华", "jianhua"), ("晓明", "xiaoming"), ("丽娟", "lijuan"),
                    ("海燕", "haiyan"), ("俊杰", "junjie"), ("桂英", "guiying"), ("文博", "wenbo"), ("子涵", "zihan"),
                    ("浩然", "haoran"), ("雨桐", "yutong"), ("欣怡", "xinyi"), ("梓萱", "zixuan"), ("宇轩", "yuxuan"),
                    ("思远", "siyuan"), ("佳琪", "jiaqi"), ("明辉", "minghui"), ("春梅", "chunmei"), ("国强", "guoqiang"),
                    ("嘉怡", "jiayi"), ("天佑", "tianyou"), ("一鸣", "yiming"), ("若曦", "ruoxi"), ("博文", "bowen"),
                    ("晨阳", "chenyang"), ("诗涵", "shihan"), ("伟", "wei"), ("芳", "fang"), ("敏", "min")],
            last: [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"), ("黄", "huang"),
                   ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
                   ("郭", "guo"), ("何", "he"), ("林", "lin"), ("罗", "luo"), ("高", "gao"), ("郑", "zheng"), ("梁", "liang"),
                   ("谢", "xie"), ("宋", "song"), ("唐", "tang"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"), ("彭", "peng")],
            freemail: ["qq.com", "163.com", "126.com", "sina.com", "gmail.com", "foxmail.com"],
            forms: [("事务所", "sws"), ("有限公司", "ltd"), ("集团", "group"), ("中心", "center"), ("工作室", "studio"), ("顾问", "guwen")],
            activities: [("律师", "lvshi"), ("翻译", "fanyi"), ("咨询", "zixun"), ("地产", "dichan"), ("会计", "kuaiji"), ("移民", "yimin")],
            template: "{S}氏{A}{F}", domainOrder: "{S}{A}{F}", tlds: ["cn", "com", "com.cn"],
            countries: [21, 21, 21, 21, 22, 23], extraTags: ["移民", "签证", "留学"])

        language(
            code: "hi", weight: 5,
            first: [("राहुल", "rahul"), ("प्रिया", "priya"), ("अमित", "amit"), ("सुनीता", "sunita"), ("विकास", "vikas"),
                    ("अंजलि", "anjali"), ("रोहित", "rohit"), ("पूजा", "pooja"), ("संजय", "sanjay"), ("नेहा", "neha"),
                    ("अर्जुन", "arjun"), ("कविता", "kavita"), ("दीपक", "deepak"), ("स्नेहा", "sneha"), ("आदित्य", "aditya"),
                    ("मीरा", "meera"), ("विजय", "vijay"), ("लक्ष्मी", "lakshmi"), ("अनिल", "anil"), ("रीना", "reena"),
                    ("सुरेश", "suresh"), ("दिव्या", "divya"), ("मनोज", "manoj"), ("आरती", "aarti"), ("राजेश", "rajesh"),
                    ("श्वेता", "shweta"), ("करण", "karan"), ("ईशा", "isha"), ("गौरव", "gaurav"), ("तनुजा", "tanuja")],
            last: [("शर्मा", "sharma"), ("वर्मा", "verma"), ("गुप्ता", "gupta"), ("सिंह", "singh"), ("कुमार", "kumar"),
                   ("पटेल", "patel"), ("जोशी", "joshi"), ("मेहता", "mehta"), ("अग्रवाल", "agarwal"), ("चौधरी", "chaudhary"),
                   ("मिश्रा", "mishra"), ("यादव", "yadav"), ("रेड्डी", "reddy"), ("नायर", "nair"), ("अय्यर", "iyer"),
                   ("त्रिपाठी", "tripathi"), ("पांडे", "pandey"), ("श्रीवास्तव", "srivastava"), ("बंसल", "bansal"), ("कपूर", "kapoor"),
                   ("मल्होत्रा", "malhotra"), ("सक्सेना", "saxena"), ("भट्ट", "bhatt"), ("देसाई", "desai"), ("कुलकर्णी", "kulkarni"),
                   ("चतुर्वेदी", "chaturvedi"), ("दुबे", "dubey"), ("ठाकुर", "thakur"), ("बोस", "bose"), ("सेन", "sen")],
            freemail: ["gmail.com", "yahoo.co.in", "rediffmail.com", "outlook.com", "hotmail.com"],
            forms: [("प्राइवेट लिमिटेड", "pvt"), ("एंड एसोसिएट्स", "associates"), ("ग्रुप", "group"), ("कंसल्टेंसी", "consultancy"),
                    ("एंटरप्राइजेज", "enterprises"), ("सर्विसेज", "services")],
            activities: [("लीगल", "legal"), ("ट्रांसलेशन", "translation"), ("रियल्टी", "realty"), ("अकाउंटिंग", "accounting"),
                         ("इमिग्रेशन", "immigration"), ("ट्रैवल", "travel")],
            template: "{S} {A} {F}", domainOrder: "{S}{A}{F}", tlds: ["in", "co.in", "com"],
            countries: [24, 24, 24, 24, 24, 25, 6], extraTags: ["प्रवासी", "वीजा"])

        language(
            code: "ar", weight: 6,
            first: [("محمد", "mohamed"), ("أحمد", "ahmed"), ("فاطمة", "fatima"), ("علي", "ali"), ("يوسف", "youssef"),
                    ("خالد", "khaled"), ("مريم", "maryam"), ("عمر", "omar"), ("ليلى", "layla"), ("حسن", "hassan"),
                    ("نور", "nour"), ("سارة", "sara"), ("إبراهيم", "ibrahim"), ("زينب", "zainab"), ("كريم", "karim"),
                    ("سلمى", "salma"), ("طارق", "tarek"), ("هدى", "huda"), ("ياسين", "yassine"), ("أمينة", "amina"),
                    ("رشيد", "rachid"), ("سميرة", "samira"), ("مصطفى", "mustafa"), ("نادية", "nadia"), ("عبدالله", "abdullah"),
                    ("رانيا", "rania"), ("سعيد", "said"), ("هالة", "hala"), ("وليد", "walid"), ("دينا", "dina")],
            last: [("العلي", "alali"), ("الحسن", "alhassan"), ("المنصور", "almansour"), ("الأحمد", "alahmad"), ("الشامي", "alshami"),
                   ("حداد", "haddad"), ("خوري", "khoury"), ("ناصر", "nasser"), ("سعد", "saad"), ("عثمان", "othman"),
                   ("بنعلي", "benali"), ("العمري", "alamri"), ("الزهراني", "alzahrani"), ("القحطاني", "alqahtani"), ("التميمي", "altamimi"),
                   ("الخطيب", "alkhatib"), ("عبدالرحمن", "abdelrahman"), ("بوعزيز", "bouaziz"), ("الفاسي", "elfassi"), ("بنيس", "bennis"),
                   ("الإدريسي", "idrissi"), ("شريف", "cherif"), ("سليمان", "soliman"), ("فرح", "farah"), ("يوسفي", "youssfi"),
                   ("الجزائري", "djazairi"), ("درويش", "darwish"), ("عطية", "attia"), ("جابر", "jaber"), ("صالح", "saleh")],
            freemail: ["gmail.com", "hotmail.com", "yahoo.com", "outlook.com", "live.com"],
            forms: [("مكتب", "maktab"), ("شركة", "sharika"), ("مجموعة", "majmoua"), ("مؤسسة", "muassasa"), ("دار", "dar"), ("مركز", "markaz")],
            activities: [("للمحاماة", "law"), ("للاستشارات", "consulting"), ("للترجمة", "translation"), ("العقارية", "realestate"),
                         ("للتوثيق", "notary"), ("للمحاسبة", "accounting")],
            template: "{F} {S} {A}", domainOrder: "{F}{S}{A}", tlds: ["ae", "sa", "com", "ma", "eg"],
            countries: [25, 25, 26, 26, 27, 28, 4, 29, 30], extraTags: ["هجرة", "تأشيرة"])

        // Categories, weighted by repetition (≈ percent).
        let categoryWeights: [(String, Int)] = [
            ("expat", 25), ("avocat", 15), ("entreprise", 12), ("traducteur", 8), ("agence", 8), ("notaire", 6),
            ("comptable", 5), ("immobilier", 5), ("assureur", 4), ("demenageur", 3), ("medecin", 3), ("banque", 2),
            ("ecole", 2), ("association", 2),
        ]
        for (name, weight) in categoryWeights {
            let s = pool.add(name)
            categories += Array(repeating: s, count: weight)
        }
        let sourceWeights: [(String, Int)] = [
            ("csv-2025-11", 20), ("csv-2026-03", 15), ("scraper-pro", 20), ("scraper-google-maps", 10),
            ("mailwizz-import", 12), ("webhook-typeform", 8), ("api", 6), ("manual", 4), ("salon-expat-paris-2025", 5),
        ]
        for (name, weight) in sourceWeights {
            let s = pool.add(name)
            sources += Array(repeating: s, count: weight)
        }
        commonTags = pool.add([
            "prestataire", "partenaire", "client", "prospect", "vip", "newsletter", "b2b", "b2c", "relance",
            "salon-2025", "webinar-visa", "expatrie", "fiscalite", "visa", "retraite", "etudiant", "famille",
            "urgence", "premium", "ancien-client", "avocat", "expat",
        ])
        let statusTable: [(String, Int)] = [
            ("pending", 5200), ("validated", 4000), ("risky", 150), ("invalid", 200), ("injected", 100),
            ("bounced", 150), ("unsubscribed", 120), ("complained", 30), ("blacklisted", 50),
        ]
        statuses = statusTable.map { pool.add($0.0) }
        statusWeights = statusTable.map { $0.1 }
        reasonsInvalid = pool.add(["\"mailbox_not_found\"", "\"no_mx\"", "\"disposable\"", "\"syntax\"", "\"domain_typo\""])
        reasonsRisky = pool.add(["\"catch_all\"", "\"role_account\"", "\"free_provider\",\"catch_all\"", "\"low_reputation\""])
        kvCustomNotes = pool.add(["\"rappeler après 14h\"", "\"rencontré au salon\"", "\"prefers WhatsApp\"", "\"контакт через партнёра\""])

        // How people write them in exports: country names in the contact's language, national
        // phone numbers after the country's trunk prefix (none where numbers are dialled whole).
        let trunks: [String: String] = ["FR": "0", "BE": "0", "CH": "0", "GB": "0", "AU": "0", "IE": "0", "DE": "0", "AT": "0",
                                        "TW": "0", "AE": "0", "SA": "0", "EG": "0", "LB": "0", "TH": "0", "VN": "0", "ID": "0",
                                        "MA": "0", "IN": "0", "RU": "8", "KZ": "8", "BY": "8"]
        for c in countries {
            let iso = String(decoding: pool.bytes[Int(c.iso.off)..<Int(c.iso.off + c.iso.len)], as: UTF8.self)
            trunkPrefixes.append(pool.add(trunks[iso] ?? ""))
            countryNames.append(languages.map { lang in
                let code = String(decoding: pool.bytes[Int(lang.code.off)..<Int(lang.code.off + lang.code.len)], as: UTF8.self)
                return pool.add(Locale(identifier: code).localizedString(forRegionCode: iso) ?? iso)
            })
        }
        languageNames = languages.map { lang in
            let code = String(decoding: pool.bytes[Int(lang.code.off)..<Int(lang.code.off + lang.code.len)], as: UTF8.self)
            return pool.add(Locale(identifier: code).localizedString(forLanguageCode: code) ?? code)
        }
    }

    func parseTemplate(_ template: String) -> [Piece] {
        var pieces: [Piece] = []
        var literal = ""
        var rest = Substring(template)
        while !rest.isEmpty {
            if rest.hasPrefix("{F}") || rest.hasPrefix("{S}") || rest.hasPrefix("{A}") {
                if !literal.isEmpty { pieces.append(.text(pool.add(literal))); literal = "" }
                let marker = rest.dropFirst().first!
                pieces.append(marker == "F" ? .form : marker == "S" ? .surname : .activity)
                rest = rest.dropFirst(3)
            } else {
                literal.append(rest.removeFirst())
            }
        }
        if !literal.isEmpty { pieces.append(.text(pool.add(literal))) }
        return pieces
    }
}

// MARK: - Email space: a bijection from ids to (language, names, style, domain slot, number)

/// Why a bijection: emails must be unique over every id (also across `--start` ranges) without
/// remembering anything, yet look like real addresses (`marie.dupont@orange.fr`, `jdupont42@…`),
/// most of them without digits. Ids are cut into blocks of `size`; inside a block a keyed
/// permutation maps each id to one distinct combination of language, first name, last name,
/// local-part style and domain slot; the block number (times a per-language replica count)
/// becomes a numeric suffix. Given the table invariants (slugs are [a-z]+, first and last
/// slugs disjoint across all languages, concatenations unambiguous), the address determines
/// the combination, so distinct ids give distinct addresses.
struct EmailSpace {
    static let styles = 5             // first.last, firstlast, flast<N>, first_last, last.first
    static let companySlots = 3       // per language; slot j only uses companies ≡ j (mod 3)

    let size: Int                     // ids per block
    let languageStart: [Int]          // cumulative start of each language's range in a block
    let combos: [Int]                 // combinations per replica, per language
    let replicas: [Int]               // replicas per language (sets the language weights)
    let permutation: BlockPermutation

    init(languages: [Language], seed: UInt64) {
        var combos: [Int] = []
        for lang in languages {
            combos.append(lang.firstNames.count * lang.lastNames.count * EmailSpace.styles
                          * (lang.freemail.count + EmailSpace.companySlots))
        }
        // The language with the most combinations per weight point gets one replica; others
        // get proportionally more, so every language's share follows its weight.
        var unit = 0.0
        for (i, lang) in languages.enumerated() { unit = max(unit, Double(combos[i]) / Double(lang.weight)) }
        var replicas: [Int] = []
        var starts: [Int] = []
        var total = 0
        for (i, lang) in languages.enumerated() {
            let r = max(1, Int((Double(lang.weight) * unit / Double(combos[i])).rounded()))
            replicas.append(r)
            starts.append(total)
            total += r * combos[i]
        }
        starts.append(total)
        self.size = total
        self.combos = combos
        self.replicas = replicas
        self.languageStart = starts
        self.permutation = BlockPermutation(size: total, seed: seed)
    }
}

/// Who a contact is: everything that determines its email, names and company.
struct Identity {
    var language = 0
    var first = 0
    var last = 0
    var style = 0
    var slot = 0          // < freemail.count: that freemail domain; else a company slot
    var number = 0        // numeric suffix (0 = none)
    var company = -1      // company index within the language, -1 = none
}

// MARK: - Output

/// One large buffer, flushed with write(2). Records are far smaller than the reserve.
struct Output {
    static let capacity = 1 << 22
    static let reserve = 1 << 16
    let base = UnsafeMutablePointer<UInt8>.allocate(capacity: Output.capacity)
    var count = 0

    @inline(__always) mutating func byte(_ b: UInt8) {
        base[count] = b
        count += 1
    }

    @inline(__always) mutating func bytes(_ p: UnsafePointer<UInt8>, _ n: Int) {
        memcpy(base + count, p, n)
        count += n
    }

    @inline(__always) mutating func literal(_ s: StaticString) {
        s.withUTF8Buffer { bytes($0.baseAddress!, $0.count) }
    }

    @inline(__always) mutating func flushIfNearlyFull() {
        if count > Output.capacity - Output.reserve { flush() }
    }

    mutating func flush() {
        var done = 0
        while done < count {
            let n = write(1, base + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { exit(0) } // reader went away (`gen-contacts … | head`): fine
                perror("gen-contacts: write")
                exit(1)
            }
            done += n
        }
        count = 0
    }
}

// MARK: - The generator

/// The fields of one contact, as ranges of `mem`. Raw JSON fragments (custom, validation)
/// are written verbatim; everything else is a string that gets escaped as needed.
struct Contact {
    var email = Str.none, firstName = Str.none, lastName = Str.none
    var company = Str.none, website = Str.none, phone = Str.none
    var country = Str.none, city = Str.none, language = Str.none, category = Str.none
    var tags: [Str] = []
    var source = Str.none, status = Str.none, linkedinURL = Str.none
    var customJSON = Str.none, validationJSON = Str.none
    var createdAt = Str.none, updatedAt = Str.none
    /// 0 none; 1 first_name, 2 last_name, 3 company, 4 city: written with every non-ASCII
    /// character as a \uXXXX escape, as some exporters do.
    var escapedField = 0
    /// Indexes into the tables, for `--format csv-export`.
    var countryIndex = 0, languageIndex = 0
}

enum Format { case ndjson, csv, csvExport }

struct Generator {
    let tables: Tables
    let space: EmailSpace
    let seed: UInt64
    let tenant: Str
    let duplicatePerTenThousand: Int
    let mem: UnsafeMutablePointer<UInt8>
    let poolEnd: Int
    var scratch: Int              // next free byte of the scratch area
    var contact = Contact()

    static let scratchSize = 1 << 16
    // 2023-01-01T00:00:00Z ..< 2026-11-01T00:00:00Z
    static let epochStart = 1_672_531_200
    static let epochSpan = 1_793_491_200 - 1_672_531_200

    init(seed: UInt64, tenant: String, duplicatePercent: Double) {
        let tables = Tables() // the pool is a class: adding the tenant below mutates it in place
        let tenantStr = tables.pool.add(tenant)
        let poolBytes = tables.pool.bytes
        self.tables = tables
        self.seed = seed
        self.tenant = tenantStr
        self.duplicatePerTenThousand = Int((duplicatePercent * 100).rounded())
        self.space = EmailSpace(languages: tables.languages, seed: seed)
        let memory = UnsafeMutablePointer<UInt8>.allocate(capacity: poolBytes.count + Generator.scratchSize)
        poolBytes.withUnsafeBufferPointer { _ = memcpy(memory, $0.baseAddress!, $0.count) }
        mem = memory
        poolEnd = poolBytes.count
        scratch = poolEnd
        contact.tags.reserveCapacity(8)
    }

    // MARK: Random streams per id

    @inline(__always) func recordRNG(_ id: UInt64) -> SplitMix64 {
        SplitMix64(state: SplitMix64.mix(seed &* 0xD6E8_FEB8_6659_FD93 ^ id))
    }

    @inline(__always) func identityRNG(_ id: UInt64) -> SplitMix64 {
        SplitMix64(state: SplitMix64.mix((seed &+ 0x2545_F491_4F6C_DD1D) &* 0x9E37_79B9_7F4A_7C15 ^ id))
    }

    /// The first two draws of a record's stream decide whether it re-imports an earlier
    /// contact, and which. Always drawn, so `--duplicates` changes only the chosen records.
    @inline(__always) func duplicateTarget(_ id: UInt64) -> UInt64? {
        var rng = recordRNG(id)
        let roll = rng.below(10_000)
        let back = rng.next()
        guard roll < duplicatePerTenThousand, id > 0 else { return nil }
        return back % id
    }

    /// Follows duplicate chains so that a duplicate always repeats an address that some
    /// non-duplicate record really carries.
    func identitySource(_ id: UInt64) -> UInt64 {
        var current = id
        while let target = duplicateTarget(current) { current = target }
        return current
    }

    func identity(_ id: UInt64) -> Identity {
        let blockSize = UInt64(space.size)
        let block = Int(id / blockSize)
        var q = Int(space.permutation.apply(id % blockSize))
        var who = Identity()
        var l = 0
        while q >= space.languageStart[l + 1] { l += 1 }
        q -= space.languageStart[l]
        let lang = tables.languages[l]
        let replica = q / space.combos[l]
        q %= space.combos[l]
        who.language = l
        who.first = q % lang.firstNames.count; q /= lang.firstNames.count
        who.last = q % lang.lastNames.count; q /= lang.lastNames.count
        who.style = q % EmailSpace.styles; q /= EmailSpace.styles
        who.slot = q
        who.number = block * space.replicas[l] + replica

        var rng = identityRNG(id)
        let companies = lang.lastNames.count * lang.forms.count * lang.activities.count
        if who.slot >= lang.freemail.count {
            // Company address: slot j draws only companies ≡ j (mod companySlots), so two
            // slots never share a domain and the address stays unique.
            let j = who.slot - lang.freemail.count
            let perSlot = companies / EmailSpace.companySlots
            who.company = j + EmailSpace.companySlots * rng.below(perSlot)
        } else if rng.chance(150) {
            who.company = rng.below(companies) // a freemail user who still names an employer
        }
        return who
    }

    // MARK: Scratch composition

    @inline(__always) mutating func put(_ s: Str) {
        memcpy(mem + scratch, mem + Int(s.off), Int(s.len))
        scratch += Int(s.len)
    }

    @inline(__always) mutating func put(_ s: StaticString) {
        let at = mem + scratch
        s.withUTF8Buffer { _ = memcpy(at, $0.baseAddress!, $0.count) }
        scratch += s.utf8CodeUnitCount
    }

    @inline(__always) mutating func putByte(_ b: UInt8) {
        mem[scratch] = b
        scratch += 1
    }

    mutating func putDecimal(_ value: Int, width: Int = 0) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes of stack for the digits
        var v = value
        var n = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            repeat {
                buf[n] = UInt8(48 + v % 10)
                v /= 10
                n += 1
            } while v > 0 || n < width
            while n > 0 {
                n -= 1
                mem[scratch] = buf[n]
                scratch += 1
            }
        }
    }

    @inline(__always) mutating func putTwoDigits(_ value: Int) {
        mem[scratch] = UInt8(48 + value / 10)
        mem[scratch + 1] = UInt8(48 + value % 10)
        scratch += 2
    }

    @inline(__always) mutating func finish(from start: Int) -> Str {
        Str(off: Int32(start), len: Int32(scratch - start))
    }

    /// RFC 3339 UTC, e.g. 2025-03-14T09:26:53Z (civil-from-days, Howard Hinnant).
    mutating func putTimestamp(_ seconds: Int) -> Str {
        let start = scratch
        let days = seconds / 86_400
        let secs = seconds % 86_400
        let z = days + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        putTwoDigits(year / 100); putTwoDigits(year % 100); putByte(UInt8(ascii: "-"))
        putTwoDigits(month); putByte(UInt8(ascii: "-"))
        putTwoDigits(day); putByte(UInt8(ascii: "T"))
        putTwoDigits(secs / 3600); putByte(UInt8(ascii: ":"))
        putTwoDigits(secs / 60 % 60); putByte(UInt8(ascii: ":"))
        putTwoDigits(secs % 60); putByte(UInt8(ascii: "Z"))
        return finish(from: start)
    }

    mutating func putCompanyDomain(_ lang: Language, _ company: Int) {
        let s = company % lang.lastNames.count
        let f = company / lang.lastNames.count % lang.forms.count
        let a = company / (lang.lastNames.count * lang.forms.count)
        var first = true
        for piece in lang.domainOrder {
            if !first { putByte(UInt8(ascii: "-")) }
            first = false
            switch piece {
            case .form: put(lang.formSlugs[f])
            case .surname: put(lang.lastSlugs[s])
            case .activity: put(lang.activitySlugs[a])
            case .text: break
            }
        }
        putByte(UInt8(ascii: "."))
        put(lang.tlds[Int(truncatingIfNeeded: (UInt64(company) &* 0x9E37_79B9) >> 11) % lang.tlds.count])
    }

    /// Company name from the language's template; `variant` injects the dirty data that
    /// exports contain: 1 quotes around the surname, 2 a backslash, 3 a comma.
    mutating func putCompanyName(_ lang: Language, _ company: Int, variant: Int) {
        let s = company % lang.lastNames.count
        let f = company / lang.lastNames.count % lang.forms.count
        let a = company / (lang.lastNames.count * lang.forms.count)
        for piece in lang.companyTemplate {
            switch piece {
            case .form: put(lang.forms[f])
            case .activity: put(lang.activities[a])
            case .text(let t): put(t)
            case .surname:
                if variant == 1 { putByte(UInt8(ascii: "\"")) }
                put(lang.lastNames[s])
                if variant == 1 { putByte(UInt8(ascii: "\"")) }
                if variant == 2 { putByte(UInt8(ascii: "\\")) }
                if variant == 3 { putByte(UInt8(ascii: ",")) }
            }
        }
    }

    // MARK: Building one contact

    mutating func build(_ id: UInt64) {
        scratch = poolEnd
        var rng = recordRNG(id)
        _ = rng.next(); _ = rng.next() // the duplicate draws (see `duplicateTarget`)
        let who = identity(identitySource(id))
        let lang = tables.languages[who.language]
        var c = Contact()
        swap(&c.tags, &contact.tags)
        c.tags.removeAll(keepingCapacity: true)

        // Email local part; digits only ever at the end, so the address stays decodable.
        var start = scratch
        let firstSlug = lang.firstSlugs[who.first], lastSlug = lang.lastSlugs[who.last]
        var number = who.number
        switch who.style {
        case 0: put(firstSlug); putByte(UInt8(ascii: ".")); put(lastSlug)
        case 1: put(firstSlug); put(lastSlug)
        case 2: // flast42: the initial loses the first name, so the number carries it
            putByte(mem[Int(firstSlug.off)]); put(lastSlug)
            number = number * lang.firstNames.count + who.first
        case 3: put(firstSlug); putByte(UInt8(ascii: "_")); put(lastSlug)
        default: put(lastSlug); putByte(UInt8(ascii: ".")); put(firstSlug)
        }
        if number > 0 { putDecimal(number) }
        putByte(UInt8(ascii: "@"))
        if who.slot < lang.freemail.count {
            put(lang.freemail[who.slot])
        } else {
            putCompanyDomain(lang, who.company)
        }
        c.email = finish(from: start)
        c.firstName = lang.firstNames[who.first]
        c.lastName = lang.lastNames[who.last]

        if who.company >= 0 {
            let roll = rng.below(1000)
            let variant = roll < 10 ? 1 : roll < 13 ? 2 : roll < 43 ? 3 : 0
            start = scratch
            putCompanyName(lang, who.company, variant: variant)
            c.company = finish(from: start)
            let scheme = rng.below(10) // 0-6 https://www., 7 https://, 8 http://…/, 9 no website
            if scheme < 9 {
                start = scratch
                put(scheme < 7 ? "https://www." : scheme == 7 ? "https://" : "http://")
                putCompanyDomain(lang, who.company)
                if scheme == 8 { putByte(UInt8(ascii: "/")) }
                c.website = finish(from: start)
            }
        }

        // Country: mostly the language's home countries, a fifth abroad (expats).
        let countryIndex = rng.chance(200)
            ? tables.expatCountries[rng.below(tables.expatCountries.count)]
            : lang.countries[rng.below(lang.countries.count)]
        let country = tables.countries[countryIndex]
        c.country = country.iso
        c.countryIndex = countryIndex
        c.languageIndex = who.language
        let city = country.cities[rng.below(country.cities.count)]
        if rng.chance(920) { c.city = city }
        // Always drawn, kept for 3 contacts in 4: exports often lack a phone number.
        start = scratch
        putByte(UInt8(ascii: "+"))
        put(country.dial)
        put(country.mobilePrefixes[rng.below(country.mobilePrefixes.count)])
        for _ in 0..<country.restDigits { putByte(UInt8(48 + rng.below(10))) }
        if rng.chance(750) { c.phone = finish(from: start) } else { scratch = start }

        c.language = lang.code
        c.category = tables.categories[rng.below(tables.categories.count)]

        // Tags: 1–5 distinct slugs (mostly 1–3) — usually the category and the language, then extras.
        let tagRoll = rng.below(100)
        let tagCount = tagRoll < 35 ? 1 : tagRoll < 70 ? 2 : tagRoll < 88 ? 3 : tagRoll < 96 ? 4 : 5
        if rng.chance(800) { c.tags.append(c.category) }
        if c.tags.count < tagCount && rng.chance(600) { c.tags.append(lang.langTag) }
        while c.tags.count < tagCount {
            let candidate = rng.chance(250)
                ? lang.extraTags[rng.below(lang.extraTags.count)]
                : tables.commonTags[rng.below(tables.commonTags.count)]
            if !c.tags.contains(where: { equal($0, candidate) }) { c.tags.append(candidate) }
        }

        c.source = tables.sources[rng.below(tables.sources.count)]
        var roll = rng.below(10_000)
        var statusIndex = 0
        while roll >= tables.statusWeights[statusIndex] {
            roll -= tables.statusWeights[statusIndex]
            statusIndex += 1
        }
        c.status = tables.statuses[statusIndex]

        if rng.chance(80) {
            start = scratch
            put("https://www.linkedin.com/in/")
            put(firstSlug); putByte(UInt8(ascii: "-")); put(lastSlug); putByte(UInt8(ascii: "-"))
            var tag = rng.next()
            for _ in 0..<8 { // 8 base-36 characters, as LinkedIn appends to common names
                let digit = UInt8(tag % 36)
                putByte(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10)
                tag /= 36
            }
            c.linkedinURL = finish(from: start)
        }

        if rng.chance(120) {
            start = scratch
            switch rng.below(3) {
            case 0:
                put("{\"linkedin_followers\":"); putDecimal(rng.below(20_000))
                put(",\"score\":\"0."); putDecimal(rng.below(100), width: 2); put("\"}")
            case 1:
                put("{\"score\":\"0."); putDecimal(rng.below(100), width: 2)
                put("\",\"crm_id\":\"SF-"); putDecimal(rng.below(10_000_000), width: 7); put("\"}")
            default:
                put("{\"note\":"); put(tables.kvCustomNotes[rng.below(tables.kvCustomNotes.count)])
                put(",\"linkedin_followers\":"); putDecimal(rng.below(5000)); put("}")
            }
            c.customJSON = finish(from: start)
        }

        // A verdict where the status implies one was reached.
        let verdict: Int // 0 none, 1 valid, 2 risky, 3 invalid
        switch statusIndex {
        case 1: verdict = rng.chance(900) ? 1 : 0
        case 2: verdict = 2
        case 3: verdict = 3
        case 4, 5: verdict = rng.chance(500) ? 1 : 0
        default: verdict = 0
        }
        if verdict != 0 {
            start = scratch
            switch verdict {
            case 1:
                put("{\"verdict\":\"valid\",\"score\":"); putDecimal(80 + rng.below(21)); put(",\"reasons\":[]}")
            case 2:
                put("{\"verdict\":\"risky\",\"score\":"); putDecimal(40 + rng.below(30)); put(",\"reasons\":[")
                put(tables.reasonsRisky[rng.below(tables.reasonsRisky.count)]); put("]}")
            default:
                put("{\"verdict\":\"invalid\",\"score\":"); putDecimal(rng.below(20)); put(",\"reasons\":[")
                put(tables.reasonsInvalid[rng.below(tables.reasonsInvalid.count)]); put("]}")
            }
            c.validationJSON = finish(from: start)
        }

        let created = Generator.epochStart + rng.below(Generator.epochSpan)
        let end = Generator.epochStart + Generator.epochSpan
        let updated = rng.chance(300) ? created : created + rng.below(min(300 * 86_400, end - created))
        c.createdAt = putTimestamp(created)
        c.updatedAt = putTimestamp(updated)

        if rng.chance(5) { c.escapedField = 1 + rng.below(4) }
        contact = c
    }

    @inline(__always) func equal(_ a: Str, _ b: Str) -> Bool {
        a.len == b.len && memcmp(mem + Int(a.off), mem + Int(b.off), Int(a.len)) == 0
    }

    // MARK: Writers

    /// A JSON string: escapes `"`, `\` and control bytes; with `asciiOnly`, every non-ASCII
    /// character becomes \uXXXX (surrogate pairs above U+FFFF).
    @inline(__always) func writeJSONString(_ s: Str, _ out: inout Output, asciiOnly: Bool = false) {
        out.byte(UInt8(ascii: "\""))
        let p = mem + Int(s.off)
        let n = Int(s.len)
        var i = 0
        var clean = 0 // start of the pending run that needs no escaping
        while i < n {
            // Skip 8 clean bytes at a time (no quote, backslash or control byte). Reading up to
            // 7 bytes past the string stays inside `mem`: the scratch area follows every string.
            if !asciiOnly && i + 8 <= n {
                let word = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                if !Generator.needsEscape(word) {
                    i += 8
                    continue
                }
            }
            let b = p[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C && (b < 0x80 || !asciiOnly) {
                i += 1
                continue
            }
            out.bytes(p + clean, i - clean)
            if b < 0x80 {
                out.byte(UInt8(ascii: "\\"))
                switch b {
                case 0x22: out.byte(0x22)
                case 0x5C: out.byte(0x5C)
                case 0x0A: out.byte(UInt8(ascii: "n"))
                case 0x09: out.byte(UInt8(ascii: "t"))
                default: writeUnicodeEscapeBody(UInt32(b), &out)
                }
                i += 1
            } else {
                // Decode one UTF-8 sequence (the pool holds valid UTF-8 only).
                var scalar: UInt32
                var length: Int
                if b >= 0xF0 { scalar = UInt32(b & 0x07); length = 4 }
                else if b >= 0xE0 { scalar = UInt32(b & 0x0F); length = 3 }
                else { scalar = UInt32(b & 0x1F); length = 2 }
                for k in 1..<length { scalar = scalar << 6 | UInt32(p[i + k] & 0x3F) }
                if scalar > 0xFFFF {
                    let v = scalar - 0x10000
                    out.byte(UInt8(ascii: "\\")); writeUnicodeEscapeBody(0xD800 + (v >> 10), &out)
                    out.byte(UInt8(ascii: "\\")); writeUnicodeEscapeBody(0xDC00 + (v & 0x3FF), &out)
                } else {
                    out.byte(UInt8(ascii: "\\")); writeUnicodeEscapeBody(scalar, &out)
                }
                i += length
            }
            clean = i
        }
        out.bytes(p + clean, n - clean)
        out.byte(UInt8(ascii: "\""))
    }

    /// True if any byte of `word` is a quote, a backslash or below 0x20 (classic SWAR tests:
    /// a zero byte in `x` shows as a set high bit in (x - 0x01…) & ~x & 0x80…).
    @inline(__always) static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- ones &* 0x20) & ~word & highs
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let found = control | ((quote &- ones) & ~quote & highs) | ((backslash &- ones) & ~backslash & highs)
        return found != 0
    }

    /// "uXXXX" with lower-case hex (the backslash is written by the caller).
    @inline(__always) func writeUnicodeEscapeBody(_ v: UInt32, _ out: inout Output) {
        out.byte(UInt8(ascii: "u"))
        for shift in stride(from: 12, through: 0, by: -4) {
            let nibble = UInt8((v >> UInt32(shift)) & 0xF)
            out.byte(nibble < 10 ? 48 + nibble : 87 + nibble)
        }
    }

    @inline(__always) func writeRaw(_ s: Str, _ out: inout Output) {
        out.bytes(mem + Int(s.off), Int(s.len))
    }

    func writeJSON(_ out: inout Output) {
        let c = contact
        out.literal("{\"tenant\":"); writeJSONString(tenant, &out)
        out.literal(",\"email\":"); writeJSONString(c.email, &out)
        out.literal(",\"first_name\":"); writeJSONString(c.firstName, &out, asciiOnly: c.escapedField == 1)
        out.literal(",\"last_name\":"); writeJSONString(c.lastName, &out, asciiOnly: c.escapedField == 2)
        if c.company.isPresent {
            out.literal(",\"company\":"); writeJSONString(c.company, &out, asciiOnly: c.escapedField == 3)
        }
        if c.website.isPresent { out.literal(",\"website\":"); writeJSONString(c.website, &out) }
        if c.phone.isPresent { out.literal(",\"phone\":"); writeJSONString(c.phone, &out) }
        out.literal(",\"country\":"); writeJSONString(c.country, &out)
        if c.city.isPresent { out.literal(",\"city\":"); writeJSONString(c.city, &out, asciiOnly: c.escapedField == 4) }
        out.literal(",\"language\":"); writeJSONString(c.language, &out)
        out.literal(",\"category\":"); writeJSONString(c.category, &out)
        out.literal(",\"tags\":[")
        for (i, tag) in c.tags.enumerated() {
            if i > 0 { out.byte(UInt8(ascii: ",")) }
            writeJSONString(tag, &out)
        }
        out.literal("],\"source\":"); writeJSONString(c.source, &out)
        out.literal(",\"status\":"); writeJSONString(c.status, &out)
        if c.linkedinURL.isPresent { out.literal(",\"linkedin_url\":"); writeJSONString(c.linkedinURL, &out) }
        if c.customJSON.isPresent { out.literal(",\"custom\":"); writeRaw(c.customJSON, &out) }
        if c.validationJSON.isPresent { out.literal(",\"validation\":"); writeRaw(c.validationJSON, &out) }
        out.literal(",\"created_at\":"); writeJSONString(c.createdAt, &out)
        out.literal(",\"updated_at\":"); writeJSONString(c.updatedAt, &out)
        out.literal("}\n")
    }

    static let csvHeader: StaticString = "email,first_name,last_name,company,website,phone,country,city,language,category,tags\n"

    /// An RFC 4180 field: quoted only when it holds a comma, quote or line break.
    @inline(__always) func writeCSVField(_ s: Str, _ out: inout Output) {
        let p = mem + Int(s.off)
        let n = Int(s.len)
        var needsQuotes = false
        for i in 0..<n where p[i] == 0x2C || p[i] == 0x22 || p[i] == 0x0A || p[i] == 0x0D {
            needsQuotes = true
            break
        }
        if !needsQuotes {
            out.bytes(p, n)
            return
        }
        out.byte(0x22)
        for i in 0..<n {
            if p[i] == 0x22 { out.byte(0x22) }
            out.byte(p[i])
        }
        out.byte(0x22)
    }

    /// One CSV row. `asExported`: as real exports have it — the country's name in the
    /// contact's language, the language's name, the phone number as people type it (national
    /// with spaces in seven of ten, told by its last digit, else international with spaces).
    func writeCSV(_ out: inout Output, asExported: Bool = false) {
        let c = contact
        let comma = UInt8(ascii: ",")
        writeCSVField(c.email, &out); out.byte(comma)
        writeCSVField(c.firstName, &out); out.byte(comma)
        writeCSVField(c.lastName, &out); out.byte(comma)
        writeCSVField(c.company, &out); out.byte(comma)
        writeCSVField(c.website, &out); out.byte(comma)
        if asExported { writeTypedPhone(c, &out) } else { writeCSVField(c.phone, &out) }
        out.byte(comma)
        writeCSVField(asExported ? tables.countryNames[c.countryIndex][c.languageIndex] : c.country, &out); out.byte(comma)
        writeCSVField(c.city, &out); out.byte(comma)
        writeCSVField(asExported ? tables.languageNames[c.languageIndex] : c.language, &out); out.byte(comma)
        writeCSVField(c.category, &out); out.byte(comma)
        // Tags joined with '|'; slugs never hold commas or quotes, so no quoting is needed.
        for (i, tag) in c.tags.enumerated() {
            if i > 0 { out.byte(UInt8(ascii: "|")) }
            writeRaw(tag, &out)
        }
        out.byte(0x0A)
    }

    /// The contact's E.164 number as typed: the trunk prefix and the national number in pairs,
    /// or `+`, the calling code and the national number in threes.
    func writeTypedPhone(_ c: Contact, _ out: inout Output) {
        guard c.phone.isPresent else { return }
        let country = tables.countries[c.countryIndex]
        let p = mem + Int(c.phone.off)
        let n = Int(c.phone.len)
        let national = 1 + Int(country.dial.len)
        let group: Int
        if p[n - 1] % 4 != 0 {
            writeRaw(tables.trunkPrefixes[c.countryIndex], &out)
            group = 2
        } else {
            out.byte(UInt8(ascii: "+"))
            writeRaw(country.dial, &out)
            out.byte(0x20)
            group = 3
        }
        for i in national..<n {
            if i > national && (n - i) % group == 0 { out.byte(0x20) }
            out.byte(p[i])
        }
    }
}

// MARK: - Command line

/// --help prints to stdout and succeeds; a usage error prints to stderr and exits 2.
func usage(asHelp: Bool = false) -> Never {
    let text = """
    usage: gen-contacts --count N [--seed S] [--tenant SLUG] [--format ndjson|csv]
                        [--duplicates PCT] [--start K]

    Writes N deterministic synthetic contacts (ids K ..< K+N) to standard output.
      --count N         number of records (required)
      --seed S          seed (default 1); same arguments, same bytes
      --tenant SLUG     tenant field (default sos-expat)
      --format F        ndjson (default), csv (header + email,first_name,…,tags) or csv-export (the same
                        columns as exports write them: national phone numbers, country and language names)
      --duplicates PCT  percent of records that re-import an earlier id's contact (default 0)
      --start K         first id (default 0): ranges that overlap share their contacts

    example: gen-contacts --count 1000000 --seed 7 > contacts-1m.ndjson

    """
    fputs(text, asHelp ? stdout : stderr)
    exit(asHelp ? 0 : 2)
}

func fail(_ message: String) -> Never {
    fputs("gen-contacts: \(message)\n", stderr)
    exit(2)
}

func isTenantSlug(_ s: String) -> Bool {
    let bytes = Array(s.utf8)
    guard let first = bytes.first, bytes.count <= 63 else { return false }
    func alnum(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 48 && b <= 57) }
    return alnum(first) && bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
}

var count: Int?
var seed: UInt64 = 1
var tenant = "sos-expat"
var format = Format.ndjson
var duplicatePercent = 0.0
var startID: UInt64 = 0

var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    if flag == "-h" || flag == "--help" { usage(asHelp: true) }
    guard let value = arguments.popFirst() else { fail("\(flag) needs a value (see --help)") }
    switch flag {
    case "--count":
        guard let n = Int(value), n >= 0 else { fail("--count wants a non-negative integer, not '\(value)'") }
        count = n
    case "--seed":
        guard let s = UInt64(value) else { fail("--seed wants a non-negative integer, not '\(value)'") }
        seed = s
    case "--tenant":
        guard isTenantSlug(value) else { fail("--tenant wants a slug like sos-expat, not '\(value)'") }
        tenant = value
    case "--format":
        switch value {
        case "ndjson": format = .ndjson
        case "csv": format = .csv
        case "csv-export": format = .csvExport
        default: fail("--format is ndjson, csv or csv-export, not '\(value)'")
        }
    case "--duplicates":
        guard let p = Double(value), p >= 0, p <= 100 else { fail("--duplicates wants a percentage 0–100, not '\(value)'") }
        duplicatePercent = p
    case "--start":
        guard let k = UInt64(value), k < UInt64(Int.max / 2) else { fail("--start wants a non-negative integer, not '\(value)'") }
        startID = k
    default:
        fail("unknown option '\(flag)' (see --help)")
    }
}
guard let recordCount = count else { usage() }

/// The loop lives in a function so that generator and buffer are locals: top-level variables
/// are globals, and every access to a global var pays a dynamic exclusivity check.
func run(ids: Range<UInt64>, format: Format, seed: UInt64, tenant: String, duplicatePercent: Double) {
    var generator = Generator(seed: seed, tenant: tenant, duplicatePercent: duplicatePercent)
    var output = Output()
    if format != .ndjson { output.literal(Generator.csvHeader) }
    for id in ids {
        generator.build(id)
        switch format {
        case .ndjson: generator.writeJSON(&output)
        case .csv: generator.writeCSV(&output)
        case .csvExport: generator.writeCSV(&output, asExported: true)
        }
        output.flushIfNearlyFull()
    }
    output.flush()
}

signal(SIGPIPE, SIG_IGN) // a closed reader shows up as EPIPE, handled in Output.flush
run(ids: startID ..< startID + UInt64(recordCount), format: format, seed: seed, tenant: tenant,
    duplicatePercent: duplicatePercent)
