/// The built-in knowledge `validate` ships with. Each list is deliberately conservative:
/// widely known entries only, so that nothing real is flagged by accident.
public enum BuiltinLists {
    /// Widely known throwaway-address providers (the public disposable-email-domains list holds
    /// thousands more: pass it with `--disposable-list`). Every parent domain is checked too.
    public static let disposableDomains: [String] = [
        "0-mail.com", "0815.ru", "10minutemail.co.uk", "10minutemail.com", "10minutemail.net",
        "1secmail.com", "1secmail.net", "1secmail.org", "20minutemail.com", "33mail.com",
        "anonbox.net", "armyspy.com", "binkmail.com", "bobmail.info", "burnermail.io", "byom.de",
        "chammy.info", "cool.fr.nf", "courriel.fr.nf", "crazymailing.com", "cuvox.de", "dayrep.com",
        "devnullmail.com", "discard.email", "discardmail.com", "discardmail.de", "dispostable.com",
        "dropmail.me", "einrot.com", "emailfake.com", "emailondeck.com", "emltmp.com", "fakeinbox.com",
        "fakemail.net", "fakemailgenerator.com", "fleckens.hu", "getairmail.com", "getnada.com",
        "guerrillamail.biz", "guerrillamail.com", "guerrillamail.de", "guerrillamail.info",
        "guerrillamail.net", "guerrillamail.org", "guerrillamailblock.com", "grr.la", "gustr.com",
        "harakirimail.com", "inboxkitten.com", "incognitomail.org", "jetable.com", "jetable.fr.nf",
        "jetable.net", "jetable.org", "jourrapide.com", "kurzepost.de", "letthemeatspam.com",
        "mail-temporaire.fr", "mail.tm", "mailcatch.com", "maildrop.cc", "mailexpire.com",
        "mailforspam.com", "mailinater.com", "mailinator.com", "mailinator.net", "mailinator2.com",
        "mailnesia.com", "mailnull.com", "mailtemp.info", "mega.zik.dj", "meltmail.com",
        "minuteinbox.com", "mintemail.com", "moakt.com", "mohmal.com", "moncourrier.fr.nf",
        "monemail.fr.nf", "monmail.fr.nf", "mytemp.email", "nada.email", "nomail.xl.cx",
        "nospam.ze.tc", "notmailinator.com", "objectmail.com", "pokemail.net", "proxymail.eu",
        "rcpt.at", "reallymymail.com", "rhyta.com", "safetymail.info", "sharklasers.com",
        "sofort-mail.de", "sogetthis.com", "spam4.me", "spambog.com", "spambog.de", "spambox.us",
        "spamex.com", "spamfree24.org", "spamgourmet.com", "spamherelots.com", "speed.1s.fr",
        "superrito.com", "suremail.info", "teleworm.us", "temp-mail.io", "temp-mail.org",
        "temp-mail.ru", "tempail.com", "tempinbox.com", "tempmail.com", "tempmail.net",
        "tempmail.plus", "tempmailaddress.com", "tempmailo.com", "tempr.email",
        "thisisnotmyrealemail.com", "throwawaymail.com", "tmpmail.net", "tmpmail.org",
        "tradermail.info", "trash-mail.at", "trashmail.at", "trashmail.com", "trashmail.de",
        "trashmail.io", "trashmail.me", "trashmail.net", "trashmail.ws", "veryrealemail.com",
        "wegwerfadresse.de", "wegwerfmail.de", "wegwerfmail.net", "wegwerfmail.org", "yopmail.com",
        "yopmail.fr", "yopmail.net", "zippymail.info",
    ]

    /// Local parts that name a function rather than a person, in English, French, Spanish,
    /// German and Portuguese. Matched on the local part without its `+tag`.
    public static let roleLocalParts: [String] = [
        // English
        "abuse", "accounting", "accounts", "admin", "administrator", "billing", "booking", "bookings",
        "careers", "contact", "contactus", "contact-us", "customercare", "customerservice",
        "customer-service", "do-not-reply", "donotreply", "enquiries", "enquiry", "feedback", "finance",
        "hello", "help", "helpdesk", "hostmaster", "hr", "info", "information", "inquiries", "inquiry",
        "jobs", "legal", "mailer-daemon", "marketing", "media", "news", "newsletter", "no-reply",
        "no_reply", "noreply", "notifications", "office", "orders", "postmaster", "press", "privacy",
        "recruitment", "reservations", "root", "sales", "security", "service", "shop", "staff",
        "support", "team", "webmaster",
        // French
        "accueil", "administratif", "administration", "assistance", "bonjour", "boutique", "commercial",
        "communication", "compta", "comptabilite", "contactez-nous", "direction", "emploi",
        "facturation", "infos", "juridique", "ne-pas-repondre", "nepasrepondre", "noreponse",
        "pas-de-reponse", "presse", "recrutement", "reservation", "rh", "secretariat",
        "service-client", "serviceclient", "standard", "ventes",
        // Spanish
        "administracion", "atencionalcliente", "clientes", "comercial", "contabilidad", "contacto",
        "empleo", "facturacion", "informacion", "no-responder", "noresponder", "oficina", "pedidos",
        "prensa", "recepcion", "reservas", "rrhh", "soporte", "ventas",
        // German
        "anfrage", "anfragen", "bestellung", "bewerbung", "buchhaltung", "buero", "datenschutz",
        "empfang", "impressum", "karriere", "keine-antwort", "keineantwort", "kontakt", "kundendienst",
        "kundenservice", "personal", "post", "rechnung", "sekretariat", "verkauf", "vertrieb", "zentrale",
        // Portuguese
        "administrativo", "atendimento", "contato", "faturamento", "financeiro", "geral", "imprensa",
        "loja", "nao-responda", "naoresponda", "ouvidoria", "recepcao", "sac", "secretaria", "suporte",
        "vendas",
    ]

