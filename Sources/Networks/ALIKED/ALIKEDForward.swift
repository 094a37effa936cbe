// ALIKED's forward pass: padding, backbone, aggregation, score head (ALIKED.swift has the
// layers), then DKD keypoint detection and SDDH descriptors. Float32 operations follow the
// reference's order where a rounding difference could move a keypoint (soft-argmax, coordinate
// normalisation, the SDDH patch corner), see /work/notes/aliked-disk-spec.md sections 2.7-2.8.
//
// Memory: every map lives in the pooled workspace. The full-resolution stage (block1, its 2x2
// pooling, conv1 and score_head.0's share of level 1) runs band by band, one band per worker,
// so the 16- and 32-channel full-resolution maps other than block1's output never exist whole.
import Foundation
import Checkpoints
import Tensors

extension ALIKED {
    /// Receives intermediate maps for the parity tests: a name, NHWC values and their shape.
    typealias Trace = (String, [Float], [Int]) -> Void

    /// Output rows per band of the full-resolution stage (even: Winograd F(2x2) tiles and the
    /// 2x2 pooling start on even rows; the padded height is a multiple of 32).
    static let bandRows = 16

    func run(image: [Float], width: Int, height: Int, channels: Int, trace: Trace?, profile: LayerProfile? = nil) throws -> Features {
        guard width >= 1, height >= 1, width <= 16384, height <= 16384 else {
            throw ALIKEDError.invalidImage("\(width)x\(height) is not a usable image size")
        }
        guard channels == 1 || channels == 3 else { throw ALIKEDError.invalidImage("\(channels) channels; 1 or 3 expected") }
        guard image.count == width * height * channels else {
            throw ALIKEDError.invalidImage("\(image.count) values given for a \(width)x\(height)x\(channels) image")
        }
        return workspaces.withWorkspace { ws in
            forward(image, width: width, height: height, channels: channels, ws: ws, trace: trace, profile: profile)
        }
    }

