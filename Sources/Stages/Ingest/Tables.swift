import Foundation
import MailpipeCore

/// The canonical contact fields ingest can fill (docs/design.md §2), in output order, plus the
/// pseudo-fields a column may map to (`full_name` is split, `tenant` is checked, `tags` split).
public enum ContactField: String, CaseIterable, Sendable {
    case tenant, email, firstName = "first_name", lastName = "last_name", fullName = "full_name"
    case company, website, phone, country, city, language, category, tags, source
    case linkedinURL = "linkedin_url", facebookURL = "facebook_url", instagramURL = "instagram_url", twitterURL = "twitter_url"
    case status, createdAt = "created_at", custom

    /// Fields a `--map` may name (every case; `custom.NAME` and `ignore` are handled apart).
    public static func named(_ name: String) -> ContactField? { ContactField(rawValue: name) }
}

/// Header aliases in the reference languages. Keys are compared in their "compact" form:
/// the header's slug without hyphens (`E-mail Address` → `emailaddress`, `Prénom` → `prenom`,
/// `first_name` and `firstName` → `firstname`).
public enum HeaderAliases {
    public static func compact(_ header: String) -> String {
        var slug = Slug.make(header)
        slug.removeAll { $0 == "-" }
        return slug
    }

    public static func field(forHeader header: String) -> ContactField? {
        if case .field(let f)? = target(forHeader: header) { return f }
        return nil
    }

    /// What a header means: a field, or a column whose value stops mail (`UNSUB_TIME`,
    /// `EMAIL_BLACKLISTED`…); nil when it is none of those (the column goes to `custom`).
    /// Numbered columns of multi-value layouts (`E-mail 2 - Value`, `E-mail 3 Address`,
    /// `Phone 1 - Value`, `Address 1 - City`) are read without their numbers.
    public static func target(forHeader header: String) -> ColumnTarget? {
        let key = compact(header)
        if let f = table[key] { return .field(f) }
        if let s = statusColumns[key] { return .status(s.status, s.signal) }
        var unnumbered = key
        unnumbered.removeAll { $0.isASCII && $0.isNumber }
        if unnumbered != key, !unnumbered.isEmpty {
            if let f = table[unnumbered] ?? numberedTable[unnumbered] { return .field(f) }
        }
        return nil
    }

    /// Column names of multi-value layouts once their numbers are removed (Google Contacts'
    /// `E-mail 1 - Value`, `Phone 2 - Value`, `Address 1 - Country`, `Organization 1 - Name`,
    /// `Website 1 - Value`; Outlook's `E-mail 2 Address`).
    static let numberedTable: [String: ContactField] = [
        "emailvalue": .email, "emailaddress": .email, "phonevalue": .phone, "websitevalue": .website,
        "addresscity": .city, "addresscountry": .country, "organizationname": .company,
    ]

    /// Columns that say a contact must not be mailed (docs/ingest-dedupe.md, "Statuses from other tools").
    static let statusColumns: [String: (status: ContactStatus, signal: StatusSignal)] = [
        // Mailchimp's unsubscribed and cleaned exports.
        "unsubtime": (.unsubscribed, .whenPresent), "cleantime": (.bounced, .whenPresent),
        // Brevo.
        "emailblacklisted": (.blacklisted, .whenTrue), "emailblocklisted": (.blacklisted, .whenTrue),
        "blacklisted": (.blacklisted, .whenTrue), "blocklisted": (.blacklisted, .whenTrue),
        // HubSpot.
        "unsubscribedfromallemail": (.unsubscribed, .whenTrue), "emailhardbouncereason": (.bounced, .whenPresent),
        "markedasspam": (.complained, .whenTrue),
        // Generic flags.
        "unsubscribed": (.unsubscribed, .whenTrue), "optedout": (.unsubscribed, .whenTrue), "optout": (.unsubscribed, .whenTrue),
        "bounced": (.bounced, .whenTrue), "hardbounce": (.bounced, .whenTrue), "complained": (.complained, .whenTrue),
    ]

