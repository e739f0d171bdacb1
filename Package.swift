// swift-tools-version:6.0
import PackageDescription

// mailpipe: a library per layer (stream core, tenant store, CLI glue, one per stage) and a thin
// executable per stage. C libraries come in through system-library targets. Every module a
// target imports is declared here as its dependency (Tests/Shell/package-imports.test.sh).

/// What every executable's main.swift imports besides its stage library.
let toolDependencies: [Target.Dependency] = [
    "MailpipeCLI", "MailpipeCore", "MailpipeStore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
]

let package = Package(
    name: "mailpipe",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "account", targets: ["account"]),
        .executable(name: "inject", targets: ["inject"]),
        .executable(name: "validate", targets: ["validate"]),
        .executable(name: "tag", targets: ["tag"]),
        .executable(name: "ingest", targets: ["ingest"]),
        .executable(name: "dedupe", targets: ["dedupe"]),
        .executable(name: "segment", targets: ["segment"]),
        .executable(name: "render", targets: ["render"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // account serve: the HTTP/1.1 codec and event loops (NIOHTTP1).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // account serve: X.509 for the SNS signing certificate of SES webhooks.
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/CoreOffice/XMLCoder", from: "0.17.1"),
    ],
    targets: [
        // C libraries.
        // (Not `CZlib`: ZIPFoundation has a module of that name.)
        .systemLibrary(name: "CZlibShim", path: "Sources/CZlibShim", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // libdeflate compresses whole buffers about twice as fast as zlib at level 1 (zlib stays
        // for inflating streams, CRC-32 and the dictionary-chained parallel member).
        .systemLibrary(name: "CDeflate", path: "Sources/CDeflate", pkgConfig: "libdeflate",
                       providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CIdn2", path: "Sources/CIdn2", pkgConfig: "libidn2",
                       providers: [.apt(["libidn2-dev"])]),
        .systemLibrary(name: "CAres", path: "Sources/CAres", pkgConfig: "libcares",
                       providers: [.apt(["libc-ares-dev"])]),
        // No pkg-config file on Debian: linked by name (module.modulemap).
        .systemLibrary(name: "CUnistring", path: "Sources/CUnistring",
                       providers: [.apt(["libunistring-dev"])]),
        // libphonenumber (libphonenumber-dev) behind a small C shim: the full parse to E.164 and
        // the metadata facts ingest's fast paths need.
        .target(name: "CPhoneNumber", path: "Sources/CPhoneNumber",
                cxxSettings: [.unsafeFlags(["-std=c++17"])],
                linkerSettings: [.linkedLibrary("phonenumber"), .linkedLibrary("protobuf")]),

        // Shared core: bytes, lines, JSON, gzip, rejects, summary, files. No Foundation.
        // Exclusivity is enforced statically; the dynamic checks on the buffers' class storage
        // cost more than the parsing itself (measured with callgrind).
        .target(name: "MailpipeCore", dependencies: ["CZlibShim", "CDeflate"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        // Tenant state: slugs, tenant.json, lock, atomic files, append logs, the contact store.
        .target(name: "MailpipeStore", dependencies: ["MailpipeCore"]),
        // Command-line glue shared by every executable (option groups, exit codes). libcurl and
        // libidn2, whose versions `--version` gives, are opened for that question, not linked:
        // libcurl's ~25 libraries cost every run of every stage its start-up (Version.swift).
        .target(name: "MailpipeCLI", dependencies: [
            "MailpipeCore", "MailpipeStore", "CZlibShim", "CDeflate",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], plugins: ["BuildInfo"]),
        // Writes the commit a build comes from into MailpipeCLI (`--version`).
        .plugin(name: "BuildInfo", capability: .buildTool()),

        // libcurl in Swift: easy and multi handles, lists, callbacks, typed errors.
        .target(name: "MailpipeCurl", dependencies: ["CCurl"]),
        // The MailWizz REST API v2: PHP form bodies, a client for one call at a time.
        .target(name: "MailWizz", dependencies: ["MailpipeCore", "MailpipeStore", "MailpipeCurl", "CCurl"]),

        // Stages: the logic, runnable in-process.
        // RenderStage: a MailWizz campaign is made from render's templates.
        .target(name: "InjectStage", dependencies: ["MailpipeCore", "MailpipeStore", "MailpipeCurl", "CCurl", "MailWizz", "RenderStage"],
                path: "Sources/Stages/Inject"),
        // RenderStage: the unsubscribe token render signs, checked in mailed-in requests;
        // MailWizz: the unsubscribes and bounces polled from it.
        .target(name: "AccountStage", dependencies: ["MailpipeCore", "MailpipeStore", "RenderStage", "MailWizz", "MailpipeCurl", "CCurl"],
                path: "Sources/Stages/Account"),
        // The per-record checks read a few tables and write one output buffer: no dynamic
        // exclusivity checks (as in the core).
        .target(name: "ValidateStage", dependencies: ["MailpipeCore", "CIdn2", "CAres", "CUnistring"],
                path: "Sources/Stages/Validate", exclude: ["Data"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])], plugins: ["EmbedDomainLists"]),
        // Data/*-domains.txt → Swift constants at build time (the disposable-domain list).
        .plugin(name: "EmbedDomainLists", capability: .buildTool(), dependencies: ["embed-domain-list"]),
        .executableTarget(name: "embed-domain-list", path: "Sources/BuildTools/EmbedDomainList"),
        // Each parsing thread's Tagger keeps its scratch arrays, caches and counts as properties:
        // no dynamic exclusivity checks on them (as in the core and the other per-record stages).
        .target(name: "TagStage", dependencies: ["MailpipeCore", "MailpipeStore",
                                                 .product(name: "Yams", package: "Yams")],
                path: "Sources/Stages/Tag",
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        // Per-row loops over a few builders and tables: no dynamic exclusivity checks (as in the core).
        // Foundation for CLDR's country and language names (Locale), ZIPFoundation and XMLCoder for .xlsx.
        .target(name: "IngestStage", dependencies: ["MailpipeCore", "MailpipeStore", "CPhoneNumber",
                                                    .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                                                    .product(name: "XMLCoder", package: "XMLCoder")],
                path: "Sources/Stages/Ingest",
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .target(name: "DedupeStage", dependencies: ["MailpipeCore", "MailpipeStore"], path: "Sources/Stages/Dedupe",
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),

        .target(name: "SegmentStage", dependencies: ["MailpipeCore", "MailpipeStore"],
                path: "Sources/Stages/Segment",
                // The per-record loop touches counters of a few objects: no dynamic exclusivity checks.
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .target(name: "RenderStage", dependencies: ["MailpipeCore", "MailpipeStore",
                                                    .product(name: "Crypto", package: "swift-crypto")],
                path: "Sources/Stages/Render"),

        // Executables: map flags to options and call the stage.
        .executableTarget(name: "inject", dependencies: ["InjectStage", "RenderStage"] + toolDependencies,
                          path: "Sources/Tools/inject"),
        // The HTTP server layer: SwiftNIO's codec, a route table, limits, the access log.
        .target(name: "MailpipeHTTP", dependencies: [
            "MailpipeCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // account serve: one-click unsubscribes and signed ESP webhooks into the books.
        .target(name: "ServeStage", dependencies: [
            "MailpipeCore", "MailpipeStore", "MailpipeHTTP", "RenderStage", "AccountStage",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
        ], path: "Sources/Stages/Serve"),
        .executableTarget(name: "account", dependencies: ["AccountStage", "ServeStage", "MailpipeHTTP"] + toolDependencies,
                          path: "Sources/Tools/account"),
        .executableTarget(name: "validate", dependencies: ["ValidateStage"] + toolDependencies,
                          path: "Sources/Tools/validate"),
        .executableTarget(name: "tag", dependencies: ["TagStage"] + toolDependencies,
                          path: "Sources/Tools/tag"),
        .executableTarget(name: "ingest", dependencies: ["IngestStage"] + toolDependencies, path: "Sources/Tools/ingest"),
        .executableTarget(name: "dedupe", dependencies: ["DedupeStage"] + toolDependencies, path: "Sources/Tools/dedupe"),

        // Benchmark harness for the stream core (bench/core.sh).
        .executableTarget(name: "corebench", dependencies: ["MailpipeCore"], path: "bench/corebench"),

        .executableTarget(name: "segment", dependencies: ["SegmentStage"] + toolDependencies,
                          path: "Sources/Tools/segment"),
        .executableTarget(name: "render", dependencies: ["RenderStage"] + toolDependencies,
                          path: "Sources/Tools/render"),

        .testTarget(name: "SegmentStageTests", dependencies: ["SegmentStage", "AccountStage", "MailpipeCore", "MailpipeStore"]),
        .testTarget(name: "RenderStageTests", dependencies: ["RenderStage", "MailpipeCore", "MailpipeStore"]),
        .testTarget(name: "ServeStageTests", dependencies: ["ServeStage", "MailpipeHTTP", "MailpipeCore", "MailpipeStore",
                                                            "RenderStage", "AccountStage", "MailpipeTestSupport",
                                                            .product(name: "Crypto", package: "swift-crypto"),
                                                            .product(name: "_CryptoExtras", package: "swift-crypto"),
                                                            .product(name: "X509", package: "swift-certificates")]),
        .testTarget(name: "MailpipeCoreTests", dependencies: ["MailpipeCore"]),
        .testTarget(name: "MailpipeStoreTests", dependencies: ["MailpipeStore", "AccountStage", "MailpipeCore"]),
        .testTarget(name: "InjectStageTests", dependencies: ["InjectStage", "MailpipeCurl", "MailpipeCore", "MailpipeStore", "MailWizz"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MailpipeCore"]),
        // What several stages' tests share (a temporary folder, running a stage in-process).
        .target(name: "MailpipeTestSupport", dependencies: ["MailpipeCore"], path: "Tests/Support"),
        .testTarget(name: "ValidateStageTests", dependencies: ["ValidateStage", "MailpipeCore", "MailpipeTestSupport"],
                    exclude: ["Data"]),
        .testTarget(name: "TagStageTests", dependencies: ["TagStage", "MailpipeCore", "MailpipeStore", "MailpipeTestSupport"]),
        .testTarget(name: "IngestStageTests", dependencies: ["IngestStage", "MailpipeCore", "MailpipeStore"]),
        .testTarget(name: "AccountStageTests", dependencies: ["AccountStage", "MailpipeCore", "MailpipeStore", "MailpipeTestSupport"]),
        .testTarget(name: "DedupeStageTests", dependencies: ["DedupeStage", "AccountStage", "MailpipeCore", "MailpipeStore", "MailpipeTestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
