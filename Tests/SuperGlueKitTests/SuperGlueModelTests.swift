import Foundation
import Testing
import Checkpoints
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

@Suite struct SuperGlueModelTests {
    /// The whole network against a naive double-precision evaluation of the reference semantics
    /// (BatchNorm unfolded, channel c in head c % 4, separate merge projection, plain Sinkhorn).
    @Test(arguments: [(1, 1), (5, 7), (13, 9)])
    func smallNetworkMatchesDirectEvaluation(count0: Int, count1: Int) throws {
        let net = SyntheticSuperGlue(dim: 8, encoder: [4, 6], layers: 3, seed: 3)
        let f0 = SyntheticSuperGlue.features(count: count0, dim: 8, seed: 10)
        let f1 = SyntheticSuperGlue.features(count: count1, dim: 8, seed: 11, width: 50, height: 70)
        let expected = net.referenceLogAssignment(f0, f1, iterations: 30)
        for method in [SinkhornMethod.logDomain, .stabilizedScaling] {
            var config = net.config
            config.sinkhornMethod = method
            let superGlue = try SuperGlue(weights: net.file, config: config)
            #expect(superGlue.layerCount == 3)
            let (matches, assignment) = try superGlue.matchWithLogAssignment(f0, f1)
            let la = try #require(assignment)
            #expect(la.shape == [count0 + 1, count1 + 1])
            var worst = 0.0, magnitude = 1.0
            for i in 0...count0 {
                for j in 0...count1 {
                    worst = max(worst, abs(Double(la.data[i * (count1 + 1) + j]) - expected[i][j]))
                    magnitude = max(magnitude, abs(expected[i][j]))
                }
            }
            print("synthetic \(count0)x\(count1) \(method): max |log assignment - direct| = \(worst), max |entry| \(magnitude)")
            // float32 evaluation of an 18-op-deep random network: relative, not absolute, agreement.
            #expect(worst < 2e-5 * magnitude)
            // Match extraction applied to the returned matrix with the reference's rules.
            let returned = (0..<count0).map { i in (0..<count1).map { Double(la.data[i * (count1 + 1) + $0]) } }
            let rowBest = (0..<count0).map { i in (0..<count1).max { returned[i][$0] < returned[i][$1] } ?? 0 }
            let columnBest = (0..<count1).map { j in (0..<count0).max { returned[$0][j] < returned[$1][j] } ?? 0 }
            for i in 0..<count0 {
                let mutual = columnBest[rowBest[i]] == i
                let score = mutual ? Foundation.exp(returned[i][rowBest[i]]) : 0
                #expect(abs(Double(matches.matchingScores0[i]) - score) < 1e-6)
                #expect(matches.matches0[i] == (mutual && Float(score) > 0.2 ? rowBest[i] : -1))
            }
            for j in 0..<count1 {
                let i = columnBest[j]
                let mutual = rowBest[i] == j
                #expect(matches.matches1[j] == (mutual && matches.matches0[i] == j ? i : -1))
                #expect(matches.matchingScores1[j] == (mutual ? matches.matchingScores0[i] : 0))
            }
        }
    }

    @Test func noKeypointsMatchesNothing() throws {
        let net = SyntheticSuperGlue()
        let superGlue = try SuperGlue(weights: net.file, config: net.config)
        let empty = Features(keypoints: [], scores: [], descriptors: [], descriptorDim: 8, imageWidth: 64, imageHeight: 48)
        let some = SyntheticSuperGlue.features(count: 100, dim: 8, seed: 5)
        for (a, b) in [(empty, some), (some, empty), (empty, empty)] {
            let (matches, assignment) = try superGlue.matchWithLogAssignment(a, b)
            #expect(assignment == nil)
            #expect(matches.matches0 == Array(repeating: -1, count: a.count))
            #expect(matches.matches1 == Array(repeating: -1, count: b.count))
            #expect(matches.matchingScores0 == Array(repeating: 0, count: a.count))
            #expect(matches.matchingScores1 == Array(repeating: 0, count: b.count))
        }
    }

