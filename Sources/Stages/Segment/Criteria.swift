import MailpipeCore

/// A field a criterion reads: a top-level key, then keys inside nested objects
/// (`validation.verdict`, `custom.plan`).
public struct FieldPath: Equatable, CustomStringConvertible {
    public var top: String
    public var rest: [String]

    public init(_ dotted: String) {
        let parts = dotted.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        top = parts[0]
        rest = Array(parts.dropFirst())
    }

    public var description: String { ([top] + rest).joined(separator: ".") }
}

/// One test on one field. Values are compared with ASCII letters folded to lower case, so
/// `--country fr` and `country = FR` both match `"FR"`; an array field matches when any of its
/// elements does (`tags = avocat`).
public struct Predicate {
    public enum Op: Equatable {
        case equals        // =, has, in (…): any of the values
        case notEquals     // !=: none of the values
        case all           // every value present (tags)
        case less, lessOrEqual, greater, greaterOrEqual
        case exists        // present and not empty
    }

    public var field: FieldPath
    public var op: Op
    public var values: [[UInt8]]
    /// For ordering operators: the literal as a number, or as a time.
    var number: Double?
    var time: Int64?
    var slot = -1
    var rest: [[UInt8]] = []
    /// `engagement.score`: not stored, computed per record (`EvalContext.engagementScore`).
    /// Set with the slot when the criterion is compiled (compared once, not per record).
    var computedScore = false
    public static let scoreField = FieldPath("engagement.score")

    public init(field: FieldPath, op: Op, values: [String]) {
        self.field = field
        self.op = op
        self.values = values.map(Bytes.lowered)
        if let first = values.first {
            number = Double(first)
            time = number == nil ? Timestamp(parsing: first)?.seconds : nil
        }
    }
}

/// A boolean combination of predicates.
public indirect enum Criterion {
    case predicate(Predicate)
    case and([Criterion])
    case or([Criterion])
    case not(Criterion)
    case constant(Bool)

    /// Whether some predicate reads `field`.
    public func reads(_ field: FieldPath) -> Bool {
        switch self {
        case .predicate(let p): return p.field == field
        case .and(let list), .or(let list): return list.contains { $0.reads(field) }
        case .not(let inner): return inner.reads(field)
        case .constant: return false
        }
    }
}

/// Criteria compiled against the field slots of a run, evaluated on the token tape. The tree is
/// flattened into nodes in raw memory, each followed by its subtree, so evaluating a record
/// copies no `Criterion` or `Predicate` (the tree's boxes and arrays were retained and released
/// for every record).
public final class CompiledCriterion {
    private enum Step: UInt8 { case and, or, not, predicate, constant }

    private struct Node {
        var step: Step
        var constant = false
        /// The node after this one's subtree.
        var end: Int32 = 0
        /// Index into `predicates` (`.predicate`).
        var predicate: Int32 = 0
    }

    private let nodes: UnsafeMutablePointer<Node>
    private let nodeCount: Int
    private let predicates: UnsafeMutablePointer<Predicate>
    private let predicateCount: Int

    public init(_ c: Criterion, slots: FieldSlots) {
        var nodes: [Node] = []
        var predicates: [Predicate] = []
        CompiledCriterion.flatten(c, slots, &nodes, &predicates)
        nodeCount = nodes.count
        self.nodes = .allocate(capacity: nodes.count)
        self.nodes.initialize(from: nodes, count: nodes.count)
        predicateCount = predicates.count
        self.predicates = .allocate(capacity: max(1, predicates.count))
        self.predicates.initialize(from: predicates, count: predicates.count)
    }

    deinit {
        nodes.deallocate()
        predicates.deinitialize(count: predicateCount)
        predicates.deallocate()
    }

    private static func flatten(_ c: Criterion, _ slots: FieldSlots, _ nodes: inout [Node], _ predicates: inout [Predicate]) {
        let at = nodes.count
        switch c {
        case .predicate(var p):
            p.slot = slots.slot(p.field.top)
            p.rest = p.field.rest.map { Array($0.utf8) }
            p.computedScore = p.field == Predicate.scoreField
            nodes.append(Node(step: .predicate, predicate: Int32(predicates.count)))
            predicates.append(p)
        case .and(let list), .or(let list):
            nodes.append(Node(step: c.isAnd ? .and : .or))
            for item in list { flatten(item, slots, &nodes, &predicates) }
        case .not(let inner):
            nodes.append(Node(step: .not))
            flatten(inner, slots, &nodes, &predicates)
        case .constant(let b):
            nodes.append(Node(step: .constant, constant: b))
        }
        nodes[at].end = Int32(nodes.count)
    }

