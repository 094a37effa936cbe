// ALIKED (Zhao et al., "ALIKED: A Lighter Keypoint and Descriptor Extraction Network via
// Deformable Transformation", IEEE TIM 2023) as LightGlue runs it (lightglue/aliked.py), on NHWC
// maps. /work/notes/aliked-disk-spec.md describes every step; in short:
//
//   pad to a multiple of 32 (replicate, split top/bottom and left/right)
//   block1  3x3 conv-BN-SELU x2                           c1 at 1/1
//   block2  ResBlock (3x3 conv-BN, 1x1 downsample)         c2 at 1/2   (after 2x2 average pooling)
//   block3  ResBlock with deformable 3x3 convs             c3 at 1/8   (after 4x4 average pooling)
//   block4  ResBlock with deformable 3x3 convs             c4 at 1/32
//   aggregation  SELU(1x1 conv) of each block to dim/4, bilinear upsampling (align_corners) to
//                1/1, concatenated: x1234 [dim]
//   score head   1x1 -> SELU -> 3x3 -> SELU -> 3x3 -> SELU -> 3x3 -> sigmoid; cropped back
//   feature map  x1234 L2-normalised per pixel; cropped back
//   DKD   NMS, border, threshold / top-k, soft-argmax in a 5x5 window, bilinear score
//   SDDH  per keypoint: offsets from a 3x3 patch, M bilinear samples, SELU(1x1), aggregation
//         weights, L2 normalisation
//
// The full-resolution x1234 map (dim floats per pixel) is never stored: score_head.0 is applied
// to each level at its own resolution (it is linear) and upsampled, and SDDH rebuilds the few
// pixels it samples from block1's output and the stored lower levels.
// BatchNorms are folded into the convolutions before them at load time.
import Foundation
import Checkpoints
import Layers
import Tensors

/// The ALIKED keypoint detector and descriptor (all four released variants).
///
/// ```swift
/// let aliked = try ALIKED(weights: TorchCheckpoint(contentsOf: url).tensors, config: .init(variant: .n16))
/// let features = try aliked.detect(DetectorInput(pixels: rgb, width: w, height: h, channels: 3))
/// ```
public final class ALIKED: Sendable {
    public let config: ALIKEDConfig
    let dims: ALIKEDVariant.Dimensions

    let block1: (Conv2D, Convolution)
    let block2: ResidualBlock
    let block3: DeformableResidualBlock
    let block4: DeformableResidualBlock
    let aggregation: [Conv2D]  // conv1...conv4, 1x1, no bias
    let scoreHead: (Conv2D, Conv2D, Conv2D)  // score_head.2, .4, .6: 3x3 8->4, 4->4, 4->1
    let scoreProjection: [Conv2D]  // score_head.0's columns for each level's dim/4 channels
    let descriptorHead: SDDH
    let workspaces = WorkspacePool { ALIKEDWorkspace() }