    static let table: [String: ContactField] = {
        var t: [String: ContactField] = [:]
        func add(_ field: ContactField, _ names: String) {
            for name in names.split(separator: " ") { t[compact(String(name))] = field }
        }
        add(.tenant, "tenant tenant_id tenantid")
        add(.email, """
            email emails e-mail email_address emailaddress mail mail_address primary_email courriel adresse_email adresse_e-mail \
            adresse_mail adresse_courriel e-mail-adresse emailadresse mailadresse correo correo_electronico \
            direccion_de_correo endereco_de_email endereco_email e-mail_address почта электронная_почта емейл имейл \
            邮箱 电子邮件 电子邮箱 邮件 البريد البريد_الإلكتروني البريد_الالكتروني ईमेल ईमेल_पता
            """)
        add(.firstName, """
            first_name firstname first fname given_name givenname forename prenom prénom vorname nombre \
            primer_nombre nome primeiro_nome имя 名 名字 الاسم_الأول الاسم_الاول पहला_नाम
            """)
        add(.lastName, """
            last_name lastname last lname surname family_name familyname nom nom_de_famille nachname \
            familienname apellido apellidos sobrenome ultimo_nome фамилия 姓 姓氏 اسم_العائلة اللقب उपनाम कुलनाम
            """)
        add(.fullName, """
            name full_name fullname contact_name display_name nom_complet nombre_completo nome_completo \
            vollstandiger_name фио полное_имя 姓名 الاسم الاسم_الكامل नाम पूरा_नाम
            """)
        add(.company, """
            company company_name organization organisation organization_name org societe entreprise raison_sociale firma \
            unternehmen firmenname empresa compania companhia компания организация 公司 公司名称 单位 \
            الشركة المؤسسة कंपनी संगठन business employer
            """)
        add(.website, """
            website web_site web url site web_page personal_web_page site_web site_internet webseite homepage home_page sitio_web \
            pagina_web sitio сайт веб-сайт 网站 网址 الموقع الموقع_الإلكتروني वेबसाइट
            """)
        add(.phone, """
            phone phone_number phonenumber telephone tel telefon telefonnummer telefono telefone mobile \
            phones phone_numbers telephones mobile_phone mobile_phone_number mobile_number business_phone home_phone primary_phone other_phone \
            company_main_phone work_phone sms whatsapp cell cellphone portable handy celular movil numero_de_telephone телефон 电话 手机 \
            الهاتف الجوال फोन फ़ोन मोबाइल
            """)
        add(.country, """
            country country_code country/region country_region cc business_country/region home_country/region \
            other_country/region pays land pais страна 国家 国家/地区 الدولة البلد देश
            """)
        add(.city, """
            city town business_city home_city other_city ville stadt ort ciudad cidade город 城市 المدينة शहर
            """)
        add(.language, """
            language languages lang locale preferred_language spoken_languages langue sprache idioma lingua язык 语言 اللغة भाषा
            """)
        add(.category, """
            category categorie kategorie categoria категория 类别 分类 الفئة श्रेणी profession metier
            """)
        add(.tags, """
            tags tag labels label categories group_membership etiquettes etiquette etiquetas schlagworter schlagwort теги метки 标签 الوسوم टैग segments
            """)
        add(.source, "source quelle fuente fonte источник 来源 المصدر स्रोत")
        add(.linkedinURL, "linkedin linkedin_url linkedin_profile profile_url")
        add(.facebookURL, "facebook facebook_url")
        add(.instagramURL, "instagram instagram_url")
        add(.twitterURL, "twitter twitter_url x_url")
        add(.status, "status statut estado статус subscriber_status member_status")
        add(.createdAt, "created_at createdat created date_added signup_date subscribed_at create_date")
        add(.custom, "custom")
        return t
    }()
}

/// Language names and codes → the nine codes of docs/design.md §2.
public enum LanguageCodes {
    public static let codes: Set<String> = ["fr", "en", "es", "de", "pt", "ru", "zh", "hi", "ar"]

