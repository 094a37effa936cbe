// Parity with the PyTorch LightGlue (cvg/LightGlue lightglue/lightglue.py) on the random-weight
// fixtures of Tests/Fixtures/lightglue, written by Tools/reference/make_lightglue_fixtures.py:
// every input type (superpoint, disk, aliked), eight keypoint cases, five adaptivity modes, and
// per-layer intermediate tensors of one small case. Each comparison prints its worst difference
// next to the tolerance it is held to.
import Foundation
import Testing
import Checkpoints
@testable import Networks
import Tensors

enum LightGlueFixtures {
    struct Case: Decodable, Sendable, CustomStringConvertible {
        let key: String
        let features: String
        let features0: String
        let count0: Int?  // prefix of the feature set (random-weight fixtures); nil: all of it
        let features1: String
        let count1: Int?
        let depth_confidence: Double
        let width_confidence: Double
        let filter_threshold: Double
        /// Smallest distances of the reference's decisions to their thresholds (see the generators).
        let margins: [String: Double]?
        var description: String { key }

        var config: LightGlueConfig {
            LightGlueConfig(depthConfidence: depth_confidence, widthConfidence: width_confidence, filterThreshold: filter_threshold)
        }
    }

    static func cases(in file: SafeTensorsFile?) -> [Case] {
        guard let json = file?.metadata["cases"]?.data(using: .utf8) else { return [] }
        return (try? JSONDecoder().decode([Case].self, from: json)) ?? []
    }

