// 2-D convolutions bound from a checkpoint, with the algorithm chosen per layer: im2col + GEMM
// (``Conv2D``) for 1x1 kernels and few input channels, Winograd F(2x2, 3x3) or F(4x4, 3x3) for
// 3x3 layers with many channels (fewer multiplies; F(4x4) trades transform rounding for speed).
import Checkpoints
import Tensors

/// How a 3x3 convolution with many input channels is evaluated; both compute the same function
/// up to float rounding.
public enum WinogradAlgorithm: String, Sendable, CaseIterable {
    /// F(2x2, 3x3): 2.25x fewer multiplies than direct, rounding close to a direct convolution's.
    case f2
    /// F(4x4, 3x3): 4x fewer multiplies, about ten times F(2x2)'s transform rounding.
    case f4
}

extension Conv2D {
    /// Binds `<scope>.weight` `[outChannels, inChannels, k, k]` and `<scope>.bias` `[outChannels]`
    /// for im2col + GEMM evaluation.
    public init(_ scope: WeightStore.Scope, inChannels: Int, outChannels: Int, kernelSize: Int) throws {
        self.init(outChannels: outChannels, inChannels: inChannels, kernelSize: kernelSize,
                  weightsOIHW: try scope.tensor("weight", [outChannels, inChannels, kernelSize, kernelSize]),
                  bias: try scope.tensor("bias", [outChannels]))
    }
}

/// Binds a 3x3 convolution (stride 1, padding 1) and prepares its Winograd form.
public func bindWinogradConv3x3(_ scope: WeightStore.Scope, inChannels: Int, outChannels: Int,
                                algorithm: WinogradAlgorithm) throws -> any BandedConvolution3x3 {
    let conv = try Conv2D(scope, inChannels: inChannels, outChannels: outChannels, kernelSize: 3)
    switch algorithm {
    case .f2: return WinogradConv3x3(conv)
    case .f4: return WinogradF4Conv3x3(conv)
    }
}
