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
            ("  Jean.Dupont@Example-Firm.FR ", .valid, []),
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
            (String(repeating: "l", count: 65) + "@b.com", .invalid, [.syntax]),
            (String(repeating: "l", count: 64) + "@b.com", .valid, []),
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
            ("a@foo.example", .invalid, [.specialUse]),
            ("a@example.com", .invalid, [.specialUse]),
            ("a@mail.example.org", .invalid, [.specialUse]),
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
            ("anna@a\u{200D}b.de", .invalid, [.idn]),          // zero-width joiner: IDNA refuses
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
            ("bob@oulook.fr", "bob@outlook.fr"), ("bob@orang.fr", "bob@orange.fr"), ("bob@wanadoo.frr", "bob@wanadoo.fr"),
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
        XCTAssertEqual(validator.assess("bob@gmial.com").reasons, [.typo])
        XCTAssertEqual(validator.assess("bob@gmial.com").verdict, .risky)
        XCTAssertEqual(validator.assess("bob@gmailcom").verdict, .invalid)   // still invalid, with a suggestion
    }

    func testRealDomainsAreNotCorrected() {
        let real = [
            "gmail.com", "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "web.de", "mail.com", "mail.ru", "bk.ru", "list.ru",
            "ya.ru", "ymail.com", "email.com", "live.fr", "live.be", "msn.com", "aol.com", "aol.fr", "free.fr", "sfr.fr",
            "neuf.fr", "tim.it", "alice.it", "hotmail.be", "hotmail.ca", "yahoo.ca", "yahoo.co.uk", "outlook.pt",
            "gmail.fr", "orange.es", "inbox.lv", "mail.ee", "wp.pl", "o2.pl", "posteo.de", "sapo.pt", "me.com",
            "mac.com", "gmc.de", "wed.de", "sfr.com", "ovh.net", "orano.fr", "yahoo-inc.com", "gmail-firm.com",
            "hotel.fr", "hotmart.com", "outlook-consulting.fr", "libre.it", "yandex.ua", "rambler.by", "ramblers.org",
        ]
        for domain in real {
            XCTAssertNil(validator.assess("bob@" + domain).suggestion, "\(domain) is real and must not be corrected")
        }
        // Ambiguous: equally close to several providers → no suggestion.
        XCTAssertNil(TypoSuggester().suggest("hotmail.fe"))
    }

    func testScores() {
        XCTAssertEqual(validator.assess("jean@firm.fr").score, 90)
        XCTAssertEqual(validator.assess("a@b").score, 0)
        let role = validator.assess("info@firm.fr")
        XCTAssertTrue(role.score < 80 && role.score > 0)
        XCTAssertTrue(validator.assess("info@mailinator.com").score < role.score)
    }
}
