// `Matcher(detector: .superpoint, matcher: .lightglue, ...)` loads LightGlue by name and gives the
// same matches as the LightGlue network called directly on the same features.
import Foundation
import Testing
@testable import SuperGlueKit

@Suite struct LightGlueMatcherTests {
    /// A weights folder with the random SuperPoint and the SuperPoint-type LightGlue fixture
    /// (expanded to float32) under the names the loader looks for.
    static func weightsFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lightglue-matcher-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FixtureWeights.load(FixtureWeights.url("superpoint/superpoint_random.safetensors"))
            .write(to: folder.appendingPathComponent("superpoint_v1.safetensors"))
        try FixtureWeights.load(FixtureWeights.url("lightglue/lightglue_superpoint.safetensors"))
            .write(to: folder.appendingPathComponent("superpoint_lightglue.safetensors"))
        return folder
    }

    @Test(arguments: [LightGlueConfig(), .nonAdaptive, LightGlueConfig(depthConfidence: 0.85, widthConfidence: 0.95, filterThreshold: 0.2)])
    func byNameMatchesDirectCall(_ lightGlueConfig: LightGlueConfig) async throws {
        let folder = try Self.weightsFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = MatcherConfig(resize: .exact(width: 320, height: 240), superPoint: SuperPointConfig(maxKeypoints: 300),
                                   lightGlue: lightGlueConfig)
        let matcher = try Matcher(detector: .superpoint, matcher: .lightglue, weightsDirectory: folder, config: config, environment: [:])
        let network = try #require(matcher.featureMatcher as? LightGlue)
        #expect(network.config == lightGlueConfig)
        #expect(matcher.matcherWeightsURL?.lastPathComponent == "superpoint_lightglue.safetensors")

        let direct = try LightGlue(weights: folder.appendingPathComponent("superpoint_lightglue.safetensors"), config: lightGlueConfig)
        let images = FixtureWeights.url("images")
        let pair = try await matcher.match(images.appendingPathComponent("chelsea_baseline.jpg"), images.appendingPathComponent("coffee_444.jpg"))
        let expected = try await direct.match(pair.image0.features, pair.image1.features)
        #expect(pair.matches == expected)
        #expect(pair.matches.matches0.count == pair.image0.features.count)
        let again = try await matcher.featureMatcher.match(pair.image0.features, pair.image1.features)
        #expect(again == expected)
    }

    /// Extracted features carry their detector; features of another detector family are refused
    /// before matching, even with the right descriptor length; features of unknown origin pass.
    @Test func refusesFeaturesOfAnotherDetector() throws {
        let folder = try Self.weightsFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = MatcherConfig(resize: .exact(width: 160, height: 120), superPoint: SuperPointConfig(maxKeypoints: 50))
        let matcher = try Matcher(detector: .superpoint, matcher: .lightglue, weightsDirectory: folder, config: config, environment: [:])
        let extracted = try matcher.extract(FixtureWeights.url("images").appendingPathComponent("chelsea_baseline.jpg"))
        #expect(extracted.features.detector == "superpoint")
        var foreign = extracted.features
        foreign.detector = "disk"
        #expect { try matcher.match(extracted.features, foreign) } throws: { error in
            guard case let MatcherError.incompatible(message) = error else { return false }
            return message.contains("features 1 holds disk features") && message.contains("--features superpoint")
        }
        var unknown = extracted.features
        unknown.detector = nil
        #expect(try matcher.match(unknown, extracted.features) == matcher.match(extracted.features, extracted.features))
        #expect(Features.detectorFamily("aliked-n16rot") == "aliked")
        #expect(Features.detectorFamily("disk") == "disk")
    }
}
