import MailpipeCore
import MailpipeStore

/// `account warmup`: the warm-up of each vmta as the store's `WarmupBook` has it — week, today's
/// quota, sends today and yesterday, yesterday's bounce rate, in the tenant's time zone.
/// `--advance` (daily; safe to run twice a day) applies today's decision: stepped back after a
/// day at twice the week's ceiling, advanced after 7 days with enough volume under the ceiling,
/// else held. `inject smtp` sends by the same numbers.
public enum AccountWarmup {
    public struct Options {
        public var tenant: TenantSlug
        public var state: StateRoot
        public var now: Timestamp
        public var advance: Bool

        public init(tenant: TenantSlug, state: StateRoot, now: Timestamp, advance: Bool) {
            self.tenant = tenant
            self.state = state
            self.now = now
            self.advance = advance
        }
    }

    public typealias Row = WarmupBook.VmtaDay

    public static func run(_ options: Options) throws -> [Row] {
        let dir = options.state.tenant(options.tenant)
        try dir.requireExisting()
        // Without --advance it is a view: no lock, nothing written (a read-only state works).
        let books = try Books(dir: dir, now: options.now, access: options.advance ? .write : .read, warn: warnToStderr)
        let book = WarmupBook(config: books.config, now: options.now)
        // Every configured vmta has a warm-up state from its start day (or today); --advance
        // records it.
        var changed = false
        for v in books.config.vmtas where books.ledger.vmtas[v.name] == nil {
            books.ledger.vmtas[v.name] = book.state(of: v.name, in: books.ledger)
            changed = true
        }
        var rows: [Row] = []
        for name in books.ledger.vmtas.keys.sorted() {
            var m = books.ledger.vmtas[name]!
            var action: WarmupBook.Action?
            if options.advance {
                action = book.advance(&m)
                if action != .alreadyChecked && action != .notStarted {
                    books.ledger.vmtas[name] = m
                    changed = true
                }
            }
            rows.append(book.view(name, m, action: action))
        }
        if changed && options.advance { try books.saveLedger() }
        return rows
    }
}

extension WarmupBook.VmtaDay {
    public var json: JSONValue {
        var o = JSONObject([("vmta", .string(vmta)), ("week", .int(week)), ("quota", .int(quota)),
                            ("max_bounce_rate", .number(WarmupSchedule.format(ceiling))), ("sent_today", .int(sentToday)),
                            ("remaining_today", .int(remaining)),
                            ("yesterday_sent", .int(yesterdaySent)), ("yesterday_bounced", .int(yesterdayBounced))])
        o.append("yesterday_bounce_rate", yesterdayRate.map { .number(WarmupSchedule.format($0)) } ?? .null)
        if let action { o.append("action", .string(action.rawValue)) }
        return .object(o)
    }
}
