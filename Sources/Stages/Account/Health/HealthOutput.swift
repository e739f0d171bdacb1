import MailpipeCore
import MailpipeStore

extension AccountHealth.Result {
    /// The health as one JSON object (`--json`, and the alert `--alert-command` receives).
    public var json: JSONValue {
        func number(_ v: Double?) -> JSONValue { v.map { .number(WarmupSchedule.format($0)) } ?? .null }
        let w = figures.window
        let window = JSONObject([("days", .int(windowDays)), ("from", .string(w.first)), ("to", .string(w.last)),
                                 ("sends", .int(w.sends)), ("delivered", .int(w.delivered)), ("bounced", .int(w.bounced)),
                                 ("complained", .int(w.complained)), ("unsubscribed", .int(w.unsubscribed))])
        let reasons: [JSONValue] = reasons.map { r in
            var o = JSONObject([("check", .string(r.check.rawValue)), ("level", .string(r.level.rawValue)),
                                ("figure", number(r.figure)), ("threshold", number(r.threshold)), ("points", .int(r.points)),
                                ("detail", .string(r.detail))])
            if let vmta = r.vmta { o.append("vmta", .string(vmta)) }
            return .object(o)
        }
        var o = JSONObject([("tenant", .string(tenant)), ("generated_at", .string(generatedAt)), ("status", .string(level.rawValue)),
                            ("score", score.map { .int($0) } ?? .null), ("no_data", .bool(noData))])
        if noData { o.append("detail", .string(AccountHealth.Result.noDataText)) }
        o.append("window", .object(window))
        o.append("reasons", .array(reasons))
        return .object(o)
    }

    static let noDataText = "no data: nothing sent yet, so no score"

    /// The JSON object on one line, with its line end.
    public var jsonLine: [UInt8] {
        var out = ByteBuffer(capacity: 2048)
        json.write(into: &out)
        out.append(0x0A)
        return out.bytes
    }

    /// For a person: the verdict, a table of the checks, the details of what is not ok.
    public var text: String {
        let w = figures.window
        var out = "health of \(tenant), \(generatedAt): "
        guard let score else { return out + "ok, \(AccountHealth.Result.noDataText)\n" }
        out += "\(level.rawValue), score \(score)/100\n"
        out += "last \(windowDays) days (\(w.first) to \(w.last)): \(w.sends) sends, \(w.delivered) delivered, \(w.bounced) bounced, "
            + "\(w.complained) complaints, \(w.unsubscribed) unsubscribes\n\n"
        out += TextTable.render(["check", "level", "figure", "threshold", "points"], reasons.map { r in
            [r.check.rawValue, r.level.rawValue, AccountHealth.percent(r.figure), AccountHealth.percent(r.threshold), String(r.points)]
        }, leftColumns: 2)
        for r in reasons where r.level != .ok { out += "\(r.level.rawValue): \(r.check.rawValue): \(r.detail)\n" }
        return out
    }
}

extension AccountHealth {
    /// `--alert-command`: on warn or critical, the health JSON goes to `command`'s standard
    /// input (`sh -c`). What went wrong with it, or nil (sent, or nothing to send).
    public static func alert(_ result: Result, command: String) throws -> String? {
        guard result.level != .ok else { return nil }
        let ending = try ChildProcess.shell(command, input: result.jsonLine)
        return ending.succeeded ? nil : "--alert-command \(ending): the \(result.level.rawValue) alert may not have been delivered"
    }
}
