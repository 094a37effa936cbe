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
// The full-resolution x1234 map (dim floats per pixel) is never stored: the score head's first
// 1x1 conv reads it a band of rows at a time, and SDDH rebuilds the few pixels it samples.
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

    func callAsFunction(_ x: [Float], height: Int, width: Int) -> [Float] {
        guard let winograd else { return convolve(conv, x, height: height, width: width) }
        var out = [Float](repeating: 0, count: height * width * conv.outChannels)
        guard height > 0, width > 0 else { return out }
        var scratch = [Float](repeating: 0, count: winograd.scratchCount)
        x.withUnsafeBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { s in
                    winograd.apply(input: MapRows(base: inp.baseAddress!, firstRow: 0, validRows: 0..<height), width: width,
                                   rows: 0..<height, output: o.baseAddress!, relu: false, pool: false, scratch: s.baseAddress!)
                }
            }
        }
        return out
    }
}

/// conv1-BN-SELU, conv2-BN, + downsample(x), SELU (BN folded).
struct ResidualBlock: Sendable {
    let conv1: Convolution, conv2: Convolution, downsample: Conv2D

    func callAsFunction(_ x: [Float], height: Int, width: Int) -> [Float] {
        var out = conv1(x, height: height, width: width)
        selu(&out)
        out = conv2(out, height: height, width: width)
        let identity = convolve(downsample, x, height: height, width: width)
        for i in out.indices { out[i] += identity[i] }
        selu(&out)
        return out
    }
}

/// ResidualBlock with deformable 3x3 convolutions, each with its own offset convolution.
struct DeformableResidualBlock: Sendable {
    let offsets1: Conv2D, conv1: DeformableConv3x3, offsets2: Conv2D, conv2: DeformableConv3x3, downsample: Conv2D

    func callAsFunction(_ x: [Float], height: Int, width: Int, trace: ALIKED.Trace?, name: String,
                        profile: LayerProfile? = nil) -> [Float] {
        var out = deformable(offsets1, conv1, x, height: height, width: width, trace: trace, name: name + ".conv1", profile: profile)
        selu(&out)
        out = deformable(offsets2, conv2, out, height: height, width: width, trace: trace, name: name + ".conv2", profile: profile)
        let flops = LayerProfile.convolutionFlops(pixels: height * width, inChannels: downsample.inChannels,
                                                  outChannels: downsample.outChannels, kernel: 1)
        profile.measure("\(name).downsample 1x1 \(downsample.inChannels)->\(downsample.outChannels) \(width)x\(height) + add",
                        flops: flops) {
            let identity = convolve(downsample, x, height: height, width: width)
            for i in out.indices { out[i] += identity[i] }
            selu(&out)
        }
        return out
    }

    /// DeformableConv2d: offsets from a 3x3 conv, clamped to +-max(H, W) / 4, then the
    /// deformable convolution.
    func deformable(_ offsetConv: Conv2D, _ conv: DeformableConv3x3, _ x: [Float], height: Int, width: Int,
                    trace: ALIKED.Trace?, name: String, profile: LayerProfile? = nil) -> [Float] {
        let offsetFlops = LayerProfile.convolutionFlops(pixels: height * width, inChannels: offsetConv.inChannels,
                                                        outChannels: 18, kernel: 3)
        var offsets = profile.measure("\(name).offset_conv 3x3 \(offsetConv.inChannels)->18 \(width)x\(height)", flops: offsetFlops) {
            convolve(offsetConv, x, height: height, width: width)
        }
        let limit = Float(Double(max(height, width)) / 4)
        for i in offsets.indices { offsets[i] = min(max(offsets[i], -limit), limit) }
        let flops = LayerProfile.convolutionFlops(pixels: height * width, inChannels: conv.inChannels,
                                                  outChannels: conv.outChannels, kernel: 3)
        return profile.measure("\(name) deformable 3x3 \(conv.inChannels)->\(conv.outChannels) \(width)x\(height)", flops: flops) {
            deformableConvolution(conv, x, offsets: offsets, height: height, width: width, trace: trace, name: name)
        }
    }

    func deformableConvolution(_ conv: DeformableConv3x3, _ x: [Float], offsets: [Float], height: Int, width: Int,
                               trace: ALIKED.Trace?, name: String) -> [Float] {
        trace?("dcn/\(name)/input", x, [height, width, conv.inChannels])
        trace?("dcn/\(name)/offset", offsets, [height, width, 18])
        var out = [Float](repeating: 0, count: height * width * conv.outChannels)
        let band = max(1, min(height, 16384 / max(width, 1)))
        var scratch = [Float](repeating: 0, count: conv.scratchCount(bandPixels: band * width))
        x.withUnsafeBufferPointer { inp in
            offsets.withUnsafeBufferPointer { off in
                out.withUnsafeMutableBufferPointer { o in
                    scratch.withUnsafeMutableBufferPointer { s in
                        var y0 = 0
                        while y0 < height {
                            let rows = y0..<min(y0 + band, height)
                            conv.apply(input: inp.baseAddress!, offsets: off.baseAddress!, height: height, width: width,
                                       rows: rows, output: o.baseAddress! + y0 * width * conv.outChannels,
                                       scratch: s.baseAddress!)
                            y0 = rows.upperBound
                        }
                    }
                }
            }
        }
        return out
    }
}

