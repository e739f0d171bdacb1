#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCurl

/// A failed libcurl call: the CURLcode, its standard text and, when libcurl gave one, the
/// transfer's own error message (CURLOPT_ERRORBUFFER).
public struct CurlError: Error, CustomStringConvertible, Equatable, Sendable {
    public let code: Int32
    public let detail: String

    public init(code: CURLcode, detail: String = "") {
        self.code = Int32(code.rawValue)
        self.detail = detail
    }

    /// libcurl's text for the code ("Couldn't connect to server").
    public var text: String { String(cString: curl_easy_strerror(CURLcode(UInt32(code)))) }

    public var description: String {
        detail.isEmpty ? "curl error \(code): \(text)" : "curl error \(code): \(text) (\(detail))"
    }

    /// Connection-level trouble worth another try: cannot connect or resolve, timeouts, a
    /// connection dropped mid-way, nothing received.
    public var isTransient: Bool {
        switch CURLcode(UInt32(code)) {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT,
             CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
             CURLE_SSL_CONNECT_ERROR:
            return true
        default:
            return false
        }
    }
}

/// Global initialisation, done once before the first handle.
enum CurlGlobal {
    static let initialised: Bool = {
        curl_global_init(3)  // CURL_GLOBAL_ALL (a macro Swift cannot import)
        return true
    }()
}

@inline(__always)
func check(_ code: CURLcode, _ what: @autoclosure () -> String = "") throws {
    if code != CURLE_OK { throw CurlError(code: code, detail: what()) }
}

/// A `struct curl_slist` (header lines, SMTP recipients), freed with the object. Keep it alive
/// for as long as a handle uses it.
public final class CurlSlist {
    public private(set) var pointer: UnsafeMutablePointer<curl_slist>?

    public init(_ items: [String] = []) {
        for item in items { append(item) }
    }

    public func append(_ item: String) {
        pointer = curl_slist_append(pointer, item)
    }

    deinit { if let pointer { curl_slist_free_all(pointer) } }
}

/// One libcurl easy handle. The body to upload, the response body and the header (or SMTP
/// reply) lines live in the object; the C callbacks reach them through an unretained pointer
/// to `self` (CURLOPT_*DATA), valid while the handle lives, which is as long as `self` does.
public final class CurlEasy {
    public let handle: UnsafeMutableRawPointer
    /// Bytes to send (CURLOPT_UPLOAD / POSTFIELDS).
    public private(set) var upload: [UInt8] = []
    private var uploadOffset = 0
    /// The response body of the last transfer.
    public var response: [UInt8] = []
    /// The header lines (for SMTP: every server reply line) of the last transfer.
    public var headers: [UInt8] = []
    /// Free for the owner: e.g. an index into its own table.
    public var tag: Int = -1
    private var errorBuffer: UnsafeMutablePointer<CChar>
    private var slists: [CurlSlist] = []
    /// Strings handed to libcurl are copied by it (CURLOPT_* strings since 7.17), slists are not.
    public var responseLimit = 16 << 20

    public init() throws {
        _ = CurlGlobal.initialised
        guard let h = curl_easy_init() else { throw CurlError(code: CURLE_FAILED_INIT, detail: "curl_easy_init") }
        handle = h
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        try installCallbacks()
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    private func installCallbacks() throws {
        let me = Unmanaged.passUnretained(self).toOpaque()
        try set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_PRIVATE, pointer: me)
        try check(mp_curl_easy_setopt_callback(handle, CURLOPT_WRITEFUNCTION, curlWriteBody))
        try set(CURLOPT_WRITEDATA, pointer: me)
        try check(mp_curl_easy_setopt_callback(handle, CURLOPT_HEADERFUNCTION, curlWriteHeader))
        try set(CURLOPT_HEADERDATA, pointer: me)
        try check(mp_curl_easy_setopt_callback(handle, CURLOPT_READFUNCTION, curlReadBody))
        try set(CURLOPT_READDATA, pointer: me)
    }

    // MARK: options

    public func set(_ option: CURLoption, _ value: Int) throws {
        try check(mp_curl_easy_setopt_long(handle, option, value), "option \(option.rawValue)")
    }

    public func set(_ option: CURLoption, string value: String) throws {
        try check(mp_curl_easy_setopt_string(handle, option, value), "option \(option.rawValue)")
    }

