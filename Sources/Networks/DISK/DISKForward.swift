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
            let total = unet(image, width: width, height: height, channels: channels, hp: hp, wp: wp, ws: ws, trace: trace,
                             profile: profile)
            return profile.measure("select") { select(total, width: width, height: height, wp: wp, trace: trace) }
        }
    }

    /// The U-Net on the zero-padded `hp x wp` image; returns the last unit's output
    /// [hp * wp, 129] (in `ws.output`).
    func unet(_ image: [Float], width: Int, height: Int, channels: Int, hp: Int, wp: Int, ws: DISKWorkspace,
              trace: Trace?, profile: LayerProfile?) -> UnsafeMutablePointer<Float> {
        func traced(_ name: String, _ p: UnsafePointer<Float>, _ shape: [Int]) {
            trace?(name, Array(UnsafeBufferPointer(start: p, count: shape.reduce(1, *))), shape)
        }
        let widest = max(Self.upChannels.map(\.0).max() ?? 0, 3)
        let input = ws.input.reserve(hp * wp * widest)
        let output = ws.output.reserve(hp * wp * (Self.descriptorLength + 1))
        input.update(repeating: 0, count: hp * wp * 3)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 { input[(y * wp + x) * 3 + c] = image[(y * width + x) * channels + (channels == 3 ? c : 0)] }
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
            profile.measure(Self.convName("up\(j)", unit, h, w), flops: Self.convFlops(unit.conv, h, w)) {
                unit.convolve(input, height: h, width: w, into: output, scratch: ws.scratch)
            }
            traced("up\(j)", output, [h, w, unit.conv.outChannels])
        }
        return output
    }

    static func convName(_ name: String, _ unit: Unit, _ h: Int, _ w: Int) -> String {
        let conv = unit.conv
        return "\(name) conv 5x5 \(conv.inChannels)->\(conv.outChannels) \(w)x\(h)" + (unit.winograd == nil ? " im2col" : " winograd F4")
    }

    static func convFlops(_ conv: Conv2D, _ h: Int, _ w: Int) -> Double {
        LayerProfile.convolutionFlops(pixels: h * w, inChannels: conv.inChannels, outChannels: conv.outChannels,
                                      kernel: conv.kernelSize)
    }

    /// Crop, strict NMS, threshold, top-n and descriptors from the U-Net output `total`
    /// [hp * wp, 129] (row stride `wp`).
    func select(_ total: UnsafeMutablePointer<Float>, width: Int, height: Int, wp: Int, trace: Trace?) -> Features {
        let outChannels = Self.descriptorLength + 1
        var heat = [Float](repeating: 0, count: height * width)
        for y in 0..<height { for x in 0..<width { heat[y * width + x] = total[(y * wp + x) * outChannels + Self.descriptorLength] } }
        if let trace {
            trace("heatmap", heat, [height, width, 1])
            var dense = [Float](repeating: 0, count: height * width * Self.descriptorLength)
            for y in 0..<height {
                for x in 0..<width {
                    let src = (y * wp + x) * outChannels, dst = (y * width + x) * Self.descriptorLength
                    for c in 0..<Self.descriptorLength { dense[dst + c] = total[src + c] }
                }
            }
            trace("descriptors_dense", dense, [height, width, Self.descriptorLength])
        }
        let maxima = strictMaxima(heat, height: height, width: width, window: config.nmsWindowSize)
        if let trace {
            var mask = [Float](repeating: 0, count: height * width)
            for p in maxima { mask[p] = 1 }
            trace("nms_mask", mask, [height, width, 1])
        }
        let selected = topN(maxima.filter { heat[$0] > config.detectionThreshold }, scores: heat)

        let dim = Self.descriptorLength
        var keypoints = [Float](), scores = [Float](), descriptors = [Float](repeating: 0, count: selected.count * dim)
        keypoints.reserveCapacity(selected.count * 2)
        scores.reserveCapacity(selected.count)
        for (k, p) in selected.enumerated() {
            let y = p / width, x = p % width
            keypoints += [Float(x), Float(y)]
            scores.append(heat[p])
            let src = (y * wp + x) * outChannels
            var norm: Float = 0
            for c in 0..<dim { norm += total[src + c] * total[src + c] }
            let inverse = 1 / max(norm.squareRoot(), 1e-12)
            for c in 0..<dim { descriptors[k * dim + c] = total[src + c] * inverse }
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
        var found: [Int] = []
        for y in before..<(height - after) {
            for x in before..<(width - after) {
                let v = heat[y * width + x]
                var isMax = true
                search: for yy in (y - before)...(y + after) {
                    for xx in (x - before)...(x + after) where (yy != y || xx != x) && heat[yy * width + xx] >= v {
                        isMax = false
                        break search
                    }
                }
                if isMax { found.append(y * width + x) }
            }
        }
        return found
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
