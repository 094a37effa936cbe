// Decoded grayscale pixels against cv2.imread(path, cv2.IMREAD_GRAYSCALE) (opencv-python 5.0.0),
// for every fixture image, including damaged JPEGs that cv2 still decodes.
import Foundation
import Testing
@testable import ImageIO

@Suite struct DecodeParityTests {
    static let decodeGoldens: [String] = (try? ImageFixtures.names(withPrefix: "decode/")) ?? []

    @Test func goldenFileCoversTheFixtures() throws {
        let names = Set(Self.decodeGoldens)
        for required in ["chelsea_baseline.jpg", "chelsea_progressive.jpg", "chelsea_cmyk.jpg", "chelsea_rgb.png",
                         "coffee_gray.png", "coffee_gray16.png", "chelsea_rgb16.png", "chelsea_palette.png",
                         "coffee_gray_alpha.png", "chelsea_rgba.png", "tiny_1x1.jpg", "tiny_7x7.png"] {
            #expect(names.contains("decode/" + required), "golden for \(required) missing")
        }
        #expect(names.count >= 40)
    }

    @Test(arguments: decodeGoldens)
    func decodeMatchesOpenCV(_ goldenName: String) throws {
        let file = String(goldenName.dropFirst("decode/".count))
        let expected = try ImageFixtures.grayGolden(goldenName)
        let decoded = try ImageDecoder.decode(contentsOf: ImageFixtures.url(file))
        Self.expectParity(decoded.image, expected, file: file, label: "decode parity")
    }

    /// Checks a decoded image against its cv2 golden with the decoder's parity tolerance (shared by the
    /// gray and RGB goldens) and prints the agreement. Measured exact for every intact file with the
    /// system libjpeg-turbo 2.1.5 / libpng 1.6.39 against cv2's bundled libjpeg-turbo 3.1.2 / libpng 1.6.58.
    static func expectParity<Image: InterleavedImage>(_ decoded: Image, _ expected: Image, file: String, label: String,
                                                      sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(decoded.width == expected.width && decoded.height == expected.height,
                "\(file): \(decoded.width)x\(decoded.height), cv2 \(expected.width)x\(expected.height)",
                sourceLocation: sourceLocation)
        guard decoded.width == expected.width, decoded.height == expected.height else { return }
        let comparison = PixelComparison(decoded, expected)
        print("\(label) \(file): \(comparison)")
        #expect(comparison.maxDifference <= 1, "\(file): \(comparison)", sourceLocation: sourceLocation)
        let tolerance = libraryVersionTolerance[file] ?? 0.999
        #expect(comparison.equalFraction >= tolerance, "\(file): \(comparison)", sourceLocation: sourceLocation)
    }

    /// Files where the libjpeg-turbo versions legitimately disagree: a progressive JPEG cut off in the
    /// middle of its scans is finished by libjpeg's block smoothing of the incomplete coefficients, an
    /// estimate that changed between libjpeg-turbo 2.1 and 3.1 (measured 99.33 % equal, max diff 1).
    static let libraryVersionTolerance: [String: Double] = ["damaged_truncated_progressive.jpg": 0.99]

    @Test func damagedJPEGsReportWarnings() throws {
        for file in ["damaged_truncated.jpg", "damaged_truncated_progressive.jpg", "damaged_corrupt_scan.jpg"] {
            let decoded = try ImageDecoder.decode(contentsOf: ImageFixtures.url(file))
            #expect(decoded.warningCount > 0, "\(file) decoded without warnings")
            #expect(decoded.firstWarning?.isEmpty == false)
            let strict = ImageDecodingOptions(acceptsDamagedJPEG: false)
            #expect(throws: ImageLoadingError.self) { try ImageDecoder.decode(contentsOf: ImageFixtures.url(file), options: strict) }
        }
        let clean = try ImageDecoder.decode(contentsOf: ImageFixtures.url("chelsea_baseline.jpg"))
        #expect(clean.warningCount == 0 && clean.firstWarning == nil)
    }

