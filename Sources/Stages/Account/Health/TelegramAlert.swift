import CCurl
import MailpipeCore
import MailpipeCurl
import MailpipeStore

/// `account alert-telegram`: sends an `account health` alert (its JSON on standard input, as
/// `--alert-command` pipes it) to a Telegram chat through the Bot API's `sendMessage`, over
/// libcurl. The bot token comes from an environment variable or a file — never argv — and is
/// never printed: it is part of the request URL, so every message about a failure is cleaned
/// of it.
public enum TelegramAlert {
    public struct Options {
        public var chatID: String
        /// The environment variable holding the token (default TELEGRAM_BOT_TOKEN).
        public var tokenEnv: String
        /// A file holding the token (its first line), instead of the variable.
        public var tokenFile: String?
        /// The Bot API's root (a test points it at a local double).
        public var apiURL: String
        public var timeoutSeconds: Int

        public init(chatID: String, tokenEnv: String = "TELEGRAM_BOT_TOKEN", tokenFile: String? = nil,
                    apiURL: String = "https://api.telegram.org", timeoutSeconds: Int = 20) {
            self.chatID = chatID
            self.tokenEnv = tokenEnv
            self.tokenFile = tokenFile
            self.apiURL = apiURL
            self.timeoutSeconds = timeoutSeconds
        }
    }

    /// The token: the file's first line, else the variable. Missing → configuration error (exit 2).
    static func token(_ options: Options) throws -> String {
        if let file = options.tokenFile {
            let bytes: [UInt8]
            do { bytes = try FileSystem.readFile(file) } catch { throw StageError.configuration("cannot read the bot token file \(file): \(error)") }
            let line = String(decoding: bytes.prefix { $0 != 0x0A && $0 != 0x0D }, as: UTF8.self)
            guard !line.isEmpty else { throw StageError.configuration("the bot token file \(file) is empty") }
            return line
        }
        guard let value = FileSystem.environment(options.tokenEnv), !value.isEmpty else {
            throw StageError.configuration("no bot token: set $\(options.tokenEnv) (or give --token-file FILE)")
        }
        return value
    }

    /// The message for a chat: the verdict and the reasons that are not ok.
    public static func message(alert: JSONValue) throws -> String {
        guard let tenant = alert["tenant"]?.string, let status = alert["status"]?.string else {
            throw StageError.runtime("the input is not an account health alert (no tenant or status)")
        }
        var text = "mailpipe health: \(tenant) \(status.uppercased())"
        if let score = alert["score"]?.int { text += ", score \(score)/100" }
        if let at = alert["generated_at"]?.string { text += " (\(at))" }
        for reason in alert["reasons"]?.array ?? [] where reason["level"]?.string != "ok" {
            let check = reason["check"]?.string ?? "?"
            let level = reason["level"]?.string ?? "?"
            let figure = AccountHealth.percent(reason["figure"]?.double)
            let threshold = AccountHealth.percent(reason["threshold"]?.double)
            let points = reason["points"]?.int ?? 0
            text += "\n- \(check) \(level): \(figure) (threshold \(threshold), -\(points))"
            if let detail = reason["detail"]?.string { text += ": \(detail)" }
        }
        return text
    }

    /// Sends the alert; what Telegram said when it refused, or the transfer's error.
    public static func send(alert: [UInt8], _ options: Options) throws {
        let value: JSONValue
        do { value = try JSONValue.parse(alert) } catch { throw StageError.runtime("the input is not JSON: \(error)") }
        let token = try token(options)
        let body = JSONValue.object(JSONObject([("chat_id", .string(options.chatID)), ("text", .string(try message(alert: value))),
                                                ("disable_web_page_preview", .bool(true))]))
        var bytes = ByteBuffer(capacity: 1024)
        body.write(into: &bytes)
        let root = options.apiURL.hasSuffix("/") ? String(options.apiURL.dropLast()) : options.apiURL
        func clean(_ text: String) -> String { text.replacing(token, with: "<token>") }
        let easy: CurlEasy
        do {
            easy = try CurlEasy()
            try easy.setURL("\(root)/bot\(token)/sendMessage")
            try easy.set(CURLOPT_HTTPHEADER, list: CurlSlist(["Content-Type: application/json"]))
            try easy.set(CURLOPT_TIMEOUT, options.timeoutSeconds)
            try easy.set(CURLOPT_CONNECTTIMEOUT, 10)
            try easy.setPostFields(bytes.bytes)
            try easy.perform()
        } catch {
            throw StageError.runtime("cannot reach the Telegram Bot API at \(root): \(clean("\(error)"))")
        }
        let answer = try? JSONValue.parse(easy.response)
        guard easy.responseCode == 200, answer?["ok"]?.bool == true else {
            let said = answer?["description"]?.string ?? String(decoding: easy.response.prefix(200), as: UTF8.self)
            throw StageError.runtime("Telegram refused the message: HTTP \(easy.responseCode): \(clean(said))")
        }
    }
}
