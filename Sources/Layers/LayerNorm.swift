// LayerNorm over the channels of token rows (nn.LayerNorm with elementwise affine), optionally
// followed by the exact (erf) GELU, as transformer feed-forward blocks apply them.
import Checkpoints
import Foundation
import Tensors

/// `gamma (x - mean) / sqrt(var + eps) + beta` over each row's `channels` values (biased variance).
public struct LayerNorm: Sendable {
    /// PyTorch's default.
    public static let defaultEpsilon: Float = 1e-5

    public let gamma: [Float]  // [channels]
    public let beta: [Float]  // [channels]
    public let channels: Int
    public let epsilon: Float

    public init(gamma: [Float], beta: [Float], epsilon: Float = defaultEpsilon) {
        precondition(gamma.count == beta.count && !gamma.isEmpty, "LayerNorm: gamma and beta must match")
        self.gamma = gamma
        self.beta = beta
        self.channels = gamma.count
        self.epsilon = epsilon
    }

    /// Binds `<scope>.weight` and `<scope>.bias`, both `[channels]`.
    public init(_ scope: WeightStore.Scope, channels: Int, epsilon: Float = defaultEpsilon) throws {
        self.init(gamma: try scope.tensor("weight", [channels]), beta: try scope.tensor("bias", [channels]), epsilon: epsilon)
    }

    /// Normalises `rows` rows in place; with `gelu`, applies `x * Phi(x)` (erf form, as torch's
    /// default nn.GELU) to the result. Statistics are accumulated in double. Rows are split over
    /// the workers.
    public func apply(_ data: UnsafeMutablePointer<Float>, stride: Int, rows: Int, gelu: Bool = false) {
        let channels = self.channels, epsilon = Double(self.epsilon)
        gamma.withUnsafeBufferPointer { g in
            beta.withUnsafeBufferPointer { b in
                RowParallel.forEach(rows: rows, minRowsPerWorker: max(1, 16_384 / channels)) { range in
                    for r in range {
                        let row = data + r * stride
                        var sum = 0.0
                        for c in 0..<channels { sum += Double(row[c]) }
                        let mean = sum / Double(channels)
                        var squares = 0.0
                        for c in 0..<channels { let d = Double(row[c]) - mean; squares += d * d }
                        let inverse = 1 / (squares / Double(channels) + epsilon).squareRoot()
                        let meanF = Float(mean), inverseF = Float(inverse)
                        if gelu {
                            for c in 0..<channels { row[c] = exactGELU((row[c] - meanF) * inverseF * g[c] + b[c]) }
                        } else {
                            for c in 0..<channels { row[c] = (row[c] - meanF) * inverseF * g[c] + b[c] }
                        }
                    }
                }
            }
        }
    }
}

/// `0.5 x (1 + erf(x / sqrt 2))`, torch's nn.GELU() (approximate='none').
@inline(__always)
public func exactGELU(_ x: Float) -> Float {
    0.5 * x * (1 + erff(x * 0.70710678118654752))
}
