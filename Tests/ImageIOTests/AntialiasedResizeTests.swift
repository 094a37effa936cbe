// LightGlue's preprocessing (kornia's antialiased resize) against goldens from kornia 0.9.0
// (Tests/Fixtures/preprocess, made by Tools/reference/make_preprocess_fixtures.py).
import Checkpoints
import Foundation
import Testing
@testable import ImageIO

@Suite struct AntialiasedResizeTests {
    static let golden: Result<SafeTensorsFile, Error> = Result {
        try SafeTensorsFile(contentsOf: ImageFixtures.directory.deletingLastPathComponent()
            .appendingPathComponent("preprocess/preprocess_golden.safetensors"))
    }

    static var cases: [String] {
        ((try? golden.get().metadata.keys.filter { $0.hasPrefix("case/") }.map { String($0.dropFirst(5)) }) ?? []).sorted()
    }

    @Test func sizeRuleTruncatesLikeKornia() {
        #expect(AntialiasedResize.targetSize(width: 125, height: 55, longSide: 100)! == (100, 43))  // exact: 44
        #expect(AntialiasedResize.targetSize(width: 128, height: 93, longSide: 1024)! == (1024, 743))  // exact: 744
        #expect(AntialiasedResize.targetSize(width: 61, height: 97, longSide: 40)! == (25, 40))
        #expect(AntialiasedResize.targetSize(width: 4000, height: 3000, longSide: 1024)! == (1024, 768))
        #expect(AntialiasedResize.targetSize(width: 9, height: 1, longSide: 4) == nil)
        let blur = AntialiasedResize.blurParameters(width: 4000, height: 3000, outWidth: 1024, outHeight: 768)
        #expect(blur?.kernelX == 5 && blur?.kernelY == 5)
        #expect(AntialiasedResize.blurParameters(width: 100, height: 50, outWidth: 200, outHeight: 100) == nil)
    }

    @Test func keypointsMapBackToOriginalPixels() {
        // Pixel centres correspond: centre 0 of a 2x upscale (0.5 in the original's half-pixels).
        #expect(AntialiasedResize.originalCoordinate(0.5, scale: 2) == 0)
        #expect(AntialiasedResize.originalCoordinate(3, scale: 1) == 3)
    }

