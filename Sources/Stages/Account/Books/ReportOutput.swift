import MailpipeCore
import MailpipeStore

extension AccountReport.Report {
    static func percent(_ r: Double?) -> String { TextTable.percent(r) }

    static func sortedCounts(_ d: [String: Int]) -> [(String, Int)] {
        d.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    }

    /// A rate, with "!" when it is over the tenant's ceiling.
    func flagged(_ kind: String, _ rate: Double?) -> String {
        Self.percent(rate) + (ceilings.exceeded(kind, rate) ? "!" : "")
    }

    func rate(_ c: [Int], _ name: String) -> Double? { rates(c).first { $0.0 == name }?.1 }

    // MARK: text

    /// Tables for a terminal of 80 columns: names in any script line up (display width).
    public var text: String {
        var out = "mailpipe report — tenant \(tenant), \(generatedAt)"
        if let since { out += ", events since \(since)" }
        if let campaignFilter { out += ", campaign \(campaignFilter)" }
        out += "\n\n"
        out += "contacts \(contacts)   suppressed \(suppressed)   events \(events)   events for unknown contacts \(unknownContactEvents)\n"
        let t = totals
        out += "sent \(sends(t))   delivered \(count(t, "delivered")) (\(Self.percent(rate(t, "delivery_rate"))))   "
            + "bounced \(bounced(t)) (\(flagged("bounce_rate", rate(t, "bounce_rate"))))\n"
        out += "complaints \(count(t, "complained")) (\(flagged("complaint_rate", rate(t, "complaint_rate"))))  "
            + "unsubscribes \(count(t, "unsubscribed")) (\(Self.percent(rate(t, "unsubscribe_rate"))))  "
            + "opens \(count(t, "opened")) (\(Self.percent(rate(t, "open_rate"))))  "
            + "clicks \(count(t, "clicked")) (\(Self.percent(rate(t, "click_rate"))))\n"
        out += "opens/clicks count people's recipients (events \(count(t, "opened_events"))/\(count(t, "clicked_events"))); "
            + "list syncs \(count(t, "synced"))\n"
        out += "machines' opens/clicks left out \(count(t, "opened_machine"))/\(count(t, "clicked_machine")) "
            + "(privacy proxies, scanners)\n"
        out += "ceilings: bounce \(Self.percent(ceilings.bounceRate)), complaint \(Self.percent(ceilings.complaintRate)); "
            + "a rate over its ceiling ends in !\n"
        for (title, d) in [("status", byStatus), ("verdict", byVerdict), ("language", byLanguage), ("source", bySource), ("tag", byTag)] {
            let rows = Self.sortedCounts(d).prefix(title == "tag" ? 20 : 50).map { [$0.0, String($0.1)] }
            out += "\ncontacts by \(title)\n" + TextTable.render(["value", "contacts"], rows)
        }
        let names = campaigns.keys.sorted()
        let campaignRows = names.map { name -> [String] in
            let c = campaigns[name]!
            return [name, String(sends(c)), Self.percent(rate(c, "delivery_rate")), flagged("bounce_rate", rate(c, "bounce_rate")),
                    flagged("complaint_rate", rate(c, "complaint_rate")), Self.percent(rate(c, "unsubscribe_rate")),
                    Self.percent(rate(c, "open_rate")), Self.percent(rate(c, "click_rate"))]
        }
        out += "\ncampaigns (delivery and bounce of sent; the other rates of delivered)\n"
            + TextTable.render(["campaign", "sent", "delivered", "bounce", "complaint", "unsub", "open", "click"], campaignRows)
        let bounceRows = names.map { name -> [String] in
            let c = campaigns[name]!
            return [name, String(count(c, "delivered")), String(count(c, "bounced_hard")), String(count(c, "bounced_soft")),
                    String(count(c, "bounced_policy")), String(count(c, "complained")), String(count(c, "unsubscribed")),
                    String(count(c, "opened")), String(count(c, "clicked"))]
        }
        out += "\ncampaign counts\n" + TextTable.render(
            ["campaign", "delivered", "hard", "soft", "policy", "complaints", "unsubs", "opens", "clicks"], bounceRows)
        let dayRows = days.keys.sorted().map { day -> [String] in
            let c = days[day]!
            return [day, String(daySends(c)), String(count(c, "delivered")), String(bounced(c)), String(count(c, "deferred")),
                    String(count(c, "complained")), String(count(c, "opened")), String(count(c, "clicked"))]
        }
        out += "\nevents per day\n" + TextTable.render(["day", "sent", "delivered", "bounced", "deferred", "complaints", "opens", "clicks"], dayRows)
        if !variants.isEmpty { out += "\n" + variants.text }
        out += "\nwarm-up (sent and bounced yesterday; the ceiling of the vmta's week)\n" + AccountWarmup.Row.table(warmup)
        return out
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
            emit([("section", .string("day")), ("date", .string(day)), ("sends", .int(daySends(c)))]
                 + zip(AccountReport.counters, c).map { ($0.0, .int($0.1)) })
        }
        for w in warmup {
            guard case .object(let o) = w.json else { continue }
            emit([("section", .string("warmup"))] + o.members)
        }
        for row in variants.rows { emit(row.members) }
        for test in variants.tests { emit(test.members) }
        return out.bytes
    }
}

