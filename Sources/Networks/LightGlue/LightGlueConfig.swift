// Configuration, result and error types of the LightGlue matcher (LightGlue.swift).

/// Options of a ``LightGlue`` matcher; defaults are those of the reference model class.
///
/// The values are doubles because the reference compares with Python floats: `1 - 0.99` is
/// formed in double and only then rounded to float32 for the comparison with float32 scores.
public struct LightGlueConfig: Sendable, Equatable {
    /// Early exit: after layer `i` (not the last) the network stops when more than this fraction
    /// of the keypoints of both images is confident. Any value <= 0 (the reference uses -1)
    /// disables early exit.
    public var depthConfidence: Double
    /// Point pruning: after layer `i` (not the last) keypoints whose matchability is at most
    /// `1 - widthConfidence` are dropped, unless their token confidence is low. Any value <= 0
    /// disables pruning.
    public var widthConfidence: Double
    /// A mutual best match is kept when its score exceeds this.
    public var filterThreshold: Double

    public init(depthConfidence: Double = 0.95, widthConfidence: Double = 0.99, filterThreshold: Double = 0.1) {
        self.depthConfidence = depthConfidence
        self.widthConfidence = widthConfidence
        self.filterThreshold = filterThreshold
    }

    /// Full depth, no pruning: every layer runs on every keypoint.
    public static let nonAdaptive = LightGlueConfig(depthConfidence: -1, widthConfidence: -1)

    var earlyExit: Bool { depthConfidence > 0 }
    var pruning: Bool { widthConfidence > 0 }
}

/// A LightGlue result with the adaptive-computation bookkeeping of the reference.
public struct LightGlueResult: Sendable, Equatable {
    public var matches: Matches
    /// Layers run (1-based): the layer whose assignment produced the matches. Equal to the layer
    /// count without early exit; 1 when either image has no keypoints.
    public var stopLayer: Int
    /// For each keypoint of image 0, the number of layers it took part in before it was pruned
    /// (survivors: `stopLayer`). When pruning is disabled the reference reports the layer count
    /// for every keypoint, and so does this.
    public var prune0: [Int]
    /// The same for image 1.
    public var prune1: [Int]

    public init(matches: Matches, stopLayer: Int, prune0: [Int], prune1: [Int]) {
        self.matches = matches
        self.stopLayer = stopLayer
        self.prune0 = prune0
        self.prune1 = prune1
    }
}

/// Errors raised when building a ``LightGlue`` matcher or matching features.
public enum LightGlueError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The configuration cannot be used.
    case invalidConfig(String)
    /// The checkpoint does not describe a LightGlue network this implementation supports.
    case invalidWeights(String)
    /// Features handed to ``LightGlue/match(_:_:)`` are inconsistent.
    case invalidFeatures(String)

    public var description: String {
        switch self {
        case let .invalidConfig(message): return "invalid LightGlue configuration: \(message)"
        case let .invalidWeights(message): return "invalid LightGlue weights: \(message)"
        case let .invalidFeatures(message): return "invalid features: \(message)"
        }
    }
}
