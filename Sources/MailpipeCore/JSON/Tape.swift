#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-level access to one parsed record: the token tape and the source bytes, no `JSONValue`.
public struct Tape {
    public let base: UnsafePointer<UInt8>
    public let tokens: UnsafePointer<JSONToken>

    public init(_ document: JSONDocument) {
        base = document.base
        tokens = document.tokens
    }

    @inline(__always) public func kind(_ i: Int) -> JSONKind { tokens[i].kind }
    @inline(__always) public func next(_ i: Int) -> Int { Int(tokens[i].next) }
    @inline(__always) public func isEscaped(_ i: Int) -> Bool { tokens[i].escaped }

    /// The source bytes of value `i` (a string with its quotes).
    @inline(__always) public func raw(_ i: Int) -> UnsafeRawBufferPointer {
        let t = tokens[i]
        return UnsafeRawBufferPointer(start: base + Int(t.start), count: Int(t.end - t.start))
    }

    /// A string's bytes between its quotes, escapes not decoded.
    @inline(__always) public func content(_ i: Int) -> UnsafeRawBufferPointer {
        let t = tokens[i]
        return UnsafeRawBufferPointer(start: base + Int(t.start) + 1, count: Int(t.end - t.start) - 2)
    }

    /// Calls `body` with a string's decoded bytes (no copy unless it holds escapes).
    @inline(__always)
    public func withString<R>(_ i: Int, scratch: inout [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if !tokens[i].escaped { return body(content(i)) }
        scratch.removeAll(keepingCapacity: true)
        JSONNode.unescape(content(i), into: &scratch)
        return scratch.withUnsafeBytes { body($0) }
    }

    /// The value of `key` in object `object`, or -1.
    public func member(_ object: Int, _ key: [UInt8]) -> Int {
        guard kind(object) == .object else { return -1 }
        var j = object + 1
        let end = next(object)
        var scratch: [UInt8] = []
        while j < end {
            let found = withString(j, scratch: &scratch) { Bytes.equal($0, key) }
            if found { return j + 1 }
            j = next(j + 1)
        }
        return -1
    }
}

/// Small byte helpers shared by the criteria and the outputs.
public enum Bytes {
    @inline(__always)
    public static func equal(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 { return true }
        return b.withUnsafeBytes { memcmp(a.baseAddress!, $0.baseAddress!, a.count) == 0 }
    }

    /// `a` equals `lowered` once ASCII letters of `a` are lower-cased (`lowered` is already lower case).
    @inline(__always)
    public static func equalFolded(_ a: UnsafeRawBufferPointer, _ lowered: [UInt8]) -> Bool {
        guard a.count == lowered.count else { return false }
        return lowered.withUnsafeBufferPointer { l in
            for i in 0..<a.count {
                var c = a[i]
                if c &- 65 < 26 { c |= 0x20 }
                if c != l[i] { return false }
            }
            return true
        }
    }

    public static func lowered(_ text: String) -> [UInt8] {
        text.utf8.map { $0 &- 65 < 26 ? $0 | 0x20 : $0 }
    }

