// `superglue pairs --eval`: match_pairs.py's pose evaluation of each pair, written as its
// {stem0}_{stem1}_evaluation.npz, and the summary table over the list.
import ArgumentParser
import Foundation
import Geometry
import SuperGlueKit

/// Where an image's keypoints live relative to the image on disk, so the ground-truth
/// intrinsics can be moved to the network input as the reference does.
struct EvaluationFrame {
    /// The network input's geometry: resize scales (original / input, the reference's `scales`),
    /// quarter turns, and size before turning.
    var input: InputImageTransformation
    /// Keypoints are divided by these to get network-input pixels: (1, 1) for SuperPoint, whose
    /// keypoints are in the input already; the resize scales for ALIKED and DISK, which report
    /// original pixels (as LightGlue's extract does).
    var keypointDivisor: (x: Double, y: Double)

    /// `image` is the ``ImageFeatures/image`` of the extraction: for grey detectors the resized
    /// (and turned) input, for RGB detectors the original-size grey image.
    init(_ image: PreparedImage, rotation: Int, matcher: Matcher) {
        if matcher.detector.inputChannels == 3 {
            // The grey image kept for RGB detectors is the original; the network saw the
            // antialiased resize (rotation is refused for these detectors).
            let (w, h) = (image.originalWidth, image.originalHeight)
            let size = matcher.config.colorLongSide.flatMap { AntialiasedResize.targetSize(width: w, height: h, longSide: $0) } ?? (w, h)
            let scales = (x: Double(w) / Double(size.width), y: Double(h) / Double(size.height))
            input = InputImageTransformation(scales: scales, width: size.width, height: size.height)
            keypointDivisor = scales
        } else {
            let odd = rotation % 2 != 0
            input = InputImageTransformation(scales: (image.scaleX, image.scaleY), quarterTurns: rotation,
                                             width: odd ? image.height : image.width, height: odd ? image.width : image.height)
            keypointDivisor = (1, 1)
        }
    }

    /// The frame of an image whose matches were computed earlier: decodes (and for grey
    /// detectors resizes and turns) the image as the extraction did, without running a network.
    static func load(_ url: URL, rotation: Int, matcher: Matcher) throws -> EvaluationFrame {
        let resize = matcher.detector.inputChannels == 3 ? ResizeSpec.none : matcher.config.resize
        let image = try ImageLoader.prepare(contentsOf: url, options: PreprocessingOptions(resize: resize, rotation: rotation,
                                                                                           decoding: matcher.config.decoding))
        return EvaluationFrame(image, rotation: rotation, matcher: matcher)
    }

    /// Keypoint i of `keypoints` (x, y pairs as written to the matches file) in network-input pixels.
    func inputPixels(_ keypoints: [Float], _ i: Int) -> SIMD2<Double> {
        SIMD2(Double(keypoints[2 * i]) / keypointDivisor.x, Double(keypoints[2 * i + 1]) / keypointDivisor.y)
    }
}

/// The per-pair evaluation and the reference's file of its results.
enum PairEvaluation {
    /// The ground truth of a pair of a list read with `requireGroundTruth`.
    static func groundTruth(_ pair: ImagePair) throws -> PairGroundTruth {
        guard let truth = pair.groundTruth else { throw ValidationError("\(pair.name0) \(pair.name1): no intrinsics and pose to evaluate against") }
        return truth
    }

