import MailpipeCore

/// `--split a=50,b=50`: each contact's A/B variant for one campaign, decided by the project's
/// one hash (FNV-1a 64, `EmailKey.hash`) of `<normalised email> \0 <campaign>` — the same
/// contact gets the same variant of a campaign on every run, machine and shard, and variants of
/// different campaigns are drawn independently.
///
/// The variant is the bucket the hash's high 32 bits fall in when [0, 2³²) is cut in proportion
/// to the weights: `((h >> 32) * total) >> 32` picks a point in [0, total), and the variants own
/// consecutive ranges of their weight's width, in the order given. (The high bits, because the
/// low bits of FNV-1a mix poorly: bit 0 is the parity of the input's low bits.)
public struct VariantSplit: Equatable, Sendable {
    public struct Variant: Equatable, Sendable {
        public var name: String
        public var weight: Int
    }

    public let variants: [Variant]
    public let campaign: String
    let total: UInt64

    /// Parses `a=50,b=50` (names: 1–32 of `a-z 0-9 _ -`; weights: whole numbers ≥ 0, at least
    /// one above 0; shares are weight / sum, so `a=1,b=1` is 50/50 too).
    public init(parsing text: String, campaign: String) throws {
        var variants: [Variant] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = String(part).trimmingBlanks
            guard let eq = item.firstIndex(of: "=") else {
                throw StageError.usage("--split takes name=weight pairs such as a=50,b=50, got '\(item)'")
            }
            let name = String(item[..<eq]).trimmingBlanks
            let weightText = String(item[item.index(after: eq)...]).trimmingBlanks
            guard VariantName.isValid(name) else {
                throw StageError.usage("--split: variant name '\(name)' must be 1–32 characters of a-z, 0-9, '_' and '-'")
            }
            guard let weight = Int(weightText), weight >= 0, weight <= 1_000_000 else {
                throw StageError.usage("--split: the weight of '\(name)' must be a whole number from 0 to 1000000, got '\(weightText)'")
            }
            guard !variants.contains(where: { $0.name == name }) else {
                throw StageError.usage("--split names variant '\(name)' twice")
            }
            variants.append(Variant(name: name, weight: weight))
        }
        guard variants.count >= 2 else { throw StageError.usage("--split needs at least two variants (a=50,b=50)") }
        let total = variants.reduce(0) { $0 + $1.weight }
        guard total > 0 else { throw StageError.usage("--split: the weights add up to 0") }
        guard !campaign.isEmpty else { throw StageError.usage("--split needs --campaign: the variant is drawn per email and campaign") }
        self.variants = variants
        self.campaign = campaign
        self.total = UInt64(total)
    }

    /// The variant (an index into `variants`) of a normalised address (`EmailKey.normalize`).
    public func variant(normalizedEmail key: [UInt8], scratch: inout [UInt8]) -> Int {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: key)
        scratch.append(0)
        scratch.append(contentsOf: campaign.utf8)
        let h = scratch.withUnsafeBytes { EmailKey.hash($0) }
        var point = ((h >> 32) &* total) >> 32
        for (i, v) in variants.enumerated() {
            let w = UInt64(v.weight)
            if point < w { return i }
            point -= w
        }
        return variants.count - 1   // unreachable: point < total
    }

    /// The same for an address as text (normalised here).
    public func variant(email: String) -> String {
        var scratch: [UInt8] = []
        return variants[variant(normalizedEmail: Array(EmailKey.normalize(email).utf8), scratch: &scratch)].name
    }

    /// Each variant's name as a JSON string, ready to splice into a record.
    var jsonNames: [[UInt8]] {
        variants.map { v in
            var b = ByteBuffer(capacity: 40)
            b.appendJSONString(v.name)
            return b.bytes
        }
    }
}
