// Options shared by every subcommand that runs the networks (match, pairs, rank, extract).
import ArgumentParser
import Foundation
import SuperGlueKit

/// Which trained SuperGlue weights to use.
enum SuperGlueWeightsKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    case indoor, outdoor
}

/// Whether a partly decodable JPEG is used (as cv2.imread does) or refused.
enum DamagedJPEGPolicy: String, ExpressibleByArgument, CaseIterable, Sendable {
    case accept, reject
}

extension DetectorName: ExpressibleByArgument {}
extension MatcherName: ExpressibleByArgument {}

/// Detector and matcher options, for use with `@OptionGroup`.
struct MatchingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Keypoint detector: \(DetectorName.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "name"))
    var features: DetectorName = .superpoint

    @Option(name: .customLong("matcher"),
            help: ArgumentHelp("Feature matcher: \(MatcherName.allCases.map(\.rawValue).joined(separator: ", ")) (default: superglue for superpoint, lightglue for ALIKED and DISK).", valueName: "name"))
    var matcherOption: MatcherName?

    /// `--matcher`, or the detector's default (LightGlue's pairing for ALIKED and DISK).
    var matcher: MatcherName { matcherOption ?? features.defaultMatcher }

    @Option(name: .customLong("resize"), parsing: .upToNextOption,
            help: ArgumentHelp("Resize before detection: W H, or N for the longer side, or -1 to keep the size (write --resize=-1); default 640 480 for superpoint, 1024 (longer side, antialiased) for ALIKED and DISK.", valueName: "n"))
    var resizeOption: [Int] = []

    /// `--resize`, or the detector's default when not given.
    var resize: [Int] { !resizeOption.isEmpty ? resizeOption : (features == .superpoint ? [640, 480] : [1024]) }

    @Option(help: "SuperGlue weights: indoor or outdoor.")
    var superglue: SuperGlueWeightsKind = .indoor

    @Option(name: .customLong("max-keypoints"), help: "Maximum keypoints per image (-1 keeps all; default 1024 for superpoint, 2048 for ALIKED and DISK).")
    var maxKeypointsOption: Int?

    /// `--max-keypoints`, or the detector's default.
    var maxKeypoints: Int { maxKeypointsOption ?? (features == .superpoint ? 1024 : 2048) }

    @Option(help: "SuperPoint detection threshold.")
    var keypointThreshold: Float = 0.005

    @Option(help: "SuperPoint non-maximum suppression radius, in pixels.")
    var nmsRadius: Int = 4

    @Option(help: "Sinkhorn iterations of SuperGlue.")
    var sinkhornIterations: Int = 20

    @Option(help: "SuperGlue match confidence threshold.")
    var matchThreshold: Float = 0.2

    // LightGlue's options are optional so that giving one with another matcher is an error rather
    // than silently ignored; nil means the reference's default. `.unconditional` lets `-1` through.
    @Option(parsing: .unconditional,
            help: ArgumentHelp("LightGlue early exit: stop when more than this fraction of the points is confident, in (0, 1]; -1 runs every layer. Default 0.95.", valueName: "c"))
    var depthConfidence: Double?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("LightGlue point pruning: drop points whose matchability is at most 1 - this, in (0, 1]; -1 keeps every point. Default 0.99.", valueName: "c"))
    var widthConfidence: Double?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("LightGlue match score threshold, in [0, 1]; -1 keeps every mutual best match. Default 0.1.", valueName: "t"))
    var filterThreshold: Double?

    @Option(help: ArgumentHelp("""
        What to do with a JPEG that libjpeg can only partly decode (truncated, corrupt data): accept \
        the partial image as cv2.imread does, or reject it as an error. Default: accept for match, \
        pairs and extract (reference parity); reject for rank, where such a file gets a status row.
        """, valueName: "accept|reject"))
    var damagedJpeg: DamagedJPEGPolicy?

    @Option(help: ArgumentHelp("Folder with the weights (.pth or .safetensors: superpoint_v1, superglue_indoor/outdoor, *_lightglue, aliked-*, disk-depth-save); default: $SUPERGLUE_WEIGHTS, ./Weights, ~/.cache/superglue-kit. Missing official files are fetched on first use into this folder (else the cache) unless SUPERGLUE_OFFLINE=1.", valueName: "dir"))
    var weights: String?

    func validate() throws {
        _ = try resizeSpec()
        guard maxKeypoints == -1 || maxKeypoints > 0 else { throw ValidationError("--max-keypoints must be positive or -1, got \(maxKeypoints)") }
        guard keypointThreshold.isFinite, keypointThreshold >= 0 else { throw ValidationError("--keypoint-threshold must be >= 0, got \(keypointThreshold)") }
        guard nmsRadius >= 0 else { throw ValidationError("--nms-radius must be >= 0, got \(nmsRadius)") }
        guard sinkhornIterations >= 0 else { throw ValidationError("--sinkhorn-iterations must be >= 0, got \(sinkhornIterations)") }
        guard matchThreshold.isFinite, matchThreshold >= 0, matchThreshold <= 1 else {
            throw ValidationError("--match-threshold must be in [0, 1], got \(matchThreshold)")
        }
        if let weights, weights.isEmpty { throw ValidationError("--weights must name a folder") }
        let lightGlueOptions: [(String, Double?, ClosedRange<Double>, String)] = [
            ("--depth-confidence", depthConfidence, 0.0.nextUp...1, "(0, 1]"),
            ("--width-confidence", widthConfidence, 0.0.nextUp...1, "(0, 1]"),
            ("--filter-threshold", filterThreshold, 0...1, "[0, 1]"),
        ]
        for (name, value, range, text) in lightGlueOptions {
            guard let value else { continue }
            guard matcher == .lightglue else { throw ValidationError("\(name) applies to --matcher lightglue only") }
            guard value == -1 || range.contains(value) else { throw ValidationError("\(name) must be in \(text) or -1, got \(value)") }
        }
    }

    /// The LightGlue configuration: the reference's defaults, replaced by the options given.
    var lightGlueConfig: LightGlueConfig {
        let defaults = LightGlueConfig()
        return LightGlueConfig(depthConfidence: depthConfidence ?? defaults.depthConfidence,
                               widthConfidence: widthConfidence ?? defaults.widthConfidence,
                               filterThreshold: filterThreshold ?? defaults.filterThreshold)
    }

    /// The parsed `--resize` (match_pairs.py's rules, including `W -1` meaning longest side W).
    func resizeSpec() throws -> ResizeSpec {
        do { return try ResizeSpec(arguments: resize) } catch {
            throw ValidationError("--resize takes W H (both > 0), N > 0, or -1; got \(resize.map(String.init).joined(separator: " "))")
        }
    }

    /// The library configuration these options describe; `damagedJPEGDefault` is the command's
    /// policy when `--damaged-jpeg` is not given.
    func matcherConfig(damagedJPEGDefault: DamagedJPEGPolicy = .accept) throws -> MatcherConfig {
        var decoding = ImageDecodingOptions()
        decoding.acceptsDamagedJPEG = (damagedJpeg ?? damagedJPEGDefault) == .accept
        var config = MatcherConfig(
            resize: try resizeSpec(),
            superPoint: SuperPointConfig(nmsRadius: nmsRadius, keypointThreshold: keypointThreshold, maxKeypoints: maxKeypoints),
            superGlue: SuperGlueConfig(weights: superglue == .indoor ? .indoor : .outdoor,
                                       sinkhornIterations: sinkhornIterations, matchThreshold: matchThreshold),
            decoding: decoding,
            lightGlue: lightGlueConfig)
        config.aliked.maxKeypoints = maxKeypoints
        config.disk.maxKeypoints = maxKeypoints
        switch try resizeSpec() {
        case .none: config.colorLongSide = nil
        case .longestSide(let n): config.colorLongSide = n
        case .exact:
            if features != .superpoint { throw ValidationError("--features \(features.rawValue) resizes the longer side (--resize N or -1), not to W H") }
        }
        return config
    }

    /// Loads the networks these options name, searching the weights folders and fetching the
    /// official files that none holds (first use; not with SUPERGLUE_OFFLINE=1).
    func makeMatcher(damagedJPEGDefault: DamagedJPEGPolicy = .accept) throws -> Matcher {
        let config = try matcherConfig(damagedJPEGDefault: damagedJPEGDefault)
        if !(matcher == .superglue && features != .superpoint) {  // a refused pairing fails below, before any download
            try WeightsFetch.ensure(Matcher.officialFiles(detector: features, matcher: matcher, config: config),
                                    locator: WeightsLocator(explicit: weightsDirectory))
        }
        return try Matcher(detector: features, matcher: matcher, weightsDirectory: weightsDirectory, config: config)
    }

    /// Rewrites `--resize -1` as `--resize=-1`: the argument parser reads a lone `-1` as an option
    /// name, while the reference's command line (and its users' habits) write it separated.
    static func normalizingNegativeResize(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            if arguments[i] == "--resize", i + 1 < arguments.count, arguments[i + 1] == "-1" {
                out.append("--resize=-1")
                i += 2
            } else {
                out.append(arguments[i])
                i += 1
            }
        }
        return out
    }

    /// The ``RankingEngine/featureIdentity`` for these options: every SuperPoint setting that
    /// changes detected features, plus the SuperPoint weights' content digest
    /// (e.g. `SHA256.hash(fileAt:)` of the safetensors file).
    func featureIdentity(superPointWeightsSHA256: String) throws -> String {
        let size: String
        switch try resizeSpec() {
        case .none: size = "original"
        case .longestSide(let n): size = "longer=\(n)"
        case .exact(let w, let h): size = "\(w)x\(h)"
        }
        guard features == .superpoint else {
            // ALIKED and DISK: RGB input, antialiased resize, reference thresholds.
            return "\(features.rawValue) v1|weights=\(superPointWeightsSHA256)|resize=\(size)|max_keypoints=\(maxKeypoints)"
        }
        return "superpoint v1|weights=\(superPointWeightsSHA256)|resize=\(size)|max_keypoints=\(maxKeypoints)"
            + "|keypoint_threshold=\(keypointThreshold)|nms_radius=\(nmsRadius)"
    }

    /// The ``RankingEngine/matchIdentity`` for these options: the matcher's name, every setting
    /// of that matcher that changes matches, plus its weights' content digest. (SuperGlue's
    /// identity is unchanged from before LightGlue, so existing caches and journals stay valid.)
    func matchIdentity(matcherWeightsSHA256: String) -> String {
        switch matcher {
        case .superglue:
            return "superglue v1|\(superglue.rawValue)|weights=\(matcherWeightsSHA256)|sinkhorn_iterations=\(sinkhornIterations)|match_threshold=\(matchThreshold)"
        case .lightglue:
            let c = lightGlueConfig
            return "lightglue v1|features=\(features.rawValue)|weights=\(matcherWeightsSHA256)|depth_confidence=\(c.depthConfidence)"
                + "|width_confidence=\(c.widthConfidence)|filter_threshold=\(c.filterThreshold)"
        }
    }

    /// The `--weights` folder, if given (for `WeightsLocator(explicit:)`, which also searches the defaults).
    var weightsDirectory: URL? { weights.map { URL(fileURLWithPath: $0, isDirectory: true) } }
}
