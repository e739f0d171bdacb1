import MailpipeCore

/// The pages a person sees at the List-Unsubscribe URL, in the contact's language (the nine of
/// mailpipe; Arabic right to left). A GET never unsubscribes — link scanners follow GETs — it
/// shows a button that POSTs the RFC 8058 body to the same URL.
public enum ConfirmationPage {
    public enum Kind {
        /// The question and the button (GET).
        case ask
        /// After the POST was recorded.
        case done
        /// A link whose token does not match.
        case invalid
        /// The books could not be written: try again.
        case failed
    }

    struct Texts {
        let title: String
        let ask: String
        let button: String
        let done: String
        let invalid: String
        let failed: String
    }

    /// `{brand}` and `{email}` are filled in (each isolated with <bdi>, so an address keeps its
    /// left-to-right order inside Arabic text).
    static let texts: [String: Texts] = [
        "fr": Texts(title: "Désinscription", ask: "Ne plus recevoir les e-mails de {brand} à l’adresse {email}\u{202F}?",
                    button: "Me désinscrire", done: "C’est fait\u{202F}: vous ne recevrez plus les e-mails de {brand} à l’adresse {email}.",
                    invalid: "Ce lien de désinscription n’est pas valide.",
                    failed: "Votre demande n’a pas pu être enregistrée pour le moment. Veuillez réessayer dans quelques minutes."),
        "en": Texts(title: "Unsubscribe", ask: "Stop receiving e-mails from {brand} at {email}?", button: "Unsubscribe",
                    done: "Done: you will no longer receive e-mails from {brand} at {email}.",
                    invalid: "This unsubscribe link is not valid.",
                    failed: "Your request could not be recorded right now. Please try again in a few minutes."),
        "es": Texts(title: "Darse de baja", ask: "¿Dejar de recibir correos de {brand} en {email}?", button: "Darme de baja",
                    done: "Listo: ya no recibirás correos de {brand} en {email}.",
                    invalid: "Este enlace para darse de baja no es válido.",
                    failed: "No hemos podido registrar tu solicitud en este momento. Inténtalo de nuevo en unos minutos."),
        "de": Texts(title: "Abmelden", ask: "Keine E-Mails mehr von {brand} an {email} erhalten?", button: "Abmelden",
                    done: "Erledigt: Sie erhalten keine E-Mails mehr von {brand} an {email}.",
                    invalid: "Dieser Abmeldelink ist ungültig.",
                    failed: "Ihre Anfrage konnte gerade nicht gespeichert werden. Bitte versuchen Sie es in ein paar Minuten erneut."),
        "pt": Texts(title: "Cancelar inscrição", ask: "Deixar de receber e-mails de {brand} em {email}?", button: "Cancelar inscrição",
                    done: "Pronto: você não receberá mais e-mails de {brand} em {email}.",
                    invalid: "Este link de cancelamento não é válido.",
                    failed: "Não foi possível registrar seu pedido agora. Tente novamente em alguns minutos."),
        "ru": Texts(title: "Отписка", ask: "Больше не получать письма от {brand} на адрес {email}?", button: "Отписаться",
                    done: "Готово: вы больше не будете получать письма от {brand} на адрес {email}.",
                    invalid: "Эта ссылка для отписки недействительна.",
                    failed: "Не удалось сохранить ваш запрос. Попробуйте ещё раз через несколько минут."),
        "zh": Texts(title: "退订", ask: "不再接收 {brand} 发送到 {email} 的邮件？", button: "退订",
                    done: "已完成：{email} 将不再收到 {brand} 的邮件。",
                    invalid: "此退订链接无效。",
                    failed: "暂时无法记录您的请求，请几分钟后重试。"),
        "hi": Texts(title: "सदस्यता समाप्त करें", ask: "क्या आप {email} पर {brand} के ईमेल पाना बंद करना चाहते हैं?",
                    button: "सदस्यता समाप्त करें", done: "हो गया: अब आपको {email} पर {brand} के ईमेल नहीं मिलेंगे।",
                    invalid: "सदस्यता समाप्त करने का यह लिंक मान्य नहीं है।",
                    failed: "आपका अनुरोध अभी दर्ज नहीं हो सका। कृपया कुछ मिनट बाद फिर से प्रयास करें।"),
        "ar": Texts(title: "إلغاء الاشتراك", ask: "هل تريد التوقف عن تلقي رسائل {brand} على {email}؟", button: "إلغاء الاشتراك",
                    done: "تم: لن تتلقى بعد الآن رسائل {brand} على {email}.",
                    invalid: "رابط إلغاء الاشتراك هذا غير صالح.",
                    failed: "تعذّر تسجيل طلبك الآن. يُرجى المحاولة مرة أخرى بعد بضع دقائق."),
    ]

