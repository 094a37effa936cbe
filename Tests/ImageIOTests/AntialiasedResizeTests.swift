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
}
