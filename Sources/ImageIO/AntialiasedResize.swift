// LightGlue's ImagePreprocessor (lightglue/utils.py): kornia.geometry.transform.resize(image, n,
// side="long", antialias=True), then keypoints mapped back with (k + 0.5) / scale - 0.5.
// kornia 0.9.0 blurs with a Gaussian when downscaling (sigma = (factor - 1) / 2 per axis, kernel
// int(4 sigma) made odd, reflect borders, horizontal pass first) and resamples bilinearly with
// align_corners=False. The size rule truncates a float64 quotient: 125x55 to 100 gives 100x43.
import Foundation

/// kornia's antialiased resize to a longest side, on float images (values 8-bit / 255).
public enum AntialiasedResize {
    /// The output size kornia computes for `side="long"`: the longer side becomes `longSide`, the
    /// other `Int(longSide * w / h)` (portrait) or `Int(longSide / (w / h))` (otherwise), in
    /// Double and truncated. Nil when a side would be 0 (kornia then returns an empty image).
    public static func targetSize(width: Int, height: Int, longSide: Int) -> (width: Int, height: Int)? {
        guard width > 0, height > 0, longSide > 0 else { return nil }
        let aspect = Double(width) / Double(height)
        let size = aspect < 1 ? (width: Int(Double(longSide) * aspect), height: longSide)
                              : (width: longSide, height: Int(Double(longSide) / aspect))
        return size.width > 0 && size.height > 0 ? size : nil
    }

    /// The Gaussian blur kornia applies before downscaling from `input` to `output` samples on one
    /// axis pair: nil when neither axis shrinks; otherwise per axis (y, x) sigma and kernel size.
    public static func blurParameters(width: Int, height: Int, outWidth: Int, outHeight: Int)
        -> (sigmaY: Double, sigmaX: Double, kernelY: Int, kernelX: Int)? {
        let fy = Double(height) / Double(outHeight), fx = Double(width) / Double(outWidth)
        guard max(fy, fx) > 1 else { return nil }
        let sy = max((fy - 1) / 2, 0.001), sx = max((fx - 1) / 2, 0.001)
        func size(_ sigma: Double) -> Int {
            let k = Int(max(4 * sigma, 3))
            return k % 2 == 1 ? k : k + 1
        }
        return (sy, sx, height == 1 ? 1 : size(sy), width == 1 ? 1 : size(sx))
    }

    /// kornia's 1-D Gaussian taps in float32: exp(-t^2 / (2 sigma^2)) at t = i - k / 2, normalised.
    public static func gaussianKernel(size k: Int, sigma: Double) -> [Float] {
        let s = Float(sigma)
        let taps = (0..<k).map { i -> Float in
            let t = Float(i) - Float(k / 2)
            return Foundation.exp(-(t * t) / (2 * (s * s)))
        }
        let sum = taps.reduce(0, +)
        return taps.map { $0 / sum }
    }

    /// Resizes an interleaved `height x width x channels` image so its longer side is `longSide`.
    /// Returns the image and LightGlue's `scale` (w'/w, h'/h) in float32.
    public static func resize(_ pixels: [Float], width: Int, height: Int, channels: Int, longSide: Int) throws
        -> (pixels: [Float], width: Int, height: Int, scale: (x: Float, y: Float)) {
        guard pixels.count == width * height * channels, channels > 0 else {
            throw ImageLoadingError.invalidResize("\(pixels.count) values for a \(width)x\(height)x\(channels) image")
        }
        return try pixels.withUnsafeBufferPointer { source in
            try resize(width: width, height: height, channels: channels, longSide: longSide) { source[$0] }
        }
    }

    /// ``resize(_:width:height:channels:longSide:)`` of 8-bit pixels taken as `value / 255`, without
    /// a float copy of the whole image.
    public static func resize(bytes pixels: [UInt8], width: Int, height: Int, channels: Int, longSide: Int) throws
        -> (pixels: [Float], width: Int, height: Int, scale: (x: Float, y: Float)) {
        guard pixels.count == width * height * channels, channels > 0 else {
            throw ImageLoadingError.invalidResize("\(pixels.count) values for a \(width)x\(height)x\(channels) image")
        }
        return try pixels.withUnsafeBufferPointer { source in
            try resize(width: width, height: height, channels: channels, longSide: longSide) { Float(source[$0]) / 255 }
        }
    }

