// DISK's forward pass (DISK.swift has the layers): padding, U-Net, crop, strict NMS, selection
// and descriptors, following kornia 0.9.0 (spec section 3).
import Foundation
import Tensors

extension DISK {
    /// Receives intermediate maps for the parity tests: a name, NHWC values and their shape.
    typealias Trace = (String, [Float], [Int]) -> Void

    func run(image: [Float], width: Int, height: Int, channels: Int, trace: Trace?, profile: LayerProfile? = nil) throws -> Features {
        guard width >= 1, height >= 1, width <= 16384, height <= 16384 else {
            throw DISKError.invalidImage("\(width)x\(height) is not a usable image size")
        }
        guard channels == 1 || channels == 3 else { throw DISKError.invalidImage("\(channels) channels; 1 or 3 expected") }
        guard image.count == width * height * channels else {
            throw DISKError.invalidImage("\(image.count) values given for a \(width)x\(height)x\(channels) image")
        }
        // Zeros at the bottom and right up to a multiple of 16.
        let hp = (height + 15) / 16 * 16, wp = (width + 15) / 16 * 16
        if !config.padIfNotDivisible && (hp != height || wp != width) {
            throw DISKError.invalidImage("\(width)x\(height) is not a multiple of 16 and padding is off")
        }
        // The deepest level is hp/16 x wp/16; InstanceNorm over a single pixel is undefined (the
        // reference raises "Expected more than 1 spatial element").
        guard hp * wp > 16 * 16 else {
            throw DISKError.invalidImage("\(width)x\(height) is too small: DISK needs an image larger than 16x16 pixels")
        }
        return workspaces.withWorkspace { ws in
            let last = unet(image, width: width, height: height, channels: channels, hp: hp, wp: wp, ws: ws, trace: trace,
                            profile: profile)
            let pixels = height * width, cin = head.inChannels
            profile.measure("up3 heatmap: 5x5 \(cin)->1 as a [pixels, \(cin)] x [\(cin), 25] GEMM + 25 shifted sums, \(width)x\(height)",
                            flops: LayerProfile.convolutionFlops(pixels: pixels, inChannels: cin, outChannels: 1, kernel: 5)) {
                heatmap(last, hp: hp, wp: wp, height: height, width: width, ws: ws)
            }
            return select(last, width: width, height: height, hp: hp, wp: wp, ws: ws, trace: trace, profile: profile)
        }
    }

    /// The U-Net on the zero-padded `hp x wp` image up to the last unit's normalised input
    /// [hp * wp, 80] (in `ws.input`), which is returned; the last convolution is evaluated by
    /// ``heatmap(_:hp:wp:height:width:ws:)`` and ``select(_:width:height:hp:wp:ws:trace:profile:)``
    /// (and densely, into `ws.output`, only when traced).
    func unet(_ image: [Float], width: Int, height: Int, channels: Int, hp: Int, wp: Int, ws: DISKWorkspace,
              trace: Trace?, profile: LayerProfile?) -> UnsafeMutablePointer<Float> {
        func traced(_ name: String, _ p: UnsafePointer<Float>, _ shape: [Int]) {
            trace?(name, Array(UnsafeBufferPointer(start: p, count: shape.reduce(1, *))), shape)
        }
        let widest = max(Self.upChannels.map(\.0).max() ?? 0, 3)
        let input = ws.input.reserve(hp * wp * widest)
        let output = ws.output.reserve(trace == nil ? hp * wp / 4 * up[2].conv.outChannels : hp * wp * (Self.descriptorLength + 1))
        image.withUnsafeBufferPointer { source in
            let image = source.baseAddress!
            RowParallel.forEach(rows: hp, minRowsPerWorker: 32) { rows in
                for y in rows {
                    let row = input + y * wp * 3
                    guard y < height else {
                        row.update(repeating: 0, count: wp * 3)
                        continue
                    }
                    for x in 0..<width {
                        for c in 0..<3 { row[x * 3 + c] = image[(y * width + x) * channels + (channels == 3 ? c : 0)] }
                    }
                    (row + width * 3).update(repeating: 0, count: (wp - width) * 3)
                }
            }
        }
        // Down path: level i is hp >> i x wp >> i, kept in ws.levels[i] for the skip connections.
        for (i, unit) in down.enumerated() {
            let (h, w) = (hp >> i, wp >> i), cin = unit.conv.inChannels
            let level = ws.levels[i].reserve(h * w * unit.conv.outChannels)
            if i > 0 {
                profile.measure("down\(i) pool") {
                    averagePool(ws.levels[i - 1].base, height: h * 2, width: w * 2, channels: cin, k: 2, into: input)
                }
            }
            if i == 1, trace != nil {
                var normed = Array(UnsafeBufferPointer(start: input, count: h * w * cin))
                normed.withUnsafeMutableBufferPointer { instanceNormPReLU($0.baseAddress!, pixels: h * w, channels: cin, slopes: nil) }
                trace?("down1_norm", normed, [h, w, cin])
            }
            if unit.slopes != nil { profile.measure("down\(i) norm+prelu") { unit.normalise(input, pixels: h * w) } }
            if i == 1 { traced("down1_prelu", input, [h, w, cin]) }
            profile.measure(Self.convName("down\(i)", unit, h, w), flops: Self.convFlops(unit.conv, h, w)) {
                unit.convolve(input, height: h, width: w, into: level, scratch: ws.scratch)
            }
            traced("down\(i)", level, [h, w, unit.conv.outChannels])
        }
        // Up path: [bilinear x2 of the level below, skip] -> unit.
        let depth = down.count - 1
        for (j, unit) in up.enumerated() {
            let target = depth - j - 1
            let (h, w) = (hp >> target, wp >> target)
            let low: UnsafePointer<Float> = j == 0 ? UnsafePointer(ws.levels[depth].base) : UnsafePointer(output)
            let lowChannels = j == 0 ? down[depth].conv.outChannels : up[j - 1].conv.outChannels
            profile.measure("up\(j) upsample+concat") {
                upsampleConcat(low, channels: lowChannels, height: h / 2, width: w / 2,
                               skip: ws.levels[target].base, skipChannels: down[target].conv.outChannels, into: input)
            }
            profile.measure("up\(j) norm+prelu") { unit.normalise(input, pixels: h * w) }
            if j == up.count - 1 && trace == nil { break }
            profile.measure(Self.convName("up\(j)", unit, h, w), flops: Self.convFlops(unit.conv, h, w)) {
                unit.convolve(input, height: h, width: w, into: output, scratch: ws.scratch)
            }
            traced("up\(j)", output, [h, w, unit.conv.outChannels])
        }
        return input
    }

