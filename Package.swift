// swift-tools-version:6.0
import PackageDescription

// mailpipe: a library per layer (stream core, tenant store, CLI glue, one per stage) and a thin
// executable per stage. C libraries come in through system-library targets.
let package = Package(
    name: "mailpipe",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "account", targets: ["account"]),
        .executable(name: "segment", targets: ["segment"]),
        .executable(name: "render", targets: ["render"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C libraries.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),

        // Shared core: bytes, lines, JSON, gzip, rejects, summary, files. No Foundation.
        .target(name: "MailpipeCore", dependencies: ["CZlib"]),
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

        .target(name: "SegmentStage", dependencies: ["MailpipeCore", "MailpipeStore"],
                path: "Sources/Stages/Segment",
                // The per-record loop touches counters of a few objects: no dynamic exclusivity checks.
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .target(name: "RenderStage", dependencies: ["MailpipeCore", "MailpipeStore",
                                                    .product(name: "Crypto", package: "swift-crypto")],
                path: "Sources/Stages/Render"),

        // Executables: map flags to options and call the stage.
        .executableTarget(name: "account", dependencies: ["AccountStage", "MailpipeCLI"],
                          path: "Sources/Tools/account"),

        .executableTarget(name: "segment", dependencies: ["SegmentStage", "MailpipeCLI"],
                          path: "Sources/Tools/segment"),
        .executableTarget(name: "render", dependencies: ["RenderStage", "MailpipeCLI"],
                          path: "Sources/Tools/render"),

        .testTarget(name: "SegmentStageTests", dependencies: ["SegmentStage", "AccountStage"]),
        .testTarget(name: "RenderStageTests", dependencies: ["RenderStage"]),
        .testTarget(name: "MailpipeCoreTests", dependencies: ["MailpipeCore"]),
        .testTarget(name: "MailpipeStoreTests", dependencies: ["MailpipeStore", "AccountStage"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MailpipeCore"]),
    ],
    swiftLanguageModes: [.v5]
)