    func forward(_ image: [Float], width: Int, height: Int, channels: Int, ws: ALIKEDWorkspace, trace: Trace?,
                 profile: LayerProfile?) -> Features {
        let d = dims, q = d.dim / 4
        // InputPadder(divis_by=32): replicate padding split top/bottom and left/right.
        let padH = ((height / 32 + 1) * 32 - height) % 32, padW = ((width / 32 + 1) * 32 - width) % 32
        let top = padH / 2, left = padW / 2
        let hp = height + padH, wp = width + padW
        ws.reserve(hp: hp, wp: wp, height: height, width: width, dims: d)
        func traced(_ name: String, _ p: UnsafePointer<Float>, _ shape: [Int]) {
            trace?(name, Array(UnsafeBufferPointer(start: p, count: shape.reduce(1, *))), shape)
        }
        func flops(_ conv: Conv2D, _ scale: Int) -> Double {
            LayerProfile.convolutionFlops(pixels: hp / scale * (wp / scale), inChannels: conv.inChannels,
                                          outChannels: conv.outChannels, kernel: conv.kernelSize)
        }
        func label(_ name: String, _ conv: Conv2D, _ scale: Int) -> String {
            "\(name) \(conv.kernelSize)x\(conv.kernelSize) \(conv.inChannels)->\(conv.outChannels) \(wp / scale)x\(hp / scale)"
        }

        profile.measure("pad") {
            image.withUnsafeBufferPointer { src in
                let padded = ws.padded.base
                for y in 0..<hp {
                    let sy = min(max(y - top, 0), height - 1)
                    for x in 0..<wp {
                        let sx = min(max(x - left, 0), width - 1), from = src.baseAddress! + (sy * width + sx) * channels
                        let to = padded + (y * wp + x) * 3
                        if channels == 3 { to[0] = from[0]; to[1] = from[1]; to[2] = from[2] } else { to[0] = from[0]; to[1] = from[0]; to[2] = from[0] }
                    }
                }
            }
        }

        // Level 1, band by band.
        let levelOneFlops = flops(block1.0, 1) + flops(block1.1.conv, 1) + flops(aggregation[0], 1) + flops(scoreProjection[0], 1)
        profile.measure("level 1: block1 3x3 3->\(d.c1), 3x3 \(d.c1)->\(d.c1), pool, conv1 1x1 \(d.c1)->\(q), "
                        + "score_head.0 share \(q)->8, \(wp)x\(hp)", flops: levelOneFlops) {
            levelOne(ws: ws, hp: hp, wp: wp)
        }
        traced("block1", ws.x1.base, [hp, wp, d.c1])

        // Levels 2-4 on whole maps.
        let (h2, w2) = (hp / 2, wp / 2), (h3, w3) = (hp / 8, wp / 8), (h4, w4) = (hp / 32, wp / 32)
        let block2Flops = flops(block2.conv1.conv, 2) + flops(block2.conv2.conv, 2) + flops(block2.downsample, 2)
        profile.measure("block2 (3x3 \(d.c1)->\(d.c2), 3x3 \(d.c2)->\(d.c2), 1x1) \(w2)x\(h2)", flops: block2Flops) {
            block2.apply(ws.levelInput.base, height: h2, width: w2, into: ws.x2.base, temp: ws.temp.base, scratch: ws.scratches)
        }
        traced("block2", ws.x2.base, [h2, w2, d.c2])
        profile.measure("pool 4x4 (1)") { averagePool(ws.x2.base, height: h2, width: w2, channels: d.c2, k: 4, into: ws.levelInput.base) }
        block3.apply(ws.levelInput.base, height: h3, width: w3, into: ws.x3.base, temp: ws.temp.base, offsets: ws.offsets.base,
                     scratch: ws.scratches, trace: trace, name: "block3", profile: profile)
        traced("block3", ws.x3.base, [h3, w3, d.c3])
        profile.measure("pool 4x4 (2)") { averagePool(ws.x3.base, height: h3, width: w3, channels: d.c3, k: 4, into: ws.levelInput.base) }
        block4.apply(ws.levelInput.base, height: h4, width: w4, into: ws.x4.base, temp: ws.temp.base, offsets: ws.offsets.base,
                     scratch: ws.scratches, trace: trace, name: "block4", profile: profile)
        traced("block4", ws.x4.base, [h4, w4, d.c4])

        // Aggregation of levels 2-4: a_i = SELU(conv_i(x_i)), and score_head.0's share of each.
        for (i, (map, scale)) in [(ws.x2.base, 2), (ws.x3.base, 8), (ws.x4.base, 32)].enumerated() {
            let (lh, lw) = (hp / scale, wp / scale), level = i + 1
            profile.measure(label("conv\(level + 1) + score_head.0 share", aggregation[level], scale),
                            flops: flops(aggregation[level], scale) + flops(scoreProjection[level], scale)) {
                convolve(aggregation[level], map, height: lh, width: lw, into: ws.aggregated[i].base, scratch: ws.scratches,
                         activation: .selu)
                convolve(scoreProjection[level], ws.aggregated[i].base, height: lh, width: lw, into: ws.projected[i].base,
                         scratch: ws.scratches)
            }
        }
        let features = AggregatedFeatures(x1: ws.x1.base, levels: ws.aggregated.map { UnsafePointer($0.base) }, conv1: aggregation[0],
                                          height: hp, width: wp, quarter: q)
        if let trace { traceAggregation(features, ws: ws, top: top, left: left, height: height, width: width, trace: trace) }

        // Score head on the padded map. Its first layer is a 1x1 conv of x1234 = [a1, up(a2), up(a3),
        // up(a4)]; both are linear, so it is the sum of each level's share of the weights applied
        // at the level's own resolution, then upsampled: 8 channels upsampled instead of dim/4.
        profile.measure("score_head.0 levels 2-4 upsampled + SELU \(wp)x\(hp)") {
            addUpsampledScoreShares(ws: ws, hp: hp, wp: wp)
        }
        profile.measure(label("score_head.2", scoreHead.0, 1), flops: flops(scoreHead.0, 1)) {
            convolve(scoreHead.0, ws.score.base, height: hp, width: wp, into: ws.temp.base, scratch: ws.scratches, activation: .selu)
        }
        profile.measure(label("score_head.4", scoreHead.1, 1), flops: flops(scoreHead.1, 1)) {
            convolve(scoreHead.1, ws.temp.base, height: hp, width: wp, into: ws.score.base, scratch: ws.scratches, activation: .selu)
        }
        let logits = ws.temp.base
        profile.measure(label("score_head.6", scoreHead.2, 1), flops: flops(scoreHead.2, 1)) {
            convolve(scoreHead.2, ws.score.base, height: hp, width: wp, into: logits, scratch: ws.scratches)
        }
        traced("score_logits", logits, [hp, wp, 1])
        let scoreMap = ws.scoreMap.base
        profile.measure("sigmoid + crop") {
            RowParallel.forEach(rows: height, minRowsPerWorker: 32) { rows in
                for y in rows {
                    let src = logits + (y + top) * wp + left, dst = scoreMap + y * width
                    for x in 0..<width { dst[x] = 1 / (1 + Foundation.exp(-src[x])) }
                }
            }
        }
        traced("score_map", scoreMap, [height, width, 1])

        let (normalised, keypointScores) = profile.measure("DKD") {
            detectKeypoints(scoreMap, height: height, width: width, ws: ws, trace: trace)
        }
        trace?("dkd_keypoints", normalised, [normalised.count / 2, 2])
        trace?("dkd_scores", keypointScores, [keypointScores.count])
        let descriptors = profile.measure("SDDH") {
            descriptorHead.describe(normalised, features: features, top: top, left: left, height: height, width: width,
                                    ws: ws, trace: trace)
        }
        // ALIKED.forward: back to pixels of the network input, wh * (k + 1) / 2.
        var keypoints = normalised
        let wh = [Float(width - 1), Float(height - 1)]
        for i in keypoints.indices { keypoints[i] = wh[i % 2] * (normalised[i] + 1) / 2 }
        return Features(keypoints: keypoints, scores: keypointScores, descriptors: descriptors, descriptorDim: d.dim,
                        imageWidth: width, imageHeight: height)
    }

    /// block1 (conv-SELU twice), its 2x2 average pooling (block2's input), conv1 + SELU and
    /// score_head.0's share of level 1, over bands of rows spread over the workers: each band
    /// computes block1.conv1 for its rows and the halo rows conv2 reads.
    func levelOne(ws: ALIKEDWorkspace, hp: Int, wp: Int) {
        let c1 = dims.c1, q = dims.dim / 4, rows = Self.bandRows
        let padded = MapRows(base: ws.padded.base, firstRow: 0, validRows: 0..<hp)
        let x1 = ws.x1.base, pooled = ws.levelInput.base, score = ws.score.base
        Parallel.forEachChunk(hp / rows) { band, worker in
            Parallel.serially {
                let scratch = ws.workers[worker]
                let y0 = band * rows, bandRows = y0..<(y0 + rows)
                let halo = max(y0 - 1, 0)..<min(y0 + rows + 1, hp)
                let first = scratch.map.reserve(halo.count * wp * c1)
                convolve(block1.0, input: padded, width: wp, rows: halo, into: first, activation: .selu, scratch: [scratch.scratch])
                let out = x1 + y0 * wp * c1
                block1.1.apply(input: MapRows(base: first, firstRow: halo.lowerBound, validRows: halo), width: wp, rows: bandRows,
                               output: out, activation: .selu, scratch: [scratch.scratch])
                averagePool(out, height: rows, width: wp, channels: c1, k: 2, into: pooled + (y0 / 2) * (wp / 2) * c1)
                let a1 = scratch.rows.reserve(rows * wp * q)
                aggregation[0].apply(input: MapRows(base: x1, firstRow: 0, validRows: 0..<hp), width: wp, rows: bandRows,
                                     output: a1, activation: .selu, scratch: nil)
                scoreProjection[0].apply(input: MapRows(base: a1, firstRow: y0, validRows: bandRows), width: wp, rows: bandRows,
                                         output: score + y0 * wp * 8, activation: .none, scratch: nil)
            }
        }
    }

