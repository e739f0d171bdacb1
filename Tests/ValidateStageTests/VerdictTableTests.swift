import MailpipeCore
import ValidateStage
import XCTest

/// Verdict tables: one address per row, the verdict and reasons it must get.
final class VerdictTableTests: XCTestCase {
    let validator = EmailValidator()

    func check(_ rows: [(String, Verdict, [Reason])], _ v: EmailValidator? = nil, file: StaticString = #filePath, line: UInt = #line) {
        let validator = v ?? self.validator
        for (email, verdict, reasons) in rows {
            let a = validator.assess(email)
            XCTAssertEqual(a.verdict, verdict, "verdict of \(email)", file: file, line: line)
            XCTAssertEqual(a.reasons, reasons, "reasons of \(email)", file: file, line: line)
        }
    }

    func testSyntax() {
        check([
            ("jean.dupont@gmail.com", .valid, []),
            ("Jean.Dupont@Example-Firm.FR", .valid, []),
            ("o'brien+news@firm.co.uk", .valid, []),
            ("a_b-c=d{e}@sub.domain.de", .valid, []),
            ("x@xn--80ak6aa92e.com", .valid, []),             // punycode label
            ("x@domain.xn--p1ai", .valid, []),               // punycode TLD (.рф)
            ("", .invalid, [.syntax]),
            ("plainaddress", .invalid, [.syntax]),
            ("@gmail.com", .invalid, [.syntax]),
            ("a@", .invalid, [.syntax]),
            ("a@@b.com", .invalid, [.syntax]),
            ("a@b@c.com", .invalid, [.syntax]),
            (".a@b.com", .invalid, [.syntax]),
            ("a.@b.com", .invalid, [.syntax]),
            ("a..b@b.com", .invalid, [.syntax]),
            ("\"quoted\"@b.com", .invalid, [.syntax]),
            ("a(comment)@b.com", .invalid, [.syntax]),
            ("a b@b.com", .invalid, [.syntax]),
            ("a@[192.168.0.1]", .invalid, [.syntax]),
            ("a@192.168.0.1", .invalid, [.syntax]),
            ("a@b.c", .invalid, [.syntax]),                  // one-letter TLD
            ("a@b.c0m", .invalid, [.syntax]),                // digits in the TLD
            ("a@-b.com", .invalid, [.syntax]),
            ("a@b-.com", .invalid, [.syntax]),
            ("a@b..com", .invalid, [.syntax]),
            ("a@b.com.", .invalid, [.syntax]),
            ("a@b_c.com", .invalid, [.syntax]),
            ("a@nodot", .invalid, [.syntax]),
            (String(repeating: "l", count: 65) + "@b.com", .risky, [.longLocalPart]),   // over RFC 5321's 64
            (String(repeating: "l", count: 64) + "@b.com", .valid, []),
            (String(repeating: "l", count: 64) + "@" + String(repeating: "d.", count: 94) + "com", .invalid, [.syntax]),
            ("a@b,com", .invalid, [.syntax]),
            ("a@" + String(repeating: "d", count: 64) + ".com", .invalid, [.syntax]),
            ("a@" + String(repeating: "d", count: 63) + ".com", .valid, []),
            ("a@" + Array(repeating: String(repeating: "d", count: 50), count: 5).joined(separator: ".") + ".com", .invalid, [.syntax]),
        ])
    }

    func testSpecialUseDomains() {
        check([
            ("a@localhost", .invalid, [.specialUse]),
            ("a@host.localhost", .invalid, [.specialUse]),
            ("a@foo.test", .invalid, [.specialUse]),
            ("a@foo.invalid", .invalid, [.specialUse]),
            ("a@printer.local", .invalid, [.specialUse]),
            ("a@foo.example", .invalid, [.noMX]),          // documentation names: valid syntax, no mail
            ("a@example.com", .invalid, [.noMX]),
            ("a@mail.example.org", .invalid, [.noMX]),
            ("a@x.onion", .invalid, [.specialUse]),
            ("a@router.home.arpa", .invalid, [.specialUse]),
            ("a@corp.internal", .invalid, [.specialUse]),
            ("a@example-firm.com", .valid, []),              // only the reserved names themselves
            ("a@testing.fr", .valid, []),
        ])
    }

