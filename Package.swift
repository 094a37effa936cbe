// swift-tools-version: 6.0
// SuperGlueKit: pure-Swift SuperPoint + SuperGlue inference on OpenBLAS.
import PackageDescription

let package = Package(
    name: "SuperGlueKit",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "SuperGlueKit", targets: ["SuperGlueKit"]),
        .executable(name: "superglue", targets: ["superglue"]),
        .executable(name: "convert-weights", targets: ["convert-weights"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, libjpeg-dev, libpng-dev).
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]
        ),
        // C shims around libjpeg / libpng: their error paths use setjmp/longjmp, which must never
        // cross Swift frames, so every call into the codecs happens inside these C functions.
        .target(
            name: "CImageCodecs",
            path: "Sources/CImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png")]
        ),
        .target(
            name: "Tensors",
            dependencies: ["COpenBLAS"]
        ),
        .target(name: "Checkpoints"),
        .target(name: "ImageIO", dependencies: ["CImageCodecs"]),
        .target(name: "SuperGlueKit", dependencies: ["Tensors", "Checkpoints", "ImageIO"]),
        .executableTarget(
            name: "superglue",
            dependencies: ["SuperGlueKit", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "convert-weights",
            dependencies: ["Checkpoints", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tools/convert-weights"
        ),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints"]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "Checkpoints"]),
        // Test-only: drives the ranking job with a fake engine in a separate process (kill -9 tests).
        .executableTarget(name: "RankTestWorker", dependencies: ["SuperGlueKit"], path: "Tests/RankTestWorker"),
        .testTarget(name: "SuperGlueKitTests", dependencies: ["SuperGlueKit", "Tensors", "Checkpoints", "ImageIO", "RankTestWorker"]),
        .testTarget(name: "CLITests", dependencies: ["superglue", "convert-weights"]),
    ],
    swiftLanguageModes: [.v6]
)
