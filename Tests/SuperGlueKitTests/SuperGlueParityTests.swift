// Parity with the PyTorch reference on the golden cases of Tests/Fixtures/superglue (written by
// Tools/reference/make_superglue_fixtures.py from the original models/superglue.py).
import Foundation
import Testing
import Checkpoints
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

/// The fixture folder: features, checkpoints and golden outputs.
enum SuperGlueFixtures {
    struct Case: Decodable, Sendable, CustomStringConvertible {
        let key: String
        let weights: String
        let features0: String
        let features1: String
        let iterations: Int
        let log_assignment: Bool
        var description: String { key }
    }

    static let goldens: SafeTensorsFile? = try? SafeTensorsFile(contentsOf: FixtureWeights.url("superglue/goldens.safetensors"))
    static let featureFile: SafeTensorsFile? = try? SafeTensorsFile(contentsOf: FixtureWeights.url("superglue/features.safetensors"))

    static var cases: [Case] {
        guard let json = goldens?.metadata["cases"]?.data(using: .utf8) else { return [] }
        return (try? JSONDecoder().decode([Case].self, from: json)) ?? []
    }

    static func features(_ name: String) throws -> Features {
        let file = try #require(featureFile)
        let width = Int(file.metadata["image_width"] ?? "") ?? 0, height = Int(file.metadata["image_height"] ?? "") ?? 0
        guard !name.isEmpty else {
            return Features(keypoints: [], scores: [], descriptors: [], imageWidth: width, imageHeight: height)
        }
        let keypoints = try #require(file.tensors[name + ".keypoints"]), scores = try #require(file.tensors[name + ".scores"])
        let descriptors = try #require(file.tensors[name + ".descriptors"])
        #expect(descriptors.dtype == .f16)
        return Features(keypoints: keypoints.floatValues(), scores: scores.floatValues(), descriptors: descriptors.floatValues(),
                        imageWidth: width, imageHeight: height)
    }

    /// GNN depth of each fixture checkpoint: the official 18 layers for indoor; outdoor, whose path
    /// differs only in the weights given, has one 'self' and one 'cross' layer.
    static let layerCounts = ["indoor": 18, "outdoor": 2]

    static func weights(_ kind: String) throws -> SafeTensorsFile {
        try FixtureWeights.load(FixtureWeights.url("superglue/superglue_\(kind).safetensors"))
    }

    static func golden(_ key: String) throws -> RawTensor { try #require(goldens?.tensors[key]) }
}

@Suite(.serialized) struct SuperGlueParityTests {
    @Test func fixturesArePresent() {
        #expect(SuperGlueFixtures.goldens != nil && SuperGlueFixtures.featureFile != nil)
        // 2 weight sets x 4 keypoint-count cases x 2 iteration counts.
        #expect(SuperGlueFixtures.cases.count == 16)
        #expect(SuperGlueFixtures.cases.filter(\.log_assignment).count >= 3)
    }

    @Test(arguments: ["indoor", "outdoor"])
    func matchesTheReference(kind: String) throws {
        let file = try SuperGlueFixtures.weights(kind)
        var matchers: [Int: SuperGlue] = [:]
        for golden in SuperGlueFixtures.cases where golden.weights == kind {
            let superGlue: SuperGlue
            if let cached = matchers[golden.iterations] {
                superGlue = cached
            } else {
                superGlue = try SuperGlue(weights: file, config: SuperGlueConfig(weights: .init(rawValue: kind) ?? .indoor, sinkhornIterations: golden.iterations))
                matchers[golden.iterations] = superGlue
                #expect(superGlue.layerCount == SuperGlueFixtures.layerCounts[kind])
            }
            let f0 = try SuperGlueFixtures.features(golden.features0), f1 = try SuperGlueFixtures.features(golden.features1)
            let (matches, assignment) = try superGlue.matchWithLogAssignment(f0, f1)
            try compare(golden, matches: matches, assignment: assignment, label: "")
        }
    }

