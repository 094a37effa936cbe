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
                        let mean = rowSum(row, count: channels) { $0 } / Double(channels)
                        let squares = rowSum(row, count: channels) { let d = $0 - mean; return d * d }
                        let inverse = 1 / (squares / Double(channels) + epsilon).squareRoot()
                        normalize(row, count: channels, mean: Float(mean), inverse: Float(inverse),
                                  gamma: g.baseAddress!, beta: b.baseAddress!, gelu: gelu)
                    }
                }
            }
        }
    }
}

/// Sum in double of `term(x)` over a row, with eight independent partial sums (a single chain of
/// double additions was most of LayerNorm's time).
@inline(__always)
private func rowSum(_ row: UnsafePointer<Float>, count: Int, _ term: (SIMD4<Double>) -> SIMD4<Double>) -> Double {
    var low = SIMD4<Double>.zero, high = SIMD4<Double>.zero
    var c = 0
    while c + 8 <= count {
        let v = loadLanes(row + c, 8)
        low += term(SIMD4<Double>(v.lowHalf))
        high += term(SIMD4<Double>(v.highHalf))
        c += 8
    }
    var total = (low + high).sum()
    while c < count { total += term(SIMD4<Double>(repeating: Double(row[c])))[0]; c += 1 }
    return total
}

/// `(x - mean) * inverse * gamma + beta` on a row, then GELU with `gelu`, eight channels at a time
/// (the erf vectorised: libm's scalar `erff` per element was the feed-forward blocks' largest
/// cost outside their GEMMs).
@inline(__always)
private func normalize(_ row: UnsafeMutablePointer<Float>, count: Int, mean: Float, inverse: Float,
                       gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, gelu: Bool) {
    let meanV = FloatVector(repeating: mean), inverseV = FloatVector(repeating: inverse)
    @inline(__always) func lanes(_ c: Int, _ lanes: Int) {
        var y = (loadLanes(row + c, lanes) - meanV) * inverseV * loadLanes(gamma + c, lanes) + loadLanes(beta + c, lanes)
        if gelu { y = vectorGELU(y) }
        storeLanes(y, row + c, lanes)
    }
    var c = 0
    while c + 8 <= count { lanes(c, 8); c += 8 }
    if c < count { lanes(c, count - c) }
}

/// ``exactGELU(_:)`` on eight lanes, with ``vectorErf(_:)``.
@inlinable @inline(__always)
public func vectorGELU(_ x: FloatVector) -> FloatVector {
    0.5 * x * (1 + vectorErf(x * 0.70710678118654752))
}

/// `0.5 x (1 + erf(x / sqrt 2))`, torch's nn.GELU() (approximate='none').
@inline(__always)
public func exactGELU(_ x: Float) -> Float {
    0.5 * x * (1 + erff(x * 0.70710678118654752))
}