    /// score_head.0's input: level 1's share (already in `ws.score`) plus the upsampled shares of
    /// levels 2, 3 and 4, in that order, then SELU; in place.
    func addUpsampledScoreShares(ws: ALIKEDWorkspace, hp: Int, wp: Int) {
        let upsamplers = [2, 8, 32].map {
            AlignedUpsampler(inHeight: hp / $0, inWidth: wp / $0, outHeight: hp, outWidth: wp, channels: 8)
        }
        let (u2, u3, u4) = (upsamplers[0], upsamplers[1], upsamplers[2]), score = ws.score.base
        let (s2, s3, s4) = (UnsafePointer(ws.projected[0].base), UnsafePointer(ws.projected[1].base), UnsafePointer(ws.projected[2].base))
        RowParallel.forEach(rows: hp, minRowsPerWorker: 16) { rows in
            for y in rows {
                let row = score + y * wp * 8
                for x in 0..<wp {
                    let sum = ((loadFloatVector(row + x * 8) + u2.sample8(s2, y: y, x: x)) + u3.sample8(s3, y: y, x: x))
                        + u4.sample8(s4, y: y, x: x)
                    storeFloatVector(sum, row + x * 8)
                }
                seluSerial(row, count: wp * 8)
            }
        }
    }

    /// The trace of the aggregated levels and of x1234 / the feature map (parity tests only).
    func traceAggregation(_ features: AggregatedFeatures, ws: ALIKEDWorkspace, top: Int, left: Int, height: Int, width: Int,
                          trace: Trace) {
        let hp = features.height, wp = features.width, q = features.quarter, dim = 4 * q
        var a1 = [Float](repeating: 0, count: hp * wp * q)
        a1.withUnsafeMutableBufferPointer {
            convolve(aggregation[0], ws.x1.base, height: hp, width: wp, into: $0.baseAddress!, scratch: ws.scratches, activation: .selu)
        }
        trace("x1", a1, [hp, wp, q])
        for (i, scale) in [2, 8, 32].enumerated() {
            trace("x\(i + 2)", Array(UnsafeBufferPointer(start: ws.aggregated[i].base, count: hp / scale * (wp / scale) * q)),
                  [hp / scale, wp / scale, q])
        }
        var x1234 = [Float](repeating: 0, count: hp * wp * dim)
        var featureMap = [Float](repeating: 0, count: height * width * dim)
        var inside = [Int](repeating: 0, count: height * width)
        for y in 0..<height { for x in 0..<width { inside[y * width + x] = (y + top) * wp + x + left } }
        x1234.withUnsafeMutableBufferPointer { out in
            for p in 0..<(hp * wp) { features.concatenated(pixel: p, a1: a1, into: out.baseAddress! + p * dim) }
        }
        featureMap.withUnsafeMutableBufferPointer { out in
            inside.withUnsafeBufferPointer { features.gather($0.baseAddress!, count: height * width, into: out.baseAddress!, ws: ws) }
        }
        trace("x1234", x1234, [hp, wp, dim])
        trace("feature_map", featureMap, [height, width, dim])
    }

    // MARK: DKD

