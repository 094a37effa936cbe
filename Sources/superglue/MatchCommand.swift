// `superglue match IMAGE0 IMAGE1 --output OUT.npz`: one pair, outputs numpy and the reference read.
import ArgumentParser
import Foundation
import SuperGlueKit

struct MatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "match",
        abstract: "Match two images (or two features files written by `superglue extract`).",
        discussion: """
            Writes OUT.npz with keypoints0/keypoints1 (N x 2 float32, x y in the resized image), matches \
            (int64, -1 = none), match_confidence (float32), scores0/scores1 and descriptors0/descriptors1 \
            (N x 256 float32, one row per keypoint), as the reference's match_pairs.py plus features.
            """)

    @Argument(help: "First image (or features .npz).") var image0: String
    @Argument(help: "Second image (or features .npz).") var image1: String
    @Option(name: .shortAndLong, help: "Output .npz file.") var output: String
    @Option(help: ArgumentHelp("Also write a match plot PNG here.", valueName: "png")) var viz: String?
    @Flag(help: "Print a JSON summary (counts, timings, output paths) on stdout.") var json = false
    @OptionGroup var matching: MatchingOptions

    func run() throws {
        let started = Date()
        let matcher = try matching.makeMatcher()
        let loadSeconds = Date().timeIntervalSince(started)
        let input0 = try CLIInput.load(image0, matcher: matcher)
        let input1 = try CLIInput.load(image1, matcher: matcher)
        let matchStart = Date()
        let matches = try matcher.match(input0.features, input1.features)
        let matchSeconds = Date().timeIntervalSince(matchStart)
        let outputURL = URL(fileURLWithPath: output)
        try CLIOutput.ensureParentDirectory(of: outputURL)
        try CLIOutput.writeMatches(input0.features, input1.features, matches, to: outputURL, withFeatures: true)
        if let viz {
            guard let gray0 = input0.image?.gray, let gray1 = input1.image?.gray else {
                throw ValidationError("--viz needs images, not features files")
            }
            try CLIOutput.writePlot(gray0, gray1, input0.features, input1.features, matches, options: matching,
                                    names: (image0, image1), to: URL(fileURLWithPath: viz))
        }
        let summary: [String: Any] = [
            "image0": image0, "image1": image1,
            "keypoints0": input0.features.count, "keypoints1": input1.features.count, "matches": matches.count,
            "output": outputURL.path, "viz": viz.map { URL(fileURLWithPath: $0).path } ?? NSNull(),
            "timings_ms": ["load_weights": loadSeconds * 1000, "image0": input0.seconds * 1000,
                           "image1": input1.seconds * 1000, "superglue": matchSeconds * 1000,
                           "total": Date().timeIntervalSince(started) * 1000],
        ]
        if json {
            let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("\(input0.features.count) and \(input1.features.count) keypoints, \(matches.count) matches -> \(outputURL.path)")
        }
    }
}

/// An input of `match`/`pairs`: an image (decoded, resized, SuperPoint) or a saved features file.
struct CLIInput {
    var features: Features
    /// The preprocessed image; nil for a features file.
    var image: PreparedImage?
    var seconds: Double
    /// How the keypoints relate to the image on disk (for `pairs --eval`); nil for a features file.
    var frame: EvaluationFrame?

    static func isFeaturesFile(_ path: String) -> Bool { path.lowercased().hasSuffix(".npz") }

    static func load(_ path: String, rotation: Int = 0, matcher: Matcher) throws -> CLIInput {
        let start = Date()
        let url = URL(fileURLWithPath: path)
        if isFeaturesFile(path) {
            let features = try FeaturesIO.read(url)
            try matcher.checkCompatible(features, name: path)
            return CLIInput(features: features, image: nil, seconds: Date().timeIntervalSince(start))
        }
        let extracted = try matcher.extract(url, rotation: rotation)
        CLIOutput.warnIfDamaged(extracted.image, path: path)
        return CLIInput(features: extracted.features, image: extracted.image, seconds: Date().timeIntervalSince(start),
                        frame: EvaluationFrame(extracted.image, rotation: rotation, matcher: matcher))
    }
}

/// Output writers shared by the subcommands.
enum CLIOutput {
    /// A JPEG that libjpeg decoded only in part (truncated, corrupt data) is used as cv2.imread
    /// uses it, for parity; the user still hears about it, with the file named.
    static func warnIfDamaged(_ image: PreparedImage, path: String) {
        guard image.decodingWarningCount > 0 else { return }
        let first = image.firstDecodingWarning.map { ", first: \($0)" } ?? ""
        FileHandle.standardError.write(Data("warning: \(path): damaged image data decoded in part and used as cv2.imread would (\(image.decodingWarningCount) decoder warning(s)\(first)); pass --damaged-jpeg reject to refuse such files\n".utf8))
    }

    static func ensureParentDirectory(of url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    }

    /// The reference's `{stem0}_{stem1}_matches.npz` arrays, plus features when asked.
    static func writeMatches(_ f0: Features, _ f1: Features, _ m: Matches, to url: URL, withFeatures: Bool) throws {
        var arrays: [(String, NPYArray)] = [
            ("keypoints0", NPYArray(float32: f0.keypoints, shape: [f0.count, 2])),
            ("keypoints1", NPYArray(float32: f1.keypoints, shape: [f1.count, 2])),
            ("matches", NPYArray(int64: m.matches0.map(Int64.init), shape: [f0.count])),
            ("match_confidence", NPYArray(float32: m.matchingScores0, shape: [f0.count])),
        ]
        if withFeatures {
            arrays += [
                ("scores0", NPYArray(float32: f0.scores, shape: [f0.count])),
                ("scores1", NPYArray(float32: f1.scores, shape: [f1.count])),
                ("descriptors0", NPYArray(float32: f0.descriptors, shape: [f0.count, f0.descriptorDim])),
                ("descriptors1", NPYArray(float32: f1.descriptors, shape: [f1.count, f1.descriptorDim])),
            ]
        }
        try NPZ.write(arrays, to: url)
    }

    /// A plot like the reference's make_matching_plot, with its text lines.
    static func writePlot(_ gray0: GrayImage, _ gray1: GrayImage, _ f0: Features, _ f1: Features, _ m: Matches,
                          options: MatchingOptions, names: (String, String), to url: URL) throws {
        let stem = { (p: String) in URL(fileURLWithPath: p).deletingPathExtension().lastPathComponent }
        let lightGlue = options.matcher == .lightglue
        let text = [
            lightGlue ? "LightGlue" : "SuperGlue",
            "Keypoints: \(f0.count):\(f1.count)",
            "Matches: \(m.count)",
            String(format: "Keypoint Threshold: %.4f", options.keypointThreshold),
            lightGlue ? String(format: "Filter Threshold: %.2f", options.lightGlueConfig.filterThreshold)
                : String(format: "Match Threshold: %.2f", options.matchThreshold),
            "Image Pair: \(stem(names.0)):\(stem(names.1))",
        ]
        let plot = MatchPlot(image0: gray0, image1: gray1, keypoints0: f0.keypoints, keypoints1: f1.keypoints,
                             matches0: m.matches0, confidence0: m.matchingScores0, text: text)
        let canvas = plot.render()
        try ensureParentDirectory(of: url)
        try encodePNG(rgb: canvas.pixels, width: canvas.width, height: canvas.height).write(to: url, options: .atomic)
    }
}
