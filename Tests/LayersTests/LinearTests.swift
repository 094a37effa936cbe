import Foundation
import Testing
import Checkpoints
@testable import Layers
import Networks

/// Uniform values in `offset ± scale` from a seeded generator.
private func values(_ count: Int, _ g: inout SplitMix64, scale: Double = 1, offset: Double = 0) -> [Float] {
    (0..<count).map { _ in Float((2 * g.unit() - 1) * scale + offset) }
}

@Suite struct LinearTests {
    @Test func batchNormFoldingEqualsUnfoldedEvaluation() throws {
        var random = SplitMix64(seed: 42)
        let inputs = 5, outputs = 4, tokens = 3
        let weight = values(outputs * inputs, &random), bias = values(outputs, &random)
        let gamma = values(outputs, &random, scale: 0.5, offset: 1), beta = values(outputs, &random)
        let mean = values(outputs, &random), variance = values(outputs, &random, scale: 0.5, offset: 1)
        let store = WeightStore(tensors: [
            "conv.weight": RawTensor(shape: [outputs, inputs, 1], floats: weight),
            "conv.bias": RawTensor(shape: [outputs], floats: bias),
            "bn.weight": RawTensor(shape: [outputs], floats: gamma),
            "bn.bias": RawTensor(shape: [outputs], floats: beta),
            "bn.running_mean": RawTensor(shape: [outputs], floats: mean),
            "bn.running_var": RawTensor(shape: [outputs], floats: variance),
            "bn.num_batches_tracked": RawTensor(dtype: .i64, shape: [], bytes: [7, 0, 0, 0, 0, 0, 0, 0]),
        ])
        var layer = try Linear(conv1d: store.root.scoped("conv"), inputs: inputs, outputs: outputs)
        try layer.foldBatchNorm(store.root.scoped("bn"))
        try store.finish()  // num_batches_tracked is accepted and ignored

        let x = values(tokens * inputs, &random)
        var y = [Float](repeating: 0, count: tokens * outputs)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                layer.apply(xp.baseAddress!, stride: inputs, rows: tokens, into: yp.baseAddress!, outputStride: outputs)
            }
        }
        var worst = 0.0
        for t in 0..<tokens {
            for o in 0..<outputs {
                let convolved = (0..<inputs).reduce(Double(bias[o])) { $0 + Double(weight[o * inputs + $1]) * Double(x[t * inputs + $1]) }
                let expected = (convolved - Double(mean[o])) / (Double(variance[o]) + 1e-5).squareRoot() * Double(gamma[o]) + Double(beta[o])
                worst = max(worst, abs(Double(y[t * outputs + o]) - expected))
            }
        }
        print("BatchNorm folding max difference \(worst)")
        #expect(worst < 1e-5)
    }
}