    /// The code for a language name or tag (`Français`, `fr-FR`, `FR`, `Deutsch`, `中文`), or nil.
    public static func code(for text: String) -> String? {
        let key = HeaderAliases.compact(text)
        if key.isEmpty { return nil }
        if let c = known(key) { return c }
        // A locale tag: `fr-FR`, `pt_BR`, `zh-Hans-CN` → its first subtag.
        let slug = Slug.make(text)
        if let dash = slug.firstIndex(of: "-") {
            let first = String(slug[..<dash])
            if first.utf8.count <= 3, let c = known(first) { return c }
        }
        // A name with its variety: `Portuguese - Brazil`, `English (United States)`, `Chinese, Simplified`.
        if let cut = text.firstIndex(where: { $0 == "(" || $0 == "," || $0 == "-" || $0 == "/" }), cut != text.startIndex {
            let name = HeaderAliases.compact(String(text[..<cut]))
            if name.utf8.count > 3, let c = table[name] { return c }
        }
        return nil
    }

    /// A code is itself; anything else is looked for in the names (built the first time a name
    /// comes: CLDR's names cost 6.6 M instructions, and a language column of codes never needs them).
    private static func known(_ key: String) -> String? {
        codes.contains(key) ? key : table[key]
    }

    /// Names → codes (a code's own entry is `known`'s).
    static let table: [String: String] = {
        var t: [String: String] = [:]
        // CLDR's names of each language, in itself and in the display languages of CountryCodes.
        for code in codes.sorted() {
            for display in CountryCodes.displayLanguages + [code] {
                if let name = Locale(identifier: display).localizedString(forLanguageCode: code) {
                    t[HeaderAliases.compact(name)] = code
                }
            }
            if let alpha3 = Locale.LanguageCode(code).identifier(.alpha3) { t[alpha3] = code }
        }
        // Names CLDR does not give (colloquial, bibliographic codes, variants).
        func add(_ code: String, _ names: String) {
            for name in names.split(separator: " ") { t[HeaderAliases.compact(String(name))] = code }
        }
        add("fr", "fra fre french francais français franzosisch französisch frances francés francês francese французский 法语 法文 فرنسي الفرنسية फ्रेंच फ़्रेंच फ्रांसीसी")
        add("en", "eng english anglais englisch ingles inglés inglês inglese английский 英语 英文 إنجليزي الإنجليزية الانجليزية अंग्रेज़ी अंग्रेजी इंग्लिश")
        add("es", "spa spanish espagnol spanisch espanol español castellano espanhol spagnolo испанский 西班牙语 西语 إسباني الإسبانية स्पेनिश")
        add("de", "deu ger german allemand deutsch aleman alemán alemao alemão tedesco немецкий 德语 德文 ألماني الألمانية جرماني जर्मन")
        add("pt", "por portuguese portugais portugiesisch portugues portugués português portoghese португальский 葡萄牙语 برتغالي البرتغالية पुर्तगाली")
        add("ru", "rus russian russe russisch ruso russo русский 俄语 俄文 روسي الروسية रूसी")
        add("zh", "zho chi chinese chinois chinesisch chino chines chinês cinese mandarin китайский 中文 汉语 漢語 华语 華語 普通话 صيني الصينية चीनी")
        add("hi", "hin hindi хинди 印地语 印地文 هندي الهندية हिन्दी हिंदी")
        add("ar", "ara arabic arabe árabe arabisch arabo арабский 阿拉伯语 阿拉伯文 عربي العربية अरबी")
        return t
    }()
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}

