// ALIKED's forward pass: padding, backbone, aggregation, score head (ALIKED.swift has the
// layers), then DKD keypoint detection and SDDH descriptors. Float32 operations follow the
// reference's order where a rounding difference could move a keypoint (soft-argmax, coordinate
// normalisation, the SDDH patch corner), see /work/notes/aliked-disk-spec.md sections 2.7-2.8.
import Foundation
import Checkpoints
import Tensors

extension ALIKED {
    /// Receives intermediate maps for the parity tests: a name, NHWC values and their shape.
    typealias Trace = (String, [Float], [Int]) -> Void

    func run(image: [Float], width: Int, height: Int, channels: Int, trace: Trace?, profile: LayerProfile? = nil) throws -> Features {
        guard width >= 1, height >= 1, width <= 16384, height <= 16384 else {
            throw ALIKEDError.invalidImage("\(width)x\(height) is not a usable image size")
        }
        guard channels == 1 || channels == 3 else { throw ALIKEDError.invalidImage("\(channels) channels; 1 or 3 expected") }
        guard image.count == width * height * channels else {
            throw ALIKEDError.invalidImage("\(image.count) values given for a \(width)x\(height)x\(channels) image")
        }
        let d = dims
        // InputPadder(divis_by=32): replicate padding split top/bottom and left/right.
        let padH = ((height / 32 + 1) * 32 - height) % 32, padW = ((width / 32 + 1) * 32 - width) % 32
        let top = padH / 2, left = padW / 2
        let hp = height + padH, wp = width + padW
        var padded = [Float](repeating: 0, count: hp * wp * 3)
        profile.measure("pad") {
            for y in 0..<hp {
                let sy = min(max(y - top, 0), height - 1)
                for x in 0..<wp {
                    let sx = min(max(x - left, 0), width - 1)
                    for c in 0..<3 { padded[(y * wp + x) * 3 + c] = image[(sy * width + sx) * channels + (channels == 3 ? c : 0)] }
                }
            }
        }
        func flops(_ conv: Conv2D, _ scale: Int) -> Double {
            LayerProfile.convolutionFlops(pixels: hp / scale * (wp / scale), inChannels: conv.inChannels,
                                          outChannels: conv.outChannels, kernel: conv.kernelSize)
        }
        func label(_ name: String, _ conv: Conv2D, _ scale: Int) -> String {
            "\(name) \(conv.kernelSize)x\(conv.kernelSize) \(conv.inChannels)->\(conv.outChannels) \(wp / scale)x\(hp / scale)"
        }

        // Backbone.
        var x1 = profile.measure(label("block1.conv1", block1.0, 1), flops: flops(block1.0, 1)) {
            var x = convolve(block1.0, padded, height: hp, width: wp)
            selu(&x)
            return x
        }
        x1 = profile.measure(label("block1.conv2", block1.1.conv, 1), flops: flops(block1.1.conv, 1)) {
            var x = block1.1(x1, height: hp, width: wp)
            selu(&x)
            return x
        }
        trace?("block1", x1, [hp, wp, d.c1])
        let pooled1 = profile.measure("pool 2x2") { averagePool(x1, height: hp, width: wp, channels: d.c1, k: 2) }
        let x2 = profile.measure("block2 (3x3 \(d.c1)->\(d.c2), 3x3, 1x1) \(wp / 2)x\(hp / 2)",
                                 flops: flops(block2.conv1.conv, 2) + flops(block2.conv2.conv, 2) + flops(block2.downsample, 2)) {
            block2(pooled1, height: hp / 2, width: wp / 2)
        }
        trace?("block2", x2, [hp / 2, wp / 2, d.c2])
        let pooled2 = profile.measure("pool 4x4 (1)") { averagePool(x2, height: hp / 2, width: wp / 2, channels: d.c2, k: 4) }
        let x3 = block3(pooled2, height: hp / 8, width: wp / 8, trace: trace, name: "block3", profile: profile)
        trace?("block3", x3, [hp / 8, wp / 8, d.c3])
        let pooled3 = profile.measure("pool 4x4 (2)") { averagePool(x3, height: hp / 8, width: wp / 8, channels: d.c3, k: 4) }
        let x4 = block4(pooled3, height: hp / 32, width: wp / 32, trace: trace, name: "block4", profile: profile)
        trace?("block4", x4, [hp / 32, wp / 32, d.c4])

        // Aggregation: a_i = SELU(conv_i(x_i)) at each level; x1234 is assembled on demand.
        let quarter = d.dim / 4
        var levels: [[Float]] = []
        for (i, (map, scale)) in [(x1, 1), (x2, 2), (x3, 8), (x4, 32)].enumerated() {
            let a = profile.measure(label("conv\(i + 1)", aggregation[i], scale), flops: flops(aggregation[i], scale)) {
                var a = convolve(aggregation[i], map, height: hp / scale, width: wp / scale)
                selu(&a)
                return a
            }
            trace?("x\(i + 1)", a, [hp / scale, wp / scale, quarter])
            levels.append(a)
        }
        let features = AggregatedFeatures(levels: levels, height: hp, width: wp, quarter: quarter)
        if let trace {
            var x1234 = [Float](repeating: 0, count: hp * wp * d.dim)
            var featureMap = [Float](repeating: 0, count: height * width * d.dim)
            x1234.withUnsafeMutableBufferPointer { buf in
                for y in 0..<hp { for x in 0..<wp { features.concatenated(y: y, x: x, into: buf.baseAddress! + (y * wp + x) * d.dim) } }
            }
            featureMap.withUnsafeMutableBufferPointer { buf in
                for y in 0..<height {
                    for x in 0..<width { features.normalised(y: y + top, x: x + left, into: buf.baseAddress! + (y * width + x) * d.dim) }
                }
            }
            trace("x1234", x1234, [hp, wp, d.dim])
            trace("feature_map", featureMap, [height, width, d.dim])
        }

        // Score head on the padded map. Its first layer is a 1x1 conv of x1234 = [a1, up(a2), up(a3),
        // up(a4)]; both are linear, so it is the sum of each level's share of the weights applied
        // at the level's own resolution, then upsampled: 8 channels upsampled instead of dim/4.
        var s0 = [Float](repeating: 0, count: hp * wp * 8)
        profile.measure("score_head.0 (1x1 \(d.dim)->8 per level, upsampled) \(wp)x\(hp)",
                        flops: 2 * Double(hp * wp) * Double(d.dim * 8)) {
        for (i, scale) in [1, 2, 8, 32].enumerated() {
            let (lh, lw) = (hp / scale, wp / scale)
            let part = convolve(scoreProjection[i], levels[i], height: lh, width: lw)
            if scale == 1 {
                for j in s0.indices { s0[j] += part[j] }
                continue
            }
            let up = AlignedUpsampler(inHeight: lh, inWidth: lw, outHeight: hp, outWidth: wp, channels: 8)
            part.withUnsafeBufferPointer { src in
                s0.withUnsafeMutableBufferPointer { dst in
                    var value = [Float](repeating: 0, count: 8)
                    for y in 0..<hp {
                        for x in 0..<wp {
                            value.withUnsafeMutableBufferPointer { up.sample(src.baseAddress!, y: y, x: x, into: $0.baseAddress!) }
                            let o = dst.baseAddress! + (y * wp + x) * 8
                            for k in 0..<8 { o[k] += value[k] }
                        }
                    }
                }
            }
        }
        selu(&s0)
        }
        let s1 = profile.measure(label("score_head.2", scoreHead.0, 1), flops: flops(scoreHead.0, 1)) {
            var s = convolve(scoreHead.0, s0, height: hp, width: wp)
            selu(&s)
            return s
        }
        let s2 = profile.measure(label("score_head.4", scoreHead.1, 1), flops: flops(scoreHead.1, 1)) {
            var s = convolve(scoreHead.1, s1, height: hp, width: wp)
            selu(&s)
            return s
        }
        let logits = profile.measure(label("score_head.6", scoreHead.2, 1), flops: flops(scoreHead.2, 1)) {
            convolve(scoreHead.2, s2, height: hp, width: wp)
        }
        trace?("score_logits", logits, [hp, wp, 1])
        var scoreMap = [Float](repeating: 0, count: height * width)
        profile.measure("sigmoid + crop") {
            for y in 0..<height {
                for x in 0..<width {
                    scoreMap[y * width + x] = 1 / (1 + Foundation.exp(-logits[(y + top) * wp + x + left]))
                }
            }
        }
        trace?("score_map", scoreMap, [height, width, 1])

        let (normalised, keypointScores) = profile.measure("DKD") {
            detectKeypoints(scoreMap, height: height, width: width, trace: trace)
        }
        trace?("dkd_keypoints", normalised, [normalised.count / 2, 2])
        trace?("dkd_scores", keypointScores, [keypointScores.count])
        let descriptors = profile.measure("SDDH") {
            descriptorHead.describe(normalised, features: features, top: top, left: left,
                                    height: height, width: width, trace: trace)
        }
        // ALIKED.forward: back to pixels of the network input, wh * (k + 1) / 2.
        var keypoints = normalised
        let wh = [Float(width - 1), Float(height - 1)]
        for i in keypoints.indices { keypoints[i] = wh[i % 2] * (normalised[i] + 1) / 2 }
        return Features(keypoints: keypoints, scores: keypointScores, descriptors: descriptors, descriptorDim: d.dim,
                        imageWidth: width, imageHeight: height)
    }

