/// The built-in knowledge `validate` ships with. Each list is deliberately conservative:
/// widely known entries only, so that nothing real is flagged by accident.
public enum BuiltinLists {
    /// Throwaway-address providers: the community-maintained disposable-email-domains list
    /// (CC0), shipped as `Data/disposable-domains.txt` and compiled in at build time
    /// (`scripts/refresh-disposable-list` replaces it; `Data/README.md` says where it comes from).
    /// Every parent domain is checked too.
    public static let disposableDomains: [String] = domainListEntries(EmbeddedLists.disposableDomains)

    /// The entries of a domain list's text: one a line, `#` comments and blank lines skipped,
    /// `*.` and `@` prefixes dropped, lower-cased.
    static func domainListEntries(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { domainListEntry($0) }
    }

    static func domainListEntry<S: StringProtocol>(_ line: S) -> String? {
        var entry = String(line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0])
            .trimmingSpaces.lowercased()
        if entry.hasPrefix("*.") { entry.removeFirst(2) }
        if entry.hasPrefix("@") { entry.removeFirst() }
        return entry.isEmpty ? nil : entry
    }

    /// Local parts that name a function rather than a person, for the markets of the nine
    /// languages (fr en es de pt ru zh hi ar): the local words, their Latin transliterations
    /// where addresses use them (pinyin, Russian), and the English ones used everywhere. Matched
    /// on the local part without its `+tag`, case and the separators `.`, `-`, `_`.
    public static let roleLocalParts: [String] = [
        // English (and international use)
        "abuse", "accounting", "accounts", "accountspayable", "admin", "administrator", "admissions", "all",
        "billing", "booking", "bookings", "bounce", "bounces", "careers", "care", "compliance", "contact",
        "contact-us", "customer-care", "customer-service", "customer-support", "do-not-reply", "dpo", "email",
        "enquiries", "enquiry", "events", "feedback", "finance", "front-desk", "gdpr", "general", "grievance",
        "grievances", "hello", "help", "helpdesk", "hi", "hostmaster", "hr", "info", "information",
        "inquiries", "inquiry", "investors", "invoice", "invoices", "it", "jobs", "legal", "list",
        "listserv", "mail", "mailer-daemon", "majordomo", "marketing", "media", "members", "membership",
        "news", "newsletter", "no-reply", "noc", "nobody", "notifications", "office", "operations", "orders",
        "partners", "partnerships", "payments", "payroll", "postmaster", "pr", "press", "privacy",
        "procurement", "purchasing", "reception", "receptionist", "recruiting", "recruitment",
        "reservations", "returns", "root", "sales", "security", "service", "services", "shop", "staff",
        "subscribe", "support", "sysadmin", "team", "tech", "tech-support", "unsubscribe", "webmaster", "www",
        // French
        "accueil", "administratif", "administration", "agence", "assistance", "bonjour", "boutique",
        "bureau", "cabinet", "commande", "commandes", "commercial", "communication", "compta",
        "comptabilite", "contactez-nous", "courrier", "devis", "direction", "emploi", "facturation", "infos",
        "informations", "juridique", "magasin", "mairie", "ne-pas-repondre", "noreponse", "pas-de-reponse",
        "partenariat", "partenariats", "presse", "recrutement", "relation-client", "reservation", "rh",
        "sav", "secretariat", "service-client", "service-clients", "standard", "vente", "ventes",
        // Spanish
        "administracion", "atencion", "atencion-al-cliente", "atencion-cliente", "clientes", "compras",
        "consultas", "contabilidad", "contactenos", "contacto", "despacho", "direccion", "empleo",
        "facturacion", "gerencia", "hola", "informacion", "no-responder", "oficina", "pedidos", "prensa",
        "recepcion", "reservas", "rrhh", "secretaria", "soporte", "trabajo", "ventas",
        // German
        "anfrage", "anfragen", "bestellung", "bestellungen", "bewerbung", "buchhaltung", "buero", "büro",
        "datenschutz", "einkauf", "empfang", "hallo", "impressum", "kanzlei", "karriere", "keine-antwort",
        "kontakt", "kundendienst", "kundenservice", "personal", "post", "postfach", "praxis", "rechnung",
        "rechnungen", "rezeption", "sekretariat", "verkauf", "vertrieb", "verwaltung", "zentrale",
        // Portuguese
        "administrativo", "atendimento", "cobranca", "contato", "diretoria", "escritorio", "fale-conosco",
        "faturamento", "financeiro", "geral", "imprensa", "juridico", "loja", "nao-responda", "orcamento",
        "ouvidoria", "recepcao", "sac", "suporte", "vendas",
        // Russian, and its Latin transliterations
        "инфо", "почта", "офис", "приемная", "приёмная", "секретарь", "бухгалтерия", "продажи", "поддержка",
        "контакт", "контакты", "заказ", "заказы", "отдел-кадров", "кадры", "реклама", "администратор",
        "priemnaya", "priyomnaya", "buh", "buhgalteria", "buhgalteriya", "prodazhi", "zakaz", "zakazy",
        "kadry", "otdel-kadrov", "sekretar", "podderzhka", "reklama", "ofis", "pochta",
        // Chinese, and pinyin
        "客服", "销售", "联系", "联系我们", "招聘", "人事", "财务", "市场", "办公室", "前台", "服务", "投诉", "咨询",
        "管理员", "kefu", "fuwu", "xiaoshou", "zhaopin", "renshi", "caiwu", "bangong", "lianxi", "zixun",
        "tousu", "shichang", "xingzheng", "qiantai",
        // Hindi, and Latin transliterations
        "संपर्क", "जानकारी", "सहायता", "बिक्री", "ग्राहक-सेवा", "sampark", "sahayata", "jankari",
        // Arabic
        "معلومات", "مبيعات", "المبيعات", "دعم", "الدعم", "تواصل", "اتصل-بنا", "استقبال", "الاستقبال",
        "خدمة-العملاء", "الموارد-البشرية", "التوظيف", "وظائف", "الإدارة", "المحاسبة", "التسويق",
    ]

    /// Top-level labels reserved for special use (RFC 6761, 6762, 7686, 8375, 9476; .internal;
    /// the de-facto .localdomain): no public mail can live there.
    public static let specialUseTLDs: [String] = [
        "test", "invalid", "localhost", "local", "localdomain", "onion", "internal", "alt", "arpa",
    ]

    /// The documentation names (RFC 2606, RFC 6761 §6.5): `example.com`, `.net` and `.org` publish
    /// a Null MX (RFC 7505) and `.example` is never delegated. RFC 6761 asks applications not to
    /// treat them as special, so they are valid syntax; they take no mail all the same (`no_mx`).
    public static let documentationDomains: [String] = ["example", "example.com", "example.net", "example.org"]
}

/// The lists compiled from `Data/*-domains.txt` by the EmbedDomainLists build plugin.
enum EmbeddedLists {}
