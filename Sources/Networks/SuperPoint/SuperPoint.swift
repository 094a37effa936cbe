// SuperPoint (DeTone, Malisiewicz, Rabinovich, "SuperPoint: Self-Supervised Interest Point
// Detection and Description", CVPRW 2018) as run by models/superpoint.py in
// magicleap/SuperGluePretrainedNetwork, reproduced step by step on NHWC maps:
//
//   encoder     conv1a conv1b pool conv2a conv2b pool conv3a conv3b pool conv4a conv4b (3x3, ReLU)
//   score head  convPa (3x3, ReLU) convPb (1x1, 65 = 64 cell pixels + dustbin) -> softmax ->
//               drop dustbin -> 8x8 depth-to-space -> simple NMS -> threshold -> border removal
//               -> top-k
//   descriptors convDa (3x3, ReLU) convDb (1x1) -> L2 normalise -> bilinear sampling at the
//               keypoints -> L2 normalise
//
// Memory: conv1a and conv1b run in bands of image rows with the 2x2 pooling fused in, so the two
// full-resolution 64-channel maps (80 MB each at 640x480) never exist. Every buffer lives in a
// per-call workspace taken from a pool and returned afterwards, so steady-state calls allocate
// only their results.
import Foundation
import Checkpoints
import Layers
import Tensors

/// The SuperPoint keypoint detector and descriptor.
///
/// ```swift
/// let sp = try SuperPoint(weights: url, config: .init(maxKeypoints: 1024))
/// let features = try sp(image: pixels, width: 640, height: 480)   // pixels: grey / 255
/// ```
///
/// Instances are immutable apart from an internal pool of scratch buffers, so one instance can
/// serve many tasks at once.
public final class SuperPoint: Sendable {
    /// The options this instance runs with.
    public let config: SuperPointConfig

    // The 3x3 layers with many input channels run as Winograd convolutions: F(4x4, 3x3) (fewer
    // multiplies, more transform rounding) for conv1b, which alone is a third of a forward at full
    // resolution, and for levels 3, 4 and the heads; F(2x2) for conv2a and conv2b, where F(4x4)
    // would spend the rest of the 1e-4 score tolerance for little time. The measurements behind
    // this split are in Benchmarks/README.md ("Winograd variants per layer").
    // conv1a (one input channel, 9 multiplies per output) runs as a plain im2col GEMM.
    let conv1a: Conv2D  // weight [64, 1, 3, 3], bias [64]
    let conv1b: any BandedConvolution3x3  // weight [64, 64, 3, 3], bias [64]
    let conv2a: any BandedConvolution3x3  // weight [64, 64, 3, 3], bias [64]
    let conv2b: any BandedConvolution3x3  // weight [64, 64, 3, 3], bias [64]
    let conv3a: any BandedConvolution3x3  // weight [128, 64, 3, 3], bias [128]
    let conv3b: any BandedConvolution3x3  // weight [128, 128, 3, 3], bias [128]
    let conv4a: any BandedConvolution3x3  // weight [128, 128, 3, 3], bias [128]
    let conv4b: any BandedConvolution3x3  // weight [128, 128, 3, 3], bias [128]
    let convPa: any BandedConvolution3x3  // weight [256, 128, 3, 3], bias [256]
    let convPb: Conv2D  // weight [65, 256, 1, 1], bias [65]
    let convDa: any BandedConvolution3x3  // weight [256, 128, 3, 3], bias [256]
    let convDb: Conv2D  // weight [descriptorDim, 256, 1, 1], bias [descriptorDim]

    private let workspaces = WorkspacePool { SuperPointWorkspace() }

    /// Loads weights from a safetensors file with the reference's state_dict names
    /// (`conv1a.weight`, ..., `convDb.bias`).
    public convenience init(weights url: URL, config: SuperPointConfig = .init()) throws {
        try self.init(weights: SafeTensorsFile(contentsOf: url), config: config)
    }