    // MARK: DKD

    /// Keypoints in [-1, 1] (x / (W - 1) * 2 - 1) and their bilinear scores.
    func detectKeypoints(_ scores: [Float], height: Int, width: Int, trace: Trace?) -> ([Float], [Float]) {
        let r = config.nmsRadius, n = height * width
        var nms = simpleNMS(scores, height: height, width: width, radius: r)
        trace?("nms", nms, [height, width, 1])
        for y in 0..<height {
            for x in 0..<width where y < r || x < r || y >= height - r || x >= width - r { nms[y * width + x] = 0 }
        }

        let threshold = config.detectionThreshold
        let topK = threshold > 0 ? -1 : config.maxKeypoints
        let limit = config.maxKeypoints > 0 ? config.maxKeypoints : ALIKEDConfig.keypointLimit
        var indices: [Int]
        if topK > 0 {
            // torch.topk over the border-cleared NMS map: largest first (ties in index order here).
            indices = Array(0..<n).sorted { nms[$0] != nms[$1] ? nms[$0] > nms[$1] : $0 < $1 }
            indices = Array(indices.prefix(min(topK, n)))
        } else {
            var th = threshold
            var candidates = threshold > 0 ? (0..<n).filter { nms[$0] > th } : []
            if candidates.isEmpty {
                // No pixel above the threshold (or threshold mode off): the mean score instead.
                th = Float(scores.reduce(0.0) { $0 + Double($1) } / Double(max(n, 1)))
                candidates = (0..<n).filter { nms[$0] > th }
            }
            if candidates.count > limit {
                candidates = Array(candidates.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(limit))
            }
            indices = candidates
        }

        // Soft-argmax in the (2r + 1)^2 window, temperature 0.1, then the bilinear score there.
        let k = 2 * r + 1
        let temperature: Float = 0.1
        var normalised = [Float](repeating: 0, count: indices.count * 2)
        var keypointScores = [Float](repeating: 0, count: indices.count)
        var patch = [Float](repeating: 0, count: k * k)
        let wh = (Float(width - 1), Float(height - 1))
        for (i, index) in indices.enumerated() {
            let px = index % width, py = index / width
            for a in 0..<k {
                for b in 0..<k {
                    let y = py + a - r, x = px + b - r
                    patch[a * k + b] = y >= 0 && y < height && x >= 0 && x < width ? scores[y * width + x] : 0
                }
            }
            let peak = patch.max() ?? 0
            var sum: Float = 0, sx: Float = 0, sy: Float = 0
            for a in 0..<k {
                for b in 0..<k {
                    let e = Foundation.exp((patch[a * k + b] - peak) / temperature)
                    sum += e
                    sx += e * Float(b - r)
                    sy += e * Float(a - r)
                }
            }
            let kx = Float(px) + sx / sum, ky = Float(py) + sy / sum
            let nx = kx / wh.0 * 2 - 1, ny = ky / wh.1 * 2 - 1
            normalised[2 * i] = nx
            normalised[2 * i + 1] = ny
            keypointScores[i] = scores.withUnsafeBufferPointer {
                gridSample($0.baseAddress!, height: height, width: width, channels: 1, nx: nx, ny: ny)[0]
            }
        }
        return (normalised, keypointScores)
    }
}

