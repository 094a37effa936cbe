// Configuration and error types of the SuperGlue matcher (SuperGlue.swift).
import Tensors

/// How the Sinkhorn iterations are evaluated (the kernel lives in Tensors).
public typealias SinkhornMethod = Tensors.SinkhornMethod

/// Options of a ``SuperGlue`` matcher; defaults are those of the original model class.
public struct SuperGlueConfig: Sendable, Equatable {
    /// Which of the two published weight sets a checkpoint holds.
    public enum Weights: String, Sendable, CaseIterable {
        case indoor, outdoor

        /// Conventional file name of the converted checkpoint, `superglue_<weights>.safetensors`.
        public var fileName: String { "superglue_\(rawValue).safetensors" }
    }

    /// Descriptor length (256 for SuperPoint); must be a multiple of the 4 attention heads.
    public var descriptorDim: Int
    /// The weight set expected. A checkpoint whose metadata names the other set is refused.
    public var weights: Weights
    /// Hidden widths of the keypoint encoder between its 3 inputs (x, y, score) and `descriptorDim`.
    public var keypointEncoder: [Int]
    /// Sinkhorn iterations (the model class defaults to 100; the original matching script uses 20).
    public var sinkhornIterations: Int
    /// A mutual best match is kept when its score `exp(log assignment)` exceeds this.
    public var matchThreshold: Float
    /// How the Sinkhorn iterations are evaluated; both give the same result to float32 rounding.
    public var sinkhornMethod: SinkhornMethod

    public init(
        descriptorDim: Int = 256,
        weights: Weights = .indoor,
        keypointEncoder: [Int] = [32, 64, 128, 256],
        sinkhornIterations: Int = 100,
        matchThreshold: Float = 0.2,
        sinkhornMethod: SinkhornMethod = .stabilizedScaling
    ) {
        self.descriptorDim = descriptorDim
        self.weights = weights
        self.keypointEncoder = keypointEncoder
        self.sinkhornIterations = sinkhornIterations
        self.matchThreshold = matchThreshold
        self.sinkhornMethod = sinkhornMethod
    }
}

/// Errors raised when building a ``SuperGlue`` matcher or matching features.
public enum SuperGlueError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The configuration cannot describe a SuperGlue network.
    case invalidConfig(String)
    /// The checkpoint does not fit the configured network.
    case invalidWeights(String)
    /// Features handed to ``SuperGlue/match(_:_:)`` are inconsistent.
    case invalidFeatures(String)

    public var description: String {
        switch self {
        case let .invalidConfig(message): return "invalid SuperGlue configuration: \(message)"
        case let .invalidWeights(message): return "invalid SuperGlue weights: \(message)"
        case let .invalidFeatures(message): return "invalid features: \(message)"
        }
    }
}
