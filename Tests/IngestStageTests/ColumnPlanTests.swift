import IngestStage
import MailpipeCore
import XCTest

/// The per-column plan of CSV ingest (`ColumnAction`, settled when the header is read): every
/// kind of column — aliases, numbered columns, duplicated fields, tags and status columns,
/// status flags, `custom`, unmapped and `--map`ped ones — must give the records the per-value
/// dispatch gave (the expected lines are that code's output), and a table's columns in any order
/// the same records.
final class ColumnPlanTests: IngestTestCase {
    static let wideTable = [
        #"E-mail Address,Prénom,Nom,full_name,Société,website,Phone 1 - Value,Pays,Ville,Langue,category,Tags,linkedin_url,facebook_url,instagram_url,twitter_url,status,UNSUB_TIME,source,created_at,Notes,Email 2,phone,tags,city,Extra,custom"#,
        #"ann@example.com,Ann,Lee,,Acme,https://Example.COM/Path,+33612345678,France,Lyon,Français,notaire,vip|lang-fr,https://www.linkedin.com/in/ann,https://facebook.com/ann,https://instagram.com/ann,https://twitter.com/ann,,,fair,2024-05-01T10:00:00Z,met in Lyon,ann2@example.com,+33 6 99 88 77 66,premium;vip,Paris,x1,c1"#,
        #"bob@example.com,,,Bob Martin,,https://www.linkedin.com/in/bob,06 12 34 56 78,DE,Berlin,de,avocat,,,,,,unsubscribed,,,,,,,,,, "#,
        #"Carl@Example.com,Carl,,,Zeta,www.site.fr,,Atlantis,,klingon,,* myContacts ::: friends,,,,,,2024-01-01,,not a date,,carl@example.com,,,Lyon,,"#,
    ]

    /// What ingest wrote for `wideTable` before the plan (main 68f861c), without and with maps.
    static let wideRecords = [
        #"{"tenant":"sos-expat","email":"ann@example.com","first_name":"Ann","last_name":"Lee","company":"Acme","website":"https://example.com/Path","phone":"+33612345678","country":"FR","city":"Lyon","language":"fr","category":"notaire","linkedin_url":"https://www.linkedin.com/in/ann","facebook_url":"https://facebook.com/ann","instagram_url":"https://instagram.com/ann","twitter_url":"https://twitter.com/ann","tags":["vip","lang-fr","premium"],"custom":{"other_emails":["ann2@example.com"],"Notes":"met in Lyon","city":"Paris","Extra":"x1","custom":"c1","other_phones":["+33699887766"]},"source":"fair","created_at":"2024-05-01T10:00:00Z"}"#,
        #"{"tenant":"sos-expat","email":"bob@example.com","first_name":"Bob","last_name":"Martin","phone":"+49612345678","country":"DE","city":"Berlin","language":"de","category":"avocat","linkedin_url":"https://www.linkedin.com/in/bob","status":"unsubscribed","source":"wide","created_at":"2026-11-23T09:00:00Z"}"#,
        #"{"tenant":"sos-expat","email":"carl@example.com","first_name":"Carl","company":"Zeta","website":"https://www.site.fr","country_raw":"Atlantis","city":"Lyon","language":"en","language_raw":"klingon","status":"unsubscribed","tags":["friends"],"custom":{"created_at":"not a date"},"source":"wide","created_at":"2026-11-23T09:00:00Z"}"#,
    ]
    static let wideMaps = ["Extra=ignore", "Notes=custom.remarks", "Ville=category"]
    static let wideRecordsMapped = [
        #"{"tenant":"sos-expat","email":"ann@example.com","first_name":"Ann","last_name":"Lee","company":"Acme","website":"https://example.com/Path","phone":"+33612345678","country":"FR","city":"Paris","language":"fr","category":"Lyon","linkedin_url":"https://www.linkedin.com/in/ann","facebook_url":"https://facebook.com/ann","instagram_url":"https://instagram.com/ann","twitter_url":"https://twitter.com/ann","tags":["vip","lang-fr","premium"],"custom":{"other_emails":["ann2@example.com"],"category":"notaire","remarks":"met in Lyon","custom":"c1","other_phones":["+33699887766"]},"source":"fair","created_at":"2024-05-01T10:00:00Z"}"#,
        #"{"tenant":"sos-expat","email":"bob@example.com","first_name":"Bob","last_name":"Martin","phone":"+49612345678","country":"DE","language":"de","category":"Berlin","linkedin_url":"https://www.linkedin.com/in/bob","status":"unsubscribed","custom":{"category":"avocat"},"source":"wide","created_at":"2026-11-23T09:00:00Z"}"#,
        #"{"tenant":"sos-expat","email":"carl@example.com","first_name":"Carl","company":"Zeta","website":"https://www.site.fr","country_raw":"Atlantis","city":"Lyon","language":"en","language_raw":"klingon","status":"unsubscribed","tags":["friends"],"custom":{"created_at":"not a date"},"source":"wide","created_at":"2026-11-23T09:00:00Z"}"#,
    ]