/// ALIKED's simple_nms: (2r + 1)^2 max pooling (edges clipped), then two rounds that admit
/// maxima of the scores left after suppressing the neighbourhoods of those found so far.
func simpleNMS(_ scores: [Float], height: Int, width: Int, radius r: Int) -> [Float] {
    let n = height * width
    var temp = [Float](repeating: 0, count: n), pooled = [Float](repeating: 0, count: n)
    func maxPool(_ values: [Float], into out: inout [Float]) {
        values.withUnsafeBufferPointer { v in
            temp.withUnsafeMutableBufferPointer { t in
                out.withUnsafeMutableBufferPointer { o in
                    slidingMax(v.baseAddress!, height: height, width: width, radius: r, temp: t.baseAddress!, output: o.baseAddress!)
                }
            }
        }
    }
    guard n > 0 else { return [] }
    maxPool(scores, into: &pooled)
    var keep = (0..<n).map { scores[$0] == pooled[$0] ? Float(1) : 0 }
    var suppressed = [Float](repeating: 0, count: n), rest = [Float](repeating: 0, count: n), restMax = rest
    for _ in 0..<2 {
        maxPool(keep, into: &suppressed)
        for i in 0..<n { rest[i] = suppressed[i] > 0 ? 0 : scores[i] }
        maxPool(rest, into: &restMax)
        for i in 0..<n where suppressed[i] <= 0 && rest[i] == restMax[i] { keep[i] = 1 }
    }
    return (0..<n).map { keep[$0] > 0 ? scores[$0] : 0 }
}

