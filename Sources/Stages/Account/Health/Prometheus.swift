import MailpipeCore

/// One metric of the Prometheus text exposition format (0.0.4, what node_exporter's textfile
/// collector and a `/metrics` scrape read): a name, its help, its type and its samples.
public struct MetricFamily: Sendable {
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    public struct Sample: Sendable {
        /// `_bucket`, `_sum`, `_count` of a histogram; "" otherwise.
        public var suffix: String
        public var labels: [(String, String)]
        public var value: Double
    }

    public let name: String
    public let help: String
    public let kind: Kind
    public private(set) var samples: [Sample] = []

    public init(_ name: String, _ kind: Kind, help: String) {
        self.name = name
        self.kind = kind
        self.help = help
    }

    public mutating func add(_ value: Double, _ labels: [(String, String)] = [], suffix: String = "") {
        samples.append(Sample(suffix: suffix, labels: labels, value: value))
    }

    public mutating func add(_ value: Int, _ labels: [(String, String)] = [], suffix: String = "") {
        add(Double(value), labels, suffix: suffix)
    }
}

/// The text of metric families: `# HELP` and `# TYPE` once per name (families of one name from
/// several tenants are merged, in the order first seen), then the samples.
public enum MetricsExposition {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ families: [MetricFamily]) -> [UInt8] {
        var order: [String] = []
        var byName: [String: [MetricFamily]] = [:]
        for f in families {
            if byName[f.name] == nil { order.append(f.name) }
            byName[f.name, default: []].append(f)
        }
        var out = ""
        for name in order {
            let group = byName[name]!
            out += "# HELP \(name) \(escape(group[0].help, quote: false))\n# TYPE \(name) \(group[0].kind.rawValue)\n"
            for f in group {
                for s in f.samples {
                    out += name + s.suffix
                    if !s.labels.isEmpty {
                        out += "{" + s.labels.map { "\($0.0)=\"\(escape($0.1, quote: true))\"" }.joined(separator: ",") + "}"
                    }
                    out += " " + number(s.value) + "\n"
                }
            }
        }
        return Array(out.utf8)
    }

    /// A value as Prometheus reads it: whole numbers without a fraction, `+Inf`, `NaN`.
    public static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    /// HELP text escapes `\` and line ends; label values `"` too.
    static func escape(_ text: String, quote: Bool) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"" where quote: out += "\\\""
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