    /// Keypoints in [-1, 1] (x / (W - 1) * 2 - 1) and their bilinear scores.
    func detectKeypoints(_ scores: UnsafePointer<Float>, height: Int, width: Int, ws: ALIKEDWorkspace, trace: Trace?)
        -> ([Float], [Float]) {
        let r = config.nmsRadius, n = height * width
        let nms = ws.nms[0].base
        nms.update(from: scores, count: n)
        simpleNMS(nms, height: height, width: width, radius: r, keep: ws.nms[1].base, pooled: ws.nms[2].base,
                  temp: ws.nms[3].base, masked: ws.nms[4].base, maskedMax: ws.nms[5].base)
        if let trace { trace("nms", Array(UnsafeBufferPointer(start: nms, count: n)), [height, width, 1]) }
        for y in 0..<height {
            if y < r || y >= height - r {
                (nms + y * width).update(repeating: 0, count: width)
                continue
            }
            for x in 0..<min(r, width) { nms[y * width + x] = 0 }
            for x in max(width - r, 0)..<width { nms[y * width + x] = 0 }
        }

        let threshold = config.detectionThreshold
        let topK = threshold > 0 ? -1 : config.maxKeypoints
        let limit = config.maxKeypoints > 0 ? config.maxKeypoints : ALIKEDConfig.keypointLimit
        var indices: [Int]
        if topK > 0 {
            // torch.topk over the border-cleared NMS map: largest first (ties in index order here,
            // so the zeros that fill a short list come in index order).
            var positive = (0..<n).filter { nms[$0] > 0 }
            positive.sort { nms[$0] != nms[$1] ? nms[$0] > nms[$1] : $0 < $1 }
            indices = Array(positive.prefix(topK))
            var p = 0
            while indices.count < min(topK, n) {
                if !(nms[p] > 0) { indices.append(p) }
                p += 1
            }
        } else {
            var th = threshold
            var candidates = threshold > 0 ? (0..<n).filter { nms[$0] > th } : []
            if candidates.isEmpty {
                // No pixel above the threshold (or threshold mode off): the mean score instead.
                var sum = 0.0
                for i in 0..<n { sum += Double(scores[i]) }
                th = Float(sum / Double(max(n, 1)))
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
            // grid_sample(align_corners=True): pixel = (n + 1) / 2 * (size - 1).
            var value: Float = 0
            bilinearZeros(scores, height: height, width: width, channels: 1, x: (nx + 1) / 2 * wh.0, y: (ny + 1) / 2 * wh.1,
                          into: &value)
            keypointScores[i] = value
        }
        return (normalised, keypointScores)
    }
}

/// Bilinear sample at pixel (x, y), neighbours outside the map counting 0 (torch's CPU
/// grid_sampler weights and term order).
@inline(__always)
func bilinearZeros(_ map: UnsafePointer<Float>, height: Int, width: Int, channels: Int, x: Float, y: Float,
                   into dst: UnsafeMutablePointer<Float>) {
    let (pixels, weights) = bilinearCorners(x: x, y: y, height: height, width: width)
    func at(_ index: Int) -> UnsafePointer<Float>? { index >= 0 ? map + index * channels : nil }
    let a = at(pixels.0), b = at(pixels.1), c = at(pixels.2), d = at(pixels.3)
    for k in 0..<channels {
        dst[k] = (a?[k] ?? 0) * weights.0 + (b?[k] ?? 0) * weights.1 + (c?[k] ?? 0) * weights.2 + (d?[k] ?? 0) * weights.3
    }
}

/// The four neighbours of pixel (x, y) of a `height x width` map as flat indices (-1 outside the
/// map), north-west, north-east, south-west, south-east, with torch's grid_sampler weights.
@inline(__always)
func bilinearCorners(x: Float, y: Float, height: Int, width: Int) -> ((Int, Int, Int, Int), (Float, Float, Float, Float)) {
    let xw = x.rounded(.down), yn = y.rounded(.down)
    let e = xw + 1 - x, w = x - xw, s = yn + 1 - y, n = y - yn
    let x0 = Int(xw), y0 = Int(yn)
    func index(_ yy: Int, _ xx: Int) -> Int { yy >= 0 && yy < height && xx >= 0 && xx < width ? yy * width + xx : -1 }
    return ((index(y0, x0), index(y0, x0 + 1), index(y0 + 1, x0), index(y0 + 1, x0 + 1)), (s * e, s * w, n * e, n * w))
}

/// The aggregated feature x1234 of the padded image at chosen pixels: level 1 recomputed from
/// block1's output (SELU(conv1(x1)), a GEMM over the pixels asked for), levels 2-4 upsampled
/// with align_corners from their stored maps.
struct AggregatedFeatures {
    let x1: UnsafePointer<Float>  // [height * width, c1]
    let levels: [UnsafePointer<Float>]  // a2, a3, a4: [height / s * width / s, quarter] for s = 2, 8, 32
    let conv1: Conv2D  // 1x1, c1 -> quarter
    let height: Int, width: Int, quarter: Int
    let upsamplers: [AlignedUpsampler]

    init(x1: UnsafePointer<Float>, levels: [UnsafePointer<Float>], conv1: Conv2D, height: Int, width: Int, quarter: Int) {
        self.x1 = x1
        self.levels = levels
        self.conv1 = conv1
        self.height = height
        self.width = width
        self.quarter = quarter
        upsamplers = [2, 8, 32].map {
            AlignedUpsampler(inHeight: height / $0, inWidth: width / $0, outHeight: height, outWidth: width, channels: quarter)
        }
    }

    var dim: Int { 4 * quarter }

    /// x1234 at padded pixel `pixel` given level 1 `a1` (the full map; traces only).
    func concatenated(pixel: Int, a1: [Float], into dst: UnsafeMutablePointer<Float>) {
        a1.withUnsafeBufferPointer { dst.update(from: $0.baseAddress! + pixel * quarter, count: quarter) }
        for i in 0..<3 { upsamplers[i].sample(levels[i], y: pixel / width, x: pixel % width, into: dst + (i + 1) * quarter) }
    }

    /// The L2-normalised x1234 at padded pixels `pixels[i]` (flat indices; -1 gives a row of
    /// zeros) into rows of `dim` floats at `out`, in chunks spread over the workers.
    func gather(_ pixels: UnsafePointer<Int>, count: Int, into out: UnsafeMutablePointer<Float>, ws: ALIKEDWorkspace) {
        let chunk = 2048, chunks = (count + chunk - 1) / chunk
        Parallel.forEachChunk(chunks) { c, worker in
            let range = (c * chunk)..<min(count, (c + 1) * chunk)
            gatherSerially(pixels + range.lowerBound, count: range.count, into: out + range.lowerBound * dim,
                           scratch: ws.workers[worker].gather.reserve(range.count * conv1.inChannels))
        }
    }

