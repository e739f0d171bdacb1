/// A mail provider as people type it: the name (the domain's first label) and the real endings
/// it serves addresses under.
public struct MailProvider: Sendable {
    /// How sure a wrong ending after the provider's exact name is a typo.
    public enum Kind: Sendable {
        /// A coined name serving the world from these domains only: any other ending is a typo
        /// (`gmail.fr`, `gmail.com.br` → `gmail.com`).
        case global
        /// A coined name with country domains: a wrong ending that is no real top-level domain
        /// is corrected to the nearest real one (`hotmail.fe` is ambiguous: nothing); a real
        /// top-level domain only when a letter was left out, added, doubled or swapped
        /// (`hotmail.cm`, `laposte.ne`), as it may be a country domain this table lacks.
        case regional
        /// A common word or a short name (`orange`, `free`, `live`, `web`, `gmx`): other owners use
        /// it under other endings, so only an ending that is no real top-level domain is corrected
        /// (`orange.f`, `free.rf`, `web.ed`), never a real one (`orange.es`, `free.de`).
        case word
    }

    public var name: String
    /// Real endings, the default (most used) first: `com`, `fr`, `co.uk`.
    public var endings: [String]
    public var kind: Kind

    public init(_ name: String, _ kind: Kind, _ endings: String) {
        self.name = name
        self.kind = kind
        self.endings = endings.split(separator: " ").map(String.init)
    }

    public var domains: [String] { endings.map { name + "." + $0 } }
}

