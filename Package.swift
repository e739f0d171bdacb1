// swift-tools-version:6.0
import PackageDescription

// mailpipe: a library per layer (stream core, tenant store, CLI glue, one per stage) and a thin
// executable per stage. C libraries come in through system-library targets.
let package = Package(
    name: "mailpipe",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "account", targets: ["account"]),
        .executable(name: "ingest", targets: ["ingest"]),
        .executable(name: "dedupe", targets: ["dedupe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),

        // Shared core: bytes, lines, JSON, gzip, rejects, summary, files. No Foundation.
        // Exclusivity is enforced statically; the dynamic checks on the buffers' class storage
        // cost more than the parsing itself (measured with callgrind).
        .target(name: "MailpipeCore", dependencies: ["CZlib"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        // Tenant state: slugs, tenant.json, lock, atomic files, append logs, the contact store.
        .target(name: "MailpipeStore", dependencies: ["MailpipeCore"]),
        // Command-line glue shared by every executable (option groups, exit codes).
        .target(name: "MailpipeCLI", dependencies: [
            "MailpipeCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Stages: the logic, runnable in-process.
        .target(name: "AccountStage", dependencies: ["MailpipeCore", "MailpipeStore"],
                path: "Sources/Stages/Account"),
        .target(name: "IngestStage", dependencies: ["MailpipeCore", "MailpipeStore"], path: "Sources/Stages/Ingest"),
        .target(name: "DedupeStage", dependencies: ["MailpipeCore", "MailpipeStore"], path: "Sources/Stages/Dedupe"),

        // Executables: map flags to options and call the stage.
        .executableTarget(name: "account", dependencies: ["AccountStage", "MailpipeCLI"],
                          path: "Sources/Tools/account"),
        .executableTarget(name: "ingest", dependencies: ["IngestStage", "MailpipeCLI"], path: "Sources/Tools/ingest"),
        .executableTarget(name: "dedupe", dependencies: ["DedupeStage", "MailpipeCLI"], path: "Sources/Tools/dedupe"),

        // Benchmark harness for the stream core (bench/core.sh).
        .executableTarget(name: "corebench", dependencies: ["MailpipeCore"], path: "bench/corebench"),

        .testTarget(name: "MailpipeCoreTests", dependencies: ["MailpipeCore"]),
        .testTarget(name: "MailpipeStoreTests", dependencies: ["MailpipeStore", "AccountStage"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MailpipeCore"]),
        .testTarget(name: "IngestStageTests", dependencies: ["IngestStage", "MailpipeCore", "MailpipeStore"]),
        .testTarget(name: "DedupeStageTests", dependencies: ["DedupeStage", "AccountStage", "MailpipeCore", "MailpipeStore"]),
    ],
    swiftLanguageModes: [.v5]
)