/// The two sets behind NFC's quick check (UAX #15), as this Swift's own NFC sees them:
/// characters NFC replaces wherever they stand (NFC_Quick_Check=No), and characters that may
/// compose with the one before them (the last part of a canonical composite, =Maybe).
/// `NormalizeTests` derives both from the standard library and compares.
public enum NFCQuickCheck {
    public static let replaced: [ClosedRange<UInt32>] = [
        0x340...0x341, 0x343...0x344, 0x374...0x374, 0x37e...0x37e, 0x387...0x387, 0x958...0x95f, 0x9dc...0x9dd,
        0x9df...0x9df, 0xa33...0xa33, 0xa36...0xa36, 0xa59...0xa5b, 0xa5e...0xa5e, 0xb5c...0xb5d, 0xf43...0xf43,
        0xf4d...0xf4d, 0xf52...0xf52, 0xf57...0xf57, 0xf5c...0xf5c, 0xf69...0xf69, 0xf73...0xf73, 0xf75...0xf76,
        0xf78...0xf78, 0xf81...0xf81, 0xf93...0xf93, 0xf9d...0xf9d, 0xfa2...0xfa2, 0xfa7...0xfa7, 0xfac...0xfac,
        0xfb9...0xfb9, 0x1f71...0x1f71, 0x1f73...0x1f73, 0x1f75...0x1f75, 0x1f77...0x1f77, 0x1f79...0x1f79,
        0x1f7b...0x1f7b, 0x1f7d...0x1f7d, 0x1fbb...0x1fbb, 0x1fbe...0x1fbe, 0x1fc9...0x1fc9, 0x1fcb...0x1fcb,
        0x1fd3...0x1fd3, 0x1fdb...0x1fdb, 0x1fe3...0x1fe3, 0x1feb...0x1feb, 0x1fee...0x1fef, 0x1ff9...0x1ff9,
        0x1ffb...0x1ffb, 0x1ffd...0x1ffd, 0x2000...0x2001, 0x2126...0x2126, 0x212a...0x212b, 0x2329...0x232a,
        0x2adc...0x2adc, 0xf900...0xfa0d, 0xfa10...0xfa10, 0xfa12...0xfa12, 0xfa15...0xfa1e, 0xfa20...0xfa20,
        0xfa22...0xfa22, 0xfa25...0xfa26, 0xfa2a...0xfa6d, 0xfa70...0xfad9, 0xfb1d...0xfb1d, 0xfb1f...0xfb1f,
        0xfb2a...0xfb36, 0xfb38...0xfb3c, 0xfb3e...0xfb3e, 0xfb40...0xfb41, 0xfb43...0xfb44, 0xfb46...0xfb4e,
        0x1d15e...0x1d164, 0x1d1bb...0x1d1c0, 0x2f800...0x2fa1d,
    ]
    public static let composesWithPrevious: [ClosedRange<UInt32>] = [
        0x300...0x304, 0x306...0x30c, 0x30f...0x30f, 0x313...0x314, 0x31b...0x31b, 0x323...0x325, 0x327...0x327,
        0x32d...0x32e, 0x330...0x331, 0x338...0x338, 0x342...0x342, 0x345...0x345, 0x653...0x655, 0x93c...0x93c,
        0x9be...0x9be, 0x9d7...0x9d7, 0xb3e...0xb3e, 0xb56...0xb57, 0xbbe...0xbbe, 0xbd7...0xbd7, 0xc56...0xc56,
        0xcc2...0xcc2, 0xcd5...0xcd6, 0xd3e...0xd3e, 0xd57...0xd57, 0xdca...0xdca, 0xdcf...0xdcf, 0xddf...0xddf,
        0x102e...0x102e, 0x1161...0x1175, 0x11a8...0x11c2, 0x1b35...0x1b35, 0x3099...0x309a, 0x110ba...0x110ba,
        0x11127...0x11127, 0x1133e...0x1133e, 0x11357...0x11357, 0x113b8...0x113b8, 0x113bb...0x113bb,
        0x113c2...0x113c2, 0x113c9...0x113c9, 0x114b0...0x114b0, 0x114ba...0x114ba, 0x114bd...0x114bd,
        0x115af...0x115af, 0x11930...0x11930, 0x1611e...0x16120, 0x16129...0x16129, 0x16d67...0x16d67,
    ]

    /// Both sets below U+10000 as a bitmap (8 KiB); the few characters above are searched.
    private static let basicPlane: [UInt64] = {
        var bits = [UInt64](repeating: 0, count: 0x10000 / 64)
        for r in replaced + composesWithPrevious where r.lowerBound < 0x10000 {
            for v in r where v < 0x10000 { bits[Int(v >> 6)] |= 1 << (v & 63) }
        }
        return bits
    }()

    /// Whether NFC may change `v`, or join it to the character before.
    @inline(__always) static func changesOrComposes(_ v: UInt32) -> Bool {
        if v < 0x10000 { return basicPlane[Int(v >> 6)] & (1 << (v & 63)) != 0 }
        return replaced.contains { $0.contains(v) } || composesWithPrevious.contains { $0.contains(v) }
    }
}
