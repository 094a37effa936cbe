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
        guard let size = targetSize(width: width, height: height, longSide: longSide) else {
            throw ImageLoadingError.invalidResize("\(width)x\(height) resized to a longest side of \(longSide) has an empty side")
        }
        var source = pixels
        if let blur = blurParameters(width: width, height: height, outWidth: size.width, outHeight: size.height) {
            source = blurAxis(source, width: width, height: height, channels: channels,
                              taps: gaussianKernel(size: blur.kernelX, sigma: blur.sigmaX), horizontal: true)
            source = blurAxis(source, width: width, height: height, channels: channels,
                              taps: gaussianKernel(size: blur.kernelY, sigma: blur.sigmaY), horizontal: false)
        }
        let out = bilinear(source, width: width, height: height, channels: channels, outWidth: size.width, outHeight: size.height)
        let scale = (x: Float(Double(size.width) / Double(width)), y: Float(Double(size.height) / Double(height)))
        return (out, size.width, size.height, scale)
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

    /// One separable Gaussian pass, taps accumulated in order (kornia's large-image CPU path).
    static func blurAxis(_ x: [Float], width: Int, height: Int, channels: Int, taps: [Float], horizontal: Bool) -> [Float] {
        let r = taps.count / 2
        guard r > 0 else { return x }
        var out = [Float](repeating: 0, count: x.count)
        for y in 0..<height {
            for col in 0..<width {
                let dst = (y * width + col) * channels
                for (t, weight) in taps.enumerated() {
                    let src = horizontal ? (y * width + reflect(col + t - r, width)) * channels
                                         : (reflect(y + t - r, height) * width + col) * channels
                    if t == 0 {
                        for c in 0..<channels { out[dst + c] = x[src + c] * weight }
                    } else {
                        for c in 0..<channels { out[dst + c] += x[src + c] * weight }
                    }
                }
            }
        }
        return out
    }

    /// torch's bilinear interpolation with align_corners=False: source = (dst + 0.5) * in / out - 0.5,
    /// clamped at 0; each source row blended along x, then the two rows along y.
    static func bilinear(_ x: [Float], width: Int, height: Int, channels: Int, outWidth: Int, outHeight: Int) -> [Float] {
        func table(_ n: Int, _ out: Int) -> [(Int, Int, Float, Float)] {
            let scale = Float(n) / Float(out)
            return (0..<out).map { dst in
                let src = max((Float(dst) + 0.5) * scale - 0.5, 0)
                let i0 = min(Int(src), n - 1)
                let l = min(max(src - Float(i0), 0), 1)
                return (i0, i0 < n - 1 ? i0 + 1 : i0, 1 - l, l)
            }
        }
        let rows = table(height, outHeight), cols = table(width, outWidth)
        var out = [Float](repeating: 0, count: outWidth * outHeight * channels)
        for (oy, (y0, y1, hy0, hy1)) in rows.enumerated() {
            for (ox, (x0, x1, wx0, wx1)) in cols.enumerated() {
                let a = (y0 * width + x0) * channels, b = (y0 * width + x1) * channels
                let c = (y1 * width + x0) * channels, d = (y1 * width + x1) * channels
                let dst = (oy * outWidth + ox) * channels
                for k in 0..<channels {
                    out[dst + k] = (x[a + k] * wx0 + x[b + k] * wx1) * hy0 + (x[c + k] * wx0 + x[d + k] * wx1) * hy1
                }
            }
        }
        return out
    }
}
