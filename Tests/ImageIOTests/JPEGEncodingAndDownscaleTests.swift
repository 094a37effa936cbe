// JPEG encoding through libjpeg (decoded back with the project's own decoder) and the
// area-averaging downscale used for report thumbnails.
import Foundation
import Testing
@testable import ImageIO

@Suite struct JPEGEncodingTests {
    /// A smooth RGB gradient, which JPEG reproduces closely.
    static func gradient(width: Int, height: Int) -> RGBImage {
        var pixels = [UInt8]()
        for y in 0..<height {
            for x in 0..<width {
                pixels += [UInt8(x * 255 / max(width - 1, 1)), UInt8(y * 255 / max(height - 1, 1)), UInt8((x + y) * 255 / max(width + height - 2, 1))]
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    @Test func rgbRoundTripIsClose() throws {
        let image = Self.gradient(width: 67, height: 45)
        let jpeg = try encodeJPEG(rgb: image.pixels, width: image.width, height: image.height, quality: 95)
        #expect(jpeg.prefix(3) == Data([0xFF, 0xD8, 0xFF]))
        let decoded = try ImageDecoder.decodeRGB(data: jpeg).image
        #expect(decoded.width == image.width && decoded.height == image.height)
        let worst = zip(decoded.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        print("JPEG q95 RGB round trip: max difference \(worst) grey levels (tolerance 12: lossy, chroma subsampled)")
        #expect(worst <= 12)
    }

    @Test func grayRoundTripAndQualityChangesSize() throws {
        var pixels = [UInt8]()
        for y in 0..<40 { for x in 0..<50 { pixels.append(UInt8((x * 5 + y * 3) % 256)) } }
        let image = GrayImage(width: 50, height: 40, pixels: pixels)
        let high = try encodeJPEG(gray: image, quality: 95), low = try encodeJPEG(gray: image, quality: 20)
        #expect(low.count < high.count)
        let decoded = try ImageDecoder.decode(data: high).image
        #expect(decoded.width == 50 && decoded.height == 40)
        let worst = zip(decoded.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(worst <= 12, "max difference \(worst)")
    }

    @Test func invalidInputsThrow() {
        #expect(throws: ImageEncodingError.self) { try encodeJPEG(rgb: [1, 2, 3], width: 2, height: 1) }
        #expect(throws: ImageEncodingError.self) { try encodeJPEG(rgb: [], width: 0, height: 0) }
        #expect(throws: ImageEncodingError.self) { try encodeJPEG(rgb: [1, 2, 3], width: 1, height: 1, quality: 0) }
        #expect(throws: ImageEncodingError.self) { try encodeJPEG(rgb: [1, 2, 3], width: 1, height: 1, quality: 101) }
        // Wider than JPEG allows (65500): refused by the shim before libjpeg sees it.
        #expect(throws: ImageEncodingError.self) { try encodeJPEG(gray: GrayImage(width: 70_000, height: 1, pixels: [UInt8](repeating: 0, count: 70_000))) }
    }
}

@Suite struct DownscaleTests {
    @Test func fitsTheBoxKeepingTheAspectRatio() {
        #expect(sizeToFit(width: 640, height: 480, maxWidth: 160, maxHeight: 160) == (160, 120))
        #expect(sizeToFit(width: 480, height: 640, maxWidth: 160, maxHeight: 160) == (120, 160))
        #expect(sizeToFit(width: 100, height: 50, maxWidth: 160, maxHeight: 160) == (100, 50))
        #expect(sizeToFit(width: 10_000, height: 1, maxWidth: 100, maxHeight: 100) == (100, 1))
    }

    @Test func integerFactorIsTheBlockMean() {
        // 2x2 blocks average exactly.
        let image = GrayImage(width: 4, height: 2, pixels: [0, 2, 10, 20, 4, 6, 30, 40])
        let small = image.downscaled(toFitWidth: 2, height: 1)
        #expect(small.width == 2 && small.height == 1)
        #expect(small.pixels == [3, 25])
    }

    @Test func fractionalFactorKeepsConstantsAndMeans() {
        let constant = RGBImage(width: 97, height: 61, pixels: [UInt8](repeating: 0, count: 97 * 61).flatMap { _ in [200, 100, 7] as [UInt8] })
        let small = constant.downscaled(toFitWidth: 30, height: 30)
        #expect(small.width == 30 && small.height == 19)
        #expect(small.pixels == [UInt8](repeating: 0, count: 30 * 19).flatMap { _ in [200, 100, 7] as [UInt8] })
        // The mean brightness survives a 3.2x shrink of a gradient (area averaging conserves it).
        let gradient = JPEGEncodingTests.gradient(width: 97, height: 61)
        let shrunk = gradient.downscaled(toFitWidth: 30, height: 30)
        let mean = { (p: [UInt8]) in Double(p.reduce(0) { $0 + Int($1) }) / Double(p.count) }
        #expect(abs(mean(shrunk.pixels) - mean(gradient.pixels)) < 0.6)
        // Already small enough: unchanged.
        #expect(gradient.downscaled(toFitWidth: 200, height: 200) == gradient)
    }

    @Test func lumaUsesBT601Weights() {
        let image = RGBImage(width: 3, height: 1, pixels: [255, 0, 0, 0, 255, 0, 10, 10, 10])
        #expect(image.luma.pixels == [76, 150, 10])
    }
}