    /// The heatmap channel of the last convolution on the cropped `height x width` image (row
    /// stride `width`) into `ws.heat`, from its normalised input `x` [hp * wp, 80], in bands of
    /// rows spread over the workers (see ``OutputHead``).
    func heatmap(_ x: UnsafePointer<Float>, hp: Int, wp: Int, height: Int, width: Int, ws: DISKWorkspace) {
        let cin = head.inChannels, k = Self.kernel, pad = k / 2, taps = k * k
        let heat = ws.heat.reserve(height * width)
        // Bands of 32 rows: each computes the dot products of its rows and 2 halo rows on each side.
        let bandRows = 32, bands = (height + bandRows - 1) / bandRows
        head.tapWeights.withUnsafeBufferPointer { w in
            Parallel.forEachChunk(bands) { band, worker in
                let rows = (band * bandRows)..<min(height, (band + 1) * bandRows)
                let source = max(rows.lowerBound - pad, 0)..<min(rows.upperBound + pad, hp)
                // dots[p][t] = the input at pixel p of the source rows, dotted with tap t's weights
                // (pixel-major: OpenBLAS ran this shape at about 70 GFLOP/s, tap-major at 40).
                let dots = ws.scratch[worker].reserve(source.count * wp * taps)
                Parallel.serially {
                    sgemm(transB: true, m: source.count * wp, n: taps, k: cin, a: x + source.lowerBound * wp * cin, lda: cin,
                          b: w.baseAddress!, ldb: cin, c: dots, ldc: taps)
                }
                for y in rows {
                    let out = heat + y * width
                    out.update(repeating: head.heatBias, count: width)
                    for ky in 0..<k where source.contains(y + ky - pad) {
                        let sourceRow = dots + (y + ky - pad - source.lowerBound) * wp * taps
                        for kx in 0..<k {
                            // Tap (ky, kx) of output x reads source pixel x + kx - pad (zero outside the row).
                            let shift = kx - pad, tap = sourceRow + ky * k + kx
                            for xo in max(0, -shift)..<min(width, wp - shift) { out[xo] += tap[(xo + shift) * taps] }
                        }
                    }
                }
            }
        }
    }