    @Test func exifOrientationsFollowOpenCV() throws {
        let upright = try ImageDecoder.decode(contentsOf: ImageFixtures.url("exif_orientation_1.jpg"))
        #expect(upright.exifOrientation == 1)
        var distinct = Set<[UInt8]>()
        for orientation in 1...8 {
            let file = "exif_orientation_\(orientation).jpg"
            let decoded = try ImageDecoder.decode(contentsOf: ImageFixtures.url(file))
            #expect(decoded.exifOrientation == orientation)
            #expect(decoded.image == (try ImageFixtures.grayGolden("decode/" + file)), "\(file) differs from cv2")
            let transposed = orientation >= 5
            #expect(decoded.image.width == (transposed ? upright.image.height : upright.image.width))
            distinct.insert(decoded.image.pixels)
            // The same bytes without applying the tag give the stored (upright) raster.
            let raw = try ImageDecoder.decode(contentsOf: ImageFixtures.url(file), options: .init(appliesEXIFOrientation: false))
            #expect(raw.image == upright.image)
        }
        #expect(distinct.count == 8, "the eight orientations must give eight different images")
        let png = try ImageDecoder.decode(contentsOf: ImageFixtures.url("exif_orientation_6.png"))
        #expect(png.exifOrientation == 6)
        #expect(png.image == (try ImageFixtures.grayGolden("decode/exif_orientation_6.png")))
    }
}

@Suite struct ResizeParityTests {
    static let resizeGoldens: [String] = (try? ImageFixtures.names(withPrefix: "resize/")) ?? []

    @Test(arguments: resizeGoldens)
    func resizeMatchesOpenCV(_ goldenName: String) throws {
        // resize/<source>/<w>x<h>
        let parts = goldenName.split(separator: "/")
        try #require(parts.count == 3)
        let size = parts[2].split(separator: "x").compactMap { Int($0) }
        try #require(size.count == 2)
        let source = try ImageFixtures.grayGolden("resize_input/\(parts[1])")
        let expected = try ImageFixtures.grayGolden(goldenName)
        let resized = try source.resized(width: size[0], height: size[1])
        let comparison = PixelComparison(resized, expected)
        print("resize parity \(parts[1]) \(source.width)x\(source.height) -> \(parts[2]): \(comparison)")
        #expect(comparison.maxDifference == 0, "\(goldenName): \(comparison)")
    }

    @Test func goldensIncludeUpscalesDownscalesAndExactHalving() throws {
        let names = Set(Self.resizeGoldens)
        #expect(names.contains("resize/astronaut/96x96"))      // exact 2x: OpenCV's INTER_AREA switch
        #expect(names.contains("resize/noise_97x61/320x240"))  // upscale
        #expect(names.contains("resize/chelsea/133x89"))       // non-integer downscale
        #expect(names.count >= 15)
    }

    @Test func exactHalvingIsTheFourPixelMean() throws {
        // OpenCV replaces INTER_LINEAR by INTER_AREA for exact 2x downscales: (a + b + c + d + 2) >> 2.
        let image = GrayImage(width: 4, height: 2, pixels: [0, 1, 255, 254, 1, 1, 255, 255])
        let half = try image.resized(width: 2, height: 1)
        let left: Int = (0 + 1 + 1 + 1 + 2) >> 2
        let right: Int = (255 + 254 + 255 + 255 + 2) >> 2
        #expect(half.pixels == [UInt8(left), UInt8(right)])
    }

    @Test func sameSizeIsIdentity() throws {
        let image = GrayImage(width: 3, height: 2, pixels: [1, 2, 3, 4, 5, 6])
        #expect(try image.resized(width: 3, height: 2) == image)
    }

    @Test func constantImageStaysConstant() throws {
        let image = GrayImage(width: 5, height: 3, pixels: [UInt8](repeating: 200, count: 15))
        for (w, h) in [(1, 1), (7, 4), (640, 480), (2, 9)] {
            let resized = try image.resized(width: w, height: h)
            #expect(resized.pixels.allSatisfy { $0 == 200 }, "\(w)x\(h)")
        }
    }

    @Test func invalidSizesThrow() {
        let image = GrayImage(width: 3, height: 2, pixels: [1, 2, 3, 4, 5, 6])
        #expect(throws: ImageLoadingError.self) { try image.resized(width: 0, height: 2) }
        #expect(throws: ImageLoadingError.self) { try image.resized(width: 4, height: -1) }
    }
}