    @Test(arguments: cases)
    func matchesKornia(_ name: String) throws {
        let file = try Self.golden.get()
        guard let json = file.metadata["case/\(name)"],
              let info = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let size = info["size"] as? Int, let outHW = info["out_hw"] as? [Int] else {
            throw FixtureError("case \(name) has no metadata")
        }
        // The input: uint8 H x W (x 3), or for the large case a base image repeated `repeat` times.
        var pixels: [Float], width: Int, height: Int, channels: Int
        if let input = file.tensors["input/\(name)"] {
            (height, width, channels) = (input.shape[0], input.shape[1], input.shape.count == 3 ? input.shape[2] : 1)
            pixels = input.floatValues().map { $0 / 255 }
        } else {
            guard let base = file.tensors["base/\(name)"], let r = info["repeat"] as? Int else { throw FixtureError("\(name): no input") }
            let (bh, bw, c) = (base.shape[0], base.shape[1], base.shape[2])
            let values = base.floatValues()
            (height, width, channels) = (bh * r, bw * r, c)
            pixels = [Float](repeating: 0, count: height * width * c)
            for y in 0..<height {
                for x in 0..<width {
                    for k in 0..<c { pixels[(y * width + x) * c + k] = values[((y / r) * bw + x / r) * c + k] / 255 }
                }
            }
        }
        let out = try AntialiasedResize.resize(pixels, width: width, height: height, channels: channels, longSide: size)
        #expect(out.height == outHW[0] && out.width == outHW[1], "\(name): size \(out.width)x\(out.height)")
        let scale = file.tensors["scale/\(name)"]?.floatValues() ?? []
        #expect(scale == [out.scale.x, out.scale.y], "\(name): scale")
        if let ky = file.tensors["kernel_y/\(name)"]?.floatValues(), let kx = file.tensors["kernel_x/\(name)"]?.floatValues(),
           let sigma = info["sigma"] as? [Double] {
            let ours = (AntialiasedResize.gaussianKernel(size: ky.count, sigma: sigma[0]), AntialiasedResize.gaussianKernel(size: kx.count, sigma: sigma[1]))
            let worst = zip(ours.0 + ours.1, ky + kx).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-7, "\(name): Gaussian taps differ by \(worst)")
        }
        // kornia's output is C x H' x W'.
        let (oh, ow, c) = (out.height, out.width, channels)
        func ours(_ ch: Int, _ y: Int, _ x: Int) -> Float { out.pixels[(y * ow + x) * c + ch] }
        var worst: Float = 0
        if let full = file.tensors["output/\(name)"]?.floatValues() {
            for ch in 0..<c { for y in 0..<oh { for x in 0..<ow { worst = max(worst, abs(ours(ch, y, x) - full[(ch * oh + y) * ow + x])) } } }
        } else {
            let rowStride = info["row_stride"] as? Int ?? 1
            let rows = file.tensors["output/\(name):rows"]?.floatValues() ?? []
            let rowCount = (oh + rowStride - 1) / rowStride
            for ch in 0..<c {
                for (i, y) in stride(from: 0, to: oh, by: rowStride).enumerated() {
                    for x in 0..<ow { worst = max(worst, abs(ours(ch, y, x) - rows[(ch * rowCount + i) * ow + x])) }
                }
            }
            let tl = file.tensors["output/\(name):tl"]?.floatValues() ?? [], br = file.tensors["output/\(name):br"]?.floatValues() ?? []
            for ch in 0..<c {
                for a in 0..<16 {
                    for b in 0..<16 {
                        worst = max(worst, abs(ours(ch, a, b) - tl[(ch * 16 + a) * 16 + b]))
                        worst = max(worst, abs(ours(ch, oh - 16 + a, ow - 16 + b) - br[(ch * 16 + a) * 16 + b]))
                    }
                }
            }
        }
        print("kornia resize \(name): \(width)x\(height) -> \(ow)x\(oh), max |ours - kornia| = \(worst) (tol 1e-6)")
        #expect(worst <= 1e-6, "\(name)")
    }

    /// The streaming resize equals kornia's whole-image evaluation (below) bit for bit: it computes
    /// the same blurred values with the same operations, only fewer of them.
    @Test(arguments: [(40, 30, 3, 17), (61, 97, 1, 40), (9, 300, 3, 50), (300, 9, 3, 50), (1, 50, 3, 100), (50, 2, 1, 40), (3, 50, 1, 40),
                      (125, 55, 3, 100), (64, 48, 3, 128), (257, 129, 3, 64), (33, 33, 1, 32), (7, 5, 3, 7), (400, 300, 3, 37)])
    func streamingEqualsWholeImageEvaluation(_ width: Int, _ height: Int, _ channels: Int, _ longSide: Int) throws {
        var generator = SplitMix64(seed: UInt64(width * 1000 + height * 10 + channels))
        let bytes = (0..<(width * height * channels)).map { _ in UInt8(truncatingIfNeeded: generator.next() >> 56) }
        let floats = bytes.map { Float($0) / 255 }
        let streamed = try AntialiasedResize.resize(bytes: bytes, width: width, height: height, channels: channels, longSide: longSide)
        let fromFloats = try AntialiasedResize.resize(floats, width: width, height: height, channels: channels, longSide: longSide)
        let reference = try Self.wholeImageResize(floats, width: width, height: height, channels: channels, longSide: longSide)
        #expect(streamed.width == reference.width && streamed.height == reference.height)
        let differing = zip(streamed.pixels, reference.pixels).filter { $0 != $1 }.count
        #expect(differing == 0 && streamed.pixels.count == reference.pixels.count,
                "\(width)x\(height)x\(channels) -> \(longSide): \(differing) values differ")
        #expect(fromFloats.pixels == streamed.pixels)
    }

    // MARK: Naive reference: kornia's order of evaluation on whole images

    static func wholeImageResize(_ pixels: [Float], width: Int, height: Int, channels: Int, longSide: Int) throws
        -> (pixels: [Float], width: Int, height: Int) {
        let size = try #require(AntialiasedResize.targetSize(width: width, height: height, longSide: longSide))
        var source = pixels
        if let blur = AntialiasedResize.blurParameters(width: width, height: height, outWidth: size.width, outHeight: size.height) {
            source = blurAxis(source, width: width, height: height, channels: channels,
                              taps: AntialiasedResize.gaussianKernel(size: blur.kernelX, sigma: blur.sigmaX), horizontal: true)
            source = blurAxis(source, width: width, height: height, channels: channels,
                              taps: AntialiasedResize.gaussianKernel(size: blur.kernelY, sigma: blur.sigmaY), horizontal: false)
        }
        let rows = AntialiasedResize.bilinearTable(height, size.height), cols = AntialiasedResize.bilinearTable(width, size.width)
        var out = [Float](repeating: 0, count: size.width * size.height * channels)
        for (oy, (y0, y1, hy0, hy1)) in rows.enumerated() {
            for (ox, (x0, x1, wx0, wx1)) in cols.enumerated() {
                let a = (y0 * width + x0) * channels, b = (y0 * width + x1) * channels
                let c = (y1 * width + x0) * channels, d = (y1 * width + x1) * channels
                for k in 0..<channels {
                    out[(oy * size.width + ox) * channels + k] =
                        (source[a + k] * wx0 + source[b + k] * wx1) * hy0 + (source[c + k] * wx0 + source[d + k] * wx1) * hy1
                }
            }
        }
        return (out, size.width, size.height)
    }

    /// One separable Gaussian pass over the whole image, taps accumulated in order, reflect borders.
    static func blurAxis(_ x: [Float], width: Int, height: Int, channels: Int, taps: [Float], horizontal: Bool) -> [Float] {
        let r = taps.count / 2
        guard r > 0 else { return x }
        var out = [Float](repeating: 0, count: x.count)
        for y in 0..<height {
            for col in 0..<width {
                let dst = (y * width + col) * channels
                for (t, weight) in taps.enumerated() {
                    let src = horizontal ? (y * width + AntialiasedResize.reflect(col + t - r, width)) * channels
                                         : (AntialiasedResize.reflect(y + t - r, height) * width + col) * channels
                    for c in 0..<channels { out[dst + c] = t == 0 ? x[src + c] * weight : out[dst + c] + x[src + c] * weight }
                }
            }
        }
        return out
    }
}
