import MailpipeCore
import MailpipeStore

extension AccountReport.Report {
    static func percent(_ r: Double?) -> String {
        guard let r else { return "-" }
        let v = (r * 1000).rounded() / 10
        return String(v) + "%"
    }

    static func sortedCounts(_ d: [String: Int]) -> [(String, Int)] {
        d.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    }

    // MARK: text

    public var text: String {
        var out = "mailpipe report — tenant \(tenant), \(generatedAt)"
        if let since { out += ", events since \(since)" }
        if let campaignFilter { out += ", campaign \(campaignFilter)" }
        out += "\n\n"
        out += "contacts \(contacts)   suppressed \(suppressed)   events \(events)   events for unknown contacts \(unknownContactEvents)\n"
        let t = totals
        out += "sent \(sends(t))   delivered \(count(t, "delivered"))   bounced \(bounced(t))   complained \(count(t, "complained"))   " +
            "opened \(count(t, "opened"))   clicked \(count(t, "clicked"))   unsubscribed \(count(t, "unsubscribed"))\n"
        for (title, d) in [("status", byStatus), ("verdict", byVerdict), ("language", byLanguage), ("source", bySource), ("tag", byTag)] {
            let rows = Self.sortedCounts(d).prefix(title == "tag" ? 20 : 50).map { [$0.0, String($0.1)] }
            out += "\ncontacts by \(title)\n" + Self.table(["value", "contacts"], rows)
        }
        let header = ["campaign", "sent", "delivered", "hard", "soft", "policy", "complained", "opened", "clicked", "unsub",
                      "delivery", "bounce", "open", "click"]
        let campaignRows = campaigns.keys.sorted().map { name -> [String] in
            let c = campaigns[name]!
            let r = rates(c)
            return [name, String(sends(c)), String(count(c, "delivered")), String(count(c, "bounced_hard")), String(count(c, "bounced_soft")),
                    String(count(c, "bounced_policy")), String(count(c, "complained")), String(count(c, "opened")), String(count(c, "clicked")),
                    String(count(c, "unsubscribed")), Self.percent(r[0].1), Self.percent(r[1].1), Self.percent(r[4].1), Self.percent(r[5].1)]
        }
        out += "\ncampaigns\n" + Self.table(header, campaignRows)
        let dayRows = days.keys.sorted().map { day -> [String] in
            let c = days[day]!
            return [day, String(sends(c)), String(count(c, "delivered")), String(bounced(c)), String(count(c, "deferred")),
                    String(count(c, "complained")), String(count(c, "opened")), String(count(c, "clicked"))]
        }
        out += "\nevents per day\n" + Self.table(["day", "sent", "delivered", "bounced", "deferred", "complained", "opened", "clicked"], dayRows)
        let warmRows = warmup.map { w in
            [w.vmta, String(w.week), String(w.quota), String(w.sentToday), String(w.yesterdaySent), Self.percent(w.yesterdayRate),
             Self.percent(w.ceiling)]
        }
        out += "\nwarm-up\n" + Self.table(["vmta", "week", "quota", "sent today", "sent yesterday", "bounce yesterday", "ceiling"], warmRows)
        return out
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        if rows.isEmpty { return "  (none)\n" }
        var widths = header.map { $0.count }
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            "  " + cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return i == 0 ? c + pad : pad + c
            }.joined(separator: "  ") + "\n"
        }
        return line(header) + rows.map(line).joined()
    }

    // MARK: NDJSON

    public var ndjson: [UInt8] {
        var out = ByteBuffer(capacity: 1 << 14)
        func emit(_ members: [(String, JSONValue)]) {
            JSONValue.object(JSONObject(members)).write(into: &out)
            out.append(0x0A)
        }
        func rate(_ r: Double?) -> JSONValue { r.map { .number(WarmupSchedule.format($0)) } ?? .null }
        var head: [(String, JSONValue)] = [("section", .string("totals")), ("tenant", .string(tenant)), ("generated_at", .string(generatedAt))]
        if let since { head.append(("since", .string(since))) }
        if let campaignFilter { head.append(("campaign", .string(campaignFilter))) }
        head += [("contacts", .int(contacts)), ("suppressed", .int(suppressed)), ("events", .int(events)),
                 ("unknown_contact_events", .int(unknownContactEvents)), ("sends", .int(sends(totals)))]
        head += zip(AccountReport.counters, totals).map { ($0.0, .int($0.1)) }
        head += rates(totals).map { ($0.0, rate($0.1)) }
        emit(head)
        for (by, d) in [("status", byStatus), ("verdict", byVerdict), ("language", byLanguage), ("tag", byTag), ("source", bySource)] {
            for (value, n) in Self.sortedCounts(d) {
                emit([("section", .string("contacts")), ("by", .string(by)), ("value", .string(value)), ("count", .int(n))])
            }
        }
        for name in campaigns.keys.sorted() {
            let c = campaigns[name]!
            emit([("section", .string("campaign")), ("campaign", .string(name)), ("sends", .int(sends(c)))]
                 + zip(AccountReport.counters, c).map { ($0.0, .int($0.1)) } + rates(c).map { ($0.0, rate($0.1)) })
        }
        for day in days.keys.sorted() {
            let c = days[day]!
            emit([("section", .string("day")), ("date", .string(day)), ("sends", .int(sends(c)))]
                 + zip(AccountReport.counters, c).map { ($0.0, .int($0.1)) })
        }
        for w in warmup {
            guard case .object(let o) = w.json else { continue }
            emit([("section", .string("warmup"))] + o.members)
        }
        return out.bytes
    }
}