    /// ``gather(_:count:into:ws:)`` on the calling thread; `scratch` holds `count * c1` floats.
    func gatherSerially(_ pixels: UnsafePointer<Int>, count: Int, into out: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        let c1 = conv1.inChannels, dim = self.dim, quarter = self.quarter, width = self.width
        let (u2, u3, u4) = (upsamplers[0], upsamplers[1], upsamplers[2]), (a2, a3, a4) = (levels[0], levels[1], levels[2])
        for i in 0..<count {
            if pixels[i] >= 0 {
                (scratch + i * c1).update(from: x1 + pixels[i] * c1, count: c1)
            } else {
                (scratch + i * c1).update(repeating: 0, count: c1)
            }
        }
        conv1.gemmWeights.withUnsafeBufferPointer { w in
            sgemm(m: count, n: quarter, k: c1, a: scratch, lda: c1, b: w.baseAddress!, ldb: quarter, c: out, ldc: dim)
        }
        for i in 0..<count {
            let row = out + i * dim
            guard pixels[i] >= 0 else {
                row.update(repeating: 0, count: dim)
                continue
            }
            seluSerial(row, count: quarter)
            let y = pixels[i] / width, x = pixels[i] % width
            u2.sample(a2, y: y, x: x, into: row + quarter)
            u3.sample(a3, y: y, x: x, into: row + 2 * quarter)
            u4.sample(a4, y: y, x: x, into: row + 3 * quarter)
            normaliseRow(row, count: dim)
        }
    }
}

// MARK: - SDDH

/// The sparse deformable descriptor head.
struct SDDH: Sendable {
    let dim: Int, patch: Int, samples: Int
    /// offset_conv.0 [2M, dim, K, K] rearranged to a [K * K * dim, 2M] GEMM operand (rows
    /// (a * K + b) * dim + c), matching patches gathered pixel by pixel.
    let offset0: [Float], offset0Bias: [Float]
    let offset2: [Float], offset2Bias: [Float]  // [2M, 2M], [2M]
    let sampledConv: [Float]  // sf_conv [dim, dim]
    let aggregation: [Float]  // agg_weights [M, dim, dim] = [M * dim, dim]

    /// Keypoints described per task (each worker's buffers hold one task).
    static let keypointsPerTask = 128

    init(_ scope: WeightStore.Scope, dims d: ALIKEDVariant.Dimensions) throws {
        dim = d.dim
        patch = d.patch
        samples = d.samples
        let m2 = 2 * samples, k = d.patch, dim = d.dim
        let oihw = try scope.tensor("offset_conv.0.weight", [m2, dim, k, k])
        var rearranged = [Float](repeating: 0, count: oihw.count)
        for o in 0..<m2 {
            for c in 0..<dim {
                for t in 0..<(k * k) { rearranged[(t * dim + c) * m2 + o] = oihw[(o * dim + c) * k * k + t] }
            }
        }
        offset0 = rearranged
        offset0Bias = try scope.tensor("offset_conv.0.bias", [m2])
        offset2 = try scope.tensor("offset_conv.2.weight", [m2, m2, 1, 1])
        offset2Bias = try scope.tensor("offset_conv.2.bias", [m2])
        sampledConv = try scope.tensor("sf_conv.weight", [dim, dim, 1, 1])
        aggregation = try scope.tensor("agg_weights", [samples, dim, dim])
    }

    /// Descriptors (`count x dim`, L2-normalised) for keypoints given in [-1, 1].
    func describe(_ keypoints: [Float], features: AggregatedFeatures, top: Int, left: Int, height: Int, width: Int,
                  ws: ALIKEDWorkspace, trace: ALIKED.Trace?) -> [Float] {
        let count = keypoints.count / 2
        guard count > 0 else { return [] }
        let m2 = 2 * samples
        var descriptors = [Float](repeating: 0, count: count * dim)
        var offsets = [Float](repeating: 0, count: count * m2)
        let tasks = (count + Self.keypointsPerTask - 1) / Self.keypointsPerTask
        keypoints.withUnsafeBufferPointer { kp in
            descriptors.withUnsafeMutableBufferPointer { out in
                offsets.withUnsafeMutableBufferPointer { off in
                    Parallel.forEachChunk(tasks) { task, worker in
                        let range = (task * Self.keypointsPerTask)..<min(count, (task + 1) * Self.keypointsPerTask)
                        Parallel.serially {
                            describe(kp.baseAddress! + 2 * range.lowerBound, count: range.count, features: features,
                                     top: top, left: left, height: height, width: width, buffers: ws.workers[worker],
                                     offsets: off.baseAddress! + range.lowerBound * m2, into: out.baseAddress! + range.lowerBound * dim)
                        }
                    }
                }
            }
        }
        if let trace {
            // [count, M, 2] as (x, y) like the reference's returned offsets.
            let m = samples
            var xy = [Float](repeating: 0, count: count * m2)
            for i in 0..<count { for s in 0..<m { xy[(i * m + s) * 2] = offsets[i * m2 + s]; xy[(i * m + s) * 2 + 1] = offsets[i * m2 + m + s] } }
            trace("sddh_offsets", xy, [count * m, 2])
        }
        return descriptors
    }

