// swift-tools-version: 6.1
// Benchmarks live in their own package so the main package (and CI's test run) does not build
// package-benchmark. Run from this directory: swift package benchmark
import PackageDescription

// A path dependency's package identity is its directory name, which depends on where the
// repository was cloned, so derive it instead of hard-coding it.
let rootPackage = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "SuperGlueKit").lowercased()

let package = Package(
    name: "SuperGlueKitBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "GEMM",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SuperGlueKit", package: rootPackage),
            ],
            path: "Benchmarks/GEMM",
            swiftSettings: [.unsafeFlags(["-Ounchecked"])],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
