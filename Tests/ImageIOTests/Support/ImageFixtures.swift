// Locates Tests/Fixtures/images (written by Tools/reference/make_image_fixtures.py) and reads the
// cv2 goldens from images_golden.safetensors.
import Checkpoints
import Foundation
import ImageIO

enum ImageFixtures {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent("images")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func data(_ name: String) throws -> Data { try Data(contentsOf: url(name)) }

    /// The golden file, read once.
    static let golden: Result<SafeTensorsFile, Error> = Result {
        try SafeTensorsFile(contentsOf: directory.appendingPathComponent("images_golden.safetensors"))
    }

    static func goldenFile() throws -> SafeTensorsFile { try golden.get() }

    /// A U8 golden tensor of shape [h, w] as a GrayImage. A golden equal to an earlier one is
    /// stored once; metadata "same_as/<name>" names the stored tensor.
    static func grayGolden(_ name: String) throws -> GrayImage {
        let file = try goldenFile()
        guard let tensor = file.tensors[file.metadata["same_as/" + name] ?? name] else { throw FixtureError("missing golden tensor \(name)") }
        guard tensor.dtype == .u8, tensor.shape.count == 2 else { throw FixtureError("\(name): expected U8 [h, w], got \(tensor.dtype) \(tensor.shape)") }
        return GrayImage(width: tensor.shape[1], height: tensor.shape[0], pixels: tensor.bytes)
    }

    /// Names of golden tensors under a prefix, sorted.
    static func names(withPrefix prefix: String) throws -> [String] {
        let file = try goldenFile()
        let shared = file.metadata.keys.filter { $0.hasPrefix("same_as/") }.map { String($0.dropFirst("same_as/".count)) }
        return (Array(file.tensors.keys) + shared).filter { $0.hasPrefix(prefix) }.sorted()
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Pixel agreement between two images of equal size.
struct PixelComparison: CustomStringConvertible {
    var maxDifference: Int
    var equalFraction: Double
    var count: Int

    init<Image: InterleavedImage>(_ a: Image, _ b: Image) {
        precondition(a.width == b.width && a.height == b.height)
        var maxDifference = 0
        var equal = 0
        for (x, y) in zip(a.pixels, b.pixels) {
            let d = abs(Int(x) - Int(y))
            maxDifference = max(maxDifference, d)
            if d == 0 { equal += 1 }
        }
        self.maxDifference = maxDifference
        self.count = a.pixels.count
        self.equalFraction = count == 0 ? 1 : Double(equal) / Double(count)
    }

    var description: String { "max diff \(maxDifference), \(String(format: "%.4f", equalFraction * 100)) % equal of \(count)" }
}