/// torch.nn.functional.grid_sample(bilinear, zeros, align_corners=True) of an NHWC map at one
/// normalised point: pixel = (n + 1) / 2 * (size - 1); neighbours outside the map count 0.
func gridSample(_ map: UnsafePointer<Float>, height: Int, width: Int, channels: Int, nx: Float, ny: Float) -> [Float] {
    let x = (nx + 1) / 2 * Float(width - 1), y = (ny + 1) / 2 * Float(height - 1)
    var out = [Float](repeating: 0, count: channels)
    out.withUnsafeMutableBufferPointer { bilinearZeros(map, height: height, width: width, channels: channels, x: x, y: y, into: $0.baseAddress!) }
    return out
}

/// Bilinear sample at pixel (x, y), neighbours outside the map counting 0 (torch's CPU
/// grid_sampler weights and term order).
@inline(__always)
func bilinearZeros(_ map: UnsafePointer<Float>, height: Int, width: Int, channels: Int, x: Float, y: Float,
                   into dst: UnsafeMutablePointer<Float>) {
    let xw = x.rounded(.down), yn = y.rounded(.down)
    let e = xw + 1 - x, w = x - xw, s = yn + 1 - y, n = y - yn
    let nw = s * e, ne = s * w, sw = n * e, se = n * w
    let x0 = Int(xw), y0 = Int(yn)
    func at(_ yy: Int, _ xx: Int) -> UnsafePointer<Float>? {
        yy >= 0 && yy < height && xx >= 0 && xx < width ? map + (yy * width + xx) * channels : nil
    }
    let a = at(y0, x0), b = at(y0, x0 + 1), c = at(y0 + 1, x0), d = at(y0 + 1, x0 + 1)
    for k in 0..<channels {
        dst[k] = (a?[k] ?? 0) * nw + (b?[k] ?? 0) * ne + (c?[k] ?? 0) * sw + (d?[k] ?? 0) * se
    }
}

/// The aggregated feature x1234 of the padded image, rebuilt per pixel from the four SELU'd
/// levels (level 1 copied, levels 2-4 upsampled with align_corners).
struct AggregatedFeatures {
    let levels: [[Float]]
    let height: Int, width: Int, quarter: Int
    let upsamplers: [AlignedUpsampler]

    init(levels: [[Float]], height: Int, width: Int, quarter: Int) {
        self.levels = levels
        self.height = height
        self.width = width
        self.quarter = quarter
        upsamplers = [2, 8, 32].map {
            AlignedUpsampler(inHeight: height / $0, inWidth: width / $0, outHeight: height, outWidth: width, channels: quarter)
        }
    }

    var dim: Int { 4 * quarter }

    /// x1234 at padded pixel (y, x): `dim` values.
    func concatenated(y: Int, x: Int, into dst: UnsafeMutablePointer<Float>) {
        levels[0].withUnsafeBufferPointer { dst.update(from: $0.baseAddress! + (y * width + x) * quarter, count: quarter) }
        for i in 0..<3 {
            levels[i + 1].withUnsafeBufferPointer { upsamplers[i].sample($0.baseAddress!, y: y, x: x, into: dst + (i + 1) * quarter) }
        }
    }

