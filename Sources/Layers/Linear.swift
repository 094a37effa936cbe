// A linear map over token rows: nn.Linear, or a Conv1d/Conv2d with a 1x1 kernel, which are the
// same matrix once the kernel's unit axes are dropped. BatchNorm that follows it in inference
// mode is folded into it at load time.
import Checkpoints
import Tensors

/// What follows the affine map, fused into the bias pass.
public enum Activation: Sendable, Equatable {
    case identity
    case relu
}

/// `y = act(W x + b)` for every row of a row-major token matrix.
public struct Linear: Sendable {
    public var weight: [Float]  // [outputs, inputs], row-major (PyTorch's layout)
    public var bias: [Float]  // [outputs]
    public let inputs: Int
    public let outputs: Int
    public var activation: Activation

    public init(weight: [Float], bias: [Float], inputs: Int, outputs: Int, activation: Activation = .identity) {
        precondition(weight.count == inputs * outputs && bias.count == outputs, "Linear: weight or bias size does not match \(outputs)x\(inputs)")
        self.weight = weight
        self.bias = bias
        self.inputs = inputs
        self.outputs = outputs
        self.activation = activation
    }

    /// Binds `<scope>.weight` and `<scope>.bias` of a Conv1d with kernel size 1
    /// (weight `[outputs, inputs, 1]`).
    public init(conv1d scope: WeightStore.Scope, inputs: Int, outputs: Int, activation: Activation = .identity) throws {
        self.init(weight: try scope.tensor("weight", [outputs, inputs, 1]), bias: try scope.tensor("bias", [outputs]),
                  inputs: inputs, outputs: outputs, activation: activation)
    }

    /// Binds `<scope>.weight` `[outputs, inputs]` and `<scope>.bias` `[outputs]` of an nn.Linear.
    public init(linear scope: WeightStore.Scope, inputs: Int, outputs: Int, activation: Activation = .identity) throws {
        self.init(weight: try scope.tensor("weight", [outputs, inputs]), bias: try scope.tensor("bias", [outputs]),
                  inputs: inputs, outputs: outputs, activation: activation)
    }

    /// Folds an inference-mode BatchNorm that follows this layer (see ``BatchNorm``).
    public mutating func foldBatchNorm(_ scope: WeightStore.Scope, epsilon: Double = BatchNorm.defaultEpsilon) throws {
        let norm = try BatchNorm(scope, channels: outputs, epsilon: epsilon)
        for o in 0..<outputs {
            // gamma (W x + b - mean) / sqrt(var + eps) + beta, regrouped into W' x + b'.
            let factor = norm.scale(channel: o)
            for i in 0..<inputs { weight[o * inputs + i] = Float(Double(weight[o * inputs + i]) * factor) }
            bias[o] = Float((Double(bias[o]) - Double(norm.mean[o])) * factor + Double(norm.beta[o]))
        }
    }

    /// `output[r] = act(W input[r] + b)` for `rows` rows, or `output[r] += W input[r] + b` when
    /// `accumulate` is set (a residual update; the activation is not applied then). Rows are
    /// split over the engine's workers.
    public func apply(_ input: UnsafePointer<Float>, stride: Int, rows: Int, into output: UnsafeMutablePointer<Float>,
                      outputStride: Int, accumulate: Bool = false) {
        guard rows > 0 else { return }
        let outputs = self.outputs, inputs = self.inputs, relu = activation == .relu && !accumulate
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                guard let weight = w.baseAddress, let bias = b.baseAddress else { return }
                parallelSgemm(transB: true, m: rows, n: outputs, k: inputs, a: input, lda: stride,
                              b: weight, ldb: inputs, beta: accumulate ? 1 : 0, c: output, ldc: outputStride) { part in
                    for r in part {
                        let row = output + r * outputStride
                        if relu {
                            for c in 0..<outputs { row[c] = max(row[c] + bias[c], 0) }
                        } else {
                            for c in 0..<outputs { row[c] += bias[c] }
                        }
                    }
                }
            }
        }
    }
}