    /// The log-domain Sinkhorn path on the cases with a stored log assignment.
    @Test func logDomainSinkhornMatchesTheReference() throws {
        for golden in SuperGlueFixtures.cases where golden.log_assignment && golden.features0 != "chelsea_1" {
            let superGlue = try SuperGlue(
                weights: SuperGlueFixtures.weights(golden.weights),
                config: SuperGlueConfig(weights: .init(rawValue: golden.weights) ?? .indoor,
                                        sinkhornIterations: golden.iterations, sinkhornMethod: .logDomain))
            let f0 = try SuperGlueFixtures.features(golden.features0), f1 = try SuperGlueFixtures.features(golden.features1)
            let (matches, assignment) = try superGlue.matchWithLogAssignment(f0, f1)
            try compare(golden, matches: matches, assignment: assignment, label: " (log-domain Sinkhorn)")
        }
    }

    private func compare(_ golden: SuperGlueFixtures.Case, matches: Matches, assignment: Tensor?, label: String) throws {
        let key = golden.key
        let matches0 = try SuperGlueFixtures.golden(key + ".matches0").intValues().map(Int.init)
        let matches1 = try SuperGlueFixtures.golden(key + ".matches1").intValues().map(Int.init)
        let scores0 = try SuperGlueFixtures.golden(key + ".matching_scores0").floatValues()
        let scores1 = try SuperGlueFixtures.golden(key + ".matching_scores1").floatValues()
        try #require(matches.matches0.count == matches0.count && matches.matches1.count == matches1.count)

        let differing0 = zip(matches.matches0, matches0).filter { $0 != $1 }.count
        let differing1 = zip(matches.matches1, matches1).filter { $0 != $1 }.count
        let total = matches0.count + matches1.count
        let agreement = total == 0 ? 1 : 1 - Double(differing0 + differing1) / Double(total)
        // Scores are compared where the match agrees; a flipped near-tie may change both.
        var scoreDifference: Float = 0
        for i in matches0.indices where matches.matches0[i] == matches0[i] { scoreDifference = max(scoreDifference, abs(matches.matchingScores0[i] - scores0[i])) }
        for j in matches1.indices where matches.matches1[j] == matches1[j] { scoreDifference = max(scoreDifference, abs(matches.matchingScores1[j] - scores1[j])) }
        var message = "\(key)\(label): \(matches.count) matches (reference \(matches0.filter { $0 >= 0 }.count)), agreement \(agreement), max score diff \(scoreDifference)"
        #expect(agreement >= 0.995, "\(key)\(label): match agreement \(agreement)")
        #expect(scoreDifference <= 1e-4, "\(key)\(label): matching score difference \(scoreDifference)")

        if golden.log_assignment {
            // Rows of the (M+1) x (N+1) matrix (all of them for 1 vs 1), dustbin row included.
            let expected = try SuperGlueFixtures.golden(key + ".log_assignment")
            let rows = try SuperGlueFixtures.golden(key + ".log_assignment_rows").intValues().map(Int.init)
            let actual = try #require(assignment)
            let columns = matches1.count + 1
            try #require(actual.shape == [matches0.count + 1, columns] && expected.shape == [rows.count, columns])
            try #require(rows.allSatisfy { (0...matches0.count).contains($0) } && rows.last == matches0.count)
            let values = expected.floatValues()
            var worst: Float = 0
            for (k, row) in rows.enumerated() {
                for c in 0..<columns { worst = max(worst, abs(actual.data[row * columns + c] - values[k * columns + c])) }
            }
            message += ", max log-assignment diff \(worst) over \(rows.count) of \(matches0.count + 1) rows"
            #expect(worst <= 5e-3, "\(key)\(label): log assignment differs by \(worst)")
        }
        print(message)
    }

    /// Repeated calls reuse the workspace and give identical results (timing lives in Benchmarks/).
    @Test func repeatedCallsAreIdentical() throws {
        let file = try SuperGlueFixtures.weights("indoor")
        let f0 = try SuperGlueFixtures.features("astronaut"), f1 = try SuperGlueFixtures.features("astronaut_warped")
        for iterations in [20, 100] {
            let superGlue = try SuperGlue(weights: file, config: SuperGlueConfig(sinkhornIterations: iterations))
            let first = try superGlue.match(f0, f1)
            #expect(try superGlue.match(f0, f1) == first)
        }
    }
}
