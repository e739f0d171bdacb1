/// A quick read of a stored contact's email: stored lines are compact JSON written by the store,
/// usually with a few plain string members before `email`. Walks those members; gives up (nil)
/// at anything else (escapes, other value kinds, whitespace), and the caller parses the line.
enum StoredContactFastKey {
    @inline(__always)
    static func email(_ line: UnsafeRawBufferPointer) -> Range<Int>? {
        let n = line.count
        guard n > 2, line[0] == UInt8(ascii: "{") else { return nil }
        var i = 1
        for _ in 0..<8 {
            guard i < n, line[i] == 0x22 else { return nil }
            let keyStart = i + 1
            i = keyStart
            while i < n && line[i] != 0x22 && line[i] != 0x5C { i += 1 }
            guard i < n, line[i] == 0x22 else { return nil }
            let keyEnd = i
            i += 1
            guard i + 1 < n, line[i] == UInt8(ascii: ":"), line[i + 1] == 0x22 else { return nil }
            let valueStart = i + 2
            i = valueStart
            while i < n && line[i] != 0x22 && line[i] != 0x5C && line[i] >= 0x20 { i += 1 }
            guard i < n, line[i] == 0x22 else { return nil }
            let valueEnd = i
            i += 1
            if keyEnd - keyStart == 5 && line[keyStart] == UInt8(ascii: "e") && line[keyStart + 1] == UInt8(ascii: "m")
                && line[keyStart + 2] == UInt8(ascii: "a") && line[keyStart + 3] == UInt8(ascii: "i") && line[keyStart + 4] == UInt8(ascii: "l") {
                return valueStart..<valueEnd
            }
            guard i < n, line[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
        return nil
    }
}
