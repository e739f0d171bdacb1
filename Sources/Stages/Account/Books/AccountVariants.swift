#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MailpipeCore
import MailpipeStore

/// The A/B comparison of `account report`: for every campaign whose `sent` events carry a
/// `variant` (segment --split → render → inject → account record), each variant's recipients and
/// how many of them were delivered, opened, clicked, bounced, complained or unsubscribed, and a
/// two-proportion z-test of the open and click rates that names a winner when the difference is
/// significant.
///
/// Rates are per recipient (a person who opened five times counts once), over the recipients
/// delivered when the campaign has delivery events, else over those sent (a direct SMTP send
/// whose accounting was not imported). Events other than `sent` find their variant through the
/// recipient: the variant its `sent` event carried. Opens and clicks marked `machine` (a privacy
/// proxy or a scanner fetched the pixel or the link) are not a person's and are left out.
public enum VariantComparison {
    /// What happened to one recipient of a split campaign.
    struct Reached: OptionSet {
        let rawValue: UInt8
        static let delivered = Reached(rawValue: 1)
        static let opened = Reached(rawValue: 2)
        static let clicked = Reached(rawValue: 4)
        static let bounced = Reached(rawValue: 8)
        static let complained = Reached(rawValue: 16)
        static let unsubscribed = Reached(rawValue: 32)

        static func of(type: String, machine: Bool) -> Reached? {
            switch type {
            case "delivered": return .delivered
            case "opened": return machine ? nil : .opened
            case "clicked": return machine ? nil : .clicked
            case "bounced": return .bounced
            case "complained": return .complained
            case "unsubscribed": return .unsubscribed
            default: return nil
            }
        }
    }

    /// One variant of one campaign.
    public struct Row: Equatable {
        public var campaign: String
        public var variant: String
        public var sent = 0
        public var delivered = 0
        public var opened = 0
        public var clicked = 0
        public var bounced = 0
        public var complained = 0
        public var unsubscribed = 0
        /// The recipients rates are taken over: delivered, or sent when the campaign has no
        /// delivery events.
        public var base = 0

        public var openRate: Double? { base > 0 ? Double(opened) / Double(base) : nil }
        public var clickRate: Double? { base > 0 ? Double(clicked) / Double(base) : nil }
    }

    /// The test of one rate across a campaign's variants.
    public struct Test: Equatable {
        public enum Verdict: String, Sendable {
            /// The best variant is significantly better than every other one.
            case won
            /// The samples allow a test and the difference is not significant.
            case noDifference = "no_difference"
            /// Too few recipients or events to test (fewer than 30 a variant, or fewer than 5
            /// successes or failures expected).
            case tooFew = "too_few"
        }

        public var campaign: String
        /// `open_rate` or `click_rate`.
        public var metric: String
        /// The variant with the highest rate.
        public var best: String
        /// The closest competitor, its z statistic against the best and the two-sided p-value.
        public var runnerUp: String
        public var z: Double?
        public var pValue: Double?
        /// The significance level each comparison is held to: 0.05 / (variants − 1) (Bonferroni).
        public var alpha: Double
        public var verdict: Verdict

        public var winner: String? { verdict == .won ? best : nil }
    }

    public struct Result {
        public var rows: [Row] = []
        public var tests: [Test] = []
        public var isEmpty: Bool { rows.isEmpty }
    }

