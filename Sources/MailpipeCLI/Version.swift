#if canImport(Glibc)
import Glibc
#endif
import CCurl
import CDeflate
import CIdn2
import CZlibShim

/// The release every executable reports with `--version`.
public let mailpipeVersion = "0.2.0"

/// What `--version` prints: the release, the commit and build date, and the versions of the C
/// libraries the executable runs with (those found at run time, which may differ from the
/// headers it was built against).
///
///     mailpipe 0.2.0 (commit 1a2b3c4d5e6f, built 2026-12-06 06:30 UTC)
///     libcurl 7.88.1, zlib 1.2.13, libdeflate 1.14, libidn2 2.3.3
public let mailpipeVersionText: String = {
    // curl_version(): "libcurl/7.88.1 OpenSSL/3.0.11 zlib/1.2.13 …"
    let curlText = curl_version().map { String(cString: $0) } ?? ""
    let curl = curlText.split(separator: " ").first.flatMap { $0.split(separator: "/").last }.map(String.init) ?? "?"
    let zlib = zlibVersion().map { String(cString: $0) } ?? "?"
    let idn2 = idn2_check_version(nil).map { String(cString: $0) } ?? "?"
    // libdeflate has no run-time version query: this is the version of its headers.
    return "mailpipe \(mailpipeVersion) (commit \(mailpipeBuildCommit), built \(executableBuildDate ?? "?"))\n"
        + "libcurl \(curl), zlib \(zlib), libdeflate \(LIBDEFLATE_VERSION_STRING), libidn2 \(idn2)"
}()

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