    func testInternationalised() {
        check([
            ("anna@bücher.de", .valid, []),
            ("anna@BÜCHER.de", .valid, []),
            ("ivan@пример.рф", .valid, []),
            ("li@例子.中国", .valid, []),
            ("müller@bücher.de", .risky, [.smtputf8]),
            ("иван@mail.ru", .risky, [.smtputf8]),
            ("anna@xn--.de", .invalid, [.syntax]),
            ("anna@a\u{200D}b.de", .invalid, [.invisibleCharacter]),   // zero-width joiner
        ])
        XCTAssertEqual(validator.assess("anna@bücher.de").asciiEmail, "anna@xn--bcher-kva.de")
        XCTAssertEqual(validator.assess("ivan@пример.рф").asciiEmail, "ivan@xn--e1afmkfd.xn--p1ai")
        XCTAssertNil(validator.assess("anna@buecher.de").asciiEmail)
        XCTAssertEqual(EmailValidator.idnaToASCII("faß.de"), "xn--fa-hia.de")   // non-transitional: ß kept
    }

    func testDisposableWithParentDomains() {
        check([
            ("x@mailinator.com", .risky, [.disposable]),
            ("x@sub.mailinator.com", .risky, [.disposable]),
            ("x@a.b.yopmail.fr", .risky, [.disposable]),
            ("x@notmailinator.com.evil.fr", .valid, []),     // a parent must match, not a substring
            ("x@mailinator.com.fr", .valid, []),
            ("x@mymailinator.com", .valid, []),
        ])
        let strict = EmailValidator(strictDisposable: true)
        check([("x@mailinator.com", .invalid, [.disposable])], strict)
        let custom = EmailValidator(extraDisposable: ["throwaway.example-firm.net"], allowed: ["yopmail.com"])
        check([
            ("x@throwaway.example-firm.net", .risky, [.disposable]),
            ("x@deep.throwaway.example-firm.net", .risky, [.disposable]),
            ("x@example-firm.net", .valid, []),
            ("x@yopmail.com", .valid, []),                     // allowed
            ("x@inbox.yopmail.com", .valid, []),               // allowed through its parent
            ("x@yopmail.fr", .risky, [.disposable]),
        ], custom)
    }

    func testRoleAccounts() {
        check([
            ("info@firm.fr", .risky, [.role]),
            ("INFO@firm.fr", .risky, [.role]),
            ("info+newsletter@firm.fr", .risky, [.role]),
            ("contact@firm.fr", .risky, [.role]),
            ("noreply@firm.com", .risky, [.role]),
            ("no-reply@firm.com", .risky, [.role]),
            ("postmaster@firm.com", .risky, [.role]),
            ("accueil@mairie-x.fr", .risky, [.role]),          // fr
            ("compta@firm.fr", .risky, [.role]),
            ("ventas@empresa.es", .risky, [.role]),            // es
            ("contacto@empresa.es", .risky, [.role]),
            ("kontakt@firma.de", .risky, [.role]),             // de
            ("vertrieb@firma.de", .risky, [.role]),
            ("atendimento@empresa.com.br", .risky, [.role]),   // pt
            ("vendas@empresa.pt", .risky, [.role]),
            ("information.desk@firm.fr", .valid, []),
            ("infos.dupont@firm.fr", .valid, []),
            ("jean.info@firm.fr", .valid, []),
            ("salesforce@firm.com", .valid, []),
        ])
    }