    /// The L2-normalised feature map at padded pixel (y, x).
    func normalised(y: Int, x: Int, into dst: UnsafeMutablePointer<Float>) {
        concatenated(y: y, x: x, into: dst)
        var sum: Float = 0
        for k in 0..<dim { sum += dst[k] * dst[k] }
        let norm = max(sum.squareRoot(), 1e-12)
        for k in 0..<dim { dst[k] /= norm }
    }
}

// MARK: - SDDH

/// The sparse deformable descriptor head.
struct SDDH: Sendable {
    let dim: Int, patch: Int, samples: Int
    let offset0: [Float], offset0Bias: [Float]  // [2M, dim * K * K] (PyTorch's OIHW, flattened), [2M]
    let offset2: [Float], offset2Bias: [Float]  // [2M, 2M], [2M]
    let sampledConv: [Float]  // sf_conv [dim, dim]
    let aggregation: [Float]  // agg_weights [M, dim, dim] = [M * dim, dim]

    init(_ scope: WeightStore.Scope, dims d: ALIKEDVariant.Dimensions) throws {
        dim = d.dim
        patch = d.patch
        samples = d.samples
        let m2 = 2 * samples
        offset0 = try scope.tensor("offset_conv.0.weight", [m2, dim, patch, patch])
        offset0Bias = try scope.tensor("offset_conv.0.bias", [m2])
        offset2 = try scope.tensor("offset_conv.2.weight", [m2, m2, 1, 1])
        offset2Bias = try scope.tensor("offset_conv.2.bias", [m2])
        sampledConv = try scope.tensor("sf_conv.weight", [dim, dim, 1, 1])
        aggregation = try scope.tensor("agg_weights", [samples, dim, dim])
    }