    /// Binds the tensors of `weights`; throws on a missing, unexpected or wrongly shaped tensor.
    public init(weights: SafeTensorsFile, config: SuperPointConfig = .init()) throws {
        try config.validate()
        self.config = config
        let store = WeightStore(file: weights), root = store.root
        func conv(_ name: String, _ input: Int, _ output: Int, kernel: Int) throws -> Conv2D {
            try Conv2D(root.scoped(name), inChannels: input, outChannels: output, kernelSize: kernel)
        }
        func winograd(_ name: String, _ input: Int, _ output: Int, _ algorithm: WinogradAlgorithm) throws -> any BandedConvolution3x3 {
            try bindWinogradConv3x3(root.scoped(name), inChannels: input, outChannels: output, algorithm: algorithm)
        }
        conv1a = try conv("conv1a", 1, 64, kernel: 3)
        conv1b = try winograd("conv1b", 64, 64, .f4)
        conv2a = try winograd("conv2a", 64, 64, .f2)
        conv2b = try winograd("conv2b", 64, 64, .f2)
        conv3a = try winograd("conv3a", 64, 128, .f4)
        conv3b = try winograd("conv3b", 128, 128, .f4)
        conv4a = try winograd("conv4a", 128, 128, .f4)
        conv4b = try winograd("conv4b", 128, 128, .f4)
        convPa = try winograd("convPa", 128, 256, .f4)
        convPb = try conv("convPb", 256, 65, kernel: 1)
        convDa = try winograd("convDa", 128, 256, .f4)
        convDb = try conv("convDb", 256, config.descriptorDim, kernel: 1)
        try store.finish()
    }

    /// Detects and describes keypoints in a grey image.
    ///
    /// - Parameters:
    ///   - image: `width * height` intensities in row-major order, scaled like the reference's
    ///     input (8-bit grey / 255).
    ///   - width: Image width in pixels (at least 8).
    ///   - height: Image height in pixels (at least 8).
    /// - Returns: Keypoints in the order the reference returns them (row-major scan order, or
    ///   descending score when `maxKeypoints` cut the list), their scores and L2-normalised
    ///   descriptors.
    public func callAsFunction(image: [Float], width: Int, height: Int) throws -> Features {
        guard width >= 8, height >= 8 else {
            throw SuperPointError.invalidImage("\(width)x\(height) is smaller than one 8x8 cell")
        }
        guard image.count == width * height else {
            throw SuperPointError.invalidImage("\(image.count) pixels given for a \(width)x\(height) image")
        }
        let workspace = workspaces.take()
        defer { workspaces.give(workspace) }
        return image.withUnsafeBufferPointer { pixels in
            // Non-empty: width, height >= 8 were checked above.
            run(image: pixels.baseAddress!, width: width, height: height, workspace: workspace)
        }
    }
}

// MARK: - Forward pass

extension SuperPoint {
    /// Output pixels per band of the fused conv1a/conv1b/pool stage: conv1a's output for the band
    /// (plus one row above and below) is all of the full-resolution map that exists at a time.
    static let bandPixels = 5120

    static func bandRows(width: Int) -> Int { max(2, (bandPixels / max(width, 1)) & ~1) }

