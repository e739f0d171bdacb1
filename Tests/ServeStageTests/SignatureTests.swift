#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto
import MailpipeCore
import RenderStage
import ServeStage
import X509
import XCTest
import _CryptoExtras

/// The three ways a webhook is proven, with keys this test makes: SendGrid's ECDSA P-256,
/// Postmark's basic auth, SNS's RSA signature under an X.509 certificate.
final class SignatureTests: XCTestCase {
    func base64(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        Mime.base64(bytes, lineLength: 0, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func testSendGridSignature() throws {
        let key = P256.Signing.PrivateKey()
        let verifier = try SendGridVerifier(publicKey: base64(Array(key.publicKey.derRepresentation)))
        let body = Array(#"[{"email":"a@x.org","event":"open","sg_event_id":"e1","timestamp":1764000000}]"#.utf8)
        let stamp = "1764000000"
        let signature = base64(Array(try key.signature(for: Array(stamp.utf8) + body).derRepresentation))
        XCTAssertNoThrow(try verifier.verify(body: body, signature: signature, timestamp: stamp).get())
        // The PEM form of the same key verifies the same.
        XCTAssertNoThrow(try SendGridVerifier(publicKey: key.publicKey.pemRepresentation).verify(body: body, signature: signature, timestamp: stamp).get())
        func failure(_ r: Result<Void, SignatureFailure>) -> SignatureFailure? {
            if case .failure(let f) = r { return f }
            return nil
        }
        XCTAssertEqual(failure(verifier.verify(body: body + [0x20], signature: signature, timestamp: stamp)), .mismatch)
        XCTAssertEqual(failure(verifier.verify(body: body, signature: signature, timestamp: "1764000001")), .mismatch)
        XCTAssertEqual(failure(verifier.verify(body: body, signature: nil, timestamp: stamp)), .missingHeader)
        XCTAssertEqual(failure(verifier.verify(body: body, signature: "not base64 at all!", timestamp: stamp)), .malformed)
        let other = try SendGridVerifier(publicKey: base64(Array(P256.Signing.PrivateKey().publicKey.derRepresentation)))
        XCTAssertEqual(failure(other.verify(body: body, signature: signature, timestamp: stamp)), .mismatch)
        XCTAssertThrowsError(try SendGridVerifier(publicKey: "MFkw"))
    }

    func testBasicAuth() {
        let verifier = BasicAuthVerifier(username: "postmark", password: "s3cret:with colon")
        XCTAssertNoThrow(try verifier.verify("Basic " + base64(Array("postmark:s3cret:with colon".utf8))).get())
        XCTAssertNoThrow(try verifier.verify("basic " + base64(Array("postmark:s3cret:with colon".utf8))).get())
        for (header, expected) in [("Basic " + base64(Array("postmark:s3cret".utf8)), SignatureFailure.badCredentials),
                                   ("Basic " + base64(Array("other:s3cret:with colon".utf8)), .badCredentials),
                                   ("Bearer abc", .malformed)] {
            if case .failure(let f) = verifier.verify(header) { XCTAssertEqual(f, expected, header) } else { XCTFail(header) }
        }
        if case .failure(let f) = verifier.verify(nil) { XCTAssertEqual(f, .missingHeader) } else { XCTFail() }
    }

    /// A certificate made here, and an SNS message signed with its key the way SNS does.
    struct SNSFixture {
        let key: _RSA.Signing.PrivateKey
        let pem: String

        init(validFrom: Int64 = 1_760_000_000, validFor: Int64 = 400 * 86_400) throws {
            key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            let name = try DistinguishedName { CommonName("sns.mailpipe.test") }
            let certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
                notValidBefore: Date(timeIntervalSince1970: Double(validFrom)),
                notValidAfter: Date(timeIntervalSince1970: Double(validFrom + validFor)),
                issuer: name, subject: name, signatureAlgorithm: .sha256WithRSAEncryption,
                extensions: Certificate.Extensions(), issuerPrivateKey: .init(key))
            pem = try certificate.serializeAsPEM().pemString
        }

        func sign(_ fields: [(String, String)], version: String) throws -> JSONValue {
            var message = JSONObject(fields.map { ($0.0, JSONValue.string($0.1)) })
            let canonical = SNSVerifier.canonicalString(.object(message))!
            let signature: _RSA.Signing.RSASignature
            if version == "1" {
                signature = try key.signature(for: Insecure.SHA1.hash(data: canonical), padding: .insecurePKCS1v1_5)
            } else {
                signature = try key.signature(for: SHA256.hash(data: canonical), padding: .insecurePKCS1v1_5)
            }
            var encoded: [UInt8] = []
            Mime.base64(Array(signature.rawRepresentation), lineLength: 0, into: &encoded)
            message.append("SignatureVersion", .string(version))
            message.append("Signature", .string(String(decoding: encoded, as: UTF8.self)))
            return .object(message)
        }
    }

    static let notification: [(String, String)] = [
        ("Type", "Notification"), ("MessageId", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"),
        ("TopicArn", "arn:aws:sns:eu-west-1:123456789012:ses-events"), ("Subject", "Amazon SES Email Event Notification"),
        ("Message", #"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent"}}"#),
        ("Timestamp", "2026-11-23T09:00:00.000Z"),
        ("SigningCertURL", "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem"),
    ]

    func testSNSSignatureVersionsOneAndTwo() throws {
        let fixture = try SNSFixture()
        let verifier = try SNSVerifier(certificatePEM: fixture.pem, topics: ["arn:aws:sns:eu-west-1:123456789012:ses-events"])
        let now = Timestamp(seconds: 1_764_000_000)
        for version in ["1", "2"] {
            let message = try fixture.sign(SignatureTests.notification, version: version)
            XCTAssertNoThrow(try verifier.verify(message, now: now).get(), "version \(version)")
            // Any signed field changed: the signature no longer holds.
            var tampered = message.object!
            tampered["Message"] = .string(#"{"notificationType":"Complaint"}"#)
            if case .failure(let f) = verifier.verify(.object(tampered), now: now) { XCTAssertEqual(f, .mismatch) } else { XCTFail() }
        }
        // A subscription confirmation signs SubscribeURL and Token too (and no Subject).
        let confirmation = try fixture.sign([("Type", "SubscriptionConfirmation"), ("MessageId", "m2"), ("Token", "tok"),
                                             ("TopicArn", "arn:aws:sns:eu-west-1:123456789012:ses-events"),
                                             ("Message", "You have chosen to subscribe"),
                                             ("SubscribeURL", "https://sns.example/?Action=ConfirmSubscription"),
                                             ("Timestamp", "2026-11-23T09:00:00.000Z")], version: "2")
        XCTAssertNoThrow(try verifier.verify(confirmation, now: now).get())
        let canonical = String(decoding: SNSVerifier.canonicalString(confirmation)!, as: UTF8.self)
        XCTAssertEqual(canonical, "Message\nYou have chosen to subscribe\nMessageId\nm2\nSubscribeURL\nhttps://sns.example/?Action=ConfirmSubscription\nTimestamp\n2026-11-23T09:00:00.000Z\nToken\ntok\nTopicArn\narn:aws:sns:eu-west-1:123456789012:ses-events\nType\nSubscriptionConfirmation\n")
    }

    func testSNSRefusals() throws {
        let fixture = try SNSFixture()
        let now = Timestamp(seconds: 1_764_000_000)
        let message = try fixture.sign(SignatureTests.notification, version: "2")
        func failure(_ v: SNSVerifier, _ m: JSONValue, _ t: Timestamp = Timestamp(seconds: 1_764_000_000)) -> SignatureFailure? {
            if case .failure(let f) = v.verify(m, now: t) { return f }
            return nil
        }
        // Another topic than those configured.
        XCTAssertEqual(failure(try SNSVerifier(certificatePEM: fixture.pem, topics: ["arn:aws:sns:eu-west-1:1:other"]), message), .wrongTopic)
        // Signed by another key than the certificate's.
        let stranger = try SNSFixture()
        XCTAssertEqual(failure(try SNSVerifier(certificatePEM: stranger.pem, topics: []), message), .mismatch)
        // Outside the certificate's validity.
        XCTAssertEqual(failure(try SNSVerifier(certificatePEM: fixture.pem, topics: []), message, Timestamp(seconds: 1_600_000_000)), .mismatch)
        // An unknown SignatureVersion.
        var v3 = message.object!
        v3["SignatureVersion"] = .string("3")
        XCTAssertEqual(failure(try SNSVerifier(certificatePEM: fixture.pem, topics: []), .object(v3)), .unknownVersion)
        XCTAssertNil(failure(try SNSVerifier(certificatePEM: fixture.pem, topics: []), message, now))
        XCTAssertThrowsError(try SNSVerifier(certificatePEM: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", topics: []))
    }

    func testUnsubscribeTokenIsCheckedInFull() {
        let v = UnsubscribeToken.Verifier(secret: "s3cret")
        let token = v.token(tenant: "t1", email: "Ana@X.org", campaign: "nov")
        XCTAssertTrue(v.verify(token, tenant: "t1", email: "ana@x.org", campaign: "nov"))
        XCTAssertFalse(v.verify(token, tenant: "t1", email: "ana@x.org", campaign: "dec"))
        XCTAssertFalse(v.verify(token, tenant: "t2", email: "ana@x.org", campaign: "nov"))
        XCTAssertFalse(v.verify(String(token.dropLast()), tenant: "t1", email: "ana@x.org", campaign: "nov"))
        var flipped = Array(token.utf8)
        flipped[10] = flipped[10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        XCTAssertFalse(v.verify(String(decoding: flipped, as: UTF8.self), tenant: "t1", email: "ana@x.org", campaign: "nov"))
        XCTAssertFalse(UnsubscribeToken.Verifier(secret: "other").verify(token, tenant: "t1", email: "ana@x.org", campaign: "nov"))
    }
}
