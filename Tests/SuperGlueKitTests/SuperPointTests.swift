import Foundation
import Testing
import Checkpoints
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

@Suite struct SuperPointTests {
    @Test(arguments: [
        SuperPointConfig(maxKeypoints: 0), SuperPointConfig(maxKeypoints: -2),
        SuperPointConfig(nmsRadius: -1), SuperPointConfig(descriptorDim: 0),
        SuperPointConfig(keypointThreshold: .nan),
    ])
    func invalidConfigurationsThrow(_ config: SuperPointConfig) throws {
        #expect(throws: SuperPointError.self) { try config.validate() }
        #expect(throws: SuperPointError.self) { try SuperPoint(weights: SuperPointFixtures.weights.get(), config: config) }
    }

    @Test func defaultsAreTheReferences() throws {
        let c = SuperPointConfig()
        #expect(c.descriptorDim == 256 && c.nmsRadius == 4 && c.keypointThreshold == 0.005
                && c.maxKeypoints == -1 && c.removeBorders == 4)
        try c.validate()
        try SuperPointConfig(maxKeypoints: 1).validate()
    }

    @Test func loaderRejectsMissingWrongShapedAndUnexpectedTensors() throws {
        let good = try SuperPointFixtures.weights.get()

        var missing = good
        missing.tensors["convPb.bias"] = nil
        #expect(throws: WeightError.missing(name: "convPb.bias", expected: [65])) { try SuperPoint(weights: missing) }

        var wrong = good
        wrong.tensors["conv3a.bias"] = RawTensor(shape: [64], floats: Array(repeating: 0, count: 64))
        #expect(throws: WeightError.wrongShape(name: "conv3a.bias", expected: [128], found: [64])) { try SuperPoint(weights: wrong) }

        var extra = good
        extra.tensors["conv5.weight"] = RawTensor(shape: [1], floats: [0])
        #expect(throws: WeightError.unexpected(name: "conv5.weight", shape: [1])) { try SuperPoint(weights: extra) }

        // descriptorDim must agree with convDb.
        #expect(throws: WeightError.self) { try SuperPoint(weights: good, config: .init(descriptorDim: 128)) }
    }

    @Test func rejectsBadImages() throws {
        let sp = try SuperPoint(weights: SuperPointFixtures.weights.get())
        #expect(throws: SuperPointError.self) { try sp(image: [Float](repeating: 0, count: 7 * 20), width: 7, height: 20) }
        #expect(throws: SuperPointError.self) { try sp(image: [Float](repeating: 0, count: 10), width: 16, height: 16) }
    }

    @Test func smallestImagesRun() throws {
        let sp = try SuperPoint(weights: SuperPointFixtures.weights.get())
        var rng = SystemRandomNumberGenerator()
        // 8x8: one cell, and remove_borders(4) of an 8x8 score map leaves no pixel.
        let one = try sp(image: (0..<64).map { _ in Float.random(in: 0...1, using: &rng) }, width: 8, height: 8)
        #expect(one.count == 0 && one.descriptors.isEmpty)
        // 23x17 (2x2 cells, odd sizes): whatever is found lies in [4, 12) and is unit length.
        let small = try sp(image: (0..<(23 * 17)).map { _ in Float.random(in: 0...1, using: &rng) }, width: 23, height: 17)
        for i in 0..<small.count {
            let (x, y) = small.keypoint(i)
            #expect(x >= 4 && x < 12 && y >= 4 && y < 12)
            let norm = (0..<256).map { small.descriptors[i * 256 + $0] * small.descriptors[i * 256 + $0] }.reduce(0, +)
            #expect(abs(norm - 1) < 1e-5)
        }
    }

    @Test func nmsKeepsEqualMaximaAndRecoversPointsFreedBySuppression() throws {
        let sp = try SuperPoint(weights: SuperPointFixtures.weights.get())
        let ws = SuperPointWorkspace()
        let (h, w) = (24, 24)
        ws.reserve(width: w, height: h, descriptorDim: 256)
        let points: [(y: Int, x: Int, score: Float, kept: Bool)] = [
            // R beats Q (distance 4); P loses to Q in the first pass, but Q is suppressed by R,
            // so the second pass keeps P.
            (2, 2, 1.0, true), (2, 6, 0.8, false), (2, 10, 0.6, true),
            // Equal maxima 3 apart are both kept (`==`); C is within 4 of B.
            (12, 3, 0.9, true), (12, 6, 0.9, true), (12, 10, 0.5, false),
            (20, 20, 0.3, true),
        ]
        ws.scores.base.update(repeating: 0, count: h * w)
        for p in points { ws.scores.base[p.y * w + p.x] = p.score }
        sp.simpleNMS(ws: ws, height: h, width: w)
        for p in points { #expect((ws.scores.base[p.y * w + p.x] == p.score) == p.kept, "\(p)") }
        let nonzero = (0..<(h * w)).filter { ws.scores.base[$0] != 0 }.count
        #expect(nonzero == points.filter(\.kept).count)
    }

    @Test func concurrentCallsAgree() async throws {
        let golden = try SuperPointFixtures.golden("astronaut_64x48")
        let sp = try SuperPoint(weights: SuperPointFixtures.weights.get())
        let first = try sp(image: golden.image, width: golden.width, height: golden.height)
        let results = try await withThrowingTaskGroup(of: Features.self) { group in
            for _ in 0..<4 {
                group.addTask { try sp(image: golden.image, width: golden.width, height: golden.height) }
            }
            return try await group.reduce(into: [Features]()) { $0.append($1) }
        }
        for r in results { #expect(r == first) }
        #expect(first.count > 0)
    }
}
