import MailpipeCore
import MailpipeStore

/// A tenant's health and books as Prometheus metrics: what `account health --prometheus FILE`
/// writes for node_exporter's textfile collector and what `account serve` answers on `/metrics`
/// for each tenant it serves (docs/account.md "Prometheus metrics" lists them). The one place
/// they are computed: from `AccountHealth.assessment` (the report built once, health's damage
/// policy), so every figure is `account report`'s and `account health --json`'s.
public enum TenantMetrics {
    /// The metrics of `tenant` now; books that cannot be read whole give `unreadable` instead
    /// (and the error, for whoever reports it).
    public static func collect(tenant: TenantSlug, state: StateRoot, now: Timestamp) -> (families: [MetricFamily], error: Error?) {
        var failure: Error? = nil
        // Read twice at most: the books are read without the lock, and an append that lands
        // between the log's measurements looks like a torn tail once (a real one stays).
        for _ in 0..<2 {
            do {
                return (families(try AccountHealth.assessment(.init(tenant: tenant, state: state, now: now))), nil)
            } catch {
                failure = error
            }
        }
        return (unreadable(tenant.value), failure)
    }

    /// `mailpipe_books_readable 0`: the books could not be read whole (a damaged tail, a lost
    /// ledger: `account fsck`), so no figure is given rather than a stale or partial one.
    public static func unreadable(_ tenant: String) -> [MetricFamily] {
        var f = readableFamily
        f.add(0, [("tenant", tenant)])
        return [f]
    }

    static var readableFamily: MetricFamily {
        MetricFamily("mailpipe_books_readable", .gauge, help: "1 when the tenant's books were read whole, 0 when they are damaged (account fsck says how).")
    }

    public static func families(_ a: AccountHealth.Assessment) -> [MetricFamily] {
        let result = a.result, report = a.report, totals = report.totals
        let tenant = ("tenant", result.tenant)
        var out: [MetricFamily] = []
        func family(_ name: String, _ kind: MetricFamily.Kind, _ help: String, _ fill: (inout MetricFamily) -> Void) {
            var f = MetricFamily(name, kind, help: help)
            fill(&f)
            out.append(f)
        }
        var readable = readableFamily
        readable.add(1, [tenant])
        out.append(readable)

        // The verdict of account health.
        family("mailpipe_health_score", .gauge, "account health's 0-100 score (absent while nothing was sent).") { f in
            if let score = result.score { f.add(score, [tenant]) }
        }
        family("mailpipe_health_level", .gauge, "account health's level: 0 ok, 1 warn, 2 critical (its exit status).") { f in
            f.add(Int(result.level.exitCode), [tenant])
        }
        family("mailpipe_health_no_data", .gauge, "1 while the tenant never sent (no score).") { f in
            f.add(result.noData ? 1 : 0, [tenant])
        }
        family("mailpipe_health_check_figure", .gauge, "Each health check's figure (a rate or share, 0-1), as account health --json gives it.") { f in
            for r in result.reasons { if let v = r.figure { f.add(v, [tenant, ("check", r.check.rawValue)]) } }
        }
        family("mailpipe_health_check_threshold", .gauge, "The threshold each health check's figure is held against.") { f in
            for r in result.reasons { if let v = r.threshold { f.add(v, [tenant, ("check", r.check.rawValue)]) } }
        }
        family("mailpipe_health_check_level", .gauge, "Each health check's level: 0 ok, 1 warn, 2 critical.") { f in
            for r in result.reasons { f.add(Int(r.level.exitCode), [tenant, ("check", r.check.rawValue)]) }
        }
        family("mailpipe_health_check_points", .gauge, "Points each health check takes off the score.") { f in
            for r in result.reasons { f.add(r.points, [tenant, ("check", r.check.rawValue)]) }
        }

        // The books, since they began (account report's totals).
        family("mailpipe_sends_total", .counter, "Messages sent (account report's sends).") { f in
            f.add(report.sends(totals), [tenant])
        }
        family("mailpipe_delivered_total", .counter, "Messages the MTA or ESP reported delivered.") { f in
            f.add(report.count(totals, "delivered"), [tenant])
        }
        family("mailpipe_bounces_total", .counter, "Bounces by class (hard, soft, policy).") { f in
            for klass in ["hard", "soft", "policy"] { f.add(report.count(totals, "bounced_\(klass)"), [tenant, ("class", klass)]) }
        }
        family("mailpipe_complaints_total", .counter, "Spam complaints (feedback loops, ESP webhooks).") { f in
            f.add(report.count(totals, "complained"), [tenant])
        }
        family("mailpipe_unsubscribes_total", .counter, "Unsubscribes (one-click, mailbox, MailWizz, webhooks).") { f in
            f.add(report.count(totals, "unsubscribed"), [tenant])
        }
        family("mailpipe_open_events_total", .counter, "Open events: a person's, or a machine's (privacy proxies, scanners).") { f in
            f.add(report.count(totals, "opened_events"), [tenant, ("by", "person")])
            f.add(report.count(totals, "opened_machine"), [tenant, ("by", "machine")])
        }
        family("mailpipe_click_events_total", .counter, "Click events: a person's, or a machine's (link scanners).") { f in
            f.add(report.count(totals, "clicked_events"), [tenant, ("by", "person")])
            f.add(report.count(totals, "clicked_machine"), [tenant, ("by", "machine")])
        }

        // The list and the warm-up, now.
        family("mailpipe_contacts", .gauge, "Contacts in the store by status.") { f in
            for (status, n) in report.byStatus.sorted(by: { $0.key < $1.key }) { f.add(n, [tenant, ("status", status)]) }
        }
        family("mailpipe_suppressed", .gauge, "Addresses held back from mailing (the suppression list and the events not yet applied to it).") { f in
            f.add(report.suppressed, [tenant])
        }
        family("mailpipe_warmup_week", .gauge, "The warm-up week each vmta is in.") { f in
            for v in report.warmup { f.add(v.week, [tenant, ("vmta", v.vmta)]) }
        }
        family("mailpipe_warmup_quota", .gauge, "Today's warm-up quota of each vmta (messages).") { f in
            for v in report.warmup { f.add(v.quota, [tenant, ("vmta", v.vmta)]) }
        }
        family("mailpipe_warmup_sent_today", .gauge, "Messages each vmta sent today (of its quota).") { f in
            for v in report.warmup { f.add(v.sentToday, [tenant, ("vmta", v.vmta)]) }
        }
        return out
    }

    /// `account health --prometheus FILE`: the metrics written whole or not at all (a temporary
    /// file in the same folder, then renamed over FILE, so the collector never reads half of
    /// one), readable by node_exporter (mode 0644).
    public static func writeTextfile(_ path: String, _ families: [MetricFamily]) throws {
        try FileSystem.writeAtomically(path, MetricsExposition.render(families), mode: 0o644)
    }
}