    @inline(__always)
    public func matches(_ ctx: inout EvalContext) -> Bool { eval(0, &ctx) }

    private func eval(_ i: Int, _ ctx: inout EvalContext) -> Bool {
        let node = nodes[i]
        switch node.step {
        case .predicate:
            return ctx.test(predicates[Int(node.predicate)])
        case .and:
            var j = i + 1
            while j < Int(node.end) {
                if !eval(j, &ctx) { return false }
                j = Int(nodes[j].end)
            }
            return true
        case .or:
            var j = i + 1
            while j < Int(node.end) {
                if eval(j, &ctx) { return true }
                j = Int(nodes[j].end)
            }
            return false
        case .not:
            return !eval(i + 1, &ctx)
        case .constant:
            return node.constant
        }
    }
}

extension Criterion {
    fileprivate var isAnd: Bool { if case .and = self { return true } else { return false } }
}

/// Per-record evaluation state: the tape, the resolved slots and a scratch buffer.
public struct EvalContext {
    public var tape: Tape
    public let slots: FieldSlots
    var scratch: [UInt8] = []
    /// The record's engagement score at the run's time (nil: none recorded), set by the stage
    /// when a criterion reads `engagement.score`.
    public var engagementScore: Int?

    public init(tape: Tape, slots: FieldSlots) {
        self.tape = tape
        self.slots = slots
    }

    /// The token of a predicate's field in this record, or -1.
    @inline(__always)
    func locate(_ p: Predicate) -> Int {
        var i = slots[p.slot]
        if i < 0 || p.rest.isEmpty { return i }
        for key in p.rest {
            i = tape.member(i, key)
            if i < 0 { return -1 }
        }
        return i
    }

    @inline(__always)
    mutating func test(_ p: Predicate) -> Bool {
        if p.computedScore { return testScore(p) }
        let i = locate(p)
        switch p.op {
        case .exists:
            guard i >= 0 else { return false }
            let t = tape.tokens[i]
            switch t.kind {
            case .null: return false
            case .string: return t.end - t.start > 2
            case .array, .object: return Int(t.next) > i + 1
            default: return true
            }
        case .equals:
            guard i >= 0 else { return false }
            return anyEqual(i, p.values)
        case .notEquals:
            guard i >= 0 else { return true }
            return !anyEqual(i, p.values)
        case .all:
            guard i >= 0 else { return p.values.isEmpty }
            for v in p.values where !anyEqual(i, [v]) { return false }
            return true
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            guard i >= 0, let c = order(i, p) else { return false }
            switch p.op {
            case .less: return c < 0
            case .lessOrEqual: return c <= 0
            case .greater: return c > 0
            default: return c >= 0
            }
        }
    }

    /// Whether value `i` (or, for an array, any element) equals any of `values`.
    @inline(__always)
    mutating func anyEqual(_ i: Int, _ values: [[UInt8]]) -> Bool {
        switch tape.kind(i) {
        case .array:
            var j = i + 1
            let end = tape.next(i)
            while j < end {
                if scalarEqual(j, values) { return true }
                j = tape.next(j)
            }
            return false
        case .object:
            return false
        default:
            return scalarEqual(i, values)
        }
    }

    @inline(__always)
    mutating func scalarEqual(_ i: Int, _ values: [[UInt8]]) -> Bool {
        switch tape.kind(i) {
        case .string:
            if !tape.isEscaped(i) {
                let c = tape.content(i)
                for v in values where Bytes.equalFolded(c, v) { return true }
                return false
            }
            return tape.withString(i, scratch: &scratch) { s in values.contains { Bytes.equalFolded(s, $0) } }
        case .number:
            let raw = tape.raw(i)
            for v in values where Bytes.equal(raw, v) { return true }
            guard let x = Bytes.number(raw) else { return false }
            return values.contains { Double(String(decoding: $0, as: UTF8.self)) == x }
        case .true, .false, .null:
            let raw = tape.raw(i)
            return values.contains { Bytes.equal(raw, $0) }
        default:
            return false
        }
    }

    /// A predicate on the computed `engagement.score`: a missing score matches only `missing`
    /// and `!=`, as a missing field does.
    func testScore(_ p: Predicate) -> Bool {
        guard let score = engagementScore.map(Double.init) else { return p.op == .notEquals }
        let values = p.values.compactMap { Double(String(decoding: $0, as: UTF8.self)) }
        switch p.op {
        case .exists: return true
        case .equals, .all: return values.contains(score)
        case .notEquals: return !values.contains(score)
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            guard let y = p.number else { return false }
            switch p.op {
            case .less: return score < y
            case .lessOrEqual: return score <= y
            case .greater: return score > y
            default: return score >= y
            }
        }
    }