    /// The comparison from a tenant's event log (nothing when no send carried a variant).
    public static func build(eventsPath: String, campaign filter: String?, since: Timestamp?) throws -> Result {
        guard FileSystem.exists(eventsPath) else { return Result() }
        let length = try AppendLog.readableLength(path: eventsPath)
        let ranges = try AppendLog.appendRanges(path: eventsPath, length: length)
        let sinceText = since?.rfc3339
        var parser = JSONParser(maxDepth: 64)
        defer { parser.deallocate() }
        let needle = Array("\"variant\"".utf8)

        // 1. The recipients of split campaigns and their variant, from the `sent` events.
        var campaigns: [String: Int] = [:]              // campaign → index
        var variantNames: [[String]] = []               // per campaign, in first-seen order
        var recipients: [UInt64: (campaign: Int32, variant: Int32, reached: Reached)] = [:]
        for r in ranges {
            try AppendLog.forEachLine(path: eventsPath, range: r) { line in
                guard contains(line, needle), let root = try? parser.parse(line).root,
                      root["type"]?.string == "sent", let email = root["email"]?.string,
                      let campaign = root["campaign"]?.string, let variant = root["variant"]?.string else { return }
                if let filter, campaign != filter { return }
                if let sinceText, let at = root["at"]?.string, at < sinceText { return }
                let c: Int
                if let known = campaigns[campaign] { c = known } else {
                    c = variantNames.count
                    campaigns[campaign] = c
                    variantNames.append([])
                }
                var v = variantNames[c].firstIndex(of: variant) ?? -1
                if v < 0 { v = variantNames[c].count; variantNames[c].append(variant) }
                recipients[key(email: email, campaign: campaign)] = (Int32(c), Int32(v), [])
            }
        }
        guard !recipients.isEmpty else { return Result() }

        // 2. What happened to them.
        var deliveries = [Bool](repeating: false, count: variantNames.count)
        for r in ranges {
            try AppendLog.forEachLine(path: eventsPath, range: r) { line in
                guard let root = try? parser.parse(line).root, let campaign = root["campaign"]?.string,
                      campaigns[campaign] != nil, let type = root["type"]?.string,
                      let reached = Reached.of(type: type, machine: root["machine"]?.bool == true),
                      let email = root["email"]?.string else { return }
                if let sinceText, let at = root["at"]?.string, at < sinceText { return }
                let k = key(email: email, campaign: campaign)
                guard var entry = recipients[k] else { return }
                entry.reached.insert(reached)
                recipients[k] = entry
                if reached == .delivered { deliveries[Int(entry.campaign)] = true }
            }
        }

        // 3. Counts per variant, then the tests.
        var rows: [[Row]] = []
        let names = campaigns.sorted { $0.value < $1.value }.map(\.key)
        for (c, name) in names.enumerated() {
            rows.append(variantNames[c].map { Row(campaign: name, variant: $0) })
        }
        for entry in recipients.values {
            let c = Int(entry.campaign), v = Int(entry.variant)
            rows[c][v].sent += 1
            let reached = entry.reached
            if reached.contains(.delivered) { rows[c][v].delivered += 1 }
            if reached.contains(.opened) { rows[c][v].opened += 1 }
            if reached.contains(.clicked) { rows[c][v].clicked += 1 }
            if reached.contains(.bounced) { rows[c][v].bounced += 1 }
            if reached.contains(.complained) { rows[c][v].complained += 1 }
            if reached.contains(.unsubscribed) { rows[c][v].unsubscribed += 1 }
        }
        var result = Result()
        for c in rows.indices.sorted(by: { names[$0] < names[$1] }) {
            var list = rows[c].sorted { $0.variant < $1.variant }
            for i in list.indices { list[i].base = deliveries[c] ? list[i].delivered : list[i].sent }
            result.rows += list
            guard list.count >= 2 else { continue }
            result.tests.append(test(list, metric: "open_rate") { $0.opened })
            result.tests.append(test(list, metric: "click_rate") { $0.clicked })
        }
        return result
    }

    static func key(email: String, campaign: String) -> UInt64 {
        EmailKey.hash(EmailKey.normalize(email) + "\u{0}" + campaign)
    }

    static func contains(_ line: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        needle.withUnsafeBytes { ByteScan.contains(line, $0) }
    }

    /// Tests the best variant's rate against each other variant's.
    public static func test(_ rows: [Row], metric: String, successes: (Row) -> Int) -> Test {
        let ranked = rows.sorted { a, b in
            let ra = a.base > 0 ? Double(successes(a)) / Double(a.base) : -1
            let rb = b.base > 0 ? Double(successes(b)) / Double(b.base) : -1
            return ra != rb ? ra > rb : a.variant < b.variant
        }
        let best = ranked[0]
        let alpha = 0.05 / Double(max(1, rows.count - 1))
        var verdict = Test.Verdict.won
        var closest: (Row, Double?, Double?)? = nil
        for other in ranked.dropFirst() {
            let outcome = twoProportion(successes(best), best.base, successes(other), other.base)
            // The comparison that decides: the one with the largest p-value (the closest rival).
            if closest == nil || (outcome?.p ?? 2) > (closest!.2 ?? 2) { closest = (other, outcome?.z, outcome?.p) }
            guard let outcome else { verdict = .tooFew; continue }
            if verdict == .won && !(outcome.p < alpha && outcome.z > 0) { verdict = .noDifference }
        }
        let (rival, z, p) = closest!
        return Test(campaign: best.campaign, metric: metric, best: best.variant, runnerUp: rival.variant,
                    z: z, pValue: p, alpha: alpha, verdict: verdict)
    }

    /// The two-proportion z-test of x1/n1 against x2/n2 with the pooled proportion: z and the
    /// two-sided p-value, or nil when the normal approximation does not hold (a sample under 30,
    /// or fewer than 5 successes or failures expected in one of them).
    public static func twoProportion(_ x1: Int, _ n1: Int, _ x2: Int, _ n2: Int) -> (z: Double, p: Double)? {
        guard n1 >= 30, n2 >= 30 else { return nil }
        let pooled = Double(x1 + x2) / Double(n1 + n2)
        for n in [n1, n2] where Double(n) * pooled < 5 || Double(n) * (1 - pooled) < 5 { return nil }
        let se = (pooled * (1 - pooled) * (1 / Double(n1) + 1 / Double(n2))).squareRoot()
        let z = (Double(x1) / Double(n1) - Double(x2) / Double(n2)) / se
        return (z, erfc(abs(z) / 2.0.squareRoot()))
    }
}
