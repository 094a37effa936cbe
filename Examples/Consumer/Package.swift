// swift-tools-version: 6.0
// A package that uses SuperGlueKit the way a user's package would: by URL and version.
// Examples/check-consumer.sh builds it against a tagged clone of this repository's HEAD.
import PackageDescription

/// Where SuperGlueKit comes from; check-consumer.sh points this at a tagged local clone (file://...).
let superGlueKitURL = Context.environment["SUPERGLUEKIT_URL"] ?? "https://github.com/superglue-kit/SuperGlueKit.git"
/// SwiftPM names a URL dependency after the URL's last path component, without ".git", lowercased.
let superGlueKitIdentity: String = {
    let name = superGlueKitURL.split(separator: "/").last.map(String.init) ?? "SuperGlueKit"
    return (name.hasSuffix(".git") ? String(name.dropLast(4)) : name).lowercased()
}()

let package = Package(
    name: "SuperGlueKitConsumer",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: superGlueKitURL, from: "0.1.0"),
    ],
    targets: [
        // main.swift is README.md's "Library" example, verbatim; check-consumer.sh fails if they differ.
        .executableTarget(
            name: "Consumer",
            dependencies: [.product(name: "SuperGlueKit", package: superGlueKitIdentity)]
        ),
    ],
    swiftLanguageModes: [.v6]
)