extension BuiltinLists {
    /// The providers whose addresses are worth correcting towards, for the markets of the nine
    /// languages (fr en es de pt ru zh hi ar) and their neighbours: the international ones with
    /// their country domains, then by country.
    public static let mailProviders: [MailProvider] = [
        // Google, Microsoft, Yahoo, Apple, AOL, Proton, Zoho, Tuta, GMX/Mail.com
        MailProvider("gmail", .global, "com"),
        MailProvider("googlemail", .global, "com"),
        MailProvider("hotmail", .regional, """
            com fr co.uk de it es be ca nl ch se fi dk no gr com.br com.ar com.mx co.jp co.za com.au \
            co.nz co.il com.tr co.in ru
            """),
        MailProvider("outlook", .regional, """
            com fr de it es be at pt ie nl cz dk hu sk lv com.br com.ar com.au com.tr com.vn com.gr \
            com.pe cl in jp kr my ph sa sg co.id co.il co.nz co.th
            """),
        MailProvider("live", .word, """
            com fr co.uk de it nl be ca at dk se no ie in jp ru cl cn com.au com.mx com.ar com.pt com.sg co.za
            """),
        MailProvider("msn", .word, "com"),
        MailProvider("windowslive", .global, "com"),
        MailProvider("yahoo", .regional, """
            com fr co.uk de es it ca be ie nl at ch pt gr se dk no fi pl ro cz hu in co.in co.jp com.br \
            com.mx com.ar com.co com.au co.nz com.sg com.hk com.tw co.id com.ph com.vn com.my co.th \
            co.za com.tr cn com.cn
            """),
        MailProvider("ymail", .global, "com"),
        MailProvider("rocketmail", .global, "com"),
        MailProvider("icloud", .global, "com"),
        MailProvider("me", .word, "com"),
        MailProvider("mac", .word, "com"),
        MailProvider("aol", .word, "com fr de co.uk it"),
        MailProvider("aim", .word, "com"),
        MailProvider("protonmail", .global, "com ch"),
        MailProvider("proton", .word, "me"),
        MailProvider("pm", .word, "me"),
        MailProvider("zoho", .regional, "com eu in"),
        MailProvider("zohomail", .regional, "com eu in"),
        MailProvider("tutanota", .regional, "com de"),
        MailProvider("tuta", .word, "io"),
        MailProvider("gmx", .word, "de net com at ch fr"),
        MailProvider("mail", .word, "ru com de"),
        // France
        MailProvider("orange", .word, "fr"),
        MailProvider("wanadoo", .regional, "fr"),
        MailProvider("free", .word, "fr"),
        MailProvider("sfr", .word, "fr"),
        MailProvider("neuf", .word, "fr"),
        MailProvider("laposte", .regional, "net fr"),
        MailProvider("bbox", .word, "fr"),
        MailProvider("numericable", .regional, "fr"),
        MailProvider("club-internet", .regional, "fr"),
        MailProvider("aliceadsl", .regional, "fr"),
        MailProvider("voila", .word, "fr"),
        // United Kingdom, United States
        MailProvider("btinternet", .regional, "com"),
        MailProvider("virginmedia", .regional, "com"),
        MailProvider("ntlworld", .regional, "com"),
        MailProvider("talktalk", .regional, "net"),
        MailProvider("sky", .word, "com"),
        MailProvider("comcast", .regional, "net"),
        MailProvider("verizon", .regional, "net"),
        MailProvider("sbcglobal", .regional, "net"),
        MailProvider("bellsouth", .regional, "net"),
        MailProvider("att", .word, "net"),
        // Spain, Latin America
        MailProvider("telefonica", .regional, "net"),
        MailProvider("movistar", .regional, "es"),
        MailProvider("terra", .word, "es com.br com"),
        // Portugal, Brazil
        MailProvider("sapo", .word, "pt"),
        MailProvider("uol", .word, "com.br"),
        MailProvider("bol", .word, "com.br"),
        MailProvider("globo", .word, "com"),
        // Germany
        MailProvider("web", .word, "de"),
        MailProvider("t-online", .regional, "de"),
        MailProvider("freenet", .regional, "de"),
        MailProvider("posteo", .regional, "de net"),
        MailProvider("arcor", .regional, "de"),
        MailProvider("mailbox", .word, "org"),
        // Italy
        MailProvider("libero", .regional, "it"),
        MailProvider("virgilio", .regional, "it"),
        MailProvider("tiscali", .regional, "it co.uk"),
        MailProvider("alice", .word, "it"),
        MailProvider("tim", .word, "it"),
        MailProvider("fastwebnet", .regional, "it"),
        MailProvider("email", .word, "it"),
        // Russia, Ukraine
        MailProvider("yandex", .regional, "ru com by kz ua com.tr"),
        MailProvider("ya", .word, "ru"),
        MailProvider("bk", .word, "ru"),
        MailProvider("list", .word, "ru"),
        MailProvider("inbox", .word, "ru"),
        MailProvider("rambler", .regional, "ru"),
        MailProvider("ukr", .word, "net"),
        // China
        MailProvider("qq", .word, "com"),
        MailProvider("foxmail", .global, "com"),
        MailProvider("163", .word, "com"),
        MailProvider("126", .word, "com"),
        MailProvider("yeah", .word, "net"),
        MailProvider("sina", .word, "com cn"),
        MailProvider("sohu", .word, "com"),
        MailProvider("aliyun", .global, "com"),
        MailProvider("139", .word, "com"),
        // India
        MailProvider("rediffmail", .global, "com"),
        MailProvider("rediff", .word, "com"),
        // Arabic-speaking markets
        MailProvider("maktoob", .global, "com"),
        MailProvider("menara", .word, "ma"),
        MailProvider("topnet", .word, "tn"),
        // Korea
        MailProvider("naver", .global, "com"),
        MailProvider("hanmail", .global, "net"),
        MailProvider("daum", .word, "net"),
    ]

    /// Real domains one or two letters from a provider that the rules alone would "correct":
    /// never touched (the disposable and `--allow` lists are left alone too).
    public static let realLookalikeDomains: [String] = [
        "libre.it", "libre.fr", "orano.fr", "gmc.com", "hotmart.com", "inbox.com", "inbox.lv", "inbox.lt",
        "mail.ee", "mail.bg", "email.cz", "seznam.cz", "wp.pl", "o2.pl", "onet.pl", "op.pl", "tin.it",
        "sina.cn", "yahoo-inc.com", "ramblers.org", "icloud.com.cn",
    ]
}