    func run(image: UnsafePointer<Float>, width: Int, height: Int, workspace ws: SuperPointWorkspace) -> Features {
        let h2 = height / 2, w2 = width / 2
        let h3 = h2 / 2, w3 = w2 / 2
        let h = h3 / 2, w = w3 / 2  // = height / 8, width / 8: the reference's cell grid
        let dim = config.descriptorDim

        ws.reserve(width: width, height: height, descriptorDim: dim)

        // Encoder, level 1: conv1a -> conv1b -> pool, fused per band of rows.
        let rows1 = Self.bandRows(width: width)
        var y0 = 0
        while y0 < height {
            let band = y0..<min(y0 + rows1, height)
            let haloRows = max(band.lowerBound - 1, 0)..<min(band.upperBound + 1, height)
            conv1a.apply(input: MapRows(base: image, firstRow: 0, validRows: 0..<height), width: width,
                         rows: haloRows, output: ws.level1a.base, relu: true, scratch: ws.im2col.base)
            conv1b.apply(input: MapRows(base: UnsafePointer(ws.level1a.base), firstRow: haloRows.lowerBound, validRows: haloRows),
                         width: width, rows: band, output: ws.mapA.base + (band.lowerBound / 2) * w2 * 64,
                         relu: true, pool: true, scratch: ws.winograd.base)
            y0 += rows1
        }

        // Levels 2 to 4: the first convolution of each level writes a whole map; the second is
        // pooled tile by tile as it is computed (except at level 4, which feeds both heads).
        convolve(conv2a, input: ws.mapA.base, height: h2, width: w2, output: ws.mapB.base, ws: ws)
        convolvePooled(conv2b, input: ws.mapB.base, height: h2, width: w2, output: ws.mapA.base, ws: ws)
        convolve(conv3a, input: ws.mapA.base, height: h3, width: w3, output: ws.mapB.base, ws: ws)
        convolvePooled(conv3b, input: ws.mapB.base, height: h3, width: w3, output: ws.mapA.base, ws: ws)
        convolve(conv4a, input: ws.mapA.base, height: h, width: w, output: ws.mapB.base, ws: ws)
        convolve(conv4b, input: ws.mapB.base, height: h, width: w, output: ws.mapA.base, ws: ws)
        let encoded = UnsafePointer(ws.mapA.base)

        // Score head: softmax over 65 channels per cell, the dustbin dropped, cells unfolded.
        convolve(convPa, input: encoded, height: h, width: w, output: ws.head.base, ws: ws)
        convolve(convPb, input: ws.head.base, height: h, width: w, output: ws.logits.base)
        softmaxChannels(ws.logits.base, pixels: h * w, channels: 65, stride: 65)
        let mapH = 8 * h, mapW = 8 * w
        depthToSpace8(ws.logits.base, cellRows: h, cellColumns: w, stride: 65, output: ws.scores.base)
        simpleNMS(ws: ws, height: mapH, width: mapW)

        let (keypoints, scores) = extractKeypoints(ws.scores.base, height: mapH, width: mapW)

        // Descriptor head: dense descriptors, normalised per cell, then sampled.
        convolve(convDa, input: encoded, height: h, width: w, output: ws.head.base, ws: ws)
        convolve(convDb, input: ws.head.base, height: h, width: w, output: ws.descriptors.base)
        l2NormalizeRows(ws.descriptors.base, rows: h * w, dim: dim)
        let descriptors = sampleDescriptors(ws.descriptors.base, cellRows: h, cellColumns: w, dim: dim, keypoints: keypoints)

        return Features(keypoints: keypoints, scores: scores, descriptors: descriptors, descriptorDim: dim,
                        imageWidth: width, imageHeight: height)
    }

    /// A whole-map 3x3 convolution + ReLU.
    func convolve(_ conv: any BandedConvolution3x3, input: UnsafePointer<Float>, height: Int, width: Int,
                  output: UnsafeMutablePointer<Float>, ws: SuperPointWorkspace) {
        conv.apply(input: MapRows(base: input, firstRow: 0, validRows: 0..<height), width: width, rows: 0..<height,
                   output: output, relu: true, pool: false, scratch: ws.winograd.base)
    }

    /// A whole-map 1x1 convolution (no ReLU: convPb and convDb feed softmax / normalisation).
    func convolve(_ conv: Conv2D, input: UnsafePointer<Float>, height: Int, width: Int,
                  output: UnsafeMutablePointer<Float>) {
        conv.apply(input: MapRows(base: input, firstRow: 0, validRows: 0..<height), width: width, rows: 0..<height,
                   output: output, relu: false, scratch: nil)
    }

