// `superglue extract`: SuperPoint features of every image of a folder, saved for later matching.
import ArgumentParser
import Foundation
import SuperGlueKit
import SuperGlueRanking

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Write the SuperPoint features of each image as a .npz (see FeaturesIO for the format).",
        discussion: """
            For IMAGES/a/b.jpg writes OUTPUT/a/b.npz with keypoints (N x 2), scores (N), descriptors \
            (N x 256), image_size (width, height of the resized image) and scales (original / resized, \
            float64). `superglue match` and `pairs` accept these files in place of images.
            """)

    @Option(help: "Folder of images (searched recursively).") var images: String
    @Option(help: "Output folder.") var output: String
    @Flag(help: "Recompute features files that already exist.") var overwrite = false
    @OptionGroup var matching: MatchingOptions

    func run() throws {
        let listing = try ImageListing.images(from: .directory(URL(fileURLWithPath: images, isDirectory: true)))
        let outputDirectory = URL(fileURLWithPath: output, isDirectory: true)
        let matcher = try matching.makeMatcher()
        var written = 0, skipped = 0, failed = 0
        let start = Date()
        for image in listing {
            let target = outputDirectory.appendingPathComponent((image.name as NSString).deletingPathExtension + ".npz")
            if !overwrite && FileManager.default.fileExists(atPath: target.path) { skipped += 1; continue }
            do {
                let extracted = try matcher.extract(image.url)
                CLIOutput.warnIfDamaged(extracted.image, path: image.url.path)
                try CLIOutput.ensureParentDirectory(of: target)
                let scales = [extracted.image.scaleX, extracted.image.scaleY]
                try FeaturesIO.write(extracted.features, to: target, extra: [
                    ("scales", NPYArray(descr: "<f8", shape: [2], bytes: scales.withUnsafeBytes { Array($0) })),
                ])
                written += 1
            } catch {
                FileHandle.standardError.write(Data("error: \(image.name): \(error)\n".utf8))
                failed += 1
            }
        }
        print("extract: \(written) written, \(skipped) skipped (exist), \(failed) failed, in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        if failed > 0 { throw ExitCode(1) }
    }
}