    /// Evaluates the matches of a pair against its ground truth; the RANSAC samples come from a
    /// generator seeded with `seed` for every pair, so a pair's result does not depend on the
    /// others in the list.
    static func evaluate(_ truth: PairGroundTruth, keypoints0: [Float], keypoints1: [Float], matches0: [Int],
                         frames: (EvaluationFrame, EvaluationFrame), seed: UInt64) -> PairPoseEvaluation {
        let moved = Intrinsics.groundTruthInInputs(intrinsics0: Matrix3(rowMajor: truth.intrinsics0),
                                                   intrinsics1: Matrix3(rowMajor: truth.intrinsics1),
                                                   motion: RigidTransform(homogeneous: truth.transform0to1),
                                                   image0: frames.0.input, image1: frames.1.input)
        var points0: [SIMD2<Double>] = [], points1: [SIMD2<Double>] = []
        for (i, j) in matches0.enumerated() where j >= 0 {
            points0.append(frames.0.inputPixels(keypoints0, i))
            points1.append(frames.1.inputPixels(keypoints1, j))
        }
        var generator = SplitMix64(seed: seed)
        return PoseEvaluation.evaluate(points0, points1, keypointCount0: keypoints0.count / 2, intrinsics0: moved.intrinsics0,
                                       intrinsics1: moved.intrinsics1, truth: moved.motion, using: &generator)
    }

    /// The reference's evaluation file: error_t, error_R, precision, matching_score (float64
    /// scalars), num_correct (int64 scalar), epipolar_errors (float64, one per match).
    static func write(_ result: PairPoseEvaluation, to url: URL) throws {
        try NPZ.write([
            ("error_t", NPYArray(float64: [result.translationError], shape: [])),
            ("error_R", NPYArray(float64: [result.rotationError], shape: [])),
            ("precision", NPYArray(float64: [result.precision], shape: [])),
            ("matching_score", NPYArray(float64: [result.matchingScore], shape: [])),
            ("num_correct", NPYArray(int64: [Int64(result.correctCount)], shape: [])),
            ("epipolar_errors", NPYArray(float64: result.epipolarErrors, shape: [result.epipolarErrors.count])),
        ], to: url)
    }

    /// keypoints0, keypoints1 and matches of a `{stem0}_{stem1}_matches.npz`, checked for consistency.
    static func readMatches(_ url: URL) throws -> (keypoints0: [Float], keypoints1: [Float], matches0: [Int]) {
        let arrays = try NPZ.read(url)
        guard let k0 = try arrays["keypoints0"]?.floats(), let k1 = try arrays["keypoints1"]?.floats(),
              let m = try arrays["matches"]?.int64s().map({ Int($0) }) else {
            throw NumPyError("\(url.path): needs keypoints0, keypoints1 and matches")
        }
        guard k0.count % 2 == 0, k1.count % 2 == 0, m.count == k0.count / 2, m.allSatisfy({ $0 >= -1 && $0 < k1.count / 2 }) else {
            throw NumPyError("\(url.path): matches do not fit the keypoints")
        }
        return (k0, k1, m)
    }

    /// The values the summary needs, from an evaluation file written earlier (by this tool or
    /// by match_pairs.py).
    static func readSummaryValues(_ url: URL) throws -> (poseError: Double, precision: Double, matchingScore: Double) {
        let arrays = try NPZ.read(url)
        func scalar(_ key: String) throws -> Double {
            guard let value = try arrays[key]?.doubles().first else { throw NumPyError("\(url.path): no '\(key)' value") }
            return value
        }
        return (max(try scalar("error_t"), try scalar("error_R")), try scalar("precision"), try scalar("matching_score"))
    }

    /// The reference's summary: AUC of the pose error at 5, 10 and 20 degrees, mean precision
    /// and mean matching score, in percent.
    static func summary(poseErrors: [Double], precisions: [Double], matchingScores: [Double]) -> String {
        let auc = PoseEvaluation.areaUnderCurve(errors: poseErrors, thresholds: [5, 10, 20]).map { 100 * $0 }
        let mean = { (v: [Double]) in v.isEmpty ? 0 : 100 * v.reduce(0, +) / Double(v.count) }
        return """
            Evaluation results (mean over \(poseErrors.count) pairs):
            AUC@5\tAUC@10\tAUC@20\tPrec\tMScore
            \(String(format: "%.2f\t%.2f\t%.2f\t%.2f\t%.2f", auc[0], auc[1], auc[2], mean(precisions), mean(matchingScores)))
            """
    }
}