    /// Checks a result against the goldens `<key>.*` in `file`: the same stop layer and prune
    /// arrays, at least `matchAgreement` identical match entries, matching scores within
    /// `scoreTolerance`. Returns the agreement and the worst score difference.
    ///
    /// `decisionNoise` (a logit distance) is for real weights, whose decisions are not kept away
    /// from their thresholds: when the reference recorded a token-confidence or matchability
    /// decision closer than that to its threshold, a different stop layer or pruned point is
    /// reported but not failed, and the scores (whose neighbours then see other keypoints) are
    /// not compared.
    static func check(_ result: LightGlueResult, goldens file: SafeTensorsFile, golden: Case,
                      scoreTolerance: Float = LightGlueParityTests.scoreTolerance,
                      decisionNoise: Double = 0) throws -> (agreement: Double, scoreDiff: Float) {
        let key = golden.key
        func ints(_ leaf: String) throws -> [Int] { try #require(file.tensors["\(key).\(leaf)"]).intValues().map { Int($0) } }
        func floats(_ leaf: String) throws -> [Float] { try #require(file.tensors["\(key).\(leaf)"]).floatValues() }
        let stop = try ints("stop")[0]
        let prune0 = try ints("prune0"), prune1 = try ints("prune1")
        let sameDecisions = result.stopLayer == stop && result.prune0 == prune0 && result.prune1 == prune1
        let closest = (golden.margins ?? [:]).filter { $0.key.hasPrefix("token") || $0.key.hasPrefix("matchability") }.values.min() ?? .infinity
        let excused = !sameDecisions && closest < decisionNoise
        if excused {
            print("  \(key): stop/pruning differ (stop \(result.stopLayer), reference \(stop)) where the reference decided " +
                  "\(closest) from a threshold in logit, below the noise floor \(decisionNoise); scores not compared")
        } else {
            #expect(result.stopLayer == stop, "\(key): stop layer \(result.stopLayer), reference \(stop)")
            #expect(result.prune0 == prune0, "\(key): prune0")
            #expect(result.prune1 == prune1, "\(key): prune1")
        }
        let m0 = try ints("matches0"), m1 = try ints("matches1")
        let same = zip(result.matches.matches0 + result.matches.matches1, m0 + m1).filter { $0 == $1 }.count
        let agreement = m0.count + m1.count == 0 ? 1 : Double(same) / Double(m0.count + m1.count)
        let scoreDiff = maxAbsDiff(result.matches.matchingScores0 + result.matches.matchingScores1,
                                   try floats("matching_scores0") + floats("matching_scores1"))
        #expect(agreement >= LightGlueParityTests.matchAgreement, "\(key): \(agreement * 100) % of matches identical")
        if !excused {
            #expect(scoreDiff <= scoreTolerance, "\(key): matching scores differ by \(scoreDiff) (tolerance \(scoreTolerance))")
        }
        return (agreement, excused ? 0 : scoreDiff)
    }

    static let goldens: SafeTensorsFile? = try? SafeTensorsFile(contentsOf: FixtureWeights.url("lightglue/goldens.safetensors"))
    static let intermediates: SafeTensorsFile? = try? SafeTensorsFile(contentsOf: FixtureWeights.url("lightglue/intermediates.safetensors"))
    static let featureFile: SafeTensorsFile? = try? SafeTensorsFile(contentsOf: FixtureWeights.url("lightglue/features.safetensors"))
    static let superPointFeatureFile: SafeTensorsFile? = try? SafeTensorsFile(contentsOf: FixtureWeights.url("superglue/features.safetensors"))

    static let types = ["superpoint", "disk", "aliked"]
    static let width = 640, height = 480

    static var cases: [Case] { cases(in: goldens) }

    /// The first `count` keypoints of a stored feature set (`<type>.<name>`).
    static func features(_ qualified: String, count: Int?) throws -> Features {
        let type = String(qualified.prefix(while: { $0 != "." }))
        let name = String(qualified.dropFirst(type.count + 1))
        let file = try #require(type == "superpoint" ? superPointFeatureFile : featureFile)
        let key = type == "superpoint" ? name : qualified
        let keypoints = try #require(file.tensors[key + ".keypoints"]).floatValues()
        let descriptors = try #require(file.tensors[key + ".descriptors"])
        let dim = descriptors.shape[1], count = count ?? keypoints.count / 2
        return Features(keypoints: Array(keypoints.prefix(2 * count)), scores: Array(repeating: 0, count: count),
                        descriptors: Array(descriptors.floatValues().prefix(count * dim)), descriptorDim: dim,
                        imageWidth: width, imageHeight: height)
    }

    static func matcher(_ type: String) throws -> LightGlue {
        try LightGlue(weights: FixtureWeights.load(FixtureWeights.url("lightglue/lightglue_\(type).safetensors")))
    }

    static func golden(_ key: String) throws -> RawTensor { try #require(goldens?.tensors[key]) }
}

@Suite(.serialized) struct LightGlueParityTests {
    static let scoreTolerance: Float = 1e-4
    static let matchAgreement = 0.995

    @Test func fixturesArePresent() {
        #expect(LightGlueFixtures.goldens != nil && LightGlueFixtures.featureFile != nil && LightGlueFixtures.intermediates != nil)
        // 3 types x 8 cases x 5 modes.
        #expect(LightGlueFixtures.cases.count == 120)
    }

    @Test func checkpointsLoadWithTheirLayouts() throws {
        // superpoint and disk use the old names (disk with log_assignment.I.r), aliked the new ones.
        let expected = ["superpoint": (256, 256, 4, 2), "disk": (128, 64, 4, 3), "aliked": (128, 64, 2, 4)]
        for (type, (input, dim, heads, layers)) in expected {
            let matcher = try LightGlueFixtures.matcher(type)
            #expect(matcher.inputDim == input && matcher.width == dim, "\(type)")
            #expect(matcher.headCount == heads && matcher.layerCount == layers, "\(type)")
        }
    }

    @Test func oldNamesAreRenamedByTheirIndex() {
        #expect(LightGlue.renamed("self_attn.0.Wqkv.weight") == "transformers.0.self_attn.Wqkv.weight")
        // The reference's str.replace would turn this into "transformers.1.self_attn0.ffn.0.bias".
        #expect(LightGlue.renamed("self_attn.10.ffn.0.bias") == "transformers.10.self_attn.ffn.0.bias")
        #expect(LightGlue.renamed("cross_attn.3.to_qk.weight") == "transformers.3.cross_attn.to_qk.weight")
        for unchanged in ["transformers.2.self_attn.Wqkv.bias", "log_assignment.1.r", "self_attn.x.weight", "posenc.Wr.weight"] {
            #expect(LightGlue.renamed(unchanged) == unchanged)
        }
    }

    @Test func catalogRecognisesBothLayouts() throws {
        for type in LightGlueFixtures.types {
            let file = try FixtureWeights.load(FixtureWeights.url("lightglue/lightglue_\(type).safetensors"))
            #expect(try ModelCatalog.standard.detect(names: file.tensors.keys) == .lightglue, "\(type)")
        }
        // Released architecture: 9 layers, 256 wide; DISK's old layout carries 9 optional `.r`.
        let old = LightGlue.weightSchema(layers: 9, inputDim: 128, layout: .old)
        let new = LightGlue.weightSchema(layers: 9, inputDim: 128, layout: .new)
        #expect(old.entries.filter { !$0.optional }.count == 253 && old.entries.count == 262)
        #expect(new.entries.count == 253 && new.entries.allSatisfy { !$0.optional })
        let names = old.entries.map(\.name)
        #expect(try LightGlue.weightSchema(forTensorsNamed: names) == old)
        #expect(try LightGlue.weightSchema(forTensorsNamed: new.entries.map(\.name)) == new)
    }

    @Test func refusesMismatchedFeatures() throws {
        let matcher = try LightGlueFixtures.matcher("disk")
        let wrong = Features(keypoints: [1, 2], scores: [0], descriptors: Array(repeating: 0, count: 256), descriptorDim: 256,
                             imageWidth: 640, imageHeight: 480)
        #expect(throws: LightGlueError.self) { try matcher.match(wrong, wrong) }
    }

    @Test(arguments: LightGlueFixtures.types)
    func matchesTheReference(type: String) throws {
        let base = try LightGlueFixtures.matcher(type)
        var worstScore: Float = 0, worstAgreement = 1.0
        for golden in LightGlueFixtures.cases where golden.features == type {
            let f0 = try LightGlueFixtures.features(golden.features0, count: golden.count0)
            let f1 = try LightGlueFixtures.features(golden.features1, count: golden.count1)
            let result = try base.with(golden.config).matchDetailed(f0, f1)
            let (agreement, scoreDiff) = try LightGlueFixtures.check(result, goldens: try #require(LightGlueFixtures.goldens), golden: golden)
            worstScore = max(worstScore, scoreDiff)
            worstAgreement = min(worstAgreement, agreement)
        }
        print("LightGlue parity \(type): worst matching-score diff \(worstScore) (tolerance \(Self.scoreTolerance)), "
              + "worst match agreement \(worstAgreement * 100) % (tolerance \(Self.matchAgreement * 100) %)")
    }

    /// Per-layer tensors of the `small` case, adaptivity off (superpoint: no input projection;
    /// disk: with it). Tolerances are relative to the largest reference magnitude of the tensor.
    @Test(arguments: ["superpoint", "disk"])
    func intermediatesMatchTheReference(type: String) throws {
        let file = try #require(LightGlueFixtures.intermediates)
        let golden = try #require(LightGlueFixtures.cases.first { $0.key == "\(type).small.off" })
        let matcher = try LightGlueFixtures.matcher(type).with(.nonAdaptive)
        let f0 = try LightGlueFixtures.features(golden.features0, count: golden.count0)
        let f1 = try LightGlueFixtures.features(golden.features1, count: golden.count1)
        var traced: [String: Tensor] = [:]
        _ = try matcher.matchDetailed(f0, f1) { name, tensor in traced[name] = tensor }
        let prefix = "\(type).small."
        var compared = 0
        for (name, tensor) in file.tensors.sorted(by: { $0.key < $1.key }) where name.hasPrefix(prefix) {
            let leaf = String(name.dropFirst(prefix.count))
            let reference = tensor.floatValues()
            let ours = try #require(traced[leaf], "no traced tensor \(leaf)")
            var values = ours.data
            if leaf.hasSuffix("log_assignment") {
                // The reference stores (M+1) x (N+1) with dustbins; compare the M x N block.
                let rows = tensor.shape[0] - 1, columns = tensor.shape[1] - 1
                #expect(ours.shape == [rows, columns], "\(leaf): shape \(ours.shape)")
                values = ours.data
                let inner = (0..<rows).flatMap { r in reference[(r * (columns + 1))..<(r * (columns + 1) + columns)] }
                try compare(leaf, values, inner, tolerance: 1e-4, absolute: true)
            } else {
                #expect(ours.shape == tensor.shape, "\(leaf): shape \(ours.shape), reference \(tensor.shape)")
                let tolerance: Float = leaf.hasPrefix("layer") ? 2e-5 : 1e-6
                try compare(leaf, values, reference, tolerance: tolerance, absolute: false)
            }
            compared += 1
        }
        #expect(compared >= 10)
    }

    private func compare(_ name: String, _ ours: [Float], _ reference: [Float], tolerance: Float, absolute: Bool) throws {
        #expect(ours.count == reference.count, "\(name): \(ours.count) values, reference \(reference.count)")
        let diff = maxAbsDiff(ours, reference)
        let scale = absolute ? 1 : max(reference.map(abs).max() ?? 0, 1e-30)
        print("  \(name): max |diff| \(diff) (\(absolute ? "absolute" : "relative to max \(scale)"), tolerance \(tolerance))")
        #expect(diff <= tolerance * scale, "\(name): max |diff| \(diff) > \(tolerance * scale)")
    }
}

private func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