    /// Descriptors (`count x dim`, L2-normalised) for keypoints given in [-1, 1].
    func describe(_ keypoints: [Float], features: AggregatedFeatures, top: Int, left: Int, height: Int, width: Int,
                  trace: ALIKED.Trace?) -> [Float] {
        let count = keypoints.count / 2
        guard count > 0 else { return [] }
        let k = patch, m = samples, m2 = 2 * samples
        let wh = (Float(width - 1), Float(height - 1))
        let limit = Float(Double(max(height, width)) / 4)

        // 1. Patches [count, dim * K * K] (channel-major, as the conv weights) around each keypoint.
        var patches = [Float](repeating: 0, count: count * dim * k * k)
        var pixel = [Float](repeating: 0, count: dim)
        var positions = [(Float, Float)](repeating: (0, 0), count: count)
        for i in 0..<count {
            let px = (keypoints[2 * i] / 2 + 0.5) * wh.0, py = (keypoints[2 * i + 1] / 2 + 0.5) * wh.1
            positions[i] = (px, py)
            // get_patches: corner = trunc(trunc(p) - K/2 + 1), clamped to [0, size - 1 - K].
            let cx = Int(Float(Int(px)) - Float(k) / 2 + 1), cy = Int(Float(Int(py)) - Float(k) / 2 + 1)
            let x0 = min(max(cx, 0), width - 1 - k), y0 = min(max(cy, 0), height - 1 - k)
            for a in 0..<k {
                for b in 0..<k {
                    pixel.withUnsafeMutableBufferPointer { features.normalised(y: y0 + a + top, x: x0 + b + left, into: $0.baseAddress!) }
                    for c in 0..<dim { patches[i * dim * k * k + c * k * k + a * k + b] = pixel[c] }
                }
            }
        }

        // 2. Offsets: conv K x K (a GEMM over the patches) -> SELU -> 1x1, clamped.
        var hidden = [Float](repeating: 0, count: count * m2)
        var offsets = [Float](repeating: 0, count: count * m2)
        patches.withUnsafeBufferPointer { p in
            offset0.withUnsafeBufferPointer { w in
                hidden.withUnsafeMutableBufferPointer { h in
                    sgemm(transB: true, m: count, n: m2, k: dim * k * k, a: p.baseAddress!, lda: dim * k * k,
                          b: w.baseAddress!, ldb: dim * k * k, c: h.baseAddress!, ldc: m2)
                }
            }
        }
        for i in 0..<count { for o in 0..<m2 { hidden[i * m2 + o] = selu(hidden[i * m2 + o] + offset0Bias[o]) } }
        hidden.withUnsafeBufferPointer { h in
            offset2.withUnsafeBufferPointer { w in
                offsets.withUnsafeMutableBufferPointer { o in
                    sgemm(transB: true, m: count, n: m2, k: m2, a: h.baseAddress!, lda: m2, b: w.baseAddress!, ldb: m2,
                          c: o.baseAddress!, ldc: m2)
                }
            }
        }
        for i in 0..<count { for o in 0..<m2 { offsets[i * m2 + o] = min(max(offsets[i * m2 + o] + offset2Bias[o], -limit), limit) } }
        if let trace {
            // [count, M, 2] as (x, y) like the reference's returned offsets.
            var xy = [Float](repeating: 0, count: count * m2)
            for i in 0..<count { for s in 0..<m { xy[(i * m + s) * 2] = offsets[i * m2 + s]; xy[(i * m + s) * 2 + 1] = offsets[i * m2 + m + s] } }
            trace("sddh_offsets", xy, [count * m, 2])
        }

        // 3. M bilinear samples of the normalised feature map per keypoint: rows [count * M, dim].
        var sampled = [Float](repeating: 0, count: count * m * dim)
        var corners = [Float](repeating: 0, count: 4 * dim)
        for i in 0..<count {
            for s in 0..<m {
                let sx = positions[i].0 + offsets[i * m2 + s], sy = positions[i].1 + offsets[i * m2 + m + s]
                // Normalised as the reference does, then back to pixels by grid_sample.
                let nx = 2 * sx / wh.0 - 1, ny = 2 * sy / wh.1 - 1
                let x = (nx + 1) / 2 * wh.0, y = (ny + 1) / 2 * wh.1
                sampleFeature(features, x: x, y: y, top: top, left: left, height: height, width: width,
                              corners: &corners, into: &sampled, at: (i * m + s) * dim)
            }
        }

        // 4. SELU(sf_conv) per sample, then the aggregation GEMM [count, M * dim] x [M * dim, dim].
        var transformed = [Float](repeating: 0, count: count * m * dim)
        sampled.withUnsafeBufferPointer { a in
            sampledConv.withUnsafeBufferPointer { w in
                transformed.withUnsafeMutableBufferPointer { c in
                    sgemm(transB: true, m: count * m, n: dim, k: dim, a: a.baseAddress!, lda: dim, b: w.baseAddress!, ldb: dim,
                          c: c.baseAddress!, ldc: dim)
                }
            }
        }
        selu(&transformed)
        var descriptors = [Float](repeating: 0, count: count * dim)
        transformed.withUnsafeBufferPointer { a in
            aggregation.withUnsafeBufferPointer { w in
                descriptors.withUnsafeMutableBufferPointer { c in
                    sgemm(m: count, n: dim, k: m * dim, a: a.baseAddress!, lda: m * dim, b: w.baseAddress!, ldb: dim,
                          c: c.baseAddress!, ldc: dim)
                }
            }
        }
        for i in 0..<count {
            var sum: Float = 0
            for c in 0..<dim { sum += descriptors[i * dim + c] * descriptors[i * dim + c] }
            let norm = max(sum.squareRoot(), 1e-12)
            for c in 0..<dim { descriptors[i * dim + c] /= norm }
        }
        return descriptors
    }

    /// Bilinear sample (zeros outside the cropped map) of the normalised feature map at pixel
    /// (x, y) of the cropped image, written to `out[at..<at + dim]`.
    func sampleFeature(_ features: AggregatedFeatures, x: Float, y: Float, top: Int, left: Int, height: Int, width: Int,
                       corners: inout [Float], into out: inout [Float], at offset: Int) {
        let xw = x.rounded(.down), yn = y.rounded(.down)
        let e = xw + 1 - x, w = x - xw, s = yn + 1 - y, n = y - yn
        let weights = [s * e, s * w, n * e, n * w]
        let x0 = Int(xw), y0 = Int(yn)
        let cornerPixels = [(y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)]
        for (j, (yy, xx)) in cornerPixels.enumerated() {
            if yy >= 0 && yy < height && xx >= 0 && xx < width {
                corners.withUnsafeMutableBufferPointer { features.normalised(y: yy + top, x: xx + left, into: $0.baseAddress! + j * dim) }
            } else {
                for c in 0..<dim { corners[j * dim + c] = 0 }
            }
        }
        for c in 0..<dim {
            out[offset + c] = corners[c] * weights[0] + corners[dim + c] * weights[1]
                + corners[2 * dim + c] * weights[2] + corners[3 * dim + c] * weights[3]
        }
    }
}
