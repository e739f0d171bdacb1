/// Comparisons of secrets and signatures whose duration does not depend on where they differ.
public enum ConstantTime {
    /// Equal bytes; only the lengths (not secret) may end the comparison early.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