    /// The descriptors of `count` keypoints (normalised coordinates at `keypoints`) into `out`, their
    /// clamped offsets [count, 2M] into `offsets`, on the calling thread.
    func describe(_ keypoints: UnsafePointer<Float>, count: Int, features: AggregatedFeatures, top: Int, left: Int,
                  height: Int, width: Int, buffers: ALIKEDWorkerScratch, offsets: UnsafeMutablePointer<Float>,
                  into out: UnsafeMutablePointer<Float>) {
        let k = patch, m = samples, m2 = 2 * samples, taps = k * k
        let wh = (Float(width - 1), Float(height - 1))
        let limit = Float(Double(max(height, width)) / 4)
        let wp = features.width
        let pixels = buffers.pixels(count * m * 4), rows = buffers.rows.reserve(count * m * 4 * dim)
        let gatherScratch = buffers.gather.reserve(count * m * 4 * features.conv1.inChannels)

        // 1. The K x K patch around each keypoint (get_patches: corner = trunc(trunc(p) - K/2 + 1),
        // clamped to [0, size - 1 - K]), gathered pixel by pixel: rows [count, K * K * dim].
        var positions = [(Float, Float)](repeating: (0, 0), count: count)
        for i in 0..<count {
            let px = (keypoints[2 * i] / 2 + 0.5) * wh.0, py = (keypoints[2 * i + 1] / 2 + 0.5) * wh.1
            positions[i] = (px, py)
            let cx = Int(Float(Int(px)) - Float(k) / 2 + 1), cy = Int(Float(Int(py)) - Float(k) / 2 + 1)
            let x0 = min(max(cx, 0), width - 1 - k), y0 = min(max(cy, 0), height - 1 - k)
            for a in 0..<k { for b in 0..<k { pixels[i * taps + a * k + b] = (y0 + a + top) * wp + x0 + b + left } }
        }
        features.gatherSerially(pixels, count: count * taps, into: rows, scratch: gatherScratch)

        // 2. Offsets: conv K x K (a GEMM over the patches) -> SELU -> 1x1, clamped.
        let hidden = buffers.map.reserve(count * m2)
        offset0.withUnsafeBufferPointer { w in
            sgemm(m: count, n: m2, k: taps * dim, a: rows, lda: taps * dim, b: w.baseAddress!, ldb: m2, c: hidden, ldc: m2)
        }
        for i in 0..<count { for o in 0..<m2 { hidden[i * m2 + o] = selu(hidden[i * m2 + o] + offset0Bias[o]) } }
        offset2.withUnsafeBufferPointer { w in
            sgemm(transB: true, m: count, n: m2, k: m2, a: hidden, lda: m2, b: w.baseAddress!, ldb: m2, c: offsets, ldc: m2)
        }
        for i in 0..<count { for o in 0..<m2 { offsets[i * m2 + o] = min(max(offsets[i * m2 + o] + offset2Bias[o], -limit), limit) } }

        // 3. M bilinear samples of the normalised feature map per keypoint: the four corners of every
        // sample gathered (zero rows outside the cropped map), then blended: rows [count * M, dim].
        var weights = [(Float, Float, Float, Float)](repeating: (0, 0, 0, 0), count: count * m)
        for i in 0..<count {
            for s in 0..<m {
                let sx = positions[i].0 + offsets[i * m2 + s], sy = positions[i].1 + offsets[i * m2 + m + s]
                // Normalised as the reference does, then back to pixels by grid_sample.
                let nx = 2 * sx / wh.0 - 1, ny = 2 * sy / wh.1 - 1
                let (corners, w) = bilinearCorners(x: (nx + 1) / 2 * wh.0, y: (ny + 1) / 2 * wh.1, height: height, width: width)
                let j = i * m + s
                weights[j] = w
                for (c, corner) in [corners.0, corners.1, corners.2, corners.3].enumerated() {
                    pixels[j * 4 + c] = corner < 0 ? -1 : (corner / width + top) * wp + corner % width + left
                }
            }
        }
        features.gatherSerially(pixels, count: count * m * 4, into: rows, scratch: gatherScratch)
        let sampled = buffers.scratch.reserve(2 * count * m * dim), transformed = sampled + count * m * dim
        for j in 0..<(count * m) {
            let (w0, w1, w2, w3) = weights[j]
            let c = rows + j * 4 * dim, dst = sampled + j * dim
            for ch in 0..<dim { dst[ch] = c[ch] * w0 + c[dim + ch] * w1 + c[2 * dim + ch] * w2 + c[3 * dim + ch] * w3 }
        }

        // 4. SELU(sf_conv) per sample, then the aggregation GEMM [count, M * dim] x [M * dim, dim].
        sampledConv.withUnsafeBufferPointer { w in
            sgemm(transB: true, m: count * m, n: dim, k: dim, a: sampled, lda: dim, b: w.baseAddress!, ldb: dim, c: transformed, ldc: dim)
        }
        seluSerial(transformed, count: count * m * dim)
        aggregation.withUnsafeBufferPointer { w in
            sgemm(m: count, n: dim, k: m * dim, a: transformed, lda: m * dim, b: w.baseAddress!, ldb: dim, c: out, ldc: dim)
        }
        for i in 0..<count { normaliseRow(out + i * dim, count: dim) }
    }
}

/// F.normalize: `row / max(||row||, 1e-12)`, eight lanes at a time (`count` a multiple of 8).
@inline(__always)
func normaliseRow(_ row: UnsafeMutablePointer<Float>, count: Int) {
    var squares = SIMD8<Float>(repeating: 0)
    var k = 0
    while k < count {
        let v = loadFloatVector(row + k)
        squares += v * v
        k += 8
    }
    let norm = SIMD8<Float>(repeating: max(squares.sum().squareRoot(), 1e-12))
    k = 0
    while k < count {
        storeFloatVector(loadFloatVector(row + k) / norm, row + k)
        k += 8
    }
}

// MARK: - Workspace

/// One worker's buffers: a band of the full-resolution stage, or a task of SDDH.
final class ALIKEDWorkerScratch {
    let map = ScratchBuffer()  // block1.conv1 output of a band with halo rows; SDDH's offset hidden layer
    let rows = ScratchBuffer()  // conv1 output of a band; SDDH's gathered feature rows
    let scratch = ScratchBuffer()  // im2col / Winograd scratch; SDDH's samples and their transform
    let gather = ScratchBuffer()  // block1 pixels gathered for level 1's recomputation
    private var pixelStorage = UnsafeMutablePointer<Int>.allocate(capacity: 1), pixelCapacity = 1

