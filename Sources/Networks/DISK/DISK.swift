// DISK (Tyszkiewicz, Fua, Trulls, "DISK: Learning local features with policy gradient",
// NeurIPS 2020) with the "depth" weights, as cvg/LightGlue's lightglue/disk.py runs it through
// kornia 0.9.0's kornia.feature.DISK (kornia/feature/disk/disk.py, detector.py, _unets/unet.py,
// _unets/blocks.py). NHWC maps; /work/notes/aliked-disk-spec.md section 3 has every step:
//
//   zero padding at the bottom and right to a multiple of 16 (the zeros enter every statistic)
//   down0  5x5 conv 3 -> 16                                              1/1
//   down1..4  2x2 average pool, then unit: InstanceNorm, PReLU, 5x5 conv  1/2 .. 1/16
//   up0..3    bilinear x2 (align_corners=False) of the level below, concatenated with the skip
//             (upsampled first), then a unit                              1/8 .. 1/1, 129 channels
//   crop to the image: channels 0..<128 are descriptors, 128 the heatmap (logits); up3's
//   convolution is evaluated for the heatmap densely and for the descriptors at the keypoints only
//   strict 5x5 maxima (whole window inside the map), logit > threshold, optional top-n kept in
//   raster order, descriptors L2-normalised at the keypoints.
import Foundation
import Checkpoints
import Tensors

/// The DISK keypoint detector and descriptor (kornia's U-Net with the released depth weights).
///
/// ```swift
/// let disk = try DISK(weights: tensors)   // the state dict of depth-save.pth's `extractor`
/// let features = try disk.detect(DetectorInput(pixels: rgb, width: w, height: h, channels: 3))
/// ```
public final class DISK: Sendable {
    public let config: DISKConfig

    /// One U-Net conv unit: InstanceNorm (no parameters), PReLU, 5x5 convolution with bias.
    struct Unit: Sendable {
        let slopes: [Float]?  // [cin] PReLU slopes; nil for path_down.0 (a bare convolution)
        let conv: Conv2D  // weight [cout, cin, 5, 5], bias [cout]
        /// The convolution as Winograd F(4x4, 5x5), for every unit but the 3-channel first one
        /// (whose GEMM is too thin for the transforms to pay).
        let winograd: WinogradF4Conv5x5?

        init(slopes: [Float]?, conv: Conv2D) {
            self.slopes = slopes
            self.conv = conv
            winograd = conv.inChannels >= 16 ? WinogradF4Conv5x5(conv) : nil
        }
    }

    let down: [Unit]  // path_down.0 ... .4: 3 -> 16, 16 -> 32, 32 -> 64, 64 -> 64, 64 -> 64
    let up: [Unit]  // path_up.0 ... .3: 128 -> 64, 128 -> 64, 96 -> 64, 80 -> 129
    let head: OutputHead  // path_up.3's convolution split into its heatmap and descriptor channels
    let workspaces = WorkspacePool { DISKWorkspace() }

    /// The last convolution (80 -> 129, 5x5), evaluated only where its outputs are used: the
    /// heatmap channel densely, the 128 descriptor channels at the selected keypoints only.
    ///
    /// The heatmap is a 5x5 convolution with one output, i.e. the sum over the 25 taps of the
    /// input's dot product with that tap's weights, taken at the tap's offset. The 25 dot products
    /// per pixel are one GEMM [pixels, 80] x [80, 25]; then each output adds 25 of them. With the
    /// descriptors at 2048 keypoints, about 1/100 of the dense 129-channel convolution's work.
    struct OutputHead: Sendable {
        let inChannels: Int
        let tapWeights: [Float]  // [25, inChannels]: the heatmap channel's weights, tap by tap
        let heatBias: Float
        let descriptorWeights: [Float]  // [25 * inChannels, 128]: im2col rows (tap, channel) x descriptor channels
        let descriptorBias: [Float]  // [128]

        init(_ conv: Conv2D) {
            let cin = conv.inChannels, cout = conv.outChannels, dim = cout - 1, taps = conv.kernelSize * conv.kernelSize
            inChannels = cin
            var tap = [Float](repeating: 0, count: taps * cin), descriptor = [Float](repeating: 0, count: taps * cin * dim)
            for row in 0..<(taps * cin) {
                tap[row] = conv.gemmWeights[row * cout + dim]
                for c in 0..<dim { descriptor[row * dim + c] = conv.gemmWeights[row * cout + c] }
            }
            tapWeights = tap
            descriptorWeights = descriptor
            heatBias = conv.bias[dim]
            descriptorBias = Array(conv.bias[0..<dim])
        }
    }