extension AccountReport {
    /// tenant.json `ceilings` {bounce_rate, complaint_rate}; by default the warm-up schedule's
    /// last bounce ceiling and 0.1 % of complaints (what the large mailbox providers ask of bulk
    /// senders).
    public struct Ceilings {
        public var bounceRate = 0.01
        public var complaintRate = 0.001

        public init() {}

        init(config: TenantConfig, schedule: WarmupSchedule) {
            bounceRate = config.ceilings.bounceRate ?? schedule.step(week: schedule.lastWeek).ceiling
            complaintRate = config.ceilings.complaintRate ?? 0.001
        }

        /// Whether a rate goes over its ceiling (`kind`: "bounce_rate" or "complaint_rate").
        public func exceeded(_ kind: String, _ rate: Double?) -> Bool {
            guard let rate else { return false }
            switch kind {
            case "bounce_rate": return rate > bounceRate
            case "complaint_rate": return rate > complaintRate
            default: return false
            }
        }
    }
}

extension AccountWarmup.Row {
    /// The warm-up rows for a person: rates as percentages, the action taken when there is one.
    public static func table(_ rows: [AccountWarmup.Row]) -> String {
        let withAction = rows.contains { $0.action != nil }
        let header = ["vmta", "week", "quota/day", "sent today", "yesterday", "bounced", "ceiling"]
            + (withAction ? ["action"] : [])
        return TextTable.render(header, rows.map { r in
            [r.vmta, String(r.week), String(r.quota), String(r.sentToday), String(r.yesterdaySent),
             r.yesterdayRate.map { "\(r.yesterdayBounced) (\(TextTable.percent($0)))" } ?? "-",
             TextTable.percent(r.ceiling)] + (withAction ? [r.action?.rawValue ?? ""] : [])
        })
    }
}

extension VariantComparison.Row {
    var members: [(String, JSONValue)] {
        func rate(_ r: Double?) -> JSONValue { r.map { .number(WarmupSchedule.format($0)) } ?? .null }
        return [("section", .string("variant")), ("campaign", .string(campaign)), ("variant", .string(variant)),
                ("sent", .int(sent)), ("delivered", .int(delivered)), ("opened", .int(opened)), ("clicked", .int(clicked)),
                ("bounced", .int(bounced)), ("complained", .int(complained)), ("unsubscribed", .int(unsubscribed)),
                ("base", .int(base)), ("open_rate", rate(openRate)), ("click_rate", rate(clickRate))]
    }
}

extension VariantComparison.Test {
    var members: [(String, JSONValue)] {
        func number(_ v: Double?, _ digits: Double) -> JSONValue { v.map { .number(WarmupSchedule.format(($0 * digits).rounded() / digits)) } ?? .null }
        return [("section", .string("variant_test")), ("campaign", .string(campaign)), ("metric", .string(metric)),
                ("best", .string(best)), ("runner_up", .string(runnerUp)), ("z", number(z, 1000)), ("p_value", number(pValue, 1_000_000)),
                ("alpha", number(alpha, 1_000_000)), ("verdict", .string(verdict.rawValue)), ("winner", winner.map { .string($0) } ?? .null)]
    }

    /// `b won on click_rate (p = 0.0031)`, `no significant difference in open_rate (p = 0.41)`.
    public var sentence: String {
        let what = metric == "open_rate" ? "opens" : metric == "click_rate" ? "clicks" : metric
        let p = pValue.map { " (p = \(VariantComparison.Test.short($0)), α = \(VariantComparison.Test.short(alpha)))" } ?? ""
        switch verdict {
        case .won: return "\(best) won on \(what) against \(runnerUp)\(p)"
        case .noDifference: return "no significant difference in \(what): \(best) leads \(runnerUp)\(p)"
        case .tooFew: return "too few recipients to compare \(what) (30 a variant and 5 expected events needed)"
        }
    }

    static func short(_ v: Double) -> String {
        v >= 0.0001 ? WarmupSchedule.format((v * 10_000).rounded() / 10_000) : "< 0.0001"
    }
}

extension VariantComparison.Result {
    /// A table per campaign and a line per test, for 80 columns.
    public var text: String {
        var out = "A/B variants (rates of delivered, or of sent when no delivery was imported; people, not events)\n"
        out += TextTable.render(["campaign", "variant", "sent", "base", "opened", "open", "clicked", "click", "unsub"], rows.map { r in
            [r.campaign, r.variant, String(r.sent), String(r.base), String(r.opened), TextTable.percent(r.openRate),
             String(r.clicked), TextTable.percent(r.clickRate), String(r.unsubscribed)]
        })
        for t in tests { out += "\(t.campaign): \(t.sentence)\n" }
        return out
    }
}