    deinit { pixelStorage.deallocate() }

    /// At least `count` pixel indices (contents unspecified after growing).
    func pixels(_ count: Int) -> UnsafeMutablePointer<Int> {
        if count > pixelCapacity {
            pixelStorage.deallocate()
            pixelStorage = .allocate(capacity: count)
            pixelCapacity = count
        }
        return pixelStorage
    }
}

/// The memory of one ALIKED forward pass, kept between calls (sizes for an `hp x wp` padded image).
///
/// The maps live in one arena. Maps whose lifetimes do not overlap share its last part: the padded
/// input (read by level 1 only), then the maps of levels 2-4 (x2, x3, x4, the offsets and score
/// shares, all dead once the score head has its input), then the score map and NMS buffers of DKD.
/// x1 and the aggregated levels stay to the end (SDDH samples them).
final class ALIKEDWorkspace {
    /// A map in the arena (`base` is valid after ``reserve(hp:wp:height:width:dims:)``).
    struct Map {
        fileprivate(set) var base: UnsafeMutablePointer<Float>
    }

    private let arena = ScratchBuffer()
    private(set) var x1: Map  // [hp * wp, c1]: block1's output
    private(set) var aggregated: [Map]  // a2, a3, a4: [level pixels, dim / 4]
    private(set) var score: Map  // [hp * wp, 8]: score_head.0's output; then score_head.4's
    private(set) var temp: Map  // [hp * wp, 4] or [hp/2 * wp/2, c2]: a block's intermediate; score_head.2's output, the logits
    private(set) var levelInput: Map  // [hp/2 * wp/2, c1] at most: the pooled input of blocks 2, 3, 4
    // Shared part, first use: level 1's input.
    private(set) var padded: Map  // [hp * wp, 3]
    // Shared part, second use: levels 2-4.
    private(set) var x2: Map, x3: Map, x4: Map  // blocks 2-4: c2, c3, c4 channels
    private(set) var offsets: Map  // [hp/8 * wp/8, 18]: a deformable layer's offsets
    private(set) var projected: [Map]  // score_head.0's share of levels 2-4: [level pixels, 8]
    // Shared part, third use: DKD.
    private(set) var scoreMap: Map  // [h * w]: the cropped score map
    private(set) var nms: [Map]  // [h * w] each: the NMS map and its work buffers

    init() {
        // Every map starts at the (one-float) arena until the first reserve lays them out.
        let start = Map(base: arena.base)
        (x1, score, temp, levelInput, padded, x2, x3, x4, offsets, scoreMap) = (start, start, start, start, start, start, start, start, start, start)
        aggregated = [start, start, start]
        projected = [start, start, start]
        nms = [Map](repeating: start, count: 6)
    }

    let workers = (0..<Parallel.workers).map { _ in ALIKEDWorkerScratch() }
    /// The workers' im2col / Winograd scratch, for whole-map layers run in bands.
    var scratches: [ScratchBuffer] { workers.map(\.scratch) }