    /// Lexicographic byte order.
    @inline(__always)
    public static func compare(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Int {
        b.withUnsafeBytes { y in
            let n = min(a.count, y.count)
            let c = n == 0 ? 0 : Int(memcmp(a.baseAddress!, y.baseAddress!, n))
            return c != 0 ? c : a.count - y.count
        }
    }

    /// Parses `2026-11-23T19:27:57Z` quickly; other forms go through `Timestamp(parsing:)`.
    public static func timestamp(_ s: UnsafeRawBufferPointer) -> Int64? {
        if s.count == 20 && s[4] == 45 && s[7] == 45 && s[10] == 84 && s[13] == 58 && s[16] == 58 && s[19] == 90 {
            @inline(__always) func d(_ i: Int, _ n: Int) -> Int64? {
                var v: Int64 = 0
                for k in i..<(i + n) {
                    let c = s[k] &- 48
                    if c > 9 { return nil }
                    v = v * 10 + Int64(c)
                }
                return v
            }
            if let y = d(0, 4), let mo = d(5, 2), let day = d(8, 2), let h = d(11, 2), let mi = d(14, 2), let sec = d(17, 2),
               (1...12).contains(mo), (1...31).contains(day) {
                return Timestamp.days(fromCivil: y, mo, day) * 86_400 + h * 3600 + mi * 60 + sec
            }
            return nil
        }
        return Timestamp(parsing: String(decoding: s, as: UTF8.self))?.seconds
    }

    /// A JSON number's value, from its source text.
    public static func number(_ s: UnsafeRawBufferPointer) -> Double? {
        Double(String(decoding: s, as: UTF8.self))
    }
}

/// The top-level fields a set of criteria reads, resolved once per record (slot → token index,
/// or -1): after a full parse by one pass over the root's members (`resolve`), or during the
/// parse itself when the parser keeps only these members (`JSONParser.parse(_:keeping:)`).
public final class FieldSlots {
    public private(set) var keys: [[UInt8]] = []
    var found: UnsafeMutablePointer<Int32>
    private var capacity: Int
    /// The keys back to back in raw memory, so matching one costs no reference counting.
    private var keyBytes: UnsafeMutablePointer<UInt8>
    private var keyEnds: UnsafeMutablePointer<Int32>
    /// Per key length (the last entry: that length or longer), bit s set when slot s's key has
    /// it: a record's key is compared only with the slots it could be (while there are at most
    /// 64 slots; beyond, with every slot).
    private let slotsOfLength: UnsafeMutablePointer<UInt64>
    private static let lengthClasses = 33
    /// `keys.count`, read without touching the array.
    private var slotCount = 0
    /// Slots not yet found in the record being resolved.
    private var missing = 0
    /// Decoded escaped keys (rare).
    private var scratch: [UInt8] = []

    /// Whether keys keep being compared once every slot is filled, so that `repeatedKey` is
    /// known (off by default: a stage that only reads its members stops comparing early).
    public var noticesRepeatedKeys = false
    /// Whether a slot's key came again after the member that filled it (in any spelling), in
    /// the record last parsed or resolved — known only when `noticesRepeatedKeys`.
    public private(set) var repeatedKey = false
    /// Whether the record last parsed with `JSONParser.parse(_:keeping:)` is a root object with
    /// no white space before, after or between its members (inside their values any): the bytes
    /// `RecordPatch` writes for it, so a stage may write it as its own bytes with members'
    /// values replaced. False when it has some, or when the full parse took the record.
    public internal(set) var rootIsCompact = false

    public init() {
        capacity = 16
        found = .allocate(capacity: capacity)
        keyEnds = .allocate(capacity: capacity)
        keyBytes = .allocate(capacity: 1)
        slotsOfLength = .allocate(capacity: Self.lengthClasses)
        slotsOfLength.initialize(repeating: 0, count: Self.lengthClasses)
    }

    deinit {
        found.deallocate()
        keyEnds.deallocate()
        keyBytes.deallocate()
        slotsOfLength.deallocate()
    }

    /// The slot of a top-level key (added on first use).
    public func slot(_ key: String) -> Int { slot(bytes: Array(key.utf8)) }

    /// Slots for the same keys at the same indices, with results of their own: one per thread
    /// that resolves records concurrently.
    public func copy() -> FieldSlots {
        let other = FieldSlots()
        for k in keys { _ = other.slot(bytes: k) }
        other.noticesRepeatedKeys = noticesRepeatedKeys
        return other
    }

