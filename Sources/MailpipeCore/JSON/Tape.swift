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
    /// Each slot key's first 8 bytes (fewer for a shorter key, zero above), little-endian.
    private var heads: UnsafeMutablePointer<UInt64>
    /// Open addressing by a hash of a key's head and length: slot + 1, or 0 for an empty entry.
    /// At most a quarter full, so most keys a record has and no slot names end at an empty
    /// entry after one load, without a byte compare.
    private var table: UnsafeMutablePointer<Int32>
    private var tableMask: Int
    private var tableShift: UInt64
    /// Bit k set when a slot's key is k bytes long (bit 63: 63 or more): most keys of a record
    /// are told apart from every slot's by their length alone, before the table is read.
    private var keyLengths: UInt64 = 0
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
        heads = .allocate(capacity: capacity)
        keyBytes = .allocate(capacity: 1)
        tableMask = 15
        tableShift = 64 - 4
        table = .allocate(capacity: tableMask + 1)
        table.initialize(repeating: 0, count: tableMask + 1)
    }

    deinit {
        found.deallocate()
        keyEnds.deallocate()
        heads.deallocate()
        keyBytes.deallocate()
        table.deallocate()
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
        slotCount = keys.count
        if slotCount > capacity {
            found.deallocate()
            keyEnds.deallocate()
            heads.deallocate()
            capacity *= 2
            found = .allocate(capacity: capacity)
            keyEnds = .allocate(capacity: capacity)
            heads = .allocate(capacity: capacity)
        }
        let flat = keys.flatMap { $0 }
        keyBytes.deallocate()
        keyBytes = .allocate(capacity: max(1, flat.count))
        var end = 0
        keyLengths = 0
        for (s, key) in keys.enumerated() {
            keyLengths |= Self.lengthBit(key.count)
            key.withUnsafeBufferPointer { (keyBytes + end).update(from: $0.baseAddress!, count: key.count) }
            heads[s] = Self.head(keyBytes + end, count: key.count, readable: key.count)
            end += key.count
            keyEnds[s] = Int32(end)
        }
        fillTable()
        reset()
        return slotCount - 1
    }

    /// Rebuilds the hash table for the current keys (at most a quarter full).
    private func fillTable() {
        var bits = 4
        while 1 << bits < 4 * slotCount { bits += 1 }
        table.deallocate()
        tableMask = 1 << bits - 1
        tableShift = UInt64(64 - bits)
        table = .allocate(capacity: tableMask + 1)
        table.initialize(repeating: 0, count: tableMask + 1)
        var start = 0
        for s in 0..<slotCount {
            let end = Int(keyEnds[s])
            var h = entry(heads[s], end - start)
            while table[h] != 0 { h = (h + 1) & tableMask }
            table[h] = Int32(s + 1)
            start = end
        }
    }

    /// A key's first 8 bytes (fewer for a shorter key, zero above) as one little-endian word;
    /// `readable`: how many bytes from `key` may be read (one load when 8 may).
    @inline(__always)
    static func head(_ key: UnsafePointer<UInt8>, count: Int, readable: Int) -> UInt64 {
        if readable >= 8 {
            let word = UInt64(littleEndian: UnsafeRawPointer(key).loadUnaligned(as: UInt64.self))
            return count >= 8 ? word : word & ~(~0 << UInt64(count &* 8))
        }
        var word: UInt64 = 0
        for k in 0..<min(count, 8) { word |= UInt64(key[k]) << UInt64(k &* 8) }
        return word
    }

    @inline(__always)
    private static func lengthBit(_ count: Int) -> UInt64 { 1 &<< UInt64(truncatingIfNeeded: min(count, 63)) }

    /// The table entry a key's probe starts at.
    @inline(__always)
    private func entry(_ head: UInt64, _ count: Int) -> Int {
        Int(truncatingIfNeeded: ((head ^ UInt64(truncatingIfNeeded: count) &<< 56) &* 0x9E37_79B9_7F4A_7C15) &>> tableShift)
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

    private func claimDecoded(_ key: UnsafeRawBufferPointer, value: Int) -> Bool {
        // An empty key may have no address; nothing is read from it then.
        let start = key.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(keyBytes)
        return claim(unescaped: start, count: key.count, readable: key.count, value: value)
    }

    /// `claim` for a key without escapes, inlined into the lazy scan's member loop: most keys
    /// of a record are no slot's and end here at an empty table entry. `readable`: how many
    /// bytes from `key` may be read (at least `count`).
    @inline(always)
    func claim(unescaped key: UnsafePointer<UInt8>, count: Int, readable: Int, value: Int) -> Bool {
        guard keyLengths & Self.lengthBit(count) != 0, missing > 0 || noticesRepeatedKeys else { return false }
        let head = Self.head(key, count: count, readable: readable)
        var h = entry(head, count)
        while true {
            let e = Int(table[h])
            if e == 0 { return false }
            let s = e &- 1
            if heads[s] == head {
                let start = s == 0 ? 0 : Int(keyEnds[s &- 1])
                if Int(keyEnds[s]) &- start == count && (count <= 8 || Self.same(key + 8, keyBytes + start + 8, count &- 8)) {
                    if found[s] >= 0 {
                        repeatedKey = true
                        return false
                    }
                    found[s] = Int32(truncatingIfNeeded: value)
                    missing &-= 1
                    return true
                }
            }
            h = (h &+ 1) & tableMask
        }
    }

    /// Whether `count` bytes at `a` and `b` are equal. Keys are short: a loop inline beats a
    /// call to memcmp.
    @inline(__always)
    private static func same(_ a: UnsafePointer<UInt8>, _ b: UnsafeMutablePointer<UInt8>, _ count: Int) -> Bool {
        for k in 0..<count where a[k] != b[k] { return false }
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

    /// The value of `slot`'s member in `document` (the record these slots were last filled
    /// from), or nil when it has none: no look-up by key.
    @inline(__always)
    public func node(_ slot: Int, in document: JSONDocument) -> JSONNode? {
        let index = Int(found[slot])
        return index < 0 ? nil : JSONNode(document: document, index: index)
    }
}