    func testTypoSuggestions() {
        let fixes = [
            ("bob@gmial.com", "bob@gmail.com"), ("bob@gamil.com", "bob@gmail.com"), ("bob@gmai.com", "bob@gmail.com"),
            ("bob@gmaill.com", "bob@gmail.com"), ("bob@gnail.com", "bob@gmail.com"), ("bob@gmail.con", "bob@gmail.com"),
            ("bob@gmail.cmo", "bob@gmail.com"), ("bob@gmailcom", "bob@gmail.com"), ("bob@hotmial.com", "bob@hotmail.com"),
            ("bob@hotmail.con", "bob@hotmail.com"), ("bob@hotmial.fr", "bob@hotmail.fr"), ("bob@googlemial.com", "bob@googlemail.com"), ("bob@gogglemail.com", "bob@googlemail.com"), ("bob@hotmal.fr", "bob@hotmail.fr"),
            ("bob@yahooo.fr", "bob@yahoo.fr"), ("bob@yaho.com", "bob@yahoo.com"), ("bob@outlok.com", "bob@outlook.com"),
            ("bob@oulook.fr", "bob@outlook.fr"), ("bob@oragne.fr", "bob@orange.fr"), ("bob@wanadoo.frr", "bob@wanadoo.fr"),
            ("bob@wandoo.fr", "bob@wanadoo.fr"), ("bob@lapost.net", "bob@laposte.net"), ("bob@laposte.nte", "bob@laposte.net"),
            ("bob@telefonica.ner", "bob@telefonica.net"), ("bob@hotmail.ess", "bob@hotmail.es"),
            ("bob@t-onlien.de", "bob@t-online.de"), ("bob@freenett.de", "bob@freenet.de"),
            ("bob@lbero.it", "bob@libero.it"), ("bob@virgilo.it", "bob@virgilio.it"), ("bob@tiscalli.it", "bob@tiscali.it"),
            ("bob@yandx.ru", "bob@yandex.ru"), ("bob@yandex.ry", "bob@yandex.ru"), ("bob@rambler.ruu", "bob@rambler.ru"),
            ("bob@ramber.ru", "bob@rambler.ru"), ("bob@icloud.con", "bob@icloud.com"), ("bob@iclod.com", "bob@icloud.com"),
        ]
        for (email, suggestion) in fixes {
            let a = validator.assess(email)
            XCTAssertEqual(a.suggestion, suggestion, "suggestion for \(email)")
        }
        XCTAssertEqual(validator.assess("bob@gnail.com").reasons, [.typo])
        XCTAssertEqual(validator.assess("bob@gnail.com").verdict, .risky)
        XCTAssertEqual(validator.assess("bob@gmailcom").verdict, .invalid)   // still invalid, with a suggestion
    }

    func testRealDomainsAreNotCorrected() {
        let real = [
            "gmail.com", "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "web.de", "mail.com", "mail.ru", "bk.ru", "list.ru",
            "ya.ru", "ymail.com", "email.com", "live.fr", "live.be", "msn.com", "aol.com", "aol.fr", "free.fr", "sfr.fr",
            "neuf.fr", "tim.it", "alice.it", "hotmail.be", "hotmail.ca", "yahoo.ca", "yahoo.co.uk", "outlook.pt",
            "orange.es", "inbox.lv", "mail.ee", "wp.pl", "o2.pl", "posteo.de", "sapo.pt", "me.com",
            "mac.com", "gmc.de", "wed.de", "sfr.com", "ovh.net", "orano.fr", "yahoo-inc.com", "gmail-firm.com",
            "hotel.fr", "hotmart.com", "outlook-consulting.fr", "libre.it", "yandex.ua", "rambler.by", "ramblers.org",
        ]
        for domain in real {
            XCTAssertNil(validator.assess("bob@" + domain).suggestion, "\(domain) is real and must not be corrected")
        }
        // Ambiguous: equally close to several providers → no suggestion.
        XCTAssertNil(TypoSuggester().suggest("hotmail.fe"))
    }

    func testSurroundingSpacesAndInvisibleCharacters() {
        // Spaces or line breaks around an address, and characters that show as nothing inside
        // it, are refused; the suggestion is the address without them.
        let cases: [(String, Reason, String?)] = [
            ("  Jean.Dupont@Example-Firm.FR ", .syntax, "Jean.Dupont@Example-Firm.FR"),
            ("jean@firm.fr\r\n", .syntax, "jean@firm.fr"),
            ("\tbob@gmial.com", .syntax, "bob@gmail.com"),
            ("jean@gm\u{200B}ail.com", .invisibleCharacter, "jean@gmail.com"),    // IDNA would map it away
            ("\u{FEFF}jean@firm.fr", .invisibleCharacter, "jean@firm.fr"),          // BOM
            ("je\u{200B}an@firm.fr", .invisibleCharacter, "jean@firm.fr"),
            ("jean\u{00AD}@firm.fr", .invisibleCharacter, "jean@firm.fr"),           // soft hyphen
            ("jean@firm\u{00A0}.fr", .invisibleCharacter, "jean@firm.fr"),           // no-break space
            ("\u{202E}jean@firm.fr", .invisibleCharacter, "jean@firm.fr"),           // bidi override
            ("jean\u{E000}@firm.fr", .invisibleCharacter, "jean@firm.fr"),           // private use
            ("jean\u{3164}@firm.fr", .invisibleCharacter, "jean@firm.fr"),           // Hangul filler
            ("\u{200B}", .syntax, nil),                                           // no @ at all
        ]
        for (email, reason, suggestion) in cases {
            let a = validator.assess(email)
            XCTAssertEqual(a.verdict, .invalid, email.debugDescription)
            XCTAssertEqual(a.reasons, [reason], email.debugDescription)
            XCTAssertEqual(a.suggestion, suggestion, email.debugDescription)
        }
    }

