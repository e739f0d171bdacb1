import MailpipeCore
import MailpipeStore
import XCTest

/// tenant.json is typed: every key known at its place, each one misspelt is an error naming the
/// path and the key meant; values are checked; the samples read.
final class TenantConfigTests: XCTestCase {
    /// A document holding every key TenantConfig knows.
    static let full = #"""
    {"slug":"acme","name":"Acme","brand_domain":"acme.example","sending_domain":"mail.acme.example",
     "languages":["fr","en"],"fallback_language":"en","default_country":"FR","timezone":"Europe/Paris",
     "taxonomy":{"prestataire":["avocat"]},
     "mailwizz":{"url":"https://mw.example/api","list_uid":"ab12","api_key_env":"MW_KEY","fields":{"FNAME":"first_name"},"subscriber_status":"confirmed",
                  "language_lists":{"fr":"fr12"}},
     "smtp":{"url":"smtp://127.0.0.1:25","from":"Acme <a@acme.example>","reply_to":"r@acme.example"},
     "unsubscribe":{"url":"https://acme.example/u","mailto":"u@acme.example","secret_env":"UNSUB"},
     "vmtas":[{"name":"m1","ip":"192.0.2.1","hostname":"m1.acme.example","weight":2,"warmup_start":"2026-11-02","pool":"p"}],
     "warmup":[{"week":1,"daily_quota":50,"max_bounce_rate":0.02,"min_sends":100}],
     "bounces":{"soft_limit":3,"soft_window_days":15},
     "ceilings":{"bounce_rate":0.02,"complaint_rate":0.001},
     "webhooks":{"sendgrid":{"public_key":"MFkw"},"postmark":{"username":"pm","password_env":"PM_PASS"},
                 "ses":{"certificate_file":"/etc/sns.pem","topic_arns":["arn:aws:sns:eu-west-1:1:ses"]},
                 "mailwizz":{"secret_env":"MW_HOOK_SECRET"}},
     "engagement":{"half_life_days":30,"sunset_after_sends":5,"sunset_after_days":120},
     "routes":[{"name":"main","url":"smtp://127.0.0.1:25","domains":["gmail.com"],"username_env":"RU","password_env":"RP"}],
     "tracking":{"url":"https://t.acme.example/t","enabled":true,"opens":true,"clicks":false,"machine_seconds":5},
     "health":{"window_days":14,"unsubscribe_rate":0.004,"unsubscribe_rise":3,"bounced_share":0.06,"unvalidated_share":0.2,"suppressed_share":0.3}}
    """#

    func parse(_ text: String) throws -> TenantConfig {
        try TenantConfig.parse(Array(text.utf8), file: "tenant.json")
    }

    func message(_ text: String) -> String {
        do { _ = try parse(text); return "" } catch { return "\(error)" }
    }

    func testFullDocumentReads() throws {
        let c = try parse(TenantConfigTests.full)
        XCTAssertEqual(c.timezone.name, "Europe/Paris")
        XCTAssertEqual(c.vmtas, [VmtaConfig(name: "m1", ip: "192.0.2.1", hostname: "m1.acme.example", weight: 2, warmupStart: "2026-11-02", pool: "p")])
        XCTAssertEqual(c.warmup.step(week: 9).quota, 50)
        XCTAssertEqual(c.warmup.step(week: 1).requiredSends, 100)
        XCTAssertEqual(c.bounces, TenantConfig.BounceRules(softLimit: 3, softWindowDays: 15))
        XCTAssertEqual(c.mailwizz?.fields?.first?.tag, "FNAME")
        XCTAssertEqual(c.smtp.replyTo, "r@acme.example")
        XCTAssertEqual(c.unsubscribe.secretEnv, "UNSUB")
        XCTAssertEqual(c.taxonomy["prestataire"], ["avocat"])
        XCTAssertEqual(c.defaultCountry, "FR")
        XCTAssertEqual(c.mailwizz?.languageLists.first?.listUID, "fr12")
        XCTAssertEqual(c.webhooks.postmarkPasswordEnv, "PM_PASS")
        XCTAssertEqual(c.webhooks.sesTopicARNs, ["arn:aws:sns:eu-west-1:1:ses"])
        XCTAssertEqual(c.webhooks.mailwizzSecretEnv, "MW_HOOK_SECRET")
        XCTAssertEqual(c.tracking, TenantConfig.Tracking(url: "https://t.acme.example/t", enabled: true, opens: true, clicks: false, machineSeconds: 5))
        XCTAssertNil(try parse("{}").tracking, "no section: nothing tracked")
        XCTAssertEqual(try parse(#"{"tracking":{"url":"http://127.0.0.1:8080/"}}"#).tracking,
                       TenantConfig.Tracking(url: "http://127.0.0.1:8080", enabled: false, opens: true, clicks: true, machineSeconds: 10))
        XCTAssertTrue(message(#"{"tracking":{"enabled":true}}"#).contains("'tracking.url' is required"))
        XCTAssertTrue(message(#"{"tracking":{"url":"ftp://t.example"}}"#).contains("'tracking.url' must be an http(s) URL"))
        XCTAssertTrue(message(#"{"tracking":{"url":"https://t.example/t?x=1"}}"#).contains("without a query"))
        XCTAssertTrue(message(#"{"tracking":{"url":"https://t.example","opens":"yes"}}"#).contains("'tracking.opens' must be true or false"))
        var health = TenantConfig.HealthRules()
        (health.windowDays, health.unsubscribeRate, health.unsubscribeRise) = (14, 0.004, 3)
        (health.bouncedShare, health.unvalidatedShare, health.suppressedShare) = (0.06, 0.2, 0.3)
        XCTAssertEqual(c.health, health)
    }

    /// Each known key path, misspelt in the full document (its last letter doubled), is named.
    func testEveryKeyMisspelt() throws {
        let value = try JSONValue.parse(TenantConfigTests.full)
        var tried = 0
        for path in TenantConfig.knownKeyPaths {
            let parts = path.split(separator: ".").map(String.init)
            let key = parts.last!
            let bad = key + String(key.last!)
            func rename(_ v: JSONValue, _ rest: ArraySlice<String>) -> JSONValue {
                guard let head = rest.first else { return v }
                let isArray = head.hasSuffix("[]")
                let name = isArray ? String(head.dropLast(2)) : head
                guard case .object(let o) = v else { return v }
                var out = JSONObject()
                for (k, child) in o.members {
                    if k != name { out.append(k, child); continue }
                    if rest.count == 1 { out.append(bad, child); continue }
                    if isArray, case .array(let items) = child {
                        out.append(k, .array(items.map { rename($0, rest.dropFirst()) }))
                    } else {
                        out.append(k, rename(child, rest.dropFirst()))
                    }
                }
                return .object(out)
            }
            let text = rename(value, parts[...]).description
            XCTAssertNotEqual(text, value.description, "\(path) is not in the full document")
            let shown = path.replacingOccurrences(of: "[]", with: "[0]").dropLast(key.count) + bad
            let m = message(text)
            XCTAssertTrue(m.contains("unknown key '\(shown)' (did you mean '\(key)'?)"), "\(path): \(m)")
            tried += 1
        }
        XCTAssertEqual(tried, TenantConfig.knownKeyPaths.count)
        XCTAssertGreaterThan(tried, 30)
    }

    func testValuesAreChecked() {
        XCTAssertTrue(message(#"{"vmtas":[{"name":"a"},{"name":"a"}]}"#).contains("'vmtas[1].name' 'a' is listed twice"))
        XCTAssertTrue(message(#"{"vmtas":[{"weight":1}]}"#).contains("'vmtas[0]' needs a name"))
        XCTAssertTrue(message(#"{"warmup":[{"week":2,"daily_quota":5,"max_bounce_rate":0.1}]}"#).contains("warmup must start at week 1"))
        XCTAssertTrue(message(#"{"warmup":[]}"#).contains("'warmup' must list at least one week"))
        XCTAssertTrue(message(#"{"smtp":{"url":"smtp://u:p@h:25"}}"#).contains("must not hold credentials"))
        XCTAssertTrue(message(#"{"unsubscribe":{"url":"http://a.example/u"}}"#).contains("https://"))
        XCTAssertTrue(message(#"{"mailwizz":{"fields":{"fname":"first_name"}}}"#).contains("upper case"))
        XCTAssertTrue(message(#"{"mailwizz":{"api_key_env":"MY KEY"}}"#).contains("must name an environment variable"))
        XCTAssertTrue(message(#"{"slug":"Not A Slug"}"#).contains("is not a tenant slug"))
        XCTAssertTrue(message(#"{"default_country":"France"}"#).contains("not an ISO 3166 alpha-2 code"))
        XCTAssertTrue(message(#"{"taxonomy":{"a":"b"}}"#).contains("'taxonomy.a' must be an array"))
        XCTAssertTrue(message(#"{"webhooks":{"postmark":{"username":"u"}}}"#).contains("needs username and password_env"))
        XCTAssertTrue(message(#"{"webhooks":{"sendgrid":{}}}"#).contains("'webhooks.sendgrid.public_key' is required"))
        XCTAssertTrue(message(#"{"webhooks":{"mailwizz":{}}}"#).contains("'webhooks.mailwizz.secret_env' is required"))
        XCTAssertTrue(message(#"{"webhooks":{"ses":{"certificate_file":"c.pem","topic_arns":["ses"]}}}"#).contains("not a topic ARN"))
        XCTAssertTrue(message(#"{"mailwizz":{"language_lists":{"xx":"ab"}}}"#).contains("'mailwizz.language_lists.xx'"))
        XCTAssertTrue(message(#"{"vmtaz":[]}"#).contains("unknown key 'vmtaz' (did you mean 'vmtas'?)"))
        XCTAssertTrue(message(#"{"zzzzzzzz":1}"#).contains("known keys here: slug, name"))
        XCTAssertEqual(message("{}"), "")
    }

    func testDefaultsAreValid() throws {
        let c = TenantConfig.defaults(slug: try TenantSlug("acme"))
        let again = try TenantConfig.parse(c.serialized, file: "again")
        XCTAssertEqual(again.warmup, WarmupSchedule.defaults)
        XCTAssertEqual(again.bounces, c.bounces)
    }
}