    /// Binds a state dict (names of lightglue/aliked.py, e.g. from ``TorchCheckpoint``).
    public init(weights tensors: [String: RawTensor], config: ALIKEDConfig = .init()) throws {
        try config.validate()
        self.config = config
        let d = config.variant.dimensions
        dims = d
        let store = WeightStore(tensors: tensors), root = store.root
        func plain(_ name: String, _ cin: Int, _ cout: Int, _ k: Int) throws -> Conv2D {
            let s = root.scoped(name)
            let bias = s.has("bias") ? try s.tensor("bias", [cout]) : [Float](repeating: 0, count: cout)
            return Conv2D(outChannels: cout, inChannels: cin, kernelSize: k,
                          weightsOIHW: try s.tensor("weight", [cout, cin, k, k]), bias: bias)
        }
        // A bias-free 3x3 conv with the BatchNorm after it folded in (in Double).
        func normed(_ name: String, _ norm: String, _ cin: Int, _ cout: Int) throws -> Conv2D {
            var weights = try root.scoped(name).tensor("weight", [cout, cin, 3, 3])
            let bn = try BatchNorm(root.scoped(norm), channels: cout)
            var bias = [Float](repeating: 0, count: cout)
            let perOutput = cin * 9
            for o in 0..<cout {
                let factor = bn.scale(channel: o)
                for i in (o * perOutput)..<((o + 1) * perOutput) { weights[i] = Float(Double(weights[i]) * factor) }
                bias[o] = Float(Double(bn.beta[o]) - Double(bn.mean[o]) * factor)
            }
            return Conv2D(outChannels: cout, inChannels: cin, kernelSize: 3, weightsOIHW: weights, bias: bias)
        }
        block1 = (try normed("block1.conv1", "block1.bn1", 3, d.c1),
                  Convolution(try normed("block1.conv2", "block1.bn2", d.c1, d.c1)))
        block2 = ResidualBlock(conv1: Convolution(try normed("block2.conv1", "block2.bn1", d.c1, d.c2)),
                               conv2: Convolution(try normed("block2.conv2", "block2.bn2", d.c2, d.c2)),
                               downsample: try plain("block2.downsample", d.c1, d.c2, 1))
        func deformable(_ block: String, _ cin: Int, _ cout: Int) throws -> DeformableResidualBlock {
            DeformableResidualBlock(
                offsets1: try plain("\(block).conv1.offset_conv", cin, 18, 3),
                conv1: DeformableConv3x3(try normed("\(block).conv1.regular_conv", "\(block).bn1", cin, cout)),
                offsets2: try plain("\(block).conv2.offset_conv", cout, 18, 3),
                conv2: DeformableConv3x3(try normed("\(block).conv2.regular_conv", "\(block).bn2", cout, cout)),
                downsample: try plain("\(block).downsample", cin, cout, 1))
        }
        block3 = try deformable("block3", d.c2, d.c3)
        block4 = try deformable("block4", d.c3, d.c4)
        aggregation = try [(1, d.c1), (2, d.c2), (3, d.c3), (4, d.dim)].map { try plain("conv\($0.0)", $0.1, d.dim / 4, 1) }
        scoreHead = (try plain("score_head.2", 8, 4, 3), try plain("score_head.4", 4, 4, 3), try plain("score_head.6", 4, 1, 3))
        let quarter = d.dim / 4, head = try root.scoped("score_head.0").tensor("weight", [8, d.dim, 1, 1])
        var projections: [Conv2D] = []
        for level in 0..<4 {
            var columns: [Float] = []
            for o in 0..<8 {
                let first = o * d.dim + level * quarter
                columns += head[first..<(first + quarter)]
            }
            projections.append(Conv2D(outChannels: 8, inChannels: quarter, kernelSize: 1, weightsOIHW: columns,
                                      bias: [Float](repeating: 0, count: 8)))
        }
        scoreProjection = projections
        descriptorHead = try SDDH(root.scoped("desc_head"), dims: d)
        try store.finish()
    }

    /// Loads a `.pth` state dict or a safetensors file with the reference's names.
    public convenience init(weights url: URL, config: ALIKEDConfig = .init()) throws {
        try self.init(weights: stateDictTensors(at: url), config: config)
    }

    /// Detects and describes keypoints in an RGB (or grey, replicated) image whose values are
    /// 8-bit / 255. Keypoints are in pixels of `image`; their order is the reference's (raster,
    /// or descending score when `maxKeypoints` cut the list or top-k selection is on).
    public func callAsFunction(image: [Float], width: Int, height: Int, channels: Int = 3) throws -> Features {
        try run(image: image, width: width, height: height, channels: channels, trace: nil)
    }
}

extension ALIKED: ProfilableDetector {
    public var name: String { config.variant.rawValue }
    public var inputChannels: Int { 3 }
    public var descriptorDim: Int { dims.dim }

    public func detect(_ input: DetectorInput) throws -> Features {
        try self(image: input.pixels, width: input.width, height: input.height, channels: input.channels)
    }
    public func detect(_ input: DetectorInput, profile: LayerProfile) throws -> Features {
        try run(image: input.pixels, width: input.width, height: input.height, channels: input.channels, trace: nil,
                profile: profile)
    }
}

/// A stride-1 "same" convolution: im2col + GEMM, or Winograd F(2x2, 3x3) for 3x3 layers with at
/// least 16 input channels (2.25x fewer multiplies, rounding within a few ulps of direct).
struct Convolution: Sendable {
    let conv: Conv2D
    let winograd: WinogradConv3x3?

    init(_ conv: Conv2D) {
        self.conv = conv
        winograd = conv.kernelSize == 3 && conv.inChannels >= 16 ? WinogradConv3x3(conv) : nil
    }

    /// Output rows `rows` (an even first row) of the map `input` into `output`, then `activation`;
    /// `scratch` grows to what the algorithm needs.
    /// `scratch` holds one buffer per worker (one when called inside ``Parallel/serially(_:)``).
    func apply(input: MapRows, width: Int, rows: Range<Int>, output: UnsafeMutablePointer<Float>, activation: ConvActivation,
               scratch: [ScratchBuffer]) {
        guard let winograd else {
            return convolve(conv, input: input, width: width, rows: rows, into: output, activation: activation, scratch: scratch)
        }
        winograd.apply(input: input, width: width, rows: rows, output: output, relu: activation == .relu, pool: false,
                       scratch: scratch[0].reserve(winograd.scratchCount))
        if activation == .selu { seluInPlace(output, count: rows.count * width * conv.outChannels) }
    }
}

/// conv1-BN-SELU, conv2-BN, + downsample(x), SELU (BN folded).
struct ResidualBlock: Sendable {
    let conv1: Convolution, conv2: Convolution, downsample: Conv2D

