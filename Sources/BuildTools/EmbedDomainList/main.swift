import Foundation

// embed-domain-list INPUT OUTPUT: writes a domain list (one domain a line, `#` comments) as a
// Swift string constant, verbatim, for the EmbedDomainLists build plugin. A line that is not a
// lower-case domain name fails the build with its line number.
let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: embed-domain-list INPUT OUTPUT\n".utf8))
    exit(2)
}
let input = URL(fileURLWithPath: arguments[1])
let text: String
do { text = try String(contentsOf: input, encoding: .utf8) } catch {
    FileHandle.standardError.write(Data("\(input.path): \(error)\n".utf8))
    exit(1)
}
let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-".unicodeScalars)
for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
    let entry = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
        .trimmingCharacters(in: .whitespaces)
    if !entry.unicodeScalars.allSatisfy(allowed.contains) || entry.contains("..") || entry.hasPrefix(".") {
        FileHandle.standardError.write(Data("\(input.path):\(n + 1): error: '\(entry)' is not a lower-case domain name\n".utf8))
        exit(1)
    }
}
// "disposable-domains.txt" → disposableDomains
let parts = input.deletingPathExtension().lastPathComponent.split(separator: "-")
let name = parts[0] + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
let source = """
// Generated at build time from Data/\(input.lastPathComponent) by the EmbedDomainLists plugin: do not edit.
extension EmbeddedLists {
    static let \(name) = #\"\"\"
\(text.hasSuffix("\n") ? String(text.dropLast()) : text)
\"\"\"#
}

"""
do { try source.write(toFile: arguments[2], atomically: true, encoding: .utf8) } catch {
    FileHandle.standardError.write(Data("\(arguments[2]): \(error)\n".utf8))
    exit(1)
}
