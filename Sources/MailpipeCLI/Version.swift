#if canImport(Glibc)
import Glibc
#endif
import CDeflate
import CZlibShim

/// The release every executable reports with `--version`.
public let mailpipeVersion = "0.2.0"

/// What `--version` prints: the release, the commit and build date, and the versions of the C
/// libraries the executable runs with (those found at run time, which may differ from the
/// headers it was built against).
///
///     mailpipe 0.2.0 (commit 1a2b3c4d5e6f, built 2026-12-06 06:30 UTC)
///     libcurl 7.88.1, zlib 1.2.13, libdeflate 1.14, libidn2 2.3.3
///
/// Assembled only when the command line asks for it: libcurl's `curl_version()` initialises
/// LDAP and SASL (8 M instructions, a `dlopen` of SASL's plugins), and libcurl and libidn2 are
/// opened then rather than linked (libcurl's ~25 libraries took a third of a stage's 15–35 ms
/// start-up). Otherwise the text is the release alone: swift-argument-parser prints a
/// command's version only for `--version`, and needs one (non-empty) for that flag to exist.
public let mailpipeVersionText: String =
    CommandLine.arguments.dropFirst().contains(where: VersionReport.asksForVersion) ? VersionReport.text : "mailpipe \(mailpipeVersion)"

enum VersionReport {
    /// Whether an argument is one swift-argument-parser takes as `--version` (it also reads
    /// `--version=…` as the flag; one after `--` it does not, but assembling the report for it
    /// costs only time).
    static func asksForVersion(_ argument: String) -> Bool {
        argument == "--version" || argument.hasPrefix("--version=")
    }

    static var text: String {
        // curl_version(): "libcurl/7.88.1 OpenSSL/3.0.11 zlib/1.2.13 …"
        let curlVersion = function("curl_version", in: "libcurl.so.4", as: (@convention(c) () -> UnsafeMutablePointer<CChar>?).self)
        let curlText = curlVersion?().map { String(cString: $0) } ?? ""
        let curl = curlText.split(separator: " ").first.flatMap { $0.split(separator: "/").last }.map(String.init) ?? "?"
        let zlib = zlibVersion().map { String(cString: $0) } ?? "?"
        let idn2Version = function("idn2_check_version", in: "libidn2.so.0", as: (@convention(c) (UnsafePointer<CChar>?) -> UnsafePointer<CChar>?).self)
        let idn2 = idn2Version?(nil).map { String(cString: $0) } ?? "?"
        // libdeflate has no run-time version query: this is the version of its headers.
        return "mailpipe \(mailpipeVersion) (commit \(mailpipeBuildCommit), built \(executableBuildDate ?? "?"))\n"
            + "libcurl \(curl), zlib \(zlib), libdeflate \(LIBDEFLATE_VERSION_STRING), libidn2 \(idn2)"
    }

    /// A C function of a shared library opened for the question (it stays open: the strings
    /// these functions return are the library's own); nil when the library is not installed.
    private static func function<Function>(_ name: String, in library: String, as type: Function.Type) -> Function? {
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL), let symbol = dlsym(handle, name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }
}

/// The build date is the executable's own modification time (the linker wrote it; `scripts/install`
/// keeps it), so an unchanged build is never rebuilt to change a date.
private var executableBuildDate: String? {
    var info = stat()
    guard stat("/proc/self/exe", &info) == 0 else { return nil }
    var seconds = info.st_mtim.tv_sec
    var parts = tm()
    guard gmtime_r(&seconds, &parts) != nil else { return nil }
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)) UTC"
}
