// swift-tools-version:6.1
import Foundation
import PackageDescription

/// Where the pinned torch wheel lives. `scripts/bootstrap` installs it and links
/// ~/.cache/kontext/torch to it; KONTEXT_TORCH_DIR points elsewhere.
let torchDirectory: String = {
    let environment = ProcessInfo.processInfo.environment
    if let explicit = environment["KONTEXT_TORCH_DIR"], !explicit.isEmpty { return explicit }
    let home = environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
    return home + "/.cache/kontext/torch"
}()

let package = Package(
    name: "Kontext",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kontext", targets: ["kontext"]),
        // Loaded at run time by CTorch's loader, after libtorch itself; see ctorch.h.
        .library(name: "KontextTorchShim", type: .dynamic, targets: ["CTorchShim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .target(name: "CTorch", linkerSettings: [.linkedLibrary("dl")]),
        .target(
            name: "CTorchShim",
            publicHeadersPath: ".",
            cxxSettings: [
                .headerSearchPath("../CTorch/include"),
                .define("_GLIBCXX_USE_CXX11_ABI", to: "1"),
                .unsafeFlags(["-isystem", torchDirectory + "/include", "-Wno-deprecated-declarations"]),
            ],
            linkerSettings: [
                // The shim holds no Swift code: -static-stdlib keeps it from requiring the Swift runtime,
                // so it loads on a GPU machine that has torch but no Swift toolchain.
                .unsafeFlags(["-L", torchDirectory + "/lib", "-static-stdlib"]),
                .linkedLibrary("torch_cpu"),
                .linkedLibrary("c10"),
            ]
        ),
        .target(name: "Torch", dependencies: ["CTorch", "Safetensors"]),
        .target(name: "Safetensors"),
        .target(name: "Tokenizers"),
        // The C libraries' calls, wrapped so their longjmp-based errors come back as return values.
        .target(
            name: "CImageCodecs",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Wno-unused-parameter"])],
            linkerSettings: [
                .linkedLibrary("png16"), .linkedLibrary("jpeg"), .linkedLibrary("webp"),
                .linkedLibrary("gif"), .linkedLibrary("avif"), .linkedLibrary("z"),
            ]
        ),
        .target(name: "ImageCodecs", dependencies: ["CImageCodecs"]),
        // The API contract as pure logic: parameters, size rules, errors. No server, no engine.
        .target(name: "ImageAPI"),
        .target(
            name: "KontextServer",
            dependencies: [
                "ImageAPI", "ImageCodecs", "KontextPipeline", "FluxModel", "Torch",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(name: "FluxModel", dependencies: ["Torch", "Safetensors"]),
        .target(name: "KontextPipeline", dependencies: ["FluxModel", "Tokenizers", "ImageCodecs", "Torch"]),
        .executableTarget(
            name: "kontext",
            dependencies: [
                "Torch", "Safetensors", "Tokenizers", "ImageCodecs", "FluxModel", "KontextPipeline", "KontextServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "kontext-bench-ops", dependencies: ["Torch"], path: "bench/op-overhead/Sources"),
        .executableTarget(name: "kontext-bench-tokenizers", dependencies: ["Tokenizers"], path: "bench/tokenizers/Sources"),
        .executableTarget(name: "kontext-bench-codecs", dependencies: ["ImageCodecs"], path: "bench/codecs/Sources"),
        .executableTarget(
            name: "kontext-bench-engine", dependencies: ["KontextPipeline", "FluxModel", "ImageCodecs", "Torch"],
            path: "bench/engine-cpu/Sources"),
        .target(name: "TestSupport", path: "Tests/Support"),
        .testTarget(name: "TorchTests", dependencies: ["Torch", "Safetensors", "TestSupport"]),
        .testTarget(name: "SafetensorsTests", dependencies: ["Safetensors", "TestSupport"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "TestSupport"]),
        .testTarget(name: "ImageCodecsTests", dependencies: ["ImageCodecs", "TestSupport"]),
        .testTarget(name: "ImageAPITests", dependencies: ["ImageAPI"]),
        .testTarget(
            name: "FluxModelTests",
            dependencies: ["FluxModel", "KontextPipeline", "ImageCodecs", "Tokenizers", "Torch", "Safetensors", "TestSupport"]),
    ],
    cxxLanguageStandard: .cxx17
)
