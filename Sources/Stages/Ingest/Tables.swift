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
        table[compact(header)]
    }

    static let table: [String: ContactField] = {
        var t: [String: ContactField] = [:]
        func add(_ field: ContactField, _ names: String) {
            for name in names.split(separator: " ") { t[compact(String(name))] = field }
        }
        add(.tenant, "tenant tenant_id tenantid")
        add(.email, """
            email emails e-mail email_address emailaddress mail mail_address courriel adresse_email adresse_e-mail \
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
            name full_name fullname contact_name nom_complet nombre_completo nome_completo \
            vollstandiger_name фио полное_имя 姓名 الاسم الاسم_الكامل नाम पूरा_नाम
            """)
        add(.company, """
            company company_name organization organisation org societe entreprise raison_sociale firma \
            unternehmen firmenname empresa compania companhia компания организация 公司 公司名称 单位 \
            الشركة المؤسسة कंपनी संगठन business employer
            """)
        add(.website, """
            website web_site web url site site_web site_internet webseite homepage home_page sitio_web \
            pagina_web sitio сайт веб-сайт 网站 网址 الموقع الموقع_الإلكتروني वेबसाइट
            """)
        add(.phone, """
            phone phone_number phonenumber telephone tel telefon telefonnummer telefono telefone mobile \
            mobile_phone cell cellphone portable handy celular movil numero_de_telephone телефон 电话 手机 \
            الهاتف الجوال फोन फ़ोन मोबाइल
            """)
        add(.country, """
            country country_code pays land pais страна 国家 国家/地区 الدولة البلد देश
            """)
        add(.city, """
            city town ville stadt ort ciudad cidade город 城市 المدينة शहर
            """)
        add(.language, """
            language lang locale langue sprache idioma lingua язык 语言 اللغة भाषा
            """)
        add(.category, """
            category categorie kategorie categoria категория 类别 分类 الفئة श्रेणी profession metier
            """)
        add(.tags, """
            tags tag labels label etiquettes etiquette etiquetas schlagworter schlagwort теги метки 标签 الوسوم टैग segments
            """)
        add(.source, "source quelle fuente fonte источник 来源 المصدر स्रोत")
        add(.linkedinURL, "linkedin linkedin_url linkedin_profile")
        add(.facebookURL, "facebook facebook_url")
        add(.instagramURL, "instagram instagram_url")
        add(.twitterURL, "twitter twitter_url x_url")
        add(.status, "status statut estado статус")
        add(.createdAt, "created_at createdat created date_added signup_date subscribed_at")
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
        if let c = table[key] { return c }
        // A locale tag: `fr-FR`, `pt_BR`, `zh-Hans-CN` → its first subtag.
        let slug = Slug.make(text)
        if let dash = slug.firstIndex(of: "-") {
            let first = String(slug[..<dash])
            if first.utf8.count <= 3, let c = table[first] { return c }
        }
        return nil
    }

    static let table: [String: String] = {
        var t: [String: String] = [:]
        func add(_ code: String, _ names: String) {
            t[code] = code
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

/// Country names and codes → ISO 3166-1 alpha-2 (upper case).
public enum CountryCodes {
    /// The alpha-2 code for `FR`, `fra`, `France`, `Frankreich`, `Франция`, `法国`…, or nil.
    public static func code(for text: String) -> String? {
        var trimmed = Substring(text)
        while let f = trimmed.first, f.isWhitespace { trimmed.removeFirst() }
        while let l = trimmed.last, l.isWhitespace { trimmed.removeLast() }
        if trimmed.utf8.count == 2 {
            let upper = trimmed.uppercased()
            if alpha2.contains(upper) { return upper }
            if upper == "UK" { return "GB" }
        }
        return names[HeaderAliases.compact(String(trimmed))]
    }

    static let alpha2: Set<String> = Set("""
        AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
        CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
        GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO \
        JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR \
        MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO \
        RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV \
        TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
        """.split(separator: " ").map(String.init))

    /// `CODE:name,name,…` entries; names in the reference languages for the countries outreach
    /// meets most, English names and alpha-3 codes for the rest.
    static let names: [String: String] = {
        var t: [String: String] = [:]
        let entries = """
        FR:fra,france,francia,frankreich,frança,франция,法国,法國,فرنسا,फ़्रांस,फ्रांस|\
        GB:gbr,united kingdom,uk,great britain,britain,england,scotland,wales,royaume-uni,angleterre,reino unido,vereinigtes königreich,großbritannien,england,великобритания,英国,المملكة المتحدة,ब्रिटेन,यूनाइटेड किंगडम|\
        US:usa,united states,united states of america,u.s.a.,u.s.,america,états-unis,etats unis,estados unidos,eeuu,vereinigte staaten,usa,сша,соединённые штаты,美国,الولايات المتحدة,अमेरिका,संयुक्त राज्य अमेरिका|\
        ES:esp,spain,espagne,españa,spanien,espanha,испания,西班牙,إسبانيا,स्पेन|\
        DE:deu,germany,allemagne,alemania,deutschland,alemanha,германия,德国,ألمانيا,जर्मनी|\
        PT:prt,portugal,португалия,葡萄牙,البرتغال,पुर्तगाल|\
        IT:ita,italy,italie,italia,italien,itália,италия,意大利,إيطاليا,इटली|\
        BE:bel,belgium,belgique,bélgica,belgien,бельгия,比利时,بلجيكا,बेल्जियम|\
        CH:che,switzerland,suisse,suiza,schweiz,suíça,svizzera,швейцария,瑞士,سويسرا,स्विट्ज़रलैंड|\
        LU:lux,luxembourg,luxemburgo,luxemburg,люксембург,卢森堡,لوكسمبورغ|\
        NL:nld,netherlands,the netherlands,holland,pays-bas,países bajos,niederlande,holanda,нидерланды,荷兰,هولندا,नीदरलैंड|\
        AT:aut,austria,autriche,österreich,áustria,австрия,奥地利,النمسا|\
        CA:can,canada,canadá,kanada,канада,加拿大,كندا,कनाडा|\
        MX:mex,mexico,méxico,mexique,mexiko,мексика,墨西哥,المكسيك,मेक्सिको|\
        BR:bra,brazil,brésil,brasil,brasilien,бразилия,巴西,البرازيل,ब्राज़ील|\
        AR:arg,argentina,argentine,argentinien,аргентина,阿根廷,الأرجنتين|\
        CL:chl,chile,chili,чили,智利,تشيلي|\
        CO:col,colombia,colombie,kolumbien,colômbia,колумбия,哥伦比亚,كولومبيا|\
        PE:per,peru,pérou,perú,перу,秘鲁,بيرو|\
        RU:rus,russia,russian federation,russie,rusia,russland,rússia,россия,российская федерация,俄罗斯,روسيا,रूस|\
        UA:ukr,ukraine,ucrania,ucrânia,украина,україна,乌克兰,أوكرانيا|\
        BY:blr,belarus,biélorussie,беларусь,白俄罗斯|\
        KZ:kaz,kazakhstan,kazajistán,kasachstan,казахстан,哈萨克斯坦|\
        CN:chn,china,chine,chinа,китай,中国,中國,الصين,चीन|\
        HK:hkg,hong kong,香港|TW:twn,taiwan,台湾,台灣|SG:sgp,singapore,singapour,singapur,新加坡,سنغافورة|\
        JP:jpn,japan,japon,japón,japão,япония,日本,اليابان,जापान|\
        KR:kor,south korea,korea,corée du sud,corea del sur,südkorea,южная корея,韩国,كوريا الجنوبية|\
        IN:ind,india,inde,indien,índia,индия,印度,الهند,भारत|\
        PK:pak,pakistan,пакистан,巴基斯坦,باكستان,पाकिस्तान|BD:bgd,bangladesh,бангладеш,孟加拉国,بنغلاديش,बांग्लादेश|\
        NP:npl,nepal,népal,непал,尼泊尔,नेपाल|LK:lka,sri lanka,श्रीलंका|\
        TH:tha,thailand,thaïlande,tailandia,таиланд,泰国,تايلاند,थाईलैंड|VN:vnm,vietnam,viet nam,вьетнам,越南,فيتنام|\
        ID:idn,indonesia,indonésie,indonesien,индонезия,印度尼西亚,إندونيسيا|MY:mys,malaysia,malaisie,малайзия,马来西亚,ماليزيا|\
        PH:phl,philippines,filipinas,филиппины,菲律宾,الفلبين|AU:aus,australia,australie,australien,австралия,澳大利亚,أستراليا,ऑस्ट्रेलिया|\
        NZ:nzl,new zealand,nouvelle-zélande,nueva zelanda,новая зеландия,新西兰|\
        MA:mar,morocco,maroc,marruecos,marokko,марокко,摩洛哥,المغرب|DZ:dza,algeria,algérie,argelia,algerien,алжир,阿尔及利亚,الجزائر|\
        TN:tun,tunisia,tunisie,túnez,tunesien,тунис,突尼斯,تونس|EG:egy,egypt,égypte,egipto,ägypten,египет,埃及,مصر|\
        LB:lbn,lebanon,liban,líbano,libanon,ливан,黎巴嫩,لبنان|SA:sau,saudi arabia,arabie saoudite,arabia saudita,saudi-arabien,саудовская аравия,沙特阿拉伯,السعودية,المملكة العربية السعودية|\
        AE:are,united arab emirates,uae,emirats arabes unis,émirats arabes unis,emiratos árabes unidos,оаэ,阿联酋,الإمارات,الإمارات العربية المتحدة|\
        QA:qat,qatar,катар,卡塔尔,قطر|KW:kwt,kuwait,koweït,кувейт,科威特,الكويت|JO:jor,jordan,jordanie,jordania,иордания,约旦,الأردن|\
        IL:isr,israel,israël,израиль,以色列|TR:tur,turkey,türkiye,turquie,turquía,türkei,турция,土耳其,تركيا|\
        IR:irn,iran,иран,伊朗,إيران|IQ:irq,iraq,irak,ирак,伊拉克,العراق|SY:syr,syria,syrie,siria,сирия,叙利亚,سوريا|\
        SN:sen,senegal,sénégal,сенегал,塞内加尔,السنغال|CI:civ,ivory coast,côte d'ivoire,cote d ivoire,costa de marfil,кот-д'ивуар,科特迪瓦,ساحل العاج|\
        CM:cmr,cameroon,cameroun,camerún,камерун,喀麦隆|NG:nga,nigeria,nigéria,нигерия,尼日利亚,نيجيريا|\
        ZA:zaf,south africa,afrique du sud,sudáfrica,südafrika,юар,南非,جنوب أفريقيا|KE:ken,kenya,кения,肯尼亚|\
        MG:mdg,madagascar,мадагаскар|MU:mus,mauritius,maurice,île maurice|RE:reu,réunion,la réunion|\
        IE:irl,ireland,irlande,irlanda,irland,ирландия,爱尔兰|PL:pol,poland,pologne,polonia,polen,польша,波兰|\
        CZ:cze,czech republic,czechia,république tchèque,tchéquie,chequia,tschechien,чехия,捷克|\
        SE:swe,sweden,suède,suecia,schweden,швеция,瑞典|NO:nor,norway,norvège,noruega,norwegen,норвегия,挪威|\
        DK:dnk,denmark,danemark,dinamarca,dänemark,дания,丹麦|FI:fin,finland,finlande,finlandia,finnland,финляндия,芬兰|\
        GR:grc,greece,grèce,grecia,griechenland,греция,希腊,اليونان|RO:rou,romania,roumanie,rumania,rumänien,румыния,罗马尼亚|\
        HU:hun,hungary,hongrie,hungría,ungarn,венгрия,匈牙利|BG:bgr,bulgaria,bulgarie,bulgarien,болгария|\
        HR:hrv,croatia,croatie,croacia,kroatien,хорватия|RS:srb,serbia,serbie,serbien,сербия|\
        MC:mco,monaco,монако|AD:and,andorra,andorre|MT:mlt,malta,malte|CY:cyp,cyprus,chypre,chipre,zypern,кипр|\
        IS:isl,iceland,islande|EE:est,estonia,estonie|LV:lva,latvia,lettonie|LT:ltu,lithuania,lituanie|\
        SK:svk,slovakia,slovaquie|SI:svn,slovenia,slovénie|GE:geo,georgia,géorgie,грузия|AM:arm,armenia,arménie,армения|\
        AZ:aze,azerbaijan,azerbaïdjan,азербайджан|UZ:uzb,uzbekistan,ouzbékistan,узбекистан|\
        CU:cub,cuba,куба|DO:dom,dominican republic,république dominicaine,república dominicana|\
        VE:ven,venezuela,венесуэла|EC:ecu,ecuador,équateur|UY:ury,uruguay|PY:pry,paraguay|BO:bol,bolivia,bolivie|\
        CR:cri,costa rica|PA:pan,panama,panamá|GT:gtm,guatemala|HT:hti,haiti,haïti|\
        GP:glp,guadeloupe|MQ:mtq,martinique|GF:guf,french guiana,guyane|NC:ncl,new caledonia,nouvelle-calédonie|PF:pyf,french polynesia,polynésie française
        """
        for entry in entries.split(separator: "|") {
            let parts = entry.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let code = String(parts[0]).trimmingSpaces
            for name in parts[1].split(separator: ",") {
                t[HeaderAliases.compact(String(name))] = code
            }
        }
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