    /// The descriptors (L2-normalised, row by row) of `keypoints` (flat pixel indices of the
    /// cropped image, row stride `width`): the last convolution's 128 descriptor channels at
    /// those pixels, from its normalised input `x` [hp * wp, 80].
    func describe(_ keypoints: [Int], _ x: UnsafePointer<Float>, hp: Int, wp: Int, width: Int, ws: DISKWorkspace) -> [Float] {
        let cin = head.inChannels, k = Self.kernel, pad = k / 2, dim = Self.descriptorLength, row = k * k * cin
        var descriptors = [Float](repeating: 0, count: keypoints.count * dim)
        guard !keypoints.isEmpty else { return descriptors }
        let patches = ws.patches.reserve(keypoints.count * row)
        for (i, p) in keypoints.enumerated() {
            let y = p / width, x0 = p % width
            for ky in 0..<k {
                let iy = y + ky - pad, dst = patches + i * row + ky * k * cin
                guard iy >= 0 && iy < hp else {
                    dst.update(repeating: 0, count: k * cin)
                    continue
                }
                for kx in 0..<k {
                    let ix = x0 + kx - pad
                    if ix >= 0 && ix < wp {
                        (dst + kx * cin).update(from: x + (iy * wp + ix) * cin, count: cin)
                    } else {
                        (dst + kx * cin).update(repeating: 0, count: cin)
                    }
                }
            }
        }
        descriptors.withUnsafeMutableBufferPointer { out in
            head.descriptorWeights.withUnsafeBufferPointer { w in
                head.descriptorBias.withUnsafeBufferPointer { b in
                    let bias = b.baseAddress!, result = out.baseAddress!
                    parallelSgemm(m: keypoints.count, n: dim, k: row, a: patches, lda: row, b: w.baseAddress!, ldb: dim,
                                  c: result, ldc: dim) { rows in
                        for i in rows {
                            let d = result + i * dim
                            for c in 0..<dim { d[c] += bias[c] }
                            var norm: Float = 0
                            for c in 0..<dim { norm += d[c] * d[c] }
                            let inverse = 1 / max(norm.squareRoot(), 1e-12)
                            for c in 0..<dim { d[c] *= inverse }
                        }
                    }
                }
            }
        }
        return descriptors
    }

    static func convName(_ name: String, _ unit: Unit, _ h: Int, _ w: Int) -> String {
        let conv = unit.conv
        return "\(name) conv 5x5 \(conv.inChannels)->\(conv.outChannels) \(w)x\(h)" + (unit.winograd == nil ? " im2col" : " winograd F4")
    }

    static func convFlops(_ conv: Conv2D, _ h: Int, _ w: Int) -> Double {
        LayerProfile.convolutionFlops(pixels: h * w, inChannels: conv.inChannels, outChannels: conv.outChannels,
                                      kernel: conv.kernelSize)
    }

    /// Strict NMS, threshold, top-n and descriptors, from the heatmap in `ws.heat` and the last
    /// convolution's normalised input `x` [hp * wp, 80].
    func select(_ x: UnsafePointer<Float>, width: Int, height: Int, hp: Int, wp: Int, ws: DISKWorkspace, trace: Trace?,
                profile: LayerProfile?) -> Features {
        let heatPointer = UnsafePointer(ws.heat.base)
        let heat = Array(UnsafeBufferPointer(start: heatPointer, count: height * width))
        if let trace {
            trace("heatmap", heat, [height, width, 1])
            // The dense output the U-Net computed for the trace: [hp * wp, 129] in ws.output.
            let outChannels = Self.descriptorLength + 1, total = ws.output.base
            var dense = [Float](repeating: 0, count: height * width * Self.descriptorLength)
            for y in 0..<height {
                for x in 0..<width {
                    let src = (y * wp + x) * outChannels, dst = (y * width + x) * Self.descriptorLength
                    for c in 0..<Self.descriptorLength { dense[dst + c] = total[src + c] }
                }
            }
            trace("descriptors_dense", dense, [height, width, Self.descriptorLength])
        }
        let selected = profile.measure("NMS + selection") { () -> [Int] in
            let maxima = strictMaxima(heat, height: height, width: width, window: config.nmsWindowSize)
            if let trace {
                var mask = [Float](repeating: 0, count: height * width)
                for p in maxima { mask[p] = 1 }
                trace("nms_mask", mask, [height, width, 1])
            }
            return topN(maxima.filter { heat[$0] > config.detectionThreshold }, scores: heat)
        }
        let dim = Self.descriptorLength, cin = head.inChannels
        let descriptors = profile.measure("descriptors: 5x5 \(cin)->\(dim) at \(selected.count) keypoints",
                                          flops: 2 * Double(selected.count * 25 * cin * dim)) {
            describe(selected, x, hp: hp, wp: wp, width: width, ws: ws)
        }
        var keypoints = [Float](), scores = [Float]()
        keypoints.reserveCapacity(selected.count * 2)
        scores.reserveCapacity(selected.count)
        for p in selected {
            keypoints += [Float(p % width), Float(p / width)]
            scores.append(heat[p])
        }
        return Features(keypoints: keypoints, scores: scores, descriptors: descriptors, descriptorDim: dim,
                        imageWidth: width, imageHeight: height)
    }

