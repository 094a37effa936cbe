// SuperPoint against golden outputs of the PyTorch reference (Tests/Fixtures/superpoint, made by
// Tools/reference/make_superpoint_fixtures.py), on the same uint8 input image and weights.
import Foundation
import Testing
import Checkpoints
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

enum SuperPointFixtures {
    static let weightsURL = FixtureWeights.url("superpoint/superpoint_random.safetensors")
    /// The dequantized random-weight checkpoint, read once.
    static let weights: Result<SafeTensorsFile, any Error> = Result { try FixtureWeights.load(weightsURL) }

    struct Golden {
        var width: Int, height: Int
        /// The uint8 input as stored; `image` is the network input (/ 255).
        var imageTensor: RawTensor
        var image: [Float]
        var config: SuperPointConfig
        var keypoints: [Float], scores: [Float]
        var descriptorRows: [Int], descriptors: [Float]
    }

    static func golden(_ name: String) throws -> Golden {
        let file = try SafeTensorsFile(contentsOf: FixtureWeights.url("superpoint/golden_\(name).safetensors"))
        func tensor(_ key: String) throws -> RawTensor {
            guard let t = file.tensors[key] else { throw SuperPointError.invalidImage("golden \(name) lacks \(key)") }
            return t
        }
        // A case run on the input of another case names that case instead of storing the image.
        let image = try file.metadata["image_from"].map { try golden($0).imageTensor } ?? tensor("image")
        let json = Data((file.metadata["config"] ?? "{}").utf8)
        let options = try JSONSerialization.jsonObject(with: json) as? [String: Any] ?? [:]
        var config = SuperPointConfig()
        if let v = options["descriptor_dim"] as? Int { config.descriptorDim = v }
        if let v = options["nms_radius"] as? Int { config.nmsRadius = v }
        if let v = options["keypoint_threshold"] as? Double { config.keypointThreshold = Float(v) }
        if let v = options["max_keypoints"] as? Int { config.maxKeypoints = v }
        if let v = options["remove_borders"] as? Int { config.removeBorders = v }
        // The reference's input: the uint8 image as float32 / 255.
        return Golden(width: image.shape[1], height: image.shape[0], imageTensor: image,
                      image: image.floatValues().map { $0 / 255 }, config: config,
                      keypoints: try tensor("keypoints").floatValues(), scores: try tensor("scores").floatValues(),
                      descriptorRows: try tensor("descriptor_rows").intValues().map { Int($0) },
                      descriptors: try tensor("descriptors").floatValues())
    }
}

@Suite struct SuperPointParityTests {
    static let cases = [
        "astronaut_640x480", "coffee_640x480", "rocket_640x480", "synthetic_640x480",
        "coffee_1024x768", "chelsea_637x479", "astronaut_64x48", "astronaut_640x480_max1024",
    ]

    @Test(arguments: cases)
    func matchesReference(_ name: String) throws {
        let golden = try SuperPointFixtures.golden(name)
        let sp = try SuperPoint(weights: SuperPointFixtures.weights.get(), config: golden.config)
        let features = try sp(image: golden.image, width: golden.width, height: golden.height)
        #expect(features.imageWidth == golden.width && features.imageHeight == golden.height)
        #expect(features.descriptorDim == 256)
        #expect(features.descriptors.count == features.count * 256)

        // Keypoints are whole pixels: match them by position.
        func pixel(_ k: [Float], _ i: Int) -> Int { Int(k[2 * i + 1]) * 100_000 + Int(k[2 * i]) }
        var ours: [Int: Int] = [:]
        for i in 0..<features.count { ours[pixel(features.keypoints, i)] = i }
        let referenceCount = golden.scores.count
        var found = 0, worstScore: Float = 0
        for i in 0..<referenceCount {
            guard let j = ours[pixel(golden.keypoints, i)] else { continue }
            found += 1
            worstScore = max(worstScore, abs(features.scores[j] - golden.scores[i]))
        }
        let extra = features.count - found
        var worstDescriptor: Float = 0, comparedRows = 0
        for (row, i) in golden.descriptorRows.enumerated() {
            guard let j = ours[pixel(golden.keypoints, i)] else { continue }
            comparedRows += 1
            for c in 0..<256 {
                worstDescriptor = max(worstDescriptor, abs(features.descriptors[j * 256 + c] - golden.descriptors[row * 256 + c]))
            }
        }
        print("SuperPoint parity \(name): \(found)/\(referenceCount) reference keypoints found, \(extra) extra; "
              + "max |score diff| \(worstScore), max |descriptor diff| \(worstDescriptor) over \(comparedRows) rows")

        #expect(referenceCount > 0)
        #expect(Double(found) >= 0.995 * Double(referenceCount), "found \(found) of \(referenceCount)")
        #expect(Double(extra) <= 0.005 * Double(referenceCount), "\(extra) extra keypoints")
        #expect(worstScore <= 1e-4)
        #expect(worstDescriptor <= 1e-4)
        #expect(comparedRows >= golden.descriptorRows.count * 99 / 100)
        if golden.config.maxKeypoints > 0 {
            // After top-k the reference orders by descending score. Scores within the tolerance
            // of each other may swap, so check our own order rather than the reference's.
            let descending = zip(features.scores, features.scores.dropFirst()).allSatisfy { $0 >= $1 }
            #expect(descending, "top-k keypoints are not in descending score order")
        } else if found == referenceCount && extra == 0 {
            // Same set and no top-k: both lists are in row-major scan order (torch.nonzero's).
            let sameOrder = features.keypoints == golden.keypoints
            #expect(sameOrder, "keypoints are not in the reference's scan order")
        }
    }
}