    @Test func inconsistentFeaturesAreRejected() throws {
        let net = SyntheticSuperGlue()
        let superGlue = try SuperGlue(weights: net.file, config: net.config)
        let good = SyntheticSuperGlue.features(count: 4, dim: 8, seed: 6)
        var wrongDim = SyntheticSuperGlue.features(count: 4, dim: 4, seed: 6)
        wrongDim.imageWidth = 10
        var shortKeypoints = good
        shortKeypoints.keypoints.removeLast()
        var shortDescriptors = good
        shortDescriptors.descriptors.removeLast()
        var noSize = good
        noSize.imageHeight = 0
        var notFinite = good
        notFinite.descriptors[3] = .nan
        for bad in [wrongDim, shortKeypoints, shortDescriptors, noSize, notFinite] {
            #expect(throws: SuperGlueError.self) { try superGlue.match(good, bad) }
            #expect(throws: SuperGlueError.self) { try superGlue.match(bad, good) }
        }
    }

    @Test func checkpointProblemsNameTheTensor() throws {
        let net = SyntheticSuperGlue()
        var missing = net.tensors
        missing["gnn.layers.1.mlp.3.bias"] = nil
        #expect(throws: WeightError.missing(name: "gnn.layers.1.mlp.3.bias", expected: [8])) {
            try SuperGlue(weights: SafeTensorsFile(tensors: missing), config: net.config)
        }
        var extra = net.tensors
        extra["gnn.layers.0.attn.extra"] = RawTensor(shape: [1], floats: [0])
        #expect(throws: WeightError.unexpected(name: "gnn.layers.0.attn.extra", shape: [1])) {
            try SuperGlue(weights: SafeTensorsFile(tensors: extra), config: net.config)
        }
        var wrongShape = net.tensors
        wrongShape["final_proj.weight"] = RawTensor(shape: [8, 8], floats: [Float](repeating: 0, count: 64))
        #expect(throws: WeightError.wrongShape(name: "final_proj.weight", expected: [8, 8, 1], found: [8, 8])) {
            try SuperGlue(weights: SafeTensorsFile(tensors: wrongShape), config: net.config)
        }
        // A checkpoint labelled as the other weight set.
        let outdoorFile = SafeTensorsFile(tensors: net.tensors, metadata: ["weights": "outdoor"])
        #expect(throws: SuperGlueError.self) { try SuperGlue(weights: outdoorFile, config: net.config) }
        var outdoor = net.config
        outdoor.weights = .outdoor
        _ = try SuperGlue(weights: outdoorFile, config: outdoor)
        // The layer count follows the checkpoint.
        let five = SyntheticSuperGlue(layers: 5)
        #expect(try SuperGlue(weights: five.file, config: five.config).layerCount == 5)
        var badConfig = net.config
        badConfig.descriptorDim = 6
        #expect(throws: SuperGlueError.self) { try SuperGlue(weights: net.file, config: badConfig) }
    }

    @Test func concurrentCallsAgreeWithSequentialOnes() async throws {
        let net = SyntheticSuperGlue(dim: 16, encoder: [8], layers: 2, seed: 9)
        var config = net.config
        config.descriptorDim = 16
        let superGlue = try SuperGlue(weights: net.file, config: config)
        let pairs = (0..<6).map { k in
            (SyntheticSuperGlue.features(count: 20 + 7 * k, dim: 16, seed: UInt64(100 + k)),
             SyntheticSuperGlue.features(count: 60 - 5 * k, dim: 16, seed: UInt64(200 + k)))
        }
        let sequential = try pairs.map { try superGlue.match($0.0, $0.1) }
        let concurrent = try await withThrowingTaskGroup(of: (Int, Matches).self) { group in
            for round in 0..<3 {
                for (index, pair) in pairs.enumerated() {
                    group.addTask { (index, try superGlue.match(pair.0, pair.1)) }
                }
                _ = round
            }
            var results: [(Int, Matches)] = []
            for try await result in group { results.append(result) }
            return results
        }
        #expect(concurrent.count == 18)
        for (index, matches) in concurrent { #expect(matches == sequential[index]) }
    }
}