    /// Binds the U-Net state dict (names `unet.path_down.*`, `unet.path_up.*`, as kornia loads
    /// them from the `extractor` entry of the official file).
    public init(weights tensors: [String: RawTensor], config: DISKConfig = .init()) throws {
        try config.validate()
        self.config = config
        let store = WeightStore(tensors: tensors), root = store.root
        func unit(down isDown: Bool, _ index: Int, _ channels: (Int, Int)) throws -> Unit {
            let s = root.scoped(Self.unitPrefix(down: isDown, index))
            let (cin, cout) = channels, k = Self.kernel
            let slopes = isDown && index == 0 ? nil : try s.scoped("1").tensor("weight", [cin])
            let conv = s.scoped("3")
            return Unit(slopes: slopes, conv: Conv2D(outChannels: cout, inChannels: cin, kernelSize: k,
                                                     weightsOIHW: try conv.tensor("weight", [cout, cin, k, k]),
                                                     bias: try conv.tensor("bias", [cout])))
        }
        down = try Self.downChannels.enumerated().map { try unit(down: true, $0.offset, $0.element) }
        up = try Self.upChannels.enumerated().map { try unit(down: false, $0.offset, $0.element) }
        head = OutputHead(up[up.count - 1].conv)
        try store.finish()
    }

    /// Loads a converted safetensors file or a `.pth` state dict with kornia's names.
    public convenience init(weights url: URL, config: DISKConfig = .init()) throws {
        try self.init(weights: stateDictTensors(at: url), config: config)
    }

    /// Detects and describes keypoints in an RGB (or grey, replicated) image with values 8-bit /
    /// 255. Keypoints are integer pixels of `image` as (x, y) floats, in raster order; scores are
    /// the heatmap logits.
    public func callAsFunction(image: [Float], width: Int, height: Int, channels: Int = 3) throws -> Features {
        try run(image: image, width: width, height: height, channels: channels, trace: nil)
    }
}

extension DISK: ProfilableDetector {
    public var name: String { "disk" }
    public var inputChannels: Int { 3 }
    public var descriptorDim: Int { Self.descriptorLength }

    public func detect(_ input: DetectorInput) throws -> Features {
        try self(image: input.pixels, width: input.width, height: input.height, channels: input.channels)
    }

    public func detect(_ input: DetectorInput, profile: LayerProfile) throws -> Features {
        try run(image: input.pixels, width: input.width, height: input.height, channels: input.channels, trace: nil,
                profile: profile)
    }
}

extension DISK.Unit {
    /// The unit's convolution of an `height x width x inChannels` map into `output`; `scratch`
    /// (one buffer per worker) grows to what the algorithm needs.
    func convolve(_ x: UnsafePointer<Float>, height: Int, width: Int, into output: UnsafeMutablePointer<Float>,
                  scratch: [ScratchBuffer]) {
        guard let winograd else {
            return Networks.convolve(conv, x, height: height, width: width, into: output, scratch: scratch)
        }
        winograd.apply(input: MapRows(base: x, firstRow: 0, validRows: 0..<height), width: width, rows: 0..<height,
                       output: output, scratch: scratch[0].reserve(winograd.scratchCount))
    }

    /// InstanceNorm + PReLU in place on `pixels x inChannels` values (nothing for the bare first
    /// convolution).
    func normalise(_ x: UnsafeMutablePointer<Float>, pixels: Int) {
        guard let slopes else { return }
        slopes.withUnsafeBufferPointer { instanceNormPReLU(x, pixels: pixels, channels: conv.inChannels, slopes: $0.baseAddress!) }
    }
}

/// The memory of one DISK forward pass (sizes for an `hp x wp` padded image), kept between calls.
final class DISKWorkspace {
    let levels = (0..<5).map { _ in ScratchBuffer() }  // [(hp >> i) * (wp >> i), 16 | 32 | 64 | 64 | 64]: down-path outputs
    let input = ScratchBuffer()  // [hp * wp, 80] at most: a unit's input (image, pooled or concatenated map)
    let output = ScratchBuffer()  // [hp/2 * wp/2, 64]: up-path outputs 0-2 (each read before the next is written); [hp * wp, 129] when traced
    let heat = ScratchBuffer()  // [h * w]: the cropped heatmap
    let patches = ScratchBuffer()  // [keypoints, 25 * 80]: the last convolution's inputs at the keypoints
    let scratch = (0..<Parallel.workers).map { _ in ScratchBuffer() }  // per worker: im2col bands; the first: Winograd tiles
}