    /// 3x3 convolution + ReLU + 2x2 max-pool (floor on odd sizes, like torch).
    func convolvePooled(_ conv: any BandedConvolution3x3, input: UnsafePointer<Float>, height: Int, width: Int,
                        output: UnsafeMutablePointer<Float>, ws: SuperPointWorkspace) {
        conv.apply(input: MapRows(base: input, firstRow: 0, validRows: 0..<height), width: width, rows: 0..<height,
                   output: output, relu: true, pool: true, scratch: ws.winograd.base)
    }
}

// MARK: - Keypoints

extension SuperPoint {
    /// The reference's `simple_nms`, on `ws.scores` in place: a pixel survives if it equals the
    /// maximum of its `(2r+1)^2` window (so equal maxima all survive); then, twice, pixels not
    /// within `r` of a survivor are re-examined with the suppressed pixels zeroed, and new
    /// window maxima among them survive too. Everything else becomes 0.
    func simpleNMS(ws: SuperPointWorkspace, height: Int, width: Int) {
        Tensors.simpleNMS(ws.scores.base, height: height, width: width, radius: config.nmsRadius, keep: ws.nmsKeep.base,
                          pooled: ws.nmsPooled.base, temp: ws.nmsTemp.base, masked: ws.nmsMasked.base,
                          maskedMax: ws.nmsMaskedMax.base)
    }

    /// Threshold, border removal and top-k, returning `(x, y)` keypoints and their scores.
    func extractKeypoints(_ scores: UnsafePointer<Float>, height: Int, width: Int) -> ([Float], [Float]) {
        let border = config.removeBorders, threshold = config.keypointThreshold
        // Row-major scan = torch.nonzero's order. The border test is the reference's
        // `border <= y < height - border` on the 8h x 8w map, not on the image.
        var found: [(x: Int, y: Int, score: Float)] = []
        for y in 0..<height where y >= border && y < height - border {
            let row = scores + y * width
            for x in 0..<width where row[x] > threshold && x >= border && x < width - border {
                found.append((x, y, row[x]))
            }
        }
        let k = config.maxKeypoints
        if k >= 0 && k < found.count {
            // torch.topk: highest scores first. Its order among equal scores is unspecified;
            // the scan order is kept for them.
            let order = found.indices.sorted { found[$0].score > found[$1].score || (found[$0].score == found[$1].score && $0 < $1) }
            found = order.prefix(k).map { found[$0] }
        }
        var keypoints = [Float](), kept = [Float]()
        keypoints.reserveCapacity(2 * found.count)
        kept.reserveCapacity(found.count)
        for f in found {
            keypoints.append(Float(f.x))
            keypoints.append(Float(f.y))
            kept.append(f.score)
        }
        return (keypoints, kept)
    }