    /// Flat indices (raster order) of the pixels strictly greater than every other value of the
    /// `window x window` neighbourhood that lies wholly inside the map (kornia's heatmap NMS:
    /// pixels whose window crosses the border are never maxima; ties keep none).
    func strictMaxima(_ heat: [Float], height: Int, width: Int, window: Int) -> [Int] {
        let before = (window - 1) / 2, after = window / 2
        guard height > before + after, width > before + after else { return [] }
        // Rows in parts over the workers, each part's maxima in raster order, concatenated.
        let rows = before..<(height - after), parts = max(1, min(Parallel.concurrency * 4, rows.count / 16))
        var found = [[Int]](repeating: [], count: parts)
        heat.withUnsafeBufferPointer { h in
            found.withUnsafeMutableBufferPointer { out in
                let heat = h.baseAddress!, out = out.baseAddress!
                Parallel.forEachChunk(parts) { part, _ in
                    var maxima: [Int] = []
                    for y in Parallel.range(part, of: parts, count: rows.count).map({ $0 + rows.lowerBound }) {
                        for x in before..<(width - after) {
                            let v = heat[y * width + x]
                            var isMax = true
                            search: for yy in (y - before)...(y + after) {
                                for xx in (x - before)...(x + after) where (yy != y || xx != x) && heat[yy * width + xx] >= v {
                                    isMax = false
                                    break search
                                }
                            }
                            if isMax { maxima.append(y * width + x) }
                        }
                    }
                    (out + part).initialize(to: maxima)
                }
            }
        }
        return found.flatMap { $0 }
    }

    /// kornia 0.9.0's top-n: with more candidates than `maxKeypoints`, t is the n-th largest score;
    /// every score above t is kept, then scores equal to t in raster order until n; the kept
    /// keypoints stay in raster order.
    func topN(_ candidates: [Int], scores: [Float]) -> [Int] {
        let n = config.maxKeypoints
        guard n >= 0, candidates.count > n else { return candidates }
        guard n > 0 else { return [] }
        let sorted = candidates.map { scores[$0] }.sorted(by: >)
        let t = sorted[n - 1]
        var room = n - candidates.reduce(0) { $0 + (scores[$1] > t ? 1 : 0) }
        return candidates.filter { p in
            if scores[p] > t { return true }
            if scores[p] == t && room > 0 { room -= 1; return true }
            return false
        }
    }
}

/// Bilinear x2 upsampling (align_corners=False: source `(dst + 0.5) / 2 - 0.5`, clamped at 0) of
/// an NHWC `height x width x channels` map, concatenated per pixel with `skip` (2h x 2w x
/// skipChannels): the upsampled channels first.
func upsampleConcat(_ l: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
                    skip s: UnsafePointer<Float>, skipChannels: Int, into o: UnsafeMutablePointer<Float>) {
    let oh = height * 2, ow = width * 2, total = channels + skipChannels
    func table(_ n: Int, _ out: Int) -> [(Int, Int, Float, Float)] {
        (0..<out).map { dst in
            let src = max((Float(dst) + 0.5) * 0.5 - 0.5, 0)
            let i0 = Int(src), i1 = min(i0 + 1, n - 1)
            let l = src - Float(i0)
            return (i0, i1, 1 - l, l)
        }
    }
    let rows = table(height, oh), cols = table(width, ow)
    let parts = max(1, min(Parallel.concurrency * 4, oh))
    Parallel.forEachChunk(parts) { part, _ in
        for y in Parallel.range(part, of: parts, count: oh) {
            let (y0, y1, h0, h1) = rows[y]
            for x in 0..<ow {
                let (x0, x1, w0, w1) = cols[x]
                let a = l + (y0 * width + x0) * channels, b = l + (y0 * width + x1) * channels
                let c = l + (y1 * width + x0) * channels, d = l + (y1 * width + x1) * channels
                let dst = o + (y * ow + x) * total
                for k in 0..<channels { dst[k] = h0 * (w0 * a[k] + w1 * b[k]) + h1 * (w0 * c[k] + w1 * d[k]) }
                let from = s + (y * ow + x) * skipChannels
                for k in 0..<skipChannels { dst[channels + k] = from[k] }
            }
        }
    }
}