    /// Mail providers whose domains are worth correcting towards: the big international ones and
    /// the main French, Spanish, German, Italian and Russian ones.
    public static let providerDomains: [String] = [
        // International
        "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com", "msn.com",
        "icloud.com", "me.com", "mac.com", "aol.com", "protonmail.com", "proton.me", "zoho.com",
        "gmx.com", "yahoo.co.uk", "hotmail.co.uk", "outlook.co.uk", "btinternet.com",
        "comcast.net", "verizon.net", "sbcglobal.net", "att.net",
        // France
        "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr", "laposte.net", "neuf.fr", "bbox.fr",
        "numericable.fr", "club-internet.fr", "aliceadsl.fr", "yahoo.fr", "hotmail.fr", "outlook.fr",
        "live.fr", "gmx.fr",
        // Spain
        "yahoo.es", "hotmail.es", "outlook.es", "telefonica.net", "movistar.es", "terra.es",
        // Germany
        "gmx.de", "gmx.net", "web.de", "t-online.de", "freenet.de", "posteo.de", "yahoo.de",
        "hotmail.de", "outlook.de", "arcor.de",
        // Italy
        "libero.it", "virgilio.it", "tiscali.it", "alice.it", "tim.it", "fastwebnet.it", "yahoo.it",
        "hotmail.it", "outlook.it", "email.it",
        // Russia
        "yandex.ru", "yandex.com", "mail.ru", "bk.ru", "list.ru", "inbox.ru", "rambler.ru", "ya.ru",
    ]

    /// Real domains that sit one or two letters away from a provider above and must never be
    /// "corrected" (short and regional providers are real).
    public static let realLookalikeDomains: [String] = [
        "ymail.com", "rocketmail.com", "mail.com", "email.com", "gmx.at", "gmx.ch", "gmx.us",
        "gmail.fr", "live.be", "live.ca", "live.de", "live.it", "live.nl", "live.co.uk", "live.com.au",
        "hotmail.be", "hotmail.ca", "hotmail.ch", "hotmail.nl", "yahoo.ca", "yahoo.be", "yahoo.ie",
        "yahoo.in", "yahoo.co.in", "yahoo.com.br", "yahoo.com.mx", "yahoo.com.ar", "outlook.be",
        "outlook.pt", "outlook.com.br", "inbox.com", "inbox.lv", "mail.ee", "mail.bg", "email.cz",
        "seznam.cz", "wp.pl", "o2.pl", "onet.pl", "op.pl", "sapo.pt", "uol.com.br", "bol.com.br",
        "terra.com.br", "ig.com.br", "libero.com", "tin.it", "aruba.it", "pec.it", "poste.it",
        "vodafone.de", "online.de", "gmail.de", "ok.de", "qq.com", "163.com", "126.com", "sina.com",
        "me.de", "mail.de", "web.com", "free.com", "orange.com", "orange.es", "orange.pl",
        "neuf.com", "sfr.net", "aol.de", "aol.fr", "aol.co.uk", "icloud.fr", "mac.de", "yandex.ua",
        "yandex.by", "yandex.kz", "ya.com", "list.com", "bk.com", "tim.com", "alice.de", "free.de",
    ]

    /// Wrong endings that are typed for a real one. Only applied when the result is a provider.
    public static let endingFixes: [(wrong: String, right: String)] = [
        ("con", "com"), ("cmo", "com"), ("ocm", "com"), ("comm", "com"), ("coom", "com"), ("cpm", "com"),
        ("xom", "com"), ("vom", "com"), ("copm", "com"), ("c0m", "com"), ("cim", "com"), ("clm", "com"),
        ("nte", "net"), ("ner", "net"), ("nett", "net"), ("met", "net"),
        ("frr", "fr"), ("ffr", "fr"),
        ("dee", "de"),
        ("itt", "it"),
        ("ruu", "ru"),
        ("ess", "es"),
    ]

    /// Top-level labels reserved for special use (RFC 6761, 6762, 7686, 8375, 9476; .internal;
    /// the de-facto .localdomain): no public mail can live there.
    public static let specialUseTLDs: [String] = [
        "test", "example", "invalid", "localhost", "local", "localdomain", "onion", "internal", "alt", "arpa",
    ]

    /// Second-level names reserved for documentation (RFC 2606).
    public static let specialUseDomains: [String] = ["example.com", "example.net", "example.org"]
}