    public func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) throws {
        try check(mp_curl_easy_setopt_pointer(handle, option, value), "option \(option.rawValue)")
    }

    /// Sets a list option; the list is kept alive by this handle until `clearLists()` or reset.
    public func set(_ option: CURLoption, list: CurlSlist) throws {
        slists.append(list)
        try check(mp_curl_easy_setopt_slist(handle, option, list.pointer), "option \(option.rawValue)")
    }

    /// Drops the lists kept for earlier transfers (call after replacing the options using them).
    public func clearLists() { slists.removeAll(keepingCapacity: true) }

    public func setURL(_ url: String) throws { try set(CURLOPT_URL, string: url) }

    /// Sets the body to upload through the read callback (SMTP, PUT) and its size.
    public func setUpload(_ bytes: [UInt8]) throws {
        upload = bytes
        uploadOffset = 0
        try set(CURLOPT_UPLOAD, 1)
        try check(mp_curl_easy_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(bytes.count)))
    }

    /// Sets a request body for POST/PUT given with CURLOPT_POSTFIELDS (libcurl copies it).
    public func setPostFields(_ bytes: [UInt8]) throws {
        try set(CURLOPT_UPLOAD, 0)
        try check(mp_curl_easy_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count)))
        let code = bytes.withUnsafeBufferPointer { buffer -> CURLcode in
            // COPYPOSTFIELDS copies `count` bytes now, so the buffer need not outlive the call.
            mp_curl_easy_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS,
                                        UnsafeMutableRawPointer(mutating: buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!))
        }
        try check(code, "postfields")
    }

    /// Clears per-transfer results before the handle is used again.
    public func prepareTransfer() {
        response.removeAll(keepingCapacity: true)
        headers.removeAll(keepingCapacity: true)
        uploadOffset = 0
        errorBuffer[0] = 0
    }

    // MARK: results

    /// The HTTP status or the last SMTP reply code (0 when none was received).
    public var responseCode: Int {
        var value = 0
        _ = mp_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &value)
        return value
    }

    /// libcurl's message for the last failure, if it wrote one.
    public var errorMessage: String { String(cString: errorBuffer) }

    public func error(_ code: CURLcode) -> CurlError { CurlError(code: code, detail: errorMessage) }

    /// The last non-empty header line (for SMTP: the server's last reply, e.g.
    /// "250 2.0.0 Ok: queued as 4F3A21"), without its line end.
    public var lastHeaderLine: String {
        var end = headers.count
        while end > 0 && (headers[end - 1] == 0x0A || headers[end - 1] == 0x0D) { end -= 1 }
        var start = end
        while start > 0 && headers[start - 1] != 0x0A { start -= 1 }
        return String(decoding: headers[start..<end], as: UTF8.self)
    }

    /// Runs the transfer on this thread (no multi handle).
    public func perform() throws {
        prepareTransfer()
        let code = curl_easy_perform(handle)
        if code != CURLE_OK { throw error(code) }
    }

    // MARK: connect-only use (CURLOPT_CONNECT_ONLY: libcurl connects and greets, the caller talks)

    /// The socket of the connection (CURLINFO_ACTIVESOCKET), -1 when there is none.
    public var activeSocket: Int32 {
        var fd: curl_socket_t = -1
        if mp_curl_easy_getinfo_socket(handle, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK { return -1 }
        return fd
    }

    /// Sends what the connection takes now (curl_easy_send): the byte count, 0 when it would block.
    public func send(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        var sent = 0
        let code = curl_easy_send(handle, bytes.baseAddress, bytes.count, &sent)
        if code == CURLE_AGAIN { return 0 }
        if code != CURLE_OK { throw error(code) }
        return sent
    }

    /// Receives what is there (curl_easy_recv): the byte count, nil when it would block, 0 at the
    /// end of the stream.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        var got = 0
        let code = curl_easy_recv(handle, buffer.baseAddress, buffer.count, &got)
        if code == CURLE_AGAIN { return nil }
        if code != CURLE_OK { throw error(code) }
        return got
    }

    // MARK: callback bodies

    fileprivate func receiveBody(_ p: UnsafeMutablePointer<CChar>, _ n: Int) -> Int {
        if response.count + n > responseLimit { return 0 }  // aborts with CURLE_WRITE_ERROR
        p.withMemoryRebound(to: UInt8.self, capacity: n) { response.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) }
        return n
    }

    fileprivate func receiveHeader(_ p: UnsafeMutablePointer<CChar>, _ n: Int) -> Int {
        if headers.count + n <= 1 << 20 {
            p.withMemoryRebound(to: UInt8.self, capacity: n) { headers.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) }
        }
        return n
    }

    fileprivate func sendBody(_ p: UnsafeMutablePointer<CChar>, _ capacity: Int) -> Int {
        let n = min(capacity, upload.count - uploadOffset)
        if n <= 0 { return 0 }
        upload.withUnsafeBytes { src in
            UnsafeMutableRawPointer(p).copyMemory(from: src.baseAddress! + uploadOffset, byteCount: n)
        }
        uploadOffset += n
        return n
    }

    /// The CurlEasy behind a raw handle (set through CURLOPT_PRIVATE).
    static func from(_ handle: UnsafeMutableRawPointer) -> CurlEasy? {
        var raw: UnsafeMutableRawPointer?
        guard mp_curl_easy_getinfo_pointer(handle, CURLINFO_PRIVATE, &raw) == CURLE_OK, let raw else { return nil }
        return Unmanaged<CurlEasy>.fromOpaque(raw).takeUnretainedValue()
    }
}