    /// The reference's `sample_descriptors` with s = 8: keypoint pixel coordinates are mapped to
    /// `[-1, 1]` by `((p - s/2 + 0.5) / (size*s - s/2 - 0.5)) * 2 - 1`, then `grid_sample`
    /// (bilinear, align_corners = True, zeros outside) reads the `h x w` descriptor map, and each
    /// sample is L2-normalised. The float operations follow torch's order.
    func sampleDescriptors(_ dense: UnsafePointer<Float>, cellRows h: Int, cellColumns w: Int, dim: Int,
                           keypoints: [Float]) -> [Float] {
        let count = keypoints.count / 2
        var out = [Float](repeating: 0, count: count * dim)
        let s: Float = 8
        let scaleX = Float(Double(w) * 8 - 4 - 0.5), scaleY = Float(Double(h) * 8 - 4 - 0.5)
        out.withUnsafeMutableBufferPointer { dst in
            guard let base = dst.baseAddress else { return }
            for i in 0..<count {
                let gx = ((keypoints[2 * i] - s / 2 + 0.5) / scaleX) * 2 - 1
                let gy = ((keypoints[2 * i + 1] - s / 2 + 0.5) / scaleY) * 2 - 1
                let ix = ((gx + 1) / 2) * Float(w - 1)
                let iy = ((gy + 1) / 2) * Float(h - 1)
                let x0 = Int(ix.rounded(.down)), y0 = Int(iy.rounded(.down))
                let x1 = x0 + 1, y1 = y0 + 1
                let wx1 = ix - Float(x0), wx0 = Float(x1) - ix
                let wy1 = iy - Float(y0), wy0 = Float(y1) - iy
                let row = base + i * dim
                // torch's accumulation order: north-west, north-east, south-west, south-east;
                // corners outside the map contribute zeros.
                func add(_ cx: Int, _ cy: Int, _ weight: Float) {
                    guard cx >= 0 && cx < w && cy >= 0 && cy < h else { return }
                    let src = dense + (cy * w + cx) * dim
                    for c in 0..<dim { row[c] += src[c] * weight }
                }
                add(x0, y0, wx0 * wy0)
                add(x1, y0, wx1 * wy0)
                add(x0, y1, wx0 * wy1)
                add(x1, y1, wx1 * wy1)
            }
            l2NormalizeRows(base, rows: count, dim: dim)
        }
        return out
    }
}

// MARK: - SuperPointWorkspace

/// Scratch buffers for one forward pass, grown on demand and reused across calls.
final class SuperPointWorkspace {
    let level1a = ScratchBuffer()  // [(bandRows + 2) * W, 64]: conv1a output of one band with halo rows
    let im2col = ScratchBuffer()  // [(bandRows + 2) * W, 9]: conv1a patches
    let winograd = ScratchBuffer()  // Winograd tiles of the widest layer (128 -> 256 channels)
    let mapA = ScratchBuffer(), mapB = ScratchBuffer()  // [H/2 * W/2, 64] and smaller: ping-pong encoder maps
    let head = ScratchBuffer()  // [H/8 * W/8, 256]: convPa / convDa output
    let logits = ScratchBuffer()  // [H/8 * W/8, 65]
    let descriptors = ScratchBuffer()  // [H/8 * W/8, descriptorDim]
    // [8h * 8w] each: the full-resolution score map and the NMS passes over it.
    let scores = ScratchBuffer(), nmsKeep = ScratchBuffer(), nmsPooled = ScratchBuffer()
    let nmsTemp = ScratchBuffer(), nmsMasked = ScratchBuffer(), nmsMaskedMax = ScratchBuffer()

    func reserve(width: Int, height: Int, descriptorDim: Int) {
        let rows1 = SuperPoint.bandRows(width: width)
        level1a.reserve((rows1 + 2) * width * 64)
        let w2 = width / 2, h2 = height / 2, w3 = w2 / 2, h3 = h2 / 2, w = w3 / 2, h = h3 / 2
        im2col.reserve((rows1 + 2) * width * 9)  // conv1a: 9 taps of one channel
        // Largest Winograd scratch: 128 input and 256 output channels (convPa, convDa).
        winograd.reserve(max(WinogradF4Conv3x3.scratchCount(inChannels: 128, outChannels: 256),
                             WinogradConv3x3.scratchCount(inChannels: 128, outChannels: 256)))
        mapA.reserve(max(h2 * w2 * 64, h3 * w3 * 128, h * w * 128))
        mapB.reserve(max(h2 * w2 * 64, h3 * w3 * 128, h * w * 128))
        head.reserve(h * w * 256)
        logits.reserve(h * w * 65)
        descriptors.reserve(h * w * descriptorDim)
        for buffer in [scores, nmsKeep, nmsPooled, nmsTemp, nmsMasked, nmsMaskedMax] { buffer.reserve(64 * h * w) }
    }
}