    /// The resize on values read through `value(index)` (index `(y * width + x) * channels + c`).
    ///
    /// kornia blurs the whole image, then samples 4 neighbours per output pixel. Only the blurred
    /// values at the sampled rows and columns are computed here, each with the same operations in
    /// the same order (so the same floats): the horizontal pass at the sampled columns of the rows
    /// in the vertical window, kept in a ring of rows, then the vertical pass at the sampled rows.
    /// Memory is a few rows of the output's width instead of two copies of the input in float.
    static func resize(width: Int, height: Int, channels: Int, longSide: Int, value: (Int) -> Float) throws
        -> (pixels: [Float], width: Int, height: Int, scale: (x: Float, y: Float)) {
        guard let size = targetSize(width: width, height: height, longSide: longSide) else {
            throw ImageLoadingError.invalidResize("\(width)x\(height) resized to a longest side of \(longSide) has an empty side")
        }
        let rows = bilinearTable(height, size.height), cols = bilinearTable(width, size.width)
        let blur = blurParameters(width: width, height: height, outWidth: size.width, outHeight: size.height)
        // A one-tap kernel leaves its axis as it is (no multiplication), as the full pass does.
        let tapsX = blur.map { gaussianKernel(size: $0.kernelX, sigma: $0.sigmaX) } ?? [1]
        let tapsY = blur.map { gaussianKernel(size: $0.kernelY, sigma: $0.sigmaY) } ?? [1]

        // The sampled source columns, in increasing order, and each output column's two slots.
        let sampledColumns = Array(Set(cols.flatMap { [$0.0, $0.1] })).sorted()
        var slotOfColumn = [Int](repeating: -1, count: width)
        for (slot, column) in sampledColumns.enumerated() { slotOfColumn[column] = slot }
        let rowLength = sampledColumns.count * channels

        // Horizontally blurred rows at the sampled columns, in a ring covering the vertical window.
        let ringSize = tapsY.count
        var ring = [Float](repeating: 0, count: ringSize * rowLength)
        var ringRow = [Int](repeating: -1, count: ringSize)
        let rx = tapsX.count / 2, ry = tapsY.count / 2
        func horizontal(_ y: Int) -> Int {
            let slot = y % ringSize
            if ringRow[slot] != y {
                ringRow[slot] = y
                let base = slot * rowLength
                for (i, column) in sampledColumns.enumerated() {
                    let dst = base + i * channels
                    if rx == 0 {
                        for c in 0..<channels { ring[dst + c] = value((y * width + column) * channels + c) }
                        continue
                    }
                    for (t, weight) in tapsX.enumerated() {
                        let src = (y * width + reflect(column + t - rx, width)) * channels
                        if t == 0 {
                            for c in 0..<channels { ring[dst + c] = value(src + c) * weight }
                        } else {
                            for c in 0..<channels { ring[dst + c] += value(src + c) * weight }
                        }
                    }
                }
            }
            return slot * rowLength
        }
        // Blurred rows at the sampled columns (the two the current output row reads).
        var blurred = [Float](repeating: 0, count: 2 * rowLength)
        var blurredRow = [-1, -1]
        var sources = [Int](repeating: 0, count: tapsY.count)  // ring offsets of the vertical taps
        func vertical(_ y: Int) -> Int {
            if blurredRow[0] == y { return 0 }
            if blurredRow[1] == y { return rowLength }
            // Replace the older of the two: rows are requested in increasing order.
            let slot = blurredRow[0] < blurredRow[1] ? 0 : 1
            blurredRow[slot] = y
            let dst = slot * rowLength
            if ry == 0 {
                let src = horizontal(y)
                for i in 0..<rowLength { blurred[dst + i] = ring[src + i] }
                return dst
            }
            // Fill the ring for the window in increasing row order, so no row needed later is evicted.
            for row in max(0, y - ry)...min(height - 1, y + ry) { _ = horizontal(row) }
            for t in 0..<tapsY.count { sources[t] = horizontal(reflect(y + t - ry, height)) }
            for i in 0..<rowLength {
                var sum = ring[sources[0] + i] * tapsY[0]
                for t in 1..<tapsY.count { sum += ring[sources[t] + i] * tapsY[t] }
                blurred[dst + i] = sum
            }
            return dst
        }

        var out = [Float](repeating: 0, count: size.width * size.height * channels)
        for (oy, (y0, y1, hy0, hy1)) in rows.enumerated() {
            let top = vertical(y0), bottom = vertical(y1)
            for (ox, (x0, x1, wx0, wx1)) in cols.enumerated() {
                let a = top + slotOfColumn[x0] * channels, b = top + slotOfColumn[x1] * channels
                let c = bottom + slotOfColumn[x0] * channels, d = bottom + slotOfColumn[x1] * channels
                let dst = (oy * size.width + ox) * channels
                for k in 0..<channels {
                    out[dst + k] = (blurred[a + k] * wx0 + blurred[b + k] * wx1) * hy0 + (blurred[c + k] * wx0 + blurred[d + k] * wx1) * hy1
                }
            }
        }
        let scale = (x: Float(Double(size.width) / Double(width)), y: Float(Double(size.height) / Double(height)))
        return (out, size.width, size.height, scale)
    }

    /// torch's bilinear source positions with align_corners=False, per output index: the two
    /// source indices and their weights; source = (dst + 0.5) * in / out - 0.5, clamped at 0.
    static func bilinearTable(_ n: Int, _ out: Int) -> [(Int, Int, Float, Float)] {
        let scale = Float(n) / Float(out)
        return (0..<out).map { dst in
            let src = max((Float(dst) + 0.5) * scale - 0.5, 0)
            let i0 = min(Int(src), n - 1)
            let l = min(max(src - Float(i0), 0), 1)
            return (i0, i0 < n - 1 ? i0 + 1 : i0, 1 - l, l)
        }
    }

    /// A keypoint coordinate of the resized image in pixels of the original: (k + 0.5) / scale - 0.5.
    @inline(__always)
    public static func originalCoordinate(_ k: Float, scale: Float) -> Float { (k + 0.5) / scale - 0.5 }

    /// Reflect (mirror without repeating the edge) index into 0..<n.
    @inline(__always)
    static func reflect(_ i: Int, _ n: Int) -> Int {
        guard n > 1 else { return 0 }
        var j = i
        while j < 0 || j >= n { j = j < 0 ? -j : 2 * (n - 1) - j }
        return j
    }
}
