// The reference's read_image / process_resize semantics: resize rules, rotation, scales and the
// Float32 tensor, against goldens produced by the reference's own read_image.
import Foundation
import Testing
@testable import ImageIO

@Suite struct ProcessResizeTests {
    @Test func exactAndNone() throws {
        #expect(try ResizeSpec.exact(width: 640, height: 480).targetSize(width: 1, height: 1) == (640, 480))
        #expect(try ResizeSpec.none.targetSize(width: 37, height: 11) == (37, 11))
    }

    @Test func longestSideUsesPythonRounding() throws {
        // 1024x768 -> scale 0.625 -> 640 x 480.
        #expect(try ResizeSpec.longestSide(640).targetSize(width: 1024, height: 768) == (640, 480))
        // Portrait: the height is the longest side.
        #expect(try ResizeSpec.longestSide(100).targetSize(width: 300, height: 400) == (75, 100))
        // 10x5 at longest side 5: 5 x 2.5, and Python's round(2.5) is 2 (half to even).
        #expect(try ResizeSpec.longestSide(5).targetSize(width: 10, height: 5) == (5, 2))
        // 10x5 at 3: 3 x 1.5 -> round(1.5) = 2.
        #expect(try ResizeSpec.longestSide(3).targetSize(width: 10, height: 5) == (3, 2))
        // 200x133 at 160: scale 0.8, 133 * 0.8 = 106.4 -> 106.
        #expect(try ResizeSpec.longestSide(160).targetSize(width: 200, height: 133) == (160, 106))
        // Upscaling a tiny image.
        #expect(try ResizeSpec.longestSide(640).targetSize(width: 7, height: 7) == (640, 640))
    }

    @Test func zeroSidedResultsThrow() {
        // 3000x1 at longest side 100: the height becomes round(0.0333) = 0, which cv2.resize rejects.
        #expect(throws: ImageLoadingError.self) { try ResizeSpec.longestSide(100).targetSize(width: 3000, height: 1) }
        #expect(throws: ImageLoadingError.self) { try ResizeSpec.exact(width: 0, height: 10).targetSize(width: 5, height: 5) }
        #expect(throws: ImageLoadingError.self) { try ResizeSpec.longestSide(0).targetSize(width: 5, height: 5) }
    }

    @Test func commandLineArguments() throws {
        #expect(try ResizeSpec(arguments: [640, 480]) == .exact(width: 640, height: 480))
        #expect(try ResizeSpec(arguments: [1024]) == .longestSide(1024))
        #expect(try ResizeSpec(arguments: [-1]) == ResizeSpec.none)
        // match_pairs.py turns "w -1" into the single number w.
        #expect(try ResizeSpec(arguments: [800, -1]) == .longestSide(800))
        for bad in [[], [0], [-2], [640, 0], [1, 2, 3], [-1, 480]] {
            #expect(throws: ImageLoadingError.self, "\(bad)") { try ResizeSpec(arguments: bad) }
        }
    }
}

@Suite struct PreparedImageTests {
    static let preparedGoldens: [String] = (try? ImageFixtures.names(withPrefix: "prepared/")) ?? []

    @Test func goldensExist() { #expect(Self.preparedGoldens.count >= 8) }

    /// prepared/<file>/<resize numbers joined by _>/r<rotation>, produced by the reference's read_image.
    @Test(arguments: preparedGoldens)
    func matchesReferenceReadImage(_ goldenName: String) throws {
        let parts = goldenName.split(separator: "/").map(String.init)
        try #require(parts.count == 4)
        let numbers = parts[2].split(separator: "_").compactMap { Int($0) }
        let rotation = try #require(Int(parts[3].dropFirst()))
        let options = PreprocessingOptions(resize: try ResizeSpec(arguments: numbers), rotation: rotation)
        let prepared = try ImageLoader.prepare(contentsOf: ImageFixtures.url(parts[1]), options: options)

        let file = try ImageFixtures.goldenFile()
        let tensor = try #require(file.tensors[file.metadata["same_as/" + goldenName] ?? goldenName])
        #expect(tensor.shape == [prepared.height, prepared.width])
        let expected = tensor.floatValues()
        #expect(expected.count == prepared.pixels.count)
        let mismatches = zip(expected, prepared.pixels).filter { $0.0.bitPattern != $0.1.bitPattern }.count
        #expect(mismatches == 0, "\(goldenName): \(mismatches) of \(expected.count) floats differ")

        let scales = try #require(file.metadata[goldenName + "/scales"]).split(separator: ",").compactMap { Double($0) }
        #expect(scales == [prepared.scaleX, prepared.scaleY], "\(goldenName): scales \(prepared.scaleX), \(prepared.scaleY) vs \(scales)")
    }

    @Test func normalisationIsDoubleDivisionCastToFloat() {
        let image = GrayImage(width: 3, height: 1, pixels: [0, 1, 255])
        let values = ImageLoader.normalized(image)
        #expect(values == [0, Float(1.0 / 255.0), 1])
    }

    @Test func rotationFollowsNumpyRot90() throws {
        // 3 wide, 2 high:  a b c / d e f
        let image = GrayImage(width: 3, height: 2, pixels: [1, 2, 3, 4, 5, 6])
        // np.rot90(k=1) (counter-clockwise): c f / b e / a d
        #expect(image.rotated(quarterTurns: 1) == GrayImage(width: 2, height: 3, pixels: [3, 6, 2, 5, 1, 4]))
        // k=2: f e d / c b a
        #expect(image.rotated(quarterTurns: 2) == GrayImage(width: 3, height: 2, pixels: [6, 5, 4, 3, 2, 1]))
        // k=3 (clockwise): d a / e b / f c
        #expect(image.rotated(quarterTurns: 3) == GrayImage(width: 2, height: 3, pixels: [4, 1, 5, 2, 6, 3]))
        #expect(image.rotated(quarterTurns: -1) == image.rotated(quarterTurns: 3))
        #expect(image.rotated(quarterTurns: 4) == image)
    }

    @Test func oddRotationSwapsScales() throws {
        let image = GrayImage(width: 40, height: 20, pixels: [UInt8](repeating: 9, count: 800))
        let plain = try ImageLoader.prepare(image, options: .init(resize: .exact(width: 10, height: 10)))
        #expect(plain.scaleX == 4 && plain.scaleY == 2)
        let turned = try ImageLoader.prepare(image, options: .init(resize: .exact(width: 10, height: 5), rotation: 1))
        #expect(turned.width == 5 && turned.height == 10)
        #expect(turned.scaleX == 4 && turned.scaleY == 4)
        let turned2 = try ImageLoader.prepare(image, options: .init(resize: .exact(width: 20, height: 5), rotation: 3))
        #expect(turned2.scaleX == 4 && turned2.scaleY == 2)
    }

    @Test func tinyImagesSurvivePreprocessing() throws {
        // 7x7 decoded, resized below 8 pixels and above: a valid image either way.
        let small = try ImageLoader.prepare(contentsOf: ImageFixtures.url("tiny_7x7.jpg"), options: .init(resize: .longestSide(4)))
        #expect(small.width == 4 && small.height == 4 && small.pixels.count == 16)
        let one = try ImageLoader.prepare(contentsOf: ImageFixtures.url("tiny_1x1.png"), options: .init())
        #expect(one.width == 640 && one.height == 480)
        #expect(Set(one.pixels).count == 1)
    }
}