    static let rightToLeft: Set<String> = ["ar"]

    /// The page for `language` (falls back to English for a language without texts).
    public static func html(_ kind: Kind, language: String, brand: String, email: String) -> String {
        let language = texts[language] == nil ? "en" : language
        let t = texts[language]!
        let direction = rightToLeft.contains(language) ? "rtl" : "ltr"
        func fill(_ text: String) -> String {
            escape(text).replacingAll("{brand}", with: "<bdi>\(escape(brand))</bdi>")
                .replacingAll("{email}", with: "<bdi class=\"email\">\(escape(email))</bdi>")
        }
        let message: String
        var form = ""
        switch kind {
        case .ask:
            message = fill(t.ask)
            form = """
            <form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">\
            <button type="submit">\(escape(t.button))</button></form>
            """
        case .done: message = fill(t.done)
        case .invalid: message = escape(t.invalid)
        case .failed: message = escape(t.failed)
        }
        return """
        <!DOCTYPE html>
        <html lang="\(language)" dir="\(direction)">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="robots" content="noindex, nofollow">
        <title>\(escape(t.title)) · \(escape(brand))</title>
        <style>
        body { margin: 0; font-family: system-ui, "Noto Sans", "Noto Sans Arabic", "Noto Sans Devanagari", "Noto Sans CJK SC", sans-serif;
               background: #f4f5f7; color: #1d2330; }
        main { max-width: 32rem; margin: 12vh auto; padding: 2rem; background: #fff; border-radius: 8px;
               box-shadow: 0 1px 4px rgba(0,0,0,.12); }
        h1 { font-size: 1.4rem; margin: 0 0 1rem; }
        p { font-size: 1.05rem; line-height: 1.6; }
        .email { font-weight: 600; }
        button { font: inherit; font-size: 1.05rem; padding: .7rem 1.4rem; border: 0; border-radius: 6px;
                 background: #b3261e; color: #fff; cursor: pointer; }
        </style>
        </head>
        <body>
        <main>
        <h1>\(escape(t.title))</h1>
        <p>\(message)</p>
        \(form)
        </main>
        </body>
        </html>

        """
    }

    static func escape(_ text: String) -> String { HTMLEscape.text(text) }

    /// The contact's language when it has pages, else the first of the Accept-Language header's
    /// languages that has, else the tenant's fallback.
    public static func language(contact: String?, acceptLanguage: String?, fallback: String) -> String {
        if let contact, texts[contact.lowercased()] != nil { return contact.lowercased() }
        if let header = acceptLanguage {
            var ranked: [(String, Double, Int)] = []
            for (i, item) in header.split(separator: ",").enumerated() {
                let parts = item.split(separator: ";")
                let tag = parts[0].trimmingBlanks.lowercased()
                let primary = String(tag.split(separator: "-").first ?? "")
                var q = 1.0
                for p in parts.dropFirst() {
                    let kv = p.trimmingBlanks
                    if kv.hasPrefix("q="), let v = Double(kv.dropFirst(2)) { q = v }
                }
                if q > 0, texts[primary] != nil { ranked.append((primary, q, i)) }
            }
            if let best = ranked.sorted(by: { $0.1 != $1.1 ? $0.1 > $1.1 : $0.2 < $1.2 }).first { return best.0 }
        }
        return texts[fallback] != nil ? fallback : "en"
    }
}

extension String {
    /// Every `target` replaced (byte-wise; no Foundation here).
    func replacingAll(_ target: String, with replacement: String) -> String {
        let t = Array(target.utf8)
        let b = Array(utf8)
        guard !t.isEmpty, b.count >= t.count else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if i + t.count <= b.count && b[i] == t[0] && Array(b[i..<(i + t.count)]) == t {
                out += replacement.utf8
                i += t.count
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Substring {
    var trimmingBlanks: String { String(self).trimmingBlanks }
}
