#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The end-of-run account of a stage: one line on standard error, or JSON in `--stats FILE`.
///
/// Counters keep the order they were first touched in, so the line reads the same every run.
public struct Summary {
    public let stage: String
    public private(set) var counters: [(name: String, value: Int)] = []
    /// Counters shown in the summary line, in this order; the rest only go to `--stats`, but
    /// for the set-aside ones (`setAside`) when not zero.
    public var headline: [String]
    /// Breakdowns (per reason, per verdict, per tag…) written to `--stats` and, briefly, after the line.
    public private(set) var groups: [(name: String, counts: [(String, Int)])] = []
    /// Facts about the run that are not counts (where the tenant came from…): a string member
    /// in `--stats`, a clause after the line.
    public private(set) var remarks: [(name: String, value: String, text: String)] = []
    /// A stage's own findings (what ingest detected in each file…), as JSON for `--stats`.
    public private(set) var details: [(name: String, value: JSONValue)] = []
    /// The same findings for a person: lines printed under the summary line.
    public var notes: [String] = []

    public init(stage: String, headline: [String] = ["in", "out", "rejected"]) {
        self.stage = stage
        self.headline = headline
        for name in headline { counters.append((name, 0)) }
    }

    public subscript(name: String) -> Int {
        get { counters.first(where: { $0.name == name })?.value ?? 0 }
        set {
            if let i = counters.firstIndex(where: { $0.name == name }) { counters[i].value = newValue }
            else { counters.append((name, newValue)) }
        }
    }

    public mutating func add(_ name: String, _ amount: Int = 1) { self[name] += amount }

    /// Sets a breakdown; counts are written largest first, then by name.
    public mutating func setGroup(_ name: String, _ counts: [String: Int]) {
        let sorted = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        if let i = groups.firstIndex(where: { $0.name == name }) { groups[i].counts = sorted }
        else { groups.append((name, sorted)) }
    }

    /// Adds a remark: `name: value` in `--stats`, `text` after the summary line.
    public mutating func remark(_ name: String, _ value: String, text: String) {
        remarks.append((name, value, text))
    }

    public mutating func setDetail(_ name: String, _ value: JSONValue) {
        if let i = details.firstIndex(where: { $0.name == name }) { details[i].value = value }
        else { details.append((name, value)) }
    }

    /// Counters of records read (counted `in`) that went neither to the output nor to the
    /// rejects: another tenant's, another shard's, a kind the stage does not keep. The line shows
    /// them when not zero, so every record read can be found on it.
    public static let setAside: Set<String> = ["ignored", "other_tenant", "other_shard", "other_shards"]

    /// The counters on the line: the headline, with the set-aside counters that are not zero
    /// before `rejected` (which its reasons follow).
    var shown: [String] {
        let aside = counters.filter { Summary.setAside.contains($0.name) && $0.value != 0 && !headline.contains($0.name) }.map(\.name)
        var names = headline
        names.insert(contentsOf: aside, at: names.last == "rejected" ? names.count - 1 : names.count)
        return names
    }

    /// `validate: 10000 in, 9410 out, 590 rejected (invalid_json 3, duplicate 587)`;
    /// `account events: 14 in, 0 new, …, 0 suppressed, 1 ignored, 13 other_tenant, 0 rejected`
    public var line: String {
        var text = "\(stage): " + shown.map { "\(self[$0]) \($0)" }.joined(separator: ", ")
        if let reasons = rejectReasons, !reasons.isEmpty {
            text += " (" + reasons.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")"
        }
        for remark in remarks { text += "; " + remark.text }
        return text
    }

    private var rejectReasons: [(String, Int)]? { groups.first(where: { $0.name == "reject_reasons" })?.counts }

    /// Reject reasons that say a line is not in the form the stage reads, as opposed to a record
    /// refused on its merits.
    public static let formReasons: Set<String> = [
        "invalid_json", "not_an_object", "invalid_utf8", "too_deep", "line_too_long", "trailing_data",
        "missing_header", "not_json",
    ]

    /// When something was read and every line of it was refused for its form: the error that
    /// says so, with what the input looks like (nil otherwise — an empty input is no error).
    public var nothingUsable: String? {
        let input = self["in"]
        guard input > 0, self["rejected"] >= input, let reasons = rejectReasons, !reasons.isEmpty,
              reasons.allSatisfy({ Summary.formReasons.contains($0.0) }) else { return nil }
        let listed = reasons.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
        var text = "nothing usable in the input: all \(input) lines were rejected (\(listed))"
        if let hint = StageInputs.hint(stage: stage, reasons: Set(reasons.map(\.0))) { text += "; " + hint }
        return text
    }

    public var json: JSONValue {
        var object = JSONObject()
        object.append("stage", .string(stage))
        for (name, value) in counters { object.append(name, .int(value)) }
        for remark in remarks { object.append(remark.name, .string(remark.value)) }
        for (name, counts) in groups {
            var group = JSONObject()
            for (key, value) in counts { group.append(key, .int(value)) }
            object.append(name, .object(group))
        }
        for (name, value) in details { object.append(name, value) }
        return .object(object)
    }

    /// Prints the line on standard error, or writes JSON to `statsPath` when given; then, when
    /// nothing of the input was usable, fails (exit 1) saying what the input looks like.
    public func report(statsPath: String?) throws {
        try write(statsPath: statsPath)
        if let nothingUsable { throw StageError.runtime(nothingUsable) }
    }

    private func write(statsPath: String?) throws {
        ProgressLine.finish()
        if let statsPath {
            var bytes = json.serialized
            bytes.append(0x0A)
            let fd = try FileDescriptor.open(statsPath, .writeOnly, options: [.create, .truncate], permissions: 0o644)
            defer { fd.close() }
            try fd.writeAll(bytes)
        } else {
            try? FileDescriptor.standardError.writeAll(([line] + notes).joined(separator: "\n") + "\n")
        }
    }
}