    /// Compares value `i` with a predicate's literal: as numbers, as times, or as bytes.
    mutating func order(_ i: Int, _ p: Predicate) -> Int? {
        guard let literal = p.values.first else { return nil }
        switch tape.kind(i) {
        case .number:
            guard let x = Bytes.number(tape.raw(i)), let y = p.number else { return nil }
            return x < y ? -1 : (x > y ? 1 : 0)
        case .string:
            if let y = p.time {
                guard let x = tape.withString(i, scratch: &scratch, { Bytes.timestamp($0) }) else { return nil }
                return x < y ? -1 : (x > y ? 1 : 0)
            }
            if let y = p.number {
                guard let x = tape.withString(i, scratch: &scratch, { Bytes.number($0) }) else { return nil }
                return x < y ? -1 : (x > y ? 1 : 0)
            }
            return tape.withString(i, scratch: &scratch) { s -> Int in
                var folded = [UInt8](s)
                for k in folded.indices where folded[k] &- 65 < 26 { folded[k] |= 0x20 }
                return folded.withUnsafeBytes { Bytes.compare($0, literal) }
            }
        default:
            return nil
        }
    }
}

/// One named criterion of a segment — a flag, a file key or one `and`-ed part of `--where` —
/// so `--explain` can say how many records each one let through.
public struct NamedCriterion {
    public var label: String
    public var criterion: Criterion
    public init(_ label: String, _ criterion: Criterion) {
        self.label = label
        self.criterion = criterion
    }
}

/// The criteria of one segment, as given on the command line or in a segment file.
public struct SegmentCriteria {
    public var tagsAll: [String] = []
    public var tagsAny: [String] = []
    public var tagsExclude: [String] = []
    public var categories: [String] = []
    public var languages: [String] = []
    public var countries: [String] = []
    public var statuses: [String] = []
    public var verdicts: [String] = []
    public var sources: [String] = []
    public var createdSince: String?
    public var createdBefore: String?
    public var wheres: [String] = []
    /// The most contacts to emit (`max_contacts`, `--limit`).
    public var limit: Int?

    public init() {}

    public var isEmpty: Bool {
        tagsAll.isEmpty && tagsAny.isEmpty && tagsExclude.isEmpty && categories.isEmpty && languages.isEmpty
            && countries.isEmpty && statuses.isEmpty && verdicts.isEmpty && sources.isEmpty
            && createdSince == nil && createdBefore == nil && wheres.isEmpty
    }

    /// The named parts (all must hold). Throws a usage error for a bad time or `--where`.
    public func compile() throws -> [NamedCriterion] {
        var parts: [NamedCriterion] = []
        func list(_ flag: String, _ field: String, _ values: [String], _ op: Predicate.Op) {
            guard !values.isEmpty else { return }
            let c = Criterion.predicate(Predicate(field: FieldPath(field), op: op, values: values))
            parts.append(NamedCriterion("\(flag) \(values.joined(separator: ","))", c))
        }
        list("--all", "tags", tagsAll, .all)
        list("--any", "tags", tagsAny, .equals)
        list("--exclude", "tags", tagsExclude, .notEquals)
        list("--category", "category", categories, .equals)
        list("--language", "language", languages, .equals)
        list("--country", "country", countries, .equals)
        list("--status", "status", statuses, .equals)
        list("--verdict", "validation.verdict", verdicts, .equals)
        list("--source", "source", sources, .equals)
        for (flag, value, op) in [("--created-since", createdSince, Predicate.Op.greaterOrEqual), ("--created-before", createdBefore, .less)] {
            guard let value else { continue }
            guard Timestamp(parsing: value) != nil else {
                throw StageError.usage("\(flag) takes a date or an RFC 3339 time (2026-01-31 or 2026-01-31T09:00:00Z), got '\(value)'")
            }
            parts.append(NamedCriterion("\(flag) \(value)", .predicate(Predicate(field: FieldPath("created_at"), op: op, values: [value]))))
        }
        for text in wheres {
            let expr = try WhereParser.parse(text)
            if case .and(let conjuncts) = expr.criterion {
                for (c, source) in zip(conjuncts, expr.conjunctSources) { parts.append(NamedCriterion("where \(source)", c)) }
            } else {
                parts.append(NamedCriterion("where \(text)", expr.criterion))
            }
        }
        return parts
    }
}