    /// Lays the maps out for an `hp x wp` padded image cropped to `height x width`.
    func reserve(hp: Int, wp: Int, height: Int, width: Int, dims d: ALIKEDVariant.Dimensions) {
        let pixels = hp * wp, q = d.dim / 4, levels = [2, 8, 32].map { pixels / ($0 * $0) }
        // Sizes in floats, in arena order; each group's maps follow one another.
        let lasting = [pixels * d.c1] + levels.map { $0 * q }
            + [pixels * 8, max(pixels * 4, levels[0] * d.c2, levels[1] * d.c3, levels[2] * d.c4), levels[0] * d.c1]
        let levelMaps = [levels[0] * d.c2, levels[1] * d.c3, levels[2] * d.c4, levels[1] * 18] + levels.map { $0 * 8 }
        let detection = [Int](repeating: height * width, count: 7)
        let shared = max(pixels * 3, levelMaps.reduce(0, +), detection.reduce(0, +))
        let base = arena.reserve(lasting.reduce(0, +) + shared)
        func layout(_ sizes: [Int], from start: UnsafeMutablePointer<Float>) -> [Map] {
            var next = start
            return sizes.map { size in defer { next += size }; return Map(base: next) }
        }
        let first = layout(lasting, from: base)
        x1 = first[0]
        aggregated = Array(first[1...3])
        (score, temp, levelInput) = (first[4], first[5], first[6])
        let sharedBase = base + lasting.reduce(0, +)
        padded = Map(base: sharedBase)
        let level = layout(levelMaps, from: sharedBase)
        (x2, x3, x4, offsets) = (level[0], level[1], level[2], level[3])
        projected = Array(level[4...6])
        let dkd = layout(detection, from: sharedBase)
        scoreMap = dkd[0]
        nms = Array(dkd[1...])
    }
}

// MARK: - Map helpers (NHWC)

/// A stride-1 "same" convolution of a whole `height x width x inChannels` map into `output`;
/// see ``convolve(_:input:width:rows:into:activation:scratch:)``.
func convolve(_ conv: Conv2D, _ x: UnsafePointer<Float>, height: Int, width: Int, into output: UnsafeMutablePointer<Float>,
              scratch: [ScratchBuffer], activation: ConvActivation = .none) {
    convolve(conv, input: MapRows(base: x, firstRow: 0, validRows: 0..<height), width: width, rows: 0..<height, into: output,
             activation: activation, scratch: scratch)
}

/// Output rows `rows` of a stride-1 "same" convolution into `output`. A 1x1 kernel is one GEMM
/// (split over the workers); a larger one runs in bands of rows whose im2col matrix stays in a
/// core's L2 cache (about 1 MB: with thin layers, OpenBLAS ran several times slower on bands
/// of 16K pixels than on 3K), one band at a time per worker, with `scratch[worker]`.
func convolve(_ conv: Conv2D, input: MapRows, width: Int, rows: Range<Int>, into output: UnsafeMutablePointer<Float>,
              activation: ConvActivation, scratch: [ScratchBuffer]) {
    guard !rows.isEmpty, width > 0 else { return }
    if conv.kernelSize == 1 {
        return conv.apply(input: input, width: width, rows: rows, output: output, activation: activation, scratch: nil)
    }
    let bandRows = max(1, min(rows.count, (1 << 18) / max(conv.patchSize, 1) / width))
    let bands = (rows.count + bandRows - 1) / bandRows
    Parallel.forEachChunk(bands) { band, worker in
        let first = rows.lowerBound + band * bandRows, part = first..<min(first + bandRows, rows.upperBound)
        let buffer = scratch[worker].reserve(conv.scratchCount(bandPixels: bandRows * width))
        Parallel.serially {
            conv.apply(input: input, width: width, rows: part, output: output + (first - rows.lowerBound) * width * conv.outChannels,
                       activation: activation, scratch: buffer)
        }
    }
}

/// torch.selu: `scale * x` above 0, `scale * alpha * (exp(x) - 1)` below.
@inline(__always)
func selu(_ x: Float) -> Float {
    let scale: Float = 1.0507009873554804934193349852946, alpha: Float = 1.6732632423543772848170429916717
    return x > 0 ? x * scale : Foundation.expm1(x) * (alpha * scale)
}

/// k x k average pooling with stride k (sizes divide exactly) into `out`
/// (`height / k * width / k * channels`).
func averagePool(_ x: UnsafePointer<Float>, height: Int, width: Int, channels: Int, k: Int, into out: UnsafeMutablePointer<Float>) {
    let oh = height / k, ow = width / k
    let inv = 1 / Float(k * k)
    RowParallel.forEach(rows: oh, minRowsPerWorker: 8) { rows in
        for y in rows {
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
}

/// Bilinear upsampling with align_corners=True, evaluated at one output pixel: torch's index and
/// weight rule (source = dst * (in - 1) / (out - 1)) and its order of operations (each source row
/// blended along x first, then the two rows along y). A class holding its tables in manually
/// allocated memory, so the per-pixel calls of the hot loops touch no reference counts.
final class AlignedUpsampler {
    let inHeight: Int, inWidth: Int, channels: Int
    /// Per output row: y0, y1, weight of y0, weight of y1; then the same per output column.
    private let rowIndex: UnsafeMutablePointer<(Int, Int, Float, Float)>
    private let columnIndex: UnsafeMutablePointer<(Int, Int, Float, Float)>

    init(inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int, channels: Int) {
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.channels = channels
        func table(_ n: Int, _ out: Int) -> UnsafeMutablePointer<(Int, Int, Float, Float)> {
            let scale: Float = out > 1 ? Float(n - 1) / Float(out - 1) : 0
            let entries = UnsafeMutablePointer<(Int, Int, Float, Float)>.allocate(capacity: max(out, 1))
            for dst in 0..<out {
                let src = scale * Float(dst)
                let i0 = min(Int(src), n - 1)
                let l = min(max(src - Float(i0), 0), 1)
                entries[dst] = (i0, i0 < n - 1 ? i0 + 1 : i0, 1 - l, l)
            }
            return entries
        }
        rowIndex = table(inHeight, outHeight)
        columnIndex = table(inWidth, outWidth)
    }

    deinit {
        rowIndex.deallocate()
        columnIndex.deallocate()
    }

    /// Writes the `channels` values at output (y, x) to `dst`.
    @inline(__always)
    func sample(_ map: UnsafePointer<Float>, y: Int, x: Int, into dst: UnsafeMutablePointer<Float>) {
        let (y0, y1, hy0, hy1) = rowIndex[y], (x0, x1, wx0, wx1) = columnIndex[x]
        let a = map + (y0 * inWidth + x0) * channels, b = map + (y0 * inWidth + x1) * channels
        let c = map + (y1 * inWidth + x0) * channels, d = map + (y1 * inWidth + x1) * channels
        var k = 0
        while k + 8 <= channels {
            let v = (loadFloatVector(a + k) * wx0 + loadFloatVector(b + k) * wx1) * hy0
                + (loadFloatVector(c + k) * wx0 + loadFloatVector(d + k) * wx1) * hy1
            storeFloatVector(v, dst + k)
            k += 8
        }
        while k < channels {
            dst[k] = (a[k] * wx0 + b[k] * wx1) * hy0 + (c[k] * wx0 + d[k] * wx1) * hy1
            k += 1
        }
    }

    /// ``sample(_:y:x:into:)`` for a map of exactly 8 channels, as a vector.
    @inline(__always)
    func sample8(_ map: UnsafePointer<Float>, y: Int, x: Int) -> SIMD8<Float> {
        let (y0, y1, hy0, hy1) = rowIndex[y], (x0, x1, wx0, wx1) = columnIndex[x]
        let a = loadFloatVector(map + (y0 * inWidth + x0) * 8), b = loadFloatVector(map + (y0 * inWidth + x1) * 8)
        let c = loadFloatVector(map + (y1 * inWidth + x0) * 8), d = loadFloatVector(map + (y1 * inWidth + x1) * 8)
        return (a * wx0 + b * wx1) * hy0 + (c * wx0 + d * wx1) * hy1
    }
}

@inline(__always)
func loadFloatVector(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func storeFloatVector(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}
