import ValidateStage
import XCTest

/// The DNS reply reader behind `validate --mx`, on messages built byte by byte (RFC 1035 §4):
/// compressed names, Null MX, the additional section, and malformed input that must be refused
/// without a crash.
final class DNSReplyTests: XCTestCase {
    /// A name as labels (no compression).
    static func name(_ dotted: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in dotted.split(separator: ".") {
            out.append(UInt8(label.utf8.count))
            out.append(contentsOf: label.utf8)
        }
        return out + [0]
    }

    static func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

    /// A resource record: owner, type, class IN, TTL 300, data.
    static func record(_ owner: [UInt8], type: Int, _ data: [UInt8]) -> [UInt8] {
        owner + u16(type) + u16(1) + [0, 0, 1, 44] + u16(data.count) + data
    }

    /// `example.com MX?` answered with two MX records (one name compressed against the question,
    /// one in upper case), one NS record, and an A record for the first exchange.
    static let reply: [UInt8] = {
        var m: [UInt8] = u16(0x1234) + u16(0x8180) + u16(1) + u16(2) + u16(1) + u16(1)
        m += name("example.com") + u16(15) + u16(1)
        let question = 12
        // mx1 + pointer to example.com
        let mx1 = [3] + Array("mx1".utf8) + [0xC0, UInt8(question)]
        m += record([0xC0, UInt8(question)], type: 15, u16(10) + mx1)
        let mx1Offset = m.count - mx1.count
        m += record([0xC0, UInt8(question)], type: 15, u16(20) + name("MX2.Example.COM"))
        m += record([0xC0, UInt8(question)], type: 2, name("ns1.example.com"))
        m += record([0xC0, UInt8(mx1Offset)], type: 1, [192, 0, 2, 1])
        return m
    }()

    func parse(_ bytes: [UInt8], addressType: UInt16 = 0) -> DNSReply? {
        bytes.withUnsafeBytes { DNSReply($0, addressType: addressType) }
    }

    func testMXRecordsAndAddressedHostsAreRead() throws {
        let r = try XCTUnwrap(parse(DNSReplyTests.reply))
        XCTAssertEqual(r.mx.map(\.preference), [10, 20])
        XCTAssertEqual(r.mx.map(\.host), ["mx1.example.com", "mx2.example.com"], "decompressed and lower-cased")
        XCTAssertEqual(r.addressedHosts, ["mx1.example.com"])
        XCTAssertFalse(r.hasAddress, "no address type was asked")
    }

    func testNullMXAndAddressAnswers() throws {
        var m: [UInt8] = DNSReplyTests.u16(1) + DNSReplyTests.u16(0x8180) + DNSReplyTests.u16(1) + DNSReplyTests.u16(1)
            + DNSReplyTests.u16(0) + DNSReplyTests.u16(0)
        m += DNSReplyTests.name("nomail.example") + DNSReplyTests.u16(15) + DNSReplyTests.u16(1)
        let nullMX = m + DNSReplyTests.record([0xC0, 12], type: 15, DNSReplyTests.u16(0) + [0])
        let r = try XCTUnwrap(parse(nullMX))
        XCTAssertEqual(r.mx.count, 1)
        XCTAssertEqual(r.mx.first?.preference, 0)
        XCTAssertEqual(r.mx.first?.host, "", "a Null MX names the root")
        let a = m + DNSReplyTests.record([0xC0, 12], type: 1, [192, 0, 2, 7])
        XCTAssertEqual(parse(a, addressType: 1)?.hasAddress, true)
        XCTAssertEqual(parse(a, addressType: 28)?.hasAddress, false)
    }

    func testMalformedRepliesAreRefused() {
        let full = DNSReplyTests.reply
        // Every cut of the reply runs a count past the end.
        for cut in 0..<full.count { XCTAssertNil(parse(Array(full.prefix(cut))), "cut at \(cut)") }
        // A name that points at itself.
        var loop: [UInt8] = DNSReplyTests.u16(1) + DNSReplyTests.u16(0x8180) + DNSReplyTests.u16(0) + DNSReplyTests.u16(1)
            + DNSReplyTests.u16(0) + DNSReplyTests.u16(0)
        loop += DNSReplyTests.record([0xC0, 12], type: 15, DNSReplyTests.u16(5) + [0xC0, 12])
        XCTAssertNil(parse(loop), "pointer loop")
        // A label with the reserved high bits (01 or 10).
        var reserved = full
        reserved[12] = 0x47
        XCTAssertNil(parse(reserved))
        // An MX whose data is shorter than a preference and a name.
        var short: [UInt8] = DNSReplyTests.u16(1) + DNSReplyTests.u16(0x8180) + DNSReplyTests.u16(0) + DNSReplyTests.u16(1)
            + DNSReplyTests.u16(0) + DNSReplyTests.u16(0)
        short += DNSReplyTests.record([0], type: 15, [0, 1])
        XCTAssertNil(parse(short))
    }

    /// Random damage to a good reply: read or refused, never a crash or a runaway.
    func testDamagedRepliesNeverCrash() {
        var rng = SystemRandomNumberGenerator()
        var refused = 0
        for _ in 0..<20_000 {
            var m = DNSReplyTests.reply
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                m[Int.random(in: 0..<m.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if parse(m) == nil { refused += 1 }
        }
        XCTAssertGreaterThan(refused, 0)
    }
}
