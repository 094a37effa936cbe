// swift-tools-version: 6.1
// Benchmarks live in their own package so the main package (and CI's test run) does not build
// package-benchmark. Run from this directory: swift package benchmark
import PackageDescription

// A path dependency's package identity is its directory name, which depends on where the
// repository was cloned, so derive it instead of hard-coding it.
let rootPackage = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "SuperGlueKit").lowercased()

/// One executable per suite, in Benchmarks/<name>/ (see README.md).
let benchmarkSuites = ["GEMM", "SuperPoint", "SuperGlue", "EndToEnd"]

let package = Package(
    name: "SuperGlueKitBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: benchmarkSuites.map { suite in
        .executableTarget(
            name: suite,
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SuperGlueKit", package: rootPackage),
                .product(name: "SuperGlueKitTestSupport", package: rootPackage),
                .product(name: "SuperGlueRanking", package: rootPackage),
            ],
            path: "Benchmarks/\(suite)",
            swiftSettings: [.unsafeFlags(["-Ounchecked"])],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    } + [
        // Synthetic inputs, the GFLOP/s metric and a JPEG writer shared by the suites.
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                "CJPEGWriter",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SuperGlueKit", package: rootPackage),
                .product(name: "SuperGlueKitTestSupport", package: rootPackage),
            ],
            path: "Support/BenchmarkSupport"
        ),
        // libjpeg's encoder (libjpeg-dev, which the root package's decoder needs anyway).
        .target(name: "CJPEGWriter", path: "Support/CJPEGWriter", linkerSettings: [.linkedLibrary("jpeg")]),
    ],
    swiftLanguageModes: [.v6]
)