// MARK: - Map helpers (NHWC)

/// A stride-1 "same" convolution of a whole `height x width x inChannels` map, in bands of rows.
func convolve(_ conv: Conv2D, _ x: [Float], height: Int, width: Int) -> [Float] {
    var out = [Float](repeating: 0, count: height * width * conv.outChannels)
    guard height > 0, width > 0 else { return out }
    let scratch = ScratchBuffer()
    x.withUnsafeBufferPointer { inp in
        out.withUnsafeMutableBufferPointer { o in
            convolve(conv, inp.baseAddress!, height: height, width: width, into: o.baseAddress!, scratch: scratch)
        }
    }
    return out
}

/// ``convolve(_:_:height:width:)`` from and into caller memory; `scratch` grows to one band's
/// im2col matrix.
func convolve(_ conv: Conv2D, _ x: UnsafePointer<Float>, height: Int, width: Int, into output: UnsafeMutablePointer<Float>,
              scratch: ScratchBuffer) {
    guard height > 0, width > 0 else { return }
    let band = max(1, min(height, 16384 / max(width, 1)))
    let buffer = scratch.reserve(max(1, conv.scratchCount(bandPixels: band * width)))
    let rows = MapRows(base: x, firstRow: 0, validRows: 0..<height)
    var y0 = 0
    while y0 < height {
        let part = y0..<min(y0 + band, height)
        conv.apply(input: rows, width: width, rows: part, output: output + y0 * width * conv.outChannels,
                   relu: false, scratch: buffer)
        y0 = part.upperBound
    }
}

/// torch.selu: `scale * x` above 0, `scale * alpha * (exp(x) - 1)` below.
@inline(__always)
func selu(_ x: Float) -> Float {
    let scale: Float = 1.0507009873554804934193349852946, alpha: Float = 1.6732632423543772848170429916717
    return x > 0 ? x * scale : Foundation.expm1(x) * (alpha * scale)
}

func selu(_ values: inout [Float]) {
    values.withUnsafeMutableBufferPointer { if let base = $0.baseAddress { seluInPlace(base, count: $0.count) } }
}

/// k x k average pooling with stride k (sizes divide exactly).
func averagePool(_ x: [Float], height: Int, width: Int, channels: Int, k: Int) -> [Float] {
    var out = [Float](repeating: 0, count: (height / k) * (width / k) * channels)
    x.withUnsafeBufferPointer { inp in
        out.withUnsafeMutableBufferPointer { o in
            guard let i = inp.baseAddress, let o = o.baseAddress else { return }
            averagePool(i, height: height, width: width, channels: channels, k: k, into: o)
        }
    }
    return out
}

/// ``averagePool(_:height:width:channels:k:)`` into caller memory (`height / k * width / k * channels`).
func averagePool(_ x: UnsafePointer<Float>, height: Int, width: Int, channels: Int, k: Int, into out: UnsafeMutablePointer<Float>) {
    let oh = height / k, ow = width / k
    let inv = 1 / Float(k * k)
    for y in 0..<oh {
        for xo in 0..<ow {
            let dst = out + (y * ow + xo) * channels
            for c in 0..<channels { dst[c] = 0 }
            for dy in 0..<k {
                for dx in 0..<k {
                    let src = x + ((y * k + dy) * width + xo * k + dx) * channels
                    for c in 0..<channels { dst[c] += src[c] }
                }
            }
            for c in 0..<channels { dst[c] *= inv }
        }
    }
}

/// Bilinear upsampling with align_corners=True, evaluated at one output pixel: torch's index and
/// weight rule (source = dst * (in - 1) / (out - 1)) and its order of operations (each source row
/// blended along x first, then the two rows along y).
struct AlignedUpsampler {
    let inHeight: Int, inWidth: Int, channels: Int
    let rowIndex: [(Int, Int, Float, Float)]  // per output row: y0, y1, weight of y0, weight of y1
    let columnIndex: [(Int, Int, Float, Float)]

    init(inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int, channels: Int) {
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.channels = channels
        func table(_ n: Int, _ out: Int) -> [(Int, Int, Float, Float)] {
            let scale: Float = out > 1 ? Float(n - 1) / Float(out - 1) : 0
            return (0..<out).map { dst in
                let src = scale * Float(dst)
                let i0 = min(Int(src), n - 1)
                let l = min(max(src - Float(i0), 0), 1)
                return (i0, i0 < n - 1 ? i0 + 1 : i0, 1 - l, l)
            }
        }
        rowIndex = table(inHeight, outHeight)
        columnIndex = table(inWidth, outWidth)
    }

    /// Writes the `channels` values at output (y, x) to `dst`.
    @inline(__always)
    func sample(_ map: UnsafePointer<Float>, y: Int, x: Int, into dst: UnsafeMutablePointer<Float>) {
        let (y0, y1, hy0, hy1) = rowIndex[y], (x0, x1, wx0, wx1) = columnIndex[x]
        let a = map + (y0 * inWidth + x0) * channels, b = map + (y0 * inWidth + x1) * channels
        let c = map + (y1 * inWidth + x0) * channels, d = map + (y1 * inWidth + x1) * channels
        for k in 0..<channels {
            dst[k] = (a[k] * wx0 + b[k] * wx1) * hy0 + (c[k] * wx0 + d[k] * wx1) * hy1
        }
    }
}