    func output() -> [String] {
        let bytes = (try? FileSystem.readFile("\(dir)/out.ndjson")) ?? []
        return bytes.split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) }
    }

    func testEveryKindOfColumnGivesTheRecordsOfThePerValueDispatch() throws {
        let path = write("wide.csv", ColumnPlanTests.wideTable.joined(separator: "\n") + "\n")
        _ = try ingest([path])
        XCTAssertEqual(output(), ColumnPlanTests.wideRecords)
        _ = try ingest([path], maps: ColumnPlanTests.wideMaps)
        XCTAssertEqual(output(), ColumnPlanTests.wideRecordsMapped)
    }

    /// A column of the generated table: its header and the values a row draws from.
    struct Column {
        var header: String
        /// Columns of one field keep their order among themselves (the first non-empty value is
        /// the field's, later ones overflow under their header): the key they are ordered by. A
        /// social profile given as the website goes to its own field when that is still empty:
        /// the website and profile columns are ordered as one; so are the status flags (the
        /// first flag of a row is its status).
        var field: String
        var values: [String]
    }

    static let columns: [Column] = [
        Column(header: "email", field: "email", values: ["a@example.com", "B@Example.com", "", "not an address", "x@y.fr ::: z@y.fr"]),
        Column(header: "E-mail 2 - Value", field: "email", values: ["", "a@example.com", "other@example.org"]),
        Column(header: "first_name", field: "first_name", values: ["Ann", "Élodie", "", "  Bob ", "Анастасия"]),
        Column(header: "Prénom", field: "first_name", values: ["", "Ann", "Zoë"]),
        Column(header: "Nom", field: "last_name", values: ["Lee", "", "Müller"]),
        Column(header: "full_name", field: "full_name", values: ["", "Jean Dupont", "Dupont, Jean", "李伟"]),
        Column(header: "Company", field: "company", values: ["Acme", "", "ИП Иванов"]),
        Column(header: "Organization 1 - Name", field: "company", values: ["", "Acme", "Zeta"]),
        Column(header: "website", field: "web", values: ["https://Example.COM/P", "", "linkedin.com/in/ann", "https://twitter.com/x"]),
        Column(header: "linkedin_url", field: "web", values: ["", "https://www.linkedin.com/in/bob"]),
        Column(header: "twitter_url", field: "web", values: ["", "https://twitter.com/y"]),
        Column(header: "phone", field: "phone", values: ["+33612345678", "", "06 12 34 56 78", "+1 415 555 0100 ::: +33699887766"]),
        Column(header: "Phone 1 - Value", field: "phone", values: ["", "+33612345678", "+7 950 917 34 65"]),
        Column(header: "Pays", field: "country", values: ["France", "FR", "", "Atlantis", "Deutschland"]),
        Column(header: "country", field: "country", values: ["", "US", "FR"]),
        Column(header: "city", field: "city", values: ["Lyon", "", "Москва"]),
        Column(header: "Ville", field: "city", values: ["", "Paris", "Lyon"]),
        Column(header: "language", field: "language", values: ["fr", "", "Français", "klingon"]),
        Column(header: "category", field: "category", values: ["notaire", "", "avocat"]),
        Column(header: "tags", field: "tags", values: ["vip|lang-fr", "", "premium; vip", "* myContacts ::: friends", "§§"]),
        Column(header: "Labels", field: "tags", values: ["", "vip", "expat,retraite"]),
        Column(header: "status", field: "status", values: ["", "unsubscribed", "bounced", "active", "weird"]),
        Column(header: "UNSUB_TIME", field: "flag", values: ["", "", "2024-01-01"]),
        Column(header: "EMAIL_BLACKLISTED", field: "flag", values: ["", "No", "Yes"]),
        Column(header: "source", field: "source", values: ["", "fair"]),
        Column(header: "created_at", field: "created_at", values: ["", "2024-05-01T10:00:00Z", "not a date"]),
        Column(header: "Notes", field: "Notes", values: ["", "met in Lyon", "{\"a\":1}"]),
        Column(header: "Extra", field: "Extra", values: ["x", ""]),
        Column(header: "Dropped", field: "Dropped", values: ["gone", ""]),
    ]
    static let generatedMaps = ["Dropped=ignore", "Extra=custom.more"]

    /// The columns in a random order, those of one field still in their own order.
    static func shuffled(_ g: inout FastPathTests.Generator) -> [Int] {
        var order = Array(columns.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, g.below(i + 1)) }
        var next: [String: [Int]] = [:]
        for i in columns.indices { next[columns[i].field, default: []].append(i) }
        return order.map { i in next[columns[i].field]!.removeFirst() }
    }

    static func table(_ rows: [[String]], order: [Int]) -> String {
        var text = order.map { columns[$0].header }.joined(separator: ",") + "\n"
        for row in rows { text += order.map { row[$0] }.joined(separator: ",") + "\n" }
        return text
    }

    /// A contact with its `custom` members in key order (their order follows the columns').
    static func normalised(_ contact: JSONValue) -> JSONValue {
        guard case .object(var members) = contact, case .object(let custom)? = members["custom"] else { return contact }
        var out = JSONObject()
        for (key, value) in members.members {
            out.append(key, key == "custom" ? .object(JSONObject(custom.members.sorted { $0.0 < $1.0 })) : value)
        }
        members = out
        return .object(members)
    }

    func testAnyColumnOrderGivesTheSameRecords() throws {
        var g = FastPathTests.Generator(state: 0x5EED_C01)
        let rows = (0..<400).map { _ in ColumnPlanTests.columns.map { g.pick($0.values) } }
        let reference = try ingest([write("t.csv", ColumnPlanTests.table(rows, order: Array(ColumnPlanTests.columns.indices)))],
                                   maps: ColumnPlanTests.generatedMaps)
        XCTAssertGreaterThan(reference.contacts.count, 100)
        XCTAssertTrue(reference.contacts.contains { $0["custom"]?["more"] != nil } && reference.contacts.contains { $0["status"] != nil },
                      "the table reaches custom and status columns")
        for round in 0..<6 {
            let order = ColumnPlanTests.shuffled(&g)
            let r = try ingest([write("t.csv", ColumnPlanTests.table(rows, order: order))], maps: ColumnPlanTests.generatedMaps)
            XCTAssertEqual(r.contacts.count, reference.contacts.count, "round \(round)")
            if let i = r.contacts.indices.first(where: { i in i < reference.contacts.count
                && ColumnPlanTests.normalised(r.contacts[i]) != ColumnPlanTests.normalised(reference.contacts[i]) }) {
                XCTFail("round \(round), contact \(i): \(r.contacts[i]) where the table in its first order gives \(reference.contacts[i]); "
                        + "columns \(order.map { ColumnPlanTests.columns[$0].header })")
            }
            XCTAssertEqual(r.rejects.map { "\(String(describing: $0["reason"])) \(String(describing: $0["line"]))" }, reference.rejects.map { "\(String(describing: $0["reason"])) \(String(describing: $0["line"]))" })
        }
    }
}
