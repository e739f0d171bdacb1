import Foundation
import PackagePlugin

/// Compiles a target's domain lists (`Data/*-domains.txt`, one domain a line) into Swift source
/// at build time, so a list ships as a plain file a refresh script can replace and still ends up
/// inside the executable (no file to find at run time).
@main
struct EmbedDomainLists: BuildToolPlugin {
    // The Path API: the URL one needs tools version 6.1.
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let data = target.directory.appending(subpath: "Data")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: data.string)) ?? []
        let tool = try context.tool(named: "embed-domain-list")
        return names.filter { $0.hasSuffix("-domains.txt") }.sorted().map { name in
            let input = data.appending(subpath: name)
            let output = context.pluginWorkDirectory.appending(subpath: name.replacingOccurrences(of: ".txt", with: ".swift"))
            return .buildCommand(displayName: "Embedding \(name)", executable: tool.path,
                                 arguments: [input.string, output.string], inputFiles: [input], outputFiles: [output])
        }
    }
}
