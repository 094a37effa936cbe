// Normalisation layers in the form inference needs: BatchNorm as a per-channel affine map
// folded into the layer before it.
import Checkpoints
import Tensors

/// An inference-mode BatchNorm (1d or 2d): `gamma (x - mean) / sqrt(var + eps) + beta` per channel.
public struct BatchNorm: Sendable {
    /// PyTorch's default, which the published weights were trained with.
    public static let defaultEpsilon = 1e-5

    public let gamma: [Float]  // [channels]
    public let beta: [Float]  // [channels]
    public let mean: [Float]  // [channels]
    public let variance: [Float]  // [channels]
    public let epsilon: Double

    /// Binds `weight`, `bias`, `running_mean` and `running_var` under `scope`; the training-time
    /// counter `num_batches_tracked`, when present, is accepted and ignored.
    public init(_ scope: WeightStore.Scope, channels: Int, epsilon: Double = defaultEpsilon) throws {
        gamma = try scope.tensor("weight", [channels])
        beta = try scope.tensor("bias", [channels])
        mean = try scope.tensor("running_mean", [channels])
        variance = try scope.tensor("running_var", [channels])
        if scope.has("num_batches_tracked") { scope.ignore("num_batches_tracked") }
        if let bad = variance.firstIndex(where: { $0 < 0 }) {
            throw WeightError.invalid("'\(scope.name("running_var"))' has a negative entry \(variance[bad])")
        }
        self.epsilon = epsilon
    }

    /// `gamma / sqrt(var + eps)` for one channel, in double precision for folding.
    public func scale(channel c: Int) -> Double {
        Double(gamma[c]) / (Double(variance[c]) + epsilon).squareRoot()
    }
}
