// The whole pipeline from image FILES against the reference's read_image + Matching (goldens in
// Tests/Fixtures/end_to_end, made by Tools/reference/make_end_to_end_fixtures.py with the same
// random-weight fixtures): decode, resize, SuperPoint with max_keypoints 1024, SuperGlue with 20
// Sinkhorn iterations, exactly as match_pairs.py's defaults.
import Foundation
import Testing
import Checkpoints
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

@Suite struct EndToEndParityTests {
    static let fixtures = FixtureWeights.fixturesDirectory

    static let matcher: Result<Matcher, any Error> = Result {
        let sp = try SuperPoint(weights: FixtureWeights.load(FixtureWeights.url("superpoint/superpoint_random.safetensors")),
                                config: SuperPointConfig(maxKeypoints: 1024))
        let sg = try SuperGlue(weights: FixtureWeights.load(FixtureWeights.url("superglue/superglue_indoor.safetensors")),
                               config: SuperGlueConfig(weights: .indoor, sinkhornIterations: 20))
        return try Matcher(superPoint: sp, superGlue: sg, config: MatcherConfig())
    }

    @Test(arguments: ["pair0", "pair1", "pair2"])
    func pairMatchesReference(_ name: String) throws {
        let golden = try SafeTensorsFile(contentsOf: Self.fixtures.appendingPathComponent("end_to_end/\(name).safetensors"))
        func floats(_ key: String) throws -> [Float] { try #require(golden.tensors[key]).floatValues() }
        let image0 = try #require(golden.metadata["image0"]), image1 = try #require(golden.metadata["image1"])
        let pair = try Self.matcher.get().match(Self.fixtures.appendingPathComponent(image0), Self.fixtures.appendingPathComponent(image1))

        // Keypoints are whole pixels: compare them as sets of positions.
        func positions(_ k: [Float]) -> [Int64] { stride(from: 0, to: k.count, by: 2).map { Int64(k[$0]) << 32 | Int64(k[$0 + 1]) } }
        let ref0 = positions(try floats("keypoints0")), ref1 = positions(try floats("keypoints1"))
        let ours0 = positions(pair.image0.features.keypoints), ours1 = positions(pair.image1.features.keypoints)
        let index0 = Dictionary(ours0.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let index1 = Dictionary(ours1.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let found0 = ref0.filter { index0[$0] != nil }.count, found1 = ref1.filter { index1[$0] != nil }.count
        let agreement = Double(found0 + found1) / Double(max(ref0.count + ref1.count, 1))

        // Matches: the same partner (by position) for each reference keypoint found in both.
        let refMatches = try #require(golden.tensors["matches0"]).intValues()
        let refConfidence = try floats("matching_scores0"), refScores0 = try floats("scores0")
        var sameMatch = 0, compared = 0
        var maxScoreDiff: Float = 0, maxConfidenceDiff: Float = 0
        let refSet1 = Set(ref1)
        for (i, p) in ref0.enumerated() {
            guard let j = index0[p] else { continue }
            compared += 1
            maxScoreDiff = max(maxScoreDiff, abs(pair.image0.features.scores[j] - refScores0[i]))
            let refPartner = refMatches[i] >= 0 ? ref1[Int(refMatches[i])] : -1
            let ourPartner = pair.matches.matches0[j] >= 0 ? ours1[pair.matches.matches0[j]] : -1
            if refPartner == ourPartner { sameMatch += 1 }
            // A keypoint that exists on one side only (an NMS near-tie resolved the other way)
            // legitimately changes the confidence of the match it takes part in; every other
            // confidence is held to the tolerance.
            let partnerOnBothSides = (refPartner == -1 || index1[refPartner] != nil) && (ourPartner == -1 || refSet1.contains(ourPartner))
            if partnerOnBothSides {
                maxConfidenceDiff = max(maxConfidenceDiff, abs(pair.matches.matchingScores0[j] - refConfidence[i]))
            }
        }
        // Keypoints found on one side only must be NMS near-ties: each missing reference keypoint
        // has an extra keypoint of ours within the NMS radius whose score is within 1e-5 of it
        // (pair0 of the fixtures has one: (117, 26) at 0.030257447 in the reference, (118, 26)
        // at 0.03025761 here; the two scores differ by 1.6e-7, below float32 convolution noise).
        let refScores1 = try floats("scores1")
        var setsDiffer = false
        for (side, ref, ours, index, refScores, ourScores) in [
            (0, ref0, ours0, index0, refScores0, pair.image0.features.scores),
            (1, ref1, ours1, index1, refScores1, pair.image1.features.scores),
        ] {
            let refSet = Set(ref)
            let extras = ours.enumerated().filter { !refSet.contains($0.element) }
            for (j, p) in extras {
                print("end-to-end \(name) image\(side): extra keypoint (\(p >> 32), \(p & 0xffff_ffff)) score \(ourScores[j])")
            }
            for (i, p) in ref.enumerated() where index[p] == nil {
                setsDiffer = true
                print("end-to-end \(name) image\(side): reference keypoint (\(p >> 32), \(p & 0xffff_ffff)) score \(refScores[i]) missing")
                let nearTie = extras.contains { j, q in
                    abs((q >> 32) - (p >> 32)) <= 4 && abs((q & 0xffff_ffff) - (p & 0xffff_ffff)) <= 4 && abs(ourScores[j] - refScores[i]) <= 1e-5
                }
                #expect(nearTie, "reference keypoint \(p >> 32),\(p & 0xffff_ffff) of image\(side) is missing and is not an NMS near-tie")
            }
        }
        let matchAgreement = Double(sameMatch) / Double(max(compared, 1))
        print("end-to-end \(name): keypoints \(ours0.count)/\(ours1.count) vs reference \(ref0.count)/\(ref1.count), " +
              "agreement \(agreement), matches agree \(matchAgreement) (\(pair.matches.count) vs \(refMatches.filter { $0 >= 0 }.count)), " +
              "max |score diff| \(maxScoreDiff), max |confidence diff| \(maxConfidenceDiff)")
        // The decoder parity target: >= 99 % keypoint agreement from the files (decoder, resize and network together).
        #expect(agreement >= 0.99)
        #expect(ours0.count <= ref0.count + ref0.count / 100 + 1 && ours1.count <= ref1.count + ref1.count / 100 + 1)
        // The network tolerances, applied through the whole pipeline.
        #expect(matchAgreement >= 0.995)
        #expect(maxScoreDiff <= 1e-4)
        // The 1e-4 score tolerance holds when both keypoint sets are identical. When a near-tie moved one
        // keypoint by a pixel, SuperGlue sees a different input and every confidence may move a
        // little (measured: up to 2e-3 in pair0), so the bound is 5e-3 then.
        #expect(maxConfidenceDiff <= (setsDiffer ? 5e-3 : 1e-4))
    }
}
