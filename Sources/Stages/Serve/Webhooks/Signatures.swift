#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto
import MailpipeCore
import X509
import _CryptoExtras

/// Why a signed request was refused (the access log and the counters say which).
public enum SignatureFailure: String, Error, Sendable {
    case missingHeader = "missing_signature"
    case malformed = "malformed_signature"
    case mismatch = "bad_signature"
    case unknownVersion = "unknown_signature_version"
    case wrongTopic = "wrong_topic"
    case badCredentials = "bad_credentials"
}

/// SendGrid's Signed Event Webhook: ECDSA over P-256 with SHA-256 of `timestamp + body`, where
/// the timestamp is the `X-Twilio-Email-Event-Webhook-Timestamp` header and the signature the
/// base64 DER of `X-Twilio-Email-Event-Webhook-Signature`. The key is the base64 DER
/// SubjectPublicKeyInfo SendGrid shows in its mail settings (a PEM block is accepted too).
public struct SendGridVerifier: Sendable {
    public static let signatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
    public static let timestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
    let key: P256.Signing.PublicKey

    public init(publicKey text: String) throws {
        let trimmed = text.trimmingBlanks
        do {
            if trimmed.hasPrefix("-----BEGIN") {
                key = try P256.Signing.PublicKey(pemRepresentation: trimmed)
            } else {
                guard let der = Mime.decodeBase64(Array(trimmed.utf8)) else { throw SignatureFailure.malformed }
                key = try P256.Signing.PublicKey(derRepresentation: der)
            }
        } catch {
            throw StageError.configuration("the SendGrid verification key is not a P-256 public key (base64 DER or PEM)")
        }
    }

    public func verify(body: [UInt8], signature: String?, timestamp: String?) -> Result<Void, SignatureFailure> {
        guard let signature, let timestamp, !signature.isEmpty, !timestamp.isEmpty else { return .failure(.missingHeader) }
        guard let der = Mime.decodeBase64(Array(signature.trimmingBlanks.utf8)),
              let parsed = try? P256.Signing.ECDSASignature(derRepresentation: der) else { return .failure(.malformed) }
        let signed = Array(timestamp.utf8) + body
        return key.isValidSignature(parsed, for: SHA256.hash(data: signed)) ? .success(()) : .failure(.mismatch)
    }
}

/// HTTP Basic authentication (Postmark's webhooks carry the user and password set in their URL).
/// Both sides are hashed before the comparison, so neither the content nor the length of the
/// expected password shows in the time an answer takes.
public struct BasicAuthVerifier: Sendable {
    let expected: [UInt8]

    public init(username: String, password: String) {
        expected = Array(SHA256.hash(data: Array("\(username):\(password)".utf8)))
    }

    /// `header` is the request's `Authorization` value.
    public func verify(_ header: String?) -> Result<Void, SignatureFailure> {
        guard let header else { return .failure(.missingHeader) }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let decoded = Mime.decodeBase64(Array(parts[1].utf8)) else { return .failure(.malformed) }
        let given = Array(SHA256.hash(data: decoded))
        return ConstantTime.equal(given, expected) ? .success(()) : .failure(.badCredentials)
    }
}

/// A shared secret a sender that signs nothing (MailWizz) carries in the URL it was given
/// (`?secret=`) or in the `X-Mailpipe-Secret` header; compared in constant time, as a hash.
public struct SharedSecretVerifier: Sendable {
    public static let header = "X-Mailpipe-Secret"
    public static let queryParameter = "secret"
    /// A shorter secret could be guessed.
    public static let minimumLength = 16
    let expected: [UInt8]

    public init(secret: String) {
        expected = Array(SHA256.hash(data: Array(secret.utf8)))
    }

    /// `given` is the request's `secret` query value, else its header.
    public func verify(_ given: String?) -> Result<Void, SignatureFailure> {
        guard let given, !given.isEmpty else { return .failure(.missingHeader) }
        return ConstantTime.equal(Array(SHA256.hash(data: Array(given.utf8))), expected) ? .success(()) : .failure(.badCredentials)
    }
}

/// Amazon SNS message signatures (SignatureVersion 1: RSA PKCS#1 v1.5 with SHA-1, version 2:
/// with SHA-256) over the canonical string of the message's fields. The signing certificate
/// comes from a file the operator installed (never fetched from SigningCertURL); its validity
/// dates are checked against the clock.
public struct SNSVerifier: Sendable {
    let key: _RSA.Signing.PublicKey
    let notBefore: Int64
    let notAfter: Int64
    /// Topic ARNs accepted (empty: any topic signed by the certificate).
    let topics: Set<String>

    public init(certificatePEM: String, topics: [String]) throws {
        let certificate: Certificate
        do { certificate = try Certificate(pemEncoded: certificatePEM) } catch {
            throw StageError.configuration("the SNS signing certificate is not a PEM X.509 certificate: \(error)")
        }
        guard let key = _RSA.Signing.PublicKey(certificate.publicKey) else {
            throw StageError.configuration("the SNS signing certificate does not hold an RSA key")
        }
        self.key = key
        notBefore = Int64(certificate.notValidBefore.timeIntervalSince1970)
        notAfter = Int64(certificate.notValidAfter.timeIntervalSince1970)
        self.topics = Set(topics)
    }

    /// The fields signed, in order, for each message type (AWS SNS "Verifying the signatures").
    static func signedFields(type: String) -> [String]? {
        switch type {
        case "Notification": return ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        case "SubscriptionConfirmation", "UnsubscribeConfirmation":
            return ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        default: return nil
        }
    }

    /// `name \n value \n` for each signed field present (Subject only when the message has one).
    public static func canonicalString(_ message: JSONValue) -> [UInt8]? {
        guard let type = message["Type"]?.string, let names = signedFields(type: type) else { return nil }
        var out: [UInt8] = []
        for name in names {
            guard let value = message[name]?.string else {
                if name == "Subject" { continue }
                return nil
            }
            out += Array(name.utf8) + [0x0A] + Array(value.utf8) + [0x0A]
        }
        return out
    }

    public func verify(_ message: JSONValue, now: Timestamp) -> Result<Void, SignatureFailure> {
        guard let version = message["SignatureVersion"]?.string, let signature = message["Signature"]?.string else {
            return .failure(.missingHeader)
        }
        guard let canonical = SNSVerifier.canonicalString(message),
              let raw = Mime.decodeBase64(Array(signature.utf8)) else { return .failure(.malformed) }
        if !topics.isEmpty, !topics.contains(message["TopicArn"]?.string ?? "") { return .failure(.wrongTopic) }
        guard now.seconds >= notBefore && now.seconds <= notAfter else { return .failure(.mismatch) }
        let parsed = _RSA.Signing.RSASignature(rawRepresentation: raw)
        let valid: Bool
        switch version {
        case "1": valid = key.isValidSignature(parsed, for: Insecure.SHA1.hash(data: canonical), padding: .insecurePKCS1v1_5)
        case "2": valid = key.isValidSignature(parsed, for: SHA256.hash(data: canonical), padding: .insecurePKCS1v1_5)
        default: return .failure(.unknownVersion)
        }
        return valid ? .success(()) : .failure(.mismatch)
    }
}
