// swift-tools-version: 6.0
// SuperGlueKit: pure-Swift learned feature detection and matching on OpenBLAS.
// ARCHITECTURE.md describes the modules and what each may import.
import PackageDescription

let package = Package(
    name: "SuperGlueKit",
    platforms: [.macOS(.v13)],
    products: [
        // The matching API: detectors, matchers, the Matcher pipeline, image and file I/O.
        .library(name: "SuperGlueKit", targets: ["SuperGlueKit"]),
        // The batch ranking job (resumable, sharded, cached) as a library.
        .library(name: "SuperGlueRanking", targets: ["SuperGlueRanking"]),
        // Seeded random weights in the official layouts, for tests and benchmarks only.
        .library(name: "SuperGlueKitTestSupport", targets: ["SuperGlueKitTestSupport"]),
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
        // Kernels: GEMM, convolutions (im2col, Winograd), attention, Sinkhorn, SIMD helpers,
        // scratch buffers and the workspace pool.
        .target(
            name: "Tensors",
            dependencies: ["COpenBLAS"]
        ),
        // Weight files: torch .pth (pickle, zip), safetensors, the WeightStore binder, schemas,
        // the model catalog type and the pinned downloader.
        .target(name: "Checkpoints"),
        // Image decoding (libjpeg, libpng), EXIF orientation, resizing as the references do it.
        .target(name: "ImageIO", dependencies: ["CImageCodecs"]),
        // Network building blocks bound from a WeightStore scope: Linear, BatchNorm, MLP,
        // convolutions, multi-head attention.
        .target(name: "Layers", dependencies: ["Tensors", "Checkpoints"]),
        // One folder per network (SuperPoint, SuperGlue), the detector and matcher protocols,
        // Features and Matches, and the catalog of networks.
        .target(name: "Networks", dependencies: ["Layers", "Tensors", "Checkpoints"]),
        // Camera geometry for the pose evaluation: five-point essential matrix RANSAC, pose recovery,
        // epipolar and angular errors, AUC (small matrices through OpenBLAS's LAPACK).
        .target(name: "Geometry", dependencies: ["COpenBLAS"]),
        // File formats of features and matches (npz, features files, pairs lists) and plots.
        .target(name: "MatchingIO", dependencies: ["Networks", "Checkpoints", "ImageIO"]),
        // The public matching API: re-exports Networks, ImageIO, MatchingIO and Checkpoints.
        .target(name: "SuperGlueKit", dependencies: ["Networks", "ImageIO", "MatchingIO", "Checkpoints", "Tensors"]),
        .target(name: "SuperGlueRanking", dependencies: ["SuperGlueKit", "MatchingIO", "Tensors"]),
        .target(name: "SuperGlueKitTestSupport", dependencies: ["Networks", "Checkpoints"]),
        // The command line's process-level code (signal handling, exit, progress drawing); linked
        // only by the executables, never part of a library product.
        .target(name: "CLISupport", dependencies: ["SuperGlueRanking"]),
        .executableTarget(
            name: "superglue",
            dependencies: ["SuperGlueKit", "SuperGlueRanking", "SuperGlueKitTestSupport", "CLISupport", "Tensors", "Geometry",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "convert-weights",
            dependencies: ["Networks", "Checkpoints", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tools/convert-weights"
        ),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "Checkpoints"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "Networks", "SuperGlueKitTestSupport"]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "Checkpoints"]),
        .testTarget(name: "LayersTests", dependencies: ["Layers", "Checkpoints", "Tensors", "Networks"]),
        .testTarget(name: "GeometryTests", dependencies: ["Geometry", "Networks"]),
        .testTarget(name: "NetworksTests", dependencies: ["Networks", "Checkpoints", "Tensors", "ImageIO"]),
        // Test-only: drives the ranking job with a fake engine in a separate process (kill -9 tests).
        .executableTarget(name: "RankTestWorker", dependencies: ["SuperGlueRanking", "CLISupport"], path: "Tests/RankTestWorker"),
        .testTarget(name: "SuperGlueKitTests", dependencies: [
            "SuperGlueKit", "SuperGlueRanking", "SuperGlueKitTestSupport", "Networks", "Layers", "MatchingIO",
            "Tensors", "Checkpoints", "ImageIO", "CLISupport", "RankTestWorker",
        ]),
        .testTarget(name: "CLITests", dependencies: ["superglue", "convert-weights", "SuperGlueKit", "SuperGlueRanking", "SuperGlueKitTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
