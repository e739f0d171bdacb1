import MailpipeCore
import MailpipeStore

/// The report as one self-contained HTML page: inline CSS and SVG, no scripts, no fonts, no
/// external references.
extension AccountReport.Report {
    static func esc(_ s: String) -> String { HTMLEscape.text(s) }

    static func num(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    public var html: String {
        let t = totals
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>mailpipe report — \(Self.esc(tenant))</title>
        <style>
        body{font-family:sans-serif;margin:16px;color:#1d2733;background:#fff;max-width:980px}
        h1{font-size:21px;margin:0 0 4px} h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d5dbe3;padding-bottom:4px}
        h3{font-size:14px;margin:14px 0 4px}
        .meta{color:#5b6875;font-size:13px}
        .figures{display:flex;flex-wrap:wrap;gap:10px;margin-top:14px}
        .figure{background:#eef3f8;border-radius:6px;padding:8px 14px;min-width:96px}
        .figure .value{display:block;font-size:22px;font-weight:bold;color:#1f5f99}
        .figure .label{font-size:12px;color:#5b6875}
        .figure.over{background:#fde4e1} .figure.over .value{color:#b3261e}
        .scroll{overflow-x:auto;max-width:100%}
        table{border-collapse:collapse;font-size:13px;margin:6px 0} th,td{padding:3px 8px;border-bottom:1px solid #e4e8ee;text-align:right;white-space:nowrap}
        th:first-child,td:first-child{text-align:left} th{background:#f4f6f9}
        td.over{background:#fde4e1;color:#b3261e;font-weight:bold}
        .cols{display:flex;flex-wrap:wrap;gap:20px}
        .charts{display:flex;flex-wrap:wrap;gap:14px}
        .chart{flex:1 1 300px;max-width:560px}
        svg{width:100%;height:auto;display:block}
        svg text{font-family:sans-serif;font-size:11px;fill:#33404d}
        </style></head><body>
        <h1>mailpipe report — \(Self.esc(tenant))</h1>
        <div class="meta">generated \(Self.esc(generatedAt))\(since.map { ", events since " + Self.esc($0) } ?? "")\(campaignFilter.map { ", campaign " + Self.esc($0) } ?? "")</div>
        <div class="figures">

        """
        let bounceRate = rate(t, "bounce_rate"), complaintRate = rate(t, "complaint_rate")
        let figures: [(String, String, String, Bool)] = [
            ("contacts", String(contacts), "contacts", false), ("sent", String(sends(t)), "sent", false),
            ("delivered", String(count(t, "delivered")), "delivered", false), ("bounced", String(bounced(t)), "bounced", false),
            ("bounce-rate", Self.percent(bounceRate), "bounce rate", ceilings.exceeded("bounce_rate", bounceRate)),
            ("complained", String(count(t, "complained")), "complaints", false),
            ("complaint-rate", Self.percent(complaintRate), "complaint rate", ceilings.exceeded("complaint_rate", complaintRate)),
            ("unsubscribe-rate", Self.percent(rate(t, "unsubscribe_rate")), "unsubscribe rate", false),
            ("opened", String(count(t, "opened")), "opens", false), ("clicked", String(count(t, "clicked")), "clicks", false),
            ("suppressed", String(suppressed), "suppressed", false),
        ]
        for (id, value, label, over) in figures {
            h += "<div class=\"figure\(over ? " over" : "")\" id=\"fig-\(id)\"><span class=\"value\">\(Self.esc(value))</span><span class=\"label\">\(label)</span></div>\n"
        }
        h += "</div>\n<p class=\"meta\">ceilings: bounce \(Self.percent(ceilings.bounceRate)), complaint \(Self.percent(ceilings.complaintRate)) — a rate over its ceiling is shown in red</p>\n"
        h += "<h2>Sends and bounces over time</h2>\n<div class=\"chart\">" + timeChart + "</div>\n"
        h += "<h2>Campaigns</h2>\n" + campaignTable + "<div class=\"charts\">\n"
        for name in campaigns.keys.sorted() { h += "<div class=\"chart\"><h3>\(Self.esc(name))</h3>" + campaignChart(name) + "</div>\n" }
        h += "</div>\n"
        if !variants.isEmpty {
            h += "<h2>A/B variants</h2>\n<div class=\"scroll\">" + htmlTable(
                ["campaign", "variant", "sent", "base", "opened", "open", "clicked", "click", "unsubs"], variants.rows.map { r in
                    [r.campaign, r.variant, String(r.sent), String(r.base), String(r.opened), Self.percent(r.openRate),
                     String(r.clicked), Self.percent(r.clickRate), String(r.unsubscribed)]
                }) + "</div>\n"
            for t in variants.tests { h += "<p id=\"ab-\(Self.esc(t.campaign))-\(t.metric)\">\(Self.esc(t.campaign)): \(Self.esc(t.sentence))</p>\n" }
        }
        h += "<h2>Warm-up per vmta</h2>\n<div class=\"chart\">" + warmupChart + "</div>\n<div class=\"charts\">\n"
        for w in warmup { h += "<div class=\"chart\"><h3>\(Self.esc(w.vmta)): week per day</h3>" + warmupHistoryChart(w.vmta) + "</div>\n" }
        h += "</div>\n<h2>Audience by language</h2>\n<div class=\"chart\">" + barChart(Self.sortedCounts(byLanguage), color: "#3d8f5a") + "</div>\n"
        h += "<h2>Contacts</h2>\n<div class=\"cols\">\n"
        for (title, d) in [("status", byStatus), ("verdict", byVerdict), ("source", bySource), ("tag", byTag)] {
            h += "<div>" + htmlTable([title, "contacts"], Self.sortedCounts(d).prefix(20).map { [$0.0, String($0.1)] }) + "</div>\n"
        }
        h += "</div>\n<h2>Events per day</h2>\n"
        h += htmlTable(["day", "sent", "delivered", "bounced", "deferred", "complaints", "opens", "clicks"], days.keys.sorted().map { day in
            let c = days[day]!
            return [day, String(daySends(c)), String(count(c, "delivered")), String(bounced(c)), String(count(c, "deferred")),
                    String(count(c, "complained")), String(count(c, "opened")), String(count(c, "clicked"))]
        })
        h += "<p class=\"meta\">events for contacts not in the store: \(unknownContactEvents)</p>\n</body></html>\n"
        return h
    }

    /// Per campaign its counts and rates; a rate over the tenant's ceiling in red.
    var campaignTable: String {
        var h = "<div class=\"scroll\"><table><tr>" + ["campaign", "sent", "delivered", "hard", "soft", "policy", "complaints", "unsubs",
                                                      "opens", "clicks", "delivery", "bounce", "complaint", "unsub", "open", "click"]
            .map { "<th>\($0)</th>" }.joined() + "</tr>\n"
        if campaigns.isEmpty { h += "<tr><td colspan=\"16\">none</td></tr>\n" }
        for name in campaigns.keys.sorted() {
            let c = campaigns[name]!
            let counts = [String(sends(c)), String(count(c, "delivered")), String(count(c, "bounced_hard")), String(count(c, "bounced_soft")),
                          String(count(c, "bounced_policy")), String(count(c, "complained")), String(count(c, "unsubscribed")),
                          String(count(c, "opened")), String(count(c, "clicked"))]
            h += "<tr><td>\(Self.esc(name))</td>" + counts.map { "<td>\($0)</td>" }.joined()
            for kind in ["delivery_rate", "bounce_rate", "complaint_rate", "unsubscribe_rate", "open_rate", "click_rate"] {
                let r = rate(c, kind)
                h += ceilings.exceeded(kind, r) ? "<td class=\"over\" title=\"over the tenant's ceiling\">\(Self.percent(r))</td>" : "<td>\(Self.percent(r))</td>"
            }
            h += "</tr>\n"
        }
        return h + "</table></div>\n"
    }

    func htmlTable(_ header: [String], _ rows: [[String]]) -> String {
        var h = "<div class=\"scroll\"><table><tr>" + header.map { "<th>\(Self.esc($0))</th>" }.joined() + "</tr>\n"
        if rows.isEmpty { h += "<tr><td colspan=\"\(header.count)\">none</td></tr>\n" }
        for r in rows { h += "<tr>" + r.map { "<td>\(Self.esc($0))</td>" }.joined() + "</tr>\n" }
        return h + "</table></div>\n"
    }

    /// An SVG that scales to its container (a phone's width included): drawn on a 360-unit-wide
    /// canvas, the size of a phone screen, so its text stays readable there.
    static func svg(height: Double, label: String, _ body: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 360 \(Int(height))\" role=\"img\" aria-label=\"\(esc(label))\">\n"
            + body + "</svg>\n"
    }

    /// Two series per day: sends (bars) and bounces (red bars), with axis labels.
    var timeChart: String {
        let keys = days.keys.sorted()
        guard !keys.isEmpty else { return "<p class=\"meta\">no events</p>\n" }
        let width = 360.0, height = 180.0, left = 34.0, bottom = 28.0, top = 20.0
        let sendsSeries = keys.map { Double(daySends(days[$0]!)) }
        let bounceSeries = keys.map { Double(bounced(days[$0]!)) }
        let maxValue = max(1, sendsSeries.max() ?? 1, bounceSeries.max() ?? 1)
        let plotW = width - left - 6, plotH = height - bottom - top
        let slot = plotW / Double(keys.count)
        let barW = max(1, slot * 0.4)
        var s = "<rect x=\"0\" y=\"0\" width=\"360\" height=\"\(Int(height))\" fill=\"#fbfcfd\"/>\n"
        s += "<line x1=\"\(Self.num(left))\" y1=\"\(Self.num(top + plotH))\" x2=\"\(Self.num(width - 6))\" y2=\"\(Self.num(top + plotH))\" stroke=\"#8894a0\"/>\n"
        s += "<text x=\"2\" y=\"\(Self.num(top + 8))\">\(Int(maxValue))</text><text x=\"2\" y=\"\(Self.num(top + plotH))\">0</text>\n"
        for (i, day) in keys.enumerated() {
            let x = left + Double(i) * slot + slot * 0.1
            let hs = sendsSeries[i] / maxValue * plotH
            let hb = bounceSeries[i] / maxValue * plotH
            s += "<rect x=\"\(Self.num(x))\" y=\"\(Self.num(top + plotH - hs))\" width=\"\(Self.num(barW))\" height=\"\(Self.num(hs))\" fill=\"#3a78b5\"><title>\(day): \(Int(sendsSeries[i])) sent</title></rect>\n"
            s += "<rect x=\"\(Self.num(x + barW))\" y=\"\(Self.num(top + plotH - hb))\" width=\"\(Self.num(barW))\" height=\"\(Self.num(hb))\" fill=\"#d2473c\"><title>\(day): \(Int(bounceSeries[i])) bounced</title></rect>\n"
        }
        s += "<text x=\"\(Self.num(left))\" y=\"\(Self.num(height - 8))\">\(keys.first!)</text>\n"
        if keys.count > 1 { s += "<text x=\"\(Self.num(width - 70))\" y=\"\(Self.num(height - 8))\">\(keys.last!)</text>\n" }
        s += "<rect x=\"\(Self.num(width - 130))\" y=\"4\" width=\"10\" height=\"10\" fill=\"#3a78b5\"/><text x=\"\(Self.num(width - 116))\" y=\"13\">sent</text>"
        s += "<rect x=\"\(Self.num(width - 76))\" y=\"4\" width=\"10\" height=\"10\" fill=\"#d2473c\"/><text x=\"\(Self.num(width - 62))\" y=\"13\">bounced</text>\n"
        return Self.svg(height: height, label: "sends and bounces per day", s)
    }

    /// A campaign's rates as bars, with the tenant's ceilings marked; a bar over its ceiling is red.
    func campaignChart(_ name: String) -> String {
        let c = campaigns[name]!
        let rows: [(String, String, Double?, Double?)] = [
            ("delivery", "delivery_rate", rate(c, "delivery_rate"), nil),
            ("bounce", "bounce_rate", rate(c, "bounce_rate"), ceilings.bounceRate),
            ("complaint", "complaint_rate", rate(c, "complaint_rate"), ceilings.complaintRate),
            ("unsubscribe", "unsubscribe_rate", rate(c, "unsubscribe_rate"), nil),
            ("open", "open_rate", rate(c, "open_rate"), nil),
            ("click", "click_rate", rate(c, "click_rate"), nil),
        ]
        let rowH = 20.0, left = 78.0, barMax = 220.0
        var s = ""
        for (i, row) in rows.enumerated() {
            let y = Double(i) * rowH + 4
            let value = row.2 ?? 0
            let over = ceilings.exceeded(row.1, row.2)
            s += "<text x=\"2\" y=\"\(Self.num(y + 13))\">\(row.0)</text>"
            s += "<rect x=\"\(Self.num(left))\" y=\"\(Self.num(y + 2))\" width=\"\(Self.num(barMax))\" height=\"14\" fill=\"#eef1f4\"/>"
            s += "<rect x=\"\(Self.num(left))\" y=\"\(Self.num(y + 2))\" width=\"\(Self.num(max(0.5, min(1, value) * barMax)))\" height=\"14\" fill=\"\(over ? "#d2473c" : "#3a78b5")\"/>"
            if let ceiling = row.3 {
                let x = left + min(1, ceiling) * barMax
                s += "<line x1=\"\(Self.num(x))\" y1=\"\(Self.num(y))\" x2=\"\(Self.num(x))\" y2=\"\(Self.num(y + 18))\" stroke=\"#b3261e\" stroke-dasharray=\"2,2\"><title>ceiling \(Self.percent(ceiling))</title></line>"
            }
            s += "<text x=\"\(Self.num(left + barMax + 6))\" y=\"\(Self.num(y + 13))\"\(over ? " fill=\"#b3261e\"" : "")>\(Self.percent(row.2))</text>\n"
        }
        return Self.svg(height: rowH * Double(rows.count) + 8, label: "rates of campaign \(name)", s)
    }

    /// One bar per vmta: its week out of the schedule's last, with quota and yesterday's rate.
    var warmupChart: String {
        guard !warmup.isEmpty else { return "<p class=\"meta\">no vmtas</p>\n" }
        let rowH = 38.0, left = 4.0, barMax = 352.0
        var s = ""
        for (i, w) in warmup.enumerated() {
            let y = Double(i) * rowH + 2
            let frac = min(1, Double(w.week) / Double(max(1, lastWeek)))
            let over = w.yesterdayRate.map { $0 > w.ceiling } ?? false
            s += "<text x=\"\(Self.num(left))\" y=\"\(Self.num(y + 11))\">\(Self.esc(w.vmta)): week \(w.week)/\(lastWeek), \(w.quota)/day, bounced yesterday </text>"
            s += "<text x=\"\(Self.num(left + 300))\" y=\"\(Self.num(y + 11))\"\(over ? " fill=\"#b3261e\"" : "")>\(Self.percent(w.yesterdayRate))</text>\n"
            s += "<rect x=\"\(Self.num(left))\" y=\"\(Self.num(y + 16))\" width=\"\(Self.num(barMax))\" height=\"14\" fill=\"#e4e9ef\"/>\n"
            s += "<rect x=\"\(Self.num(left))\" y=\"\(Self.num(y + 16))\" width=\"\(Self.num(barMax * frac))\" height=\"14\" fill=\"#e08a2c\"/>\n"
        }
        return Self.svg(height: rowH * Double(warmup.count) + 4, label: "warm-up per vmta", s)
    }

    /// A vmta's week of the schedule over time (a step line from its start to today).
    func warmupHistoryChart(_ vmta: String) -> String {
        let points = (warmupHistory[vmta] ?? []).filter { Timestamp(parsing: $0.date) != nil }
        guard let first = points.first.flatMap({ Timestamp(parsing: $0.date) }) else { return "<p class=\"meta\">no history</p>\n" }
        let end = Timestamp(parsing: generatedAt) ?? first
        let days = max(1.0, Double(end.seconds - first.seconds) / 86_400)
        let width = 360.0, height = 120.0, left = 26.0, top = 8.0, bottom = 24.0
        let plotW = width - left - 8, plotH = height - top - bottom
        func x(_ date: String) -> Double { left + Double((Timestamp(parsing: date)?.seconds ?? first.seconds) - first.seconds) / 86_400 / days * plotW }
        func y(_ week: Int) -> Double { top + plotH - Double(week - 1) / Double(max(1, lastWeek - 1)) * plotH }
        var path = "M\(Self.num(x(points[0].date))),\(Self.num(y(points[0].week)))"
        for p in points.dropFirst() { path += " H\(Self.num(x(p.date))) V\(Self.num(y(p.week)))" }
        path += " H\(Self.num(left + plotW))"
        var s = "<line x1=\"\(Self.num(left))\" y1=\"\(Self.num(top + plotH))\" x2=\"\(Self.num(left + plotW))\" y2=\"\(Self.num(top + plotH))\" stroke=\"#8894a0\"/>\n"
        s += "<text x=\"2\" y=\"\(Self.num(y(lastWeek) + 4))\">w\(lastWeek)</text><text x=\"2\" y=\"\(Self.num(y(1) + 4))\">w1</text>\n"
        s += "<path d=\"\(path)\" fill=\"none\" stroke=\"#e08a2c\" stroke-width=\"2\"/>\n"
        for p in points { s += "<circle cx=\"\(Self.num(x(p.date)))\" cy=\"\(Self.num(y(p.week)))\" r=\"3\" fill=\"#e08a2c\"><title>\(Self.esc(p.date)): week \(p.week)</title></circle>\n" }
        s += "<text x=\"\(Self.num(left))\" y=\"\(Self.num(height - 6))\">\(Self.esc(String(points[0].date.prefix(10))))</text>"
        s += "<text x=\"\(Self.num(width - 70))\" y=\"\(Self.num(height - 6))\">\(Self.esc(String(generatedAt.prefix(10))))</text>\n"
        return Self.svg(height: height, label: "warm-up history of \(vmta)", s)
    }

    func barChart(_ items: [(String, Int)], color: String) -> String {
        guard !items.isEmpty else { return "<p class=\"meta\">no contacts</p>\n" }
        let rowH = 20.0, left = 60.0, barMax = 250.0
        let top = Double(items.map(\.1).max() ?? 1)
        var s = ""
        for (i, item) in items.enumerated() {
            let y = Double(i) * rowH + 4
            let w = max(1, Double(item.1) / max(1, top) * barMax)
            s += "<text x=\"2\" y=\"\(Self.num(y + 13))\">\(Self.esc(item.0))</text>"
            s += "<rect x=\"\(Self.num(left))\" y=\"\(Self.num(y + 2))\" width=\"\(Self.num(w))\" height=\"14\" fill=\"\(color)\"/>"
            s += "<text x=\"\(Self.num(left + w + 6))\" y=\"\(Self.num(y + 13))\">\(item.1)</text>\n"
        }
        return Self.svg(height: rowH * Double(items.count) + 8, label: "audience by language", s)
    }
}
