// A stack of token-row linear layers, as the networks' nn.Sequential MLPs are written.
import Checkpoints
import Tensors

/// Linear layers applied one after the other to token rows.
public struct MLP: Sendable {
    public var layers: [Linear]

    public init(_ layers: [Linear]) {
        precondition(!layers.isEmpty, "MLP needs at least one layer")
        self.layers = layers
    }

    /// Binds an `nn.Sequential` of 1x1 Conv1d layers with widths `channels`, where every layer but
    /// the last is followed by BatchNorm1d (folded in) and ReLU: the Sequential's slots are then
    /// conv, norm, ReLU, conv, ..., so the convolutions sit at indices 0, 3, 6, ...
    public init(conv1dBatchNormReLU scope: WeightStore.Scope, channels: [Int]) throws {
        precondition(channels.count >= 2, "MLP needs an input and an output width")
        var layers: [Linear] = []
        for index in 0..<(channels.count - 1) {
            var layer = try Linear(conv1d: scope.scoped("\(3 * index)"), inputs: channels[index], outputs: channels[index + 1])
            if index < channels.count - 2 {
                try layer.foldBatchNorm(scope.scoped("\(3 * index + 1)"))
                layer.activation = .relu
            }
            layers.append(layer)
        }
        self.init(layers)
    }

    public var inputs: Int { layers[0].inputs }
    public var outputs: Int { layers[layers.count - 1].outputs }
    /// The widest intermediate output, which sizes ``scratchCount(rows:)``.
    public var widestHidden: Int { layers.dropLast().map(\.outputs).max() ?? 0 }

    /// Floats of scratch ``apply(_:stride:rows:into:outputStride:scratch:)`` needs.
    public func scratchCount(rows: Int) -> Int { 2 * rows * widestHidden }

    /// Runs every layer on `rows` rows; intermediate results ping-pong in `scratch`, the last
    /// layer writes `output`.
    public func apply(_ input: UnsafePointer<Float>, stride: Int, rows: Int, into output: UnsafeMutablePointer<Float>,
                      outputStride: Int, scratch: UnsafeMutablePointer<Float>) {
        let half = rows * widestHidden
        var source = input, sourceStride = stride
        for (index, layer) in layers.enumerated() {
            let isLast = index == layers.count - 1
            let target = isLast ? output : scratch + (index % 2) * half
            let targetStride = isLast ? outputStride : layer.outputs
            layer.apply(source, stride: sourceStride, rows: rows, into: target, outputStride: targetStride)
            source = UnsafePointer(target)
            sourceStride = targetStride
        }
    }
}