    /// The block on the `height x width` map `x` into `output`; `temp` holds one map of the
    /// block's output channels.
    func apply(_ x: UnsafePointer<Float>, height: Int, width: Int, into output: UnsafeMutablePointer<Float>,
               temp: UnsafeMutablePointer<Float>, scratch: [ScratchBuffer]) {
        let all = 0..<height
        conv1.apply(input: MapRows(base: x, firstRow: 0, validRows: all), width: width, rows: all, output: temp,
                    activation: .selu, scratch: scratch)
        conv2.apply(input: MapRows(base: temp, firstRow: 0, validRows: all), width: width, rows: all, output: output,
                    activation: .none, scratch: scratch)
        convolve(downsample, x, height: height, width: width, into: temp, scratch: scratch)
        addThenSELU(output, adding: temp, count: height * width * downsample.outChannels)
    }
}

/// ResidualBlock with deformable 3x3 convolutions, each with its own offset convolution.
struct DeformableResidualBlock: Sendable {
    let offsets1: Conv2D, conv1: DeformableConv3x3, offsets2: Conv2D, conv2: DeformableConv3x3, downsample: Conv2D

    /// The block on the `height x width` map `x` into `output`; `temp` holds one map of the
    /// block's output channels, `offsets` one of 18 channels.
    func apply(_ x: UnsafePointer<Float>, height: Int, width: Int, into output: UnsafeMutablePointer<Float>,
               temp: UnsafeMutablePointer<Float>, offsets: UnsafeMutablePointer<Float>, scratch: [ScratchBuffer],
               trace: ALIKED.Trace?, name: String, profile: LayerProfile?) {
        deformable(offsets1, conv1, x, height: height, width: width, into: temp, offsets: offsets, scratch: scratch,
                   trace: trace, name: name + ".conv1", profile: profile)
        seluInPlace(temp, count: height * width * conv1.outChannels)
        deformable(offsets2, conv2, temp, height: height, width: width, into: output, offsets: offsets, scratch: scratch,
                   trace: trace, name: name + ".conv2", profile: profile)
        let flops = LayerProfile.convolutionFlops(pixels: height * width, inChannels: downsample.inChannels,
                                                  outChannels: downsample.outChannels, kernel: 1)
        profile.measure("\(name).downsample 1x1 \(downsample.inChannels)->\(downsample.outChannels) \(width)x\(height) + add",
                        flops: flops) {
            convolve(downsample, x, height: height, width: width, into: temp, scratch: scratch)
            addThenSELU(output, adding: temp, count: height * width * downsample.outChannels)
        }
    }

    /// DeformableConv2d: offsets from a 3x3 conv, clamped to +-max(H, W) / 4, then the
    /// deformable convolution.
    func deformable(_ offsetConv: Conv2D, _ conv: DeformableConv3x3, _ x: UnsafePointer<Float>, height: Int, width: Int,
                    into output: UnsafeMutablePointer<Float>, offsets: UnsafeMutablePointer<Float>, scratch: [ScratchBuffer],
                    trace: ALIKED.Trace?, name: String, profile: LayerProfile?) {
        let pixels = height * width
        let offsetFlops = LayerProfile.convolutionFlops(pixels: pixels, inChannels: offsetConv.inChannels, outChannels: 18, kernel: 3)
        profile.measure("\(name).offset_conv 3x3 \(offsetConv.inChannels)->18 \(width)x\(height)", flops: offsetFlops) {
            convolve(offsetConv, x, height: height, width: width, into: offsets, scratch: scratch)
            let limit = Float(Double(max(height, width)) / 4)
            for i in 0..<(pixels * 18) { offsets[i] = min(max(offsets[i], -limit), limit) }
        }
        if let trace {
            trace("dcn/\(name)/input", Array(UnsafeBufferPointer(start: x, count: pixels * conv.inChannels)), [height, width, conv.inChannels])
            trace("dcn/\(name)/offset", Array(UnsafeBufferPointer(start: offsets, count: pixels * 18)), [height, width, 18])
        }
        let flops = LayerProfile.convolutionFlops(pixels: pixels, inChannels: conv.inChannels, outChannels: conv.outChannels, kernel: 3)
        profile.measure("\(name) deformable 3x3 \(conv.inChannels)->\(conv.outChannels) \(width)x\(height)", flops: flops) {
            // Bands of about 4 MB of samples: the whole map's im2col would be tens of MB.
            let band = max(1, min(height, (1 << 20) / conv.conv.patchSize / max(width, 1)))
            let buffer = scratch[0].reserve(conv.scratchCount(bandPixels: band * width))
            var y0 = 0
            while y0 < height {
                let rows = y0..<min(y0 + band, height)
                conv.apply(input: x, offsets: offsets, height: height, width: width, rows: rows,
                           output: output + y0 * width * conv.outChannels, scratch: buffer)
                y0 = rows.upperBound
            }
        }
    }
}