    private func slot(bytes k: [UInt8]) -> Int {
        if let i = keys.firstIndex(of: k) { return i }
        keys.append(k)
        if keys.count > capacity {
            found.deallocate()
            keyEnds.deallocate()
            capacity *= 2
            found = .allocate(capacity: capacity)
            keyEnds = .allocate(capacity: capacity)
        }
        let flat = keys.flatMap { $0 }
        keyBytes.deallocate()
        keyBytes = .allocate(capacity: max(1, flat.count))
        var end = 0
        for (s, key) in keys.enumerated() {
            key.withUnsafeBufferPointer { (keyBytes + end).update(from: $0.baseAddress!, count: key.count) }
            end += key.count
            keyEnds[s] = Int32(end)
        }
        let s = keys.count - 1
        if s < 64 { slotsOfLength[Self.lengthClass(k.count)] |= 1 << UInt64(s) }
        slotCount = keys.count
        return keys.count - 1
    }

    /// Clears the slots for the next record.
    @inline(__always)
    func reset() {
        for s in 0..<slotCount { found[s] = -1 }
        missing = slotCount
        repeatedKey = false
        rootIsCompact = false
    }

    /// Gives member value `value` to the slot of its key (a string token's content, escapes not
    /// decoded) unless that slot is already filled: true when it took it. The first occurrence
    /// of a key wins.
    @inline(__always)
    func claim(_ key: UnsafeRawBufferPointer, escaped: Bool, value: Int) -> Bool {
        guard missing > 0 || noticesRepeatedKeys else { return false }
        if escaped {
            scratch.removeAll(keepingCapacity: true)
            JSONNode.unescape(key, into: &scratch)
            return scratch.withUnsafeBytes { claimDecoded($0, value: value) }
        }
        return claimDecoded(key, value: value)
    }

    @inline(__always)
    private func claimDecoded(_ key: UnsafeRawBufferPointer, value: Int) -> Bool {
        if slotCount > 64 { return claimAmongAll(key, value: value) }
        var candidates = slotsOfLength[Self.lengthClass(key.count)]
        while candidates != 0 {
            let s = candidates.trailingZeroBitCount
            candidates &= candidates &- 1
            let start = s == 0 ? 0 : Int(keyEnds[s - 1])
            guard found[s] < 0 || noticesRepeatedKeys, Int(keyEnds[s]) - start == key.count,
                  Self.same(key, keyBytes + start) else { continue }
            if found[s] >= 0 { repeatedKey = true; return false }
            found[s] = Int32(value)
            missing -= 1
            return true
        }
        return false
    }

    private func claimAmongAll(_ key: UnsafeRawBufferPointer, value: Int) -> Bool {
        var start = 0
        for s in 0..<slotCount {
            let end = Int(keyEnds[s])
            defer { start = end }
            guard end - start == key.count, found[s] < 0 || noticesRepeatedKeys else { continue }
            if Self.same(key, keyBytes + start) {
                if found[s] >= 0 { repeatedKey = true; return false }
                found[s] = Int32(value)
                missing -= 1
                return true
            }
        }
        return false
    }

    @inline(__always)
    private static func lengthClass(_ length: Int) -> Int { min(length, lengthClasses - 1) }

    /// Whether `key` equals the slot key at `slotKey` (of the same length). Keys are short: a
    /// loop inline beats a call to memcmp for each key of every record.
    @inline(__always)
    private static func same(_ key: UnsafeRawBufferPointer, _ slotKey: UnsafeMutablePointer<UInt8>) -> Bool {
        for k in 0..<key.count where key[k] != slotKey[k] { return false }
        return true
    }

    /// Fills the slots from a fully parsed record's root object (first occurrence of a key wins).
    @inline(__always)
    public func resolve(_ tape: Tape) {
        reset()
        var j = 1
        let end = tape.next(0)
        while j < end && (missing > 0 || noticesRepeatedKeys) {
            _ = claim(tape.content(j), escaped: tape.isEscaped(j), value: j + 1)
            j = tape.next(j + 1)
        }
    }

    @inline(__always) public subscript(slot: Int) -> Int { Int(found[slot]) }
}