    func testIDNA2008() {
        check([
            ("me@xn--0.tld", .invalid, [.idn]),                 // not Punycode
            ("me@xn--bcher-xxx.de", .invalid, [.idn]),          // decodes to nothing IDNA allows
            ("me@xn--bucher-xyd.de", .invalid, [.idn]),         // decodes to a U-label not in NFC
            ("me@yy--0.tld", .invalid, [.idn]),                 // "--" in positions 3–4
            ("me@sub.ab--cd.com", .invalid, [.idn]),
            ("me@g--a.com", .valid, []),                        // "--" elsewhere is fine
            ("me@a--.com", .invalid, [.syntax]),
            ("me@xn--bcher-kva.de", .valid, []),                // a good A-label
            ("me@XN--BCHER-KVA.DE", .valid, []),
            ("me@1.xn--4dbc.com", .invalid, [.idn]),            // Bidi rule across labels (RFC 5893)
            ("me@xn--4dbc.1.com", .invalid, [.idn]),
            ("me@1.אב.com", .invalid, [.idn]),
            ("me@אב.com", .valid, []),
            ("me@xn--4dbc.xn--4dbc.com", .valid, []),
            ("me@a\u{05D0}.com", .invalid, [.idn]),             // one label mixing directions
            ("me@⒈x.com", .invalid, [.idn]),
        ])
    }

    func testNormalisedLocalPart() {
        check([
            ("me.\u{037E}@firm.fr", .invalid, [.syntax]),       // GREEK QUESTION MARK is ';' in NFC
            ("\u{0301}me@firm.fr", .invalid, [.syntax]),        // a combining mark cannot begin it
            ("ме\u{0301}@firm.fr", .risky, [.smtputf8]),
        ])
    }

    func testMultilingualRoles() {
        let roles = ["bureau", "reception", "Reception", "accueil", "cabinet", "service.client", "service-client",
                     "no.reply", "no_reply", "ventas", "recepcion", "verkauf", "Kontakt", "büro", "buero", "mail",
                     "faleconosco", "fale.conosco", "vendas", "atendimento", "priemnaya", "buh", "инфо", "Приёмная",
                     "продажи", "kefu", "客服", "联系我们", "sampark", "संपर्क", "مبيعات", "تواصل", "grievance"]
        for local in roles {
            XCTAssertEqual(validator.assess(local + "@firm.example-co.fr").reasons.filter { $0 == .role }, [.role], local)
        }
        for local in ["jean.bureau", "bureaux.dupont", "receptionniste.marie", "infodupont", "ivan", "李伟", "mail.jean"] {
            XCTAssertFalse(validator.assess(local + "@firm.example-co.fr").reasons.contains(.role), local)
        }
    }

    func testCommunityDisposableList() {
        // The shipped community list (thousands of domains), with parents; the allow list wins.
        XCTAssertGreaterThan(BuiltinLists.disposableDomains.count, 5000)
        for domain in ["mailinator.com", "guerrillamail.com", "yopmail.com", "10minutemail.com", "sharklasers.com"] {
            XCTAssertTrue(validator.assess("x@" + domain).reasons.contains(.disposable), domain)
        }
        // No provider domain is on it.
        let disposable = Set(BuiltinLists.disposableDomains)
        XCTAssertEqual(BuiltinLists.mailProviders.flatMap(\.domains).filter(disposable.contains), [])
        // A typo squatter on the list is said to be both.
        XCTAssertEqual(validator.assess("x@gmial.com").reasons, [.disposable, .typo])
    }

    func testScores() {
        XCTAssertEqual(validator.assess("jean@firm.fr").score, 90)
        XCTAssertEqual(validator.assess("a@b").score, 0)
        let role = validator.assess("info@firm.fr")
        XCTAssertTrue(role.score < 80 && role.score > 0)
        XCTAssertTrue(validator.assess("info@mailinator.com").score < role.score)
    }
}
