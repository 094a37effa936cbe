// Decoded RGB pixels against LightGlue's load_image: cv2.imread(path, cv2.IMREAD_COLOR) (opencv-python
// 5.0.0) followed by BGR -> RGB, from Tests/Fixtures/preprocess/decode_rgb_golden.safetensors (made by
// Tools/reference/make_preprocess_fixtures.py). The tolerance is the gray decoder's (DecodeParityTests).
import Checkpoints
import Foundation
import Testing
@testable import ImageIO

@Suite struct RGBDecodeParityTests {
    static let golden: Result<SafeTensorsFile, Error> = Result {
        try SafeTensorsFile(contentsOf: ImageFixtures.directory.deletingLastPathComponent()
            .appendingPathComponent("preprocess/decode_rgb_golden.safetensors"))
    }

    /// Fixture file names with an RGB golden, sorted.
    static let files: [String] = ((try? golden.get().tensors.keys.filter { $0.hasPrefix("rgb/") }
        .map { String($0.dropFirst("rgb/".count)) }) ?? []).sorted()

    static func rgbGolden(_ file: String) throws -> RGBImage {
        guard let tensor = try golden.get().tensors["rgb/" + file] else { throw FixtureError("missing RGB golden for \(file)") }
        guard tensor.dtype == .u8, tensor.shape.count == 3, tensor.shape[2] == 3 else {
            throw FixtureError("rgb/\(file): expected U8 [h, w, 3], got \(tensor.dtype) \(tensor.shape)")
        }
        return RGBImage(width: tensor.shape[1], height: tensor.shape[0], pixels: tensor.bytes)
    }

    @Test func goldenFileCoversTheFixtures() {
        let required = ["chelsea_baseline.jpg", "chelsea_progressive.jpg", "coffee_444.jpg", "chelsea_cmyk.jpg",
                        "synthetic_97x61.jpg", "chelsea_rgba.png", "chelsea_palette_trns.png", "chelsea_rgb16.png",
                        "coffee_gray.png", "coffee_gray_alpha16.png", "tiny_1x1.jpg", "tiny_7x7.png", "exif_orientation_6.png"]
            + (1...8).map { "exif_orientation_\($0).jpg" }
        #expect(Set(Self.files) == Set(required))
    }

    @Test(arguments: files)
    func decodeMatchesOpenCV(_ file: String) throws {
        let expected = try Self.rgbGolden(file)
        let decoded = try ImageDecoder.decodeRGB(contentsOf: ImageFixtures.url(file))
        DecodeParityTests.expectParity(decoded.image, expected, file: file, label: "RGB decode parity")
    }

    @Test func greyFilesGiveThreeEqualChannelsMatchingTheGrayDecode() throws {
        for file in ["coffee_gray.png", "synthetic_97x61.jpg"] {
            let rgb = try ImageDecoder.decodeRGB(contentsOf: ImageFixtures.url(file)).image
            let gray = try ImageDecoder.decode(contentsOf: ImageFixtures.url(file)).image
            #expect(rgb.width == gray.width && rgb.height == gray.height)
            let replicated = gray.pixels.flatMap { [$0, $0, $0] }
            #expect(rgb.pixels == replicated, "\(file)")
        }
    }

    @Test func exifOrientationIsAppliedAsForGray() throws {
        let upright = try ImageDecoder.decodeRGB(contentsOf: ImageFixtures.url("exif_orientation_1.jpg"))
        for orientation in 1...8 {
            let file = "exif_orientation_\(orientation).jpg"
            let decoded = try ImageDecoder.decodeRGB(contentsOf: ImageFixtures.url(file))
            #expect(decoded.exifOrientation == orientation)
            #expect(decoded.image == EXIFOrientation.apply(orientation, to: upright.image), "\(file)")
            let raw = try ImageDecoder.decodeRGB(contentsOf: ImageFixtures.url(file), options: .init(appliesEXIFOrientation: false))
            #expect(raw.image == upright.image)
        }
        #expect(try ImageDecoder.decodeRGB(contentsOf: ImageFixtures.url("exif_orientation_6.png")).exifOrientation == 6)
    }

    @Test func warningsLimitsAndErrorsAreTheGrayDecoders() throws {
        for file in ["damaged_truncated.jpg", "damaged_corrupt_scan.jpg"] {
            let gray = try ImageDecoder.decode(contentsOf: ImageFixtures.url(file))
            let rgb = try ImageDecoder.decodeRGB(contentsOf: ImageFixtures.url(file))
            #expect(rgb.warningCount > 0 && rgb.firstWarning == gray.firstWarning, "\(file)")
            let strict = ImageDecodingOptions(acceptsDamagedJPEG: false)
            #expect(throws: ImageLoadingError.self) { try ImageDecoder.decodeRGB(contentsOf: ImageFixtures.url(file), options: strict) }
        }
        let url = ImageFixtures.url("chelsea_baseline.jpg")
        #expect(throws: ImageLoadingError.tooManyPixels(source: url.path, width: 200, height: 133, limit: 100)) {
            try ImageDecoder.decodeRGB(contentsOf: url, options: .init(maxPixelCount: 100))
        }
        #expect(throws: ImageLoadingError.empty(source: "<memory>")) { try ImageDecoder.decodeRGB(data: Data()) }
        #expect(throws: ImageLoadingError.unsupportedFormat(source: "x.bmp", detected: "BMP")) {
            try RGBImage(encoded: Data([0x42, 0x4D, 0, 0, 0, 0, 0, 0, 0, 0]), source: "x.bmp")
        }
    }

    @Test func encodedRGBRoundTrips() throws {
        let width = 5, height = 3
        let pixels = (0..<(width * height * 3)).map { UInt8(($0 * 37) % 256) }
        let image = RGBImage(width: width, height: height, pixels: pixels)
        #expect(try RGBImage(encoded: try encodePNG(rgb: pixels, width: width, height: height)) == image)
    }
}