private func curlWriteBody(_ p: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let p, let user else { return 0 }
    return Unmanaged<CurlEasy>.fromOpaque(user).takeUnretainedValue().receiveBody(p, size * count)
}

private func curlWriteHeader(_ p: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let p, let user else { return 0 }
    return Unmanaged<CurlEasy>.fromOpaque(user).takeUnretainedValue().receiveHeader(p, size * count)
}

private func curlReadBody(_ p: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let p, let user else { return 0 }
    return Unmanaged<CurlEasy>.fromOpaque(user).takeUnretainedValue().sendBody(p, size * count)
}

/// A libcurl multi handle: many transfers from one thread, one shared connection cache.
public final class CurlMulti {
    public let handle: UnsafeMutableRawPointer
    private var attached: [ObjectIdentifier: CurlEasy] = [:]

    public init() throws {
        _ = CurlGlobal.initialised
        guard let m = curl_multi_init() else { throw CurlError(code: CURLE_FAILED_INIT, detail: "curl_multi_init") }
        handle = m
    }

    deinit {
        for easy in attached.values { curl_multi_remove_handle(handle, easy.handle) }
        curl_multi_cleanup(handle)
    }

    public func set(_ option: CURLMoption, _ value: Int) throws {
        let code = mp_curl_multi_setopt_long(handle, option, value)
        if code != CURLM_OK { throw CurlError(code: CURLE_FAILED_INIT, detail: "multi option \(option.rawValue): \(String(cString: curl_multi_strerror(code)))") }
    }

    public var activeCount: Int { attached.count }

    /// Starts a transfer (clears the handle's previous results first).
    public func add(_ easy: CurlEasy) throws {
        easy.prepareTransfer()
        let code = curl_multi_add_handle(handle, easy.handle)
        if code != CURLM_OK { throw CurlError(code: CURLE_FAILED_INIT, detail: "curl_multi_add_handle: \(String(cString: curl_multi_strerror(code)))") }
        attached[ObjectIdentifier(easy)] = easy
    }

    public func remove(_ easy: CurlEasy) {
        if attached.removeValue(forKey: ObjectIdentifier(easy)) != nil {
            curl_multi_remove_handle(handle, easy.handle)
        }
    }

    /// Drives every transfer as far as it can go without waiting.
    @discardableResult
    public func perform() throws -> Int {
        var running: Int32 = 0
        let code = curl_multi_perform(handle, &running)
        if code != CURLM_OK { throw CurlError(code: CURLE_FAILED_INIT, detail: "curl_multi_perform: \(String(cString: curl_multi_strerror(code)))") }
        return Int(running)
    }

    /// Waits up to `milliseconds` for activity on any transfer (curl_multi_poll, 7.66+).
    public func poll(milliseconds: Int) throws {
        var ready: Int32 = 0
        let code = curl_multi_poll(handle, nil, 0, Int32(clamping: milliseconds), &ready)
        if code != CURLM_OK { throw CurlError(code: CURLE_FAILED_INIT, detail: "curl_multi_poll: \(String(cString: curl_multi_strerror(code)))") }
    }

    /// Finished transfers since the last call: each removed from the multi handle, with its result
    /// (nil on success).
    public func completed() -> [(CurlEasy, CurlError?)] {
        var done: [(CurlEasy, CurlError?)] = []
        var left: Int32 = 0
        while let msg = curl_multi_info_read(handle, &left) {
            guard msg.pointee.msg == CURLMSG_DONE, let raw = msg.pointee.easy_handle,
                  let easy = CurlEasy.from(raw) else { continue }
            let result = mp_curl_msg_result(msg)
            remove(easy)
            done.append((easy, result == CURLE_OK ? nil : easy.error(result)))
        }
        return done
    }
}
