import MailpipeCore
import MailpipeStore

/// The report as one self-contained HTML page: inline CSS and SVG, no scripts, no fonts, no
/// external references.
extension AccountReport.Report {
    static func esc(_ s: String) -> String {
        var r = ""
        for c in s {
            switch c {
            case "&": r += "&amp;"
            case "<": r += "&lt;"
            case ">": r += "&gt;"
            case "\"": r += "&quot;"
            case "'": r += "&#39;"
            default: r.append(c)
            }
        }
        return r
    }

    static func num(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    public var html: String {
        let t = totals
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <title>mailpipe report — \(Self.esc(tenant))</title>
        <style>
        body{font-family:sans-serif;margin:24px;color:#1d2733;background:#fff}
        h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d5dbe3;padding-bottom:4px}
        .meta{color:#5b6875;font-size:13px}
        .figures{display:flex;flex-wrap:wrap;gap:12px;margin-top:16px}
        .figure{background:#eef3f8;border-radius:6px;padding:10px 16px;min-width:110px}
        .figure .value{display:block;font-size:24px;font-weight:bold;color:#1f5f99}
        .figure .label{font-size:12px;color:#5b6875}
        table{border-collapse:collapse;font-size:13px;margin:6px 0} th,td{padding:3px 10px;border-bottom:1px solid #e4e8ee;text-align:right}
        th:first-child,td:first-child{text-align:left} th{background:#f4f6f9}
        .cols{display:flex;flex-wrap:wrap;gap:28px}
        svg text{font-family:sans-serif;font-size:11px;fill:#33404d}
        </style></head><body>
        <h1>mailpipe report — \(Self.esc(tenant))</h1>
        <div class="meta">generated \(Self.esc(generatedAt))\(since.map { ", events since " + Self.esc($0) } ?? "")\(campaignFilter.map { ", campaign " + Self.esc($0) } ?? "")</div>
        <div class="figures">

        """
        let figures: [(String, String, String)] = [
            ("contacts", String(contacts), "contacts"), ("sent", String(sends(t)), "sent"),
            ("delivered", String(count(t, "delivered")), "delivered"), ("bounced", String(bounced(t)), "bounced"),
            ("bounce-rate", Self.percent(rates(t)[1].1), "bounce rate"), ("complained", String(count(t, "complained")), "complaints"),
            ("opened", String(count(t, "opened")), "opens"), ("clicked", String(count(t, "clicked")), "clicks"),
            ("suppressed", String(suppressed), "suppressed"),
        ]
        for (id, value, label) in figures {
            h += "<div class=\"figure\" id=\"fig-\(id)\"><span class=\"value\">\(Self.esc(value))</span><span class=\"label\">\(label)</span></div>\n"
        }
        h += "</div>\n<h2>Sends and bounces over time</h2>\n" + timeChart
        h += "<h2>Warm-up per vmta</h2>\n" + warmupChart
        h += "<h2>Audience by language</h2>\n" + barChart(Self.sortedCounts(byLanguage), color: "#3d8f5a")
        h += "<h2>Campaigns</h2>\n" + htmlTable(["campaign", "sent", "delivered", "hard", "soft", "policy", "complained", "opened", "clicked",
                                                 "unsub", "delivery", "bounce", "open", "click"],
                                                campaigns.keys.sorted().map { name in
            let c = campaigns[name]!
            let r = rates(c)
            return [name, String(sends(c)), String(count(c, "delivered")), String(count(c, "bounced_hard")), String(count(c, "bounced_soft")),
                    String(count(c, "bounced_policy")), String(count(c, "complained")), String(count(c, "opened")), String(count(c, "clicked")),
                    String(count(c, "unsubscribed")), Self.percent(r[0].1), Self.percent(r[1].1), Self.percent(r[4].1), Self.percent(r[5].1)]
        })
        h += "<h2>Contacts</h2>\n<div class=\"cols\">\n"
        for (title, d) in [("status", byStatus), ("verdict", byVerdict), ("source", bySource), ("tag", byTag)] {
            h += "<div>" + htmlTable([title, "contacts"], Self.sortedCounts(d).prefix(20).map { [$0.0, String($0.1)] }) + "</div>\n"
        }
        h += "</div>\n<h2>Events per day</h2>\n"
        h += htmlTable(["day", "sent", "delivered", "bounced", "deferred", "complained", "opened", "clicked"], days.keys.sorted().map { day in
            let c = days[day]!
            return [day, String(sends(c)), String(count(c, "delivered")), String(bounced(c)), String(count(c, "deferred")),
                    String(count(c, "complained")), String(count(c, "opened")), String(count(c, "clicked"))]
        })
        h += "<p class=\"meta\">events for contacts not in the store: \(unknownContactEvents)</p>\n</body></html>\n"
        return h
    }

    func htmlTable(_ header: [String], _ rows: [[String]]) -> String {
        var h = "<table><tr>" + header.map { "<th>\(Self.esc($0))</th>" }.joined() + "</tr>\n"
        if rows.isEmpty { h += "<tr><td colspan=\"\(header.count)\">none</td></tr>\n" }
        for r in rows { h += "<tr>" + r.map { "<td>\(Self.esc($0))</td>" }.joined() + "</tr>\n" }
        return h + "</table>\n"
    }

    /// Two series per day: sends (bars) and bounces (red bars), with axis labels.
    var timeChart: String {
        let keys = days.keys.sorted()
        guard !keys.isEmpty else { return "<p class=\"meta\">no events</p>\n" }
        let width = 760.0, height = 240.0, left = 50.0, bottom = 30.0, top = 14.0
        let sendsSeries = keys.map { Double(sends(days[$0]!)) }
        let bounceSeries = keys.map { Double(bounced(days[$0]!)) }
        let maxValue = max(1, sendsSeries.max() ?? 1, bounceSeries.max() ?? 1)
        let plotW = width - left - 10, plotH = height - bottom - top
        let slot = plotW / Double(keys.count)
        let barW = max(1, slot * 0.4)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"sends and bounces per day\">\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#fbfcfd\"/>\n"
        s += "<line x1=\"\(Self.num(left))\" y1=\"\(Self.num(top + plotH))\" x2=\"\(Self.num(width - 10))\" y2=\"\(Self.num(top + plotH))\" stroke=\"#8894a0\"/>\n"
        s += "<text x=\"4\" y=\"\(Self.num(top + 8))\">\(Int(maxValue))</text><text x=\"4\" y=\"\(Self.num(top + plotH))\">0</text>\n"
        for (i, day) in keys.enumerated() {
            let x = left + Double(i) * slot + slot * 0.1
            let hs = sendsSeries[i] / maxValue * plotH
            let hb = bounceSeries[i] / maxValue * plotH
            s += "<rect x=\"\(Self.num(x))\" y=\"\(Self.num(top + plotH - hs))\" width=\"\(Self.num(barW))\" height=\"\(Self.num(hs))\" fill=\"#3a78b5\"><title>\(day): \(Int(sendsSeries[i])) sent</title></rect>\n"
            s += "<rect x=\"\(Self.num(x + barW))\" y=\"\(Self.num(top + plotH - hb))\" width=\"\(Self.num(barW))\" height=\"\(Self.num(hb))\" fill=\"#d2473c\"><title>\(day): \(Int(bounceSeries[i])) bounced</title></rect>\n"
        }
        s += "<text x=\"\(Self.num(left))\" y=\"\(Self.num(height - 10))\">\(keys.first!)</text>\n"
        if keys.count > 1 { s += "<text x=\"\(Self.num(width - 80))\" y=\"\(Self.num(height - 10))\">\(keys.last!)</text>\n" }
        s += "<rect x=\"\(Self.num(width - 190))\" y=\"4\" width=\"10\" height=\"10\" fill=\"#3a78b5\"/><text x=\"\(Self.num(width - 176))\" y=\"13\">sent</text>"
        s += "<rect x=\"\(Self.num(width - 130))\" y=\"4\" width=\"10\" height=\"10\" fill=\"#d2473c\"/><text x=\"\(Self.num(width - 116))\" y=\"13\">bounced</text>\n"
        return s + "</svg>\n"
    }

    /// One bar per vmta: its week out of the schedule's last, with quota and yesterday's rate.
    var warmupChart: String {
        guard !warmup.isEmpty else { return "<p class=\"meta\">no vmtas</p>\n" }
        let rowH = 30.0, width = 760.0, left = 120.0, barMax = 300.0
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(rowH * Double(warmup.count) + 10))\" role=\"img\" aria-label=\"warm-up per vmta\">\n"
        for (i, w) in warmup.enumerated() {
            let y = Double(i) * rowH + 5
            let frac = min(1, Double(w.week) / Double(max(1, lastWeek)))
            s += "<text x=\"4\" y=\"\(Self.num(y + 17))\">\(Self.esc(w.vmta))</text>\n"
            s += "<rect x=\"\(Self.num(left))\" y=\"\(Self.num(y + 4))\" width=\"\(Self.num(barMax))\" height=\"18\" fill=\"#e4e9ef\"/>\n"
            s += "<rect x=\"\(Self.num(left))\" y=\"\(Self.num(y + 4))\" width=\"\(Self.num(barMax * frac))\" height=\"18\" fill=\"#e08a2c\"/>\n"
            s += "<text x=\"\(Self.num(left + barMax + 8))\" y=\"\(Self.num(y + 17))\">week \(w.week)/\(lastWeek), \(w.quota)/day, bounced yesterday \(Self.percent(w.yesterdayRate))</text>\n"
        }
        return s + "</svg>\n"
    }

    func barChart(_ items: [(String, Int)], color: String) -> String {
        guard !items.isEmpty else { return "<p class=\"meta\">no contacts</p>\n" }
        let rowH = 22.0, left = 70.0, barMax = 480.0
        let top = Double(items.map(\.1).max() ?? 1)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"\(Int(rowH * Double(items.count) + 8))\" role=\"img\" aria-label=\"audience by language\">\n"
        for (i, item) in items.enumerated() {
            let y = Double(i) * rowH + 4
            let w = max(1, Double(item.1) / max(1, top) * barMax)
            s += "<text x=\"4\" y=\"\(Self.num(y + 14))\">\(Self.esc(item.0))</text>"
            s += "<rect x=\"\(Self.num(left))\" y=\"\(Self.num(y + 2))\" width=\"\(Self.num(w))\" height=\"16\" fill=\"\(color)\"/>"
            s += "<text x=\"\(Self.num(left + w + 6))\" y=\"\(Self.num(y + 14))\">\(item.1)</text>\n"
        }
        return s + "</svg>\n"
    }
}
