// The evaluation's pieces against hand-computed values, and the ground truth moved into resized
// and turned network inputs.
import Foundation
import Testing
@testable import Geometry
import Networks

@Suite struct PoseEvaluationTests {
    /// R = I, t = (1, 0, 0): E = [t]ₓ. K = [[2, 0, 1], [0, 2, 1], [0, 0, 1]] maps pixels (1, 1) and
    /// (2, 1.2) to normalised (0, 0) and (0.5, 0.1). E x̂0 = (0, -1, 0), Eᵀ x̂1 = (0, 1, -0.1),
    /// x̂1ᵀ E x̂0 = -0.1: the distance is 0.01 · (1/1 + 1/1) = 0.02.
    @Test func epipolarErrorByHand() {
        let k = Matrix3(rows: Vector3(2, 0, 1), Vector3(0, 2, 1), Vector3(0, 0, 1))
        let motion = RigidTransform(rotation: .identity, translation: Vector3(1, 0, 0))
        let errors = PoseEvaluation.epipolarErrors([SIMD2(1, 1), SIMD2(3, 1)], [SIMD2(2, 1.2), SIMD2(5, 1)],
                                                   motion: motion, intrinsics0: k, intrinsics1: k)
        #expect(abs(errors[0] - 0.02) < 1e-15)
        // (1, 0) and (2, 0) lie on the same epipolar line (y = 0): no error.
        #expect(errors[1] == 0)
    }

    @Test func angularErrors() {
        let tenDegrees = SyntheticScene.rotation(axis: Vector3(0, 0, 1), angle: 10 * .pi / 180)
        #expect(abs(PoseEvaluation.angleBetween(tenDegrees, .identity) - 10) < 1e-9)
        #expect(abs(PoseEvaluation.angleBetween(Vector3(1, 0, 0), Vector3(0, 2, 0)) - 90) < 1e-12)
        let truth = RigidTransform(rotation: tenDegrees, translation: Vector3(1, 0, 0))
        // t and -t are the same essential matrix: the error folds to 0.
        let flipped = PoseEvaluation.motionErrors(estimated: RigidTransform(rotation: tenDegrees, translation: Vector3(-3, 0, 0)), truth: truth)
        #expect(flipped.translation < 1e-6 && flipped.rotation < 1e-6)
        let tilted = PoseEvaluation.motionErrors(estimated: RigidTransform(rotation: .identity, translation: Vector3(1, 1, 0)), truth: truth)
        #expect(abs(tilted.translation - 45) < 1e-9 && abs(tilted.rotation - 10) < 1e-9)
    }

    /// errors 1, 2, 3, ∞: the curve (0,0) (1,.25) (2,.5) (3,.75) held at .75 to the threshold.
    /// At 5: (0.125 + 0.375 + 0.625 + 2 · 0.75) / 5 = 0.525. At 2: (0.125 + 0.25) / 2 = 0.1875
    /// (an error equal to the threshold is not below it). At 0.5 no error is below the threshold
    /// and the curve is held at its start, recall 0.
    @Test func areaUnderCurveByHand() {
        let auc = PoseEvaluation.areaUnderCurve(errors: [3, .infinity, 1, 2], thresholds: [5, 2, 0.5])
        #expect(abs(auc[0] - 0.525) < 1e-15)
        #expect(abs(auc[1] - 0.1875) < 1e-15)
        #expect(auc[2] == 0)
        #expect(PoseEvaluation.areaUnderCurve(errors: [.infinity, .infinity], thresholds: [5, 10]) == [0, 0])
        #expect(PoseEvaluation.areaUnderCurve(errors: [0, 0], thresholds: [5]) == [1])
    }

    /// Pixels of a turned image (numpy's rot90, counter-clockwise) agree with the turned
    /// intrinsics and motion: exact correspondences keep a zero epipolar error and points map
    /// between the turned cameras.
    @Test func groundTruthFollowsQuarterTurns() throws {
        var rng = SplitMix64(seed: 31)
        let scene = SyntheticScene.random(count: 30, rng: &rng)
        let original0 = Matrix3(rows: Vector3(1000, 0, 630), Vector3(0, 1010, 470), Vector3(0, 0, 1))
        let original1 = Matrix3(rows: Vector3(980, 0, 650), Vector3(0, 990, 490), Vector3(0, 0, 1))
        let (w, h) = (640, 480), scale = 2.0
        /// Pixel (x, y) of a w x h image after `k` counter-clockwise quarter turns.
        func turned(_ p: SIMD2<Double>, _ k: Int) -> SIMD2<Double> {
            let (wd, hd) = (Double(w), Double(h))
            switch k {
            case 1: return SIMD2(p.y, wd - 1 - p.x)
            case 2: return SIMD2(wd - 1 - p.x, hd - 1 - p.y)
            case 3: return SIMD2(hd - 1 - p.y, p.x)
            default: return p
            }
        }
        func project(_ k: Matrix3, _ x: Vector3) -> SIMD2<Double> { let p = k * x; return SIMD2(p.x / p.z, p.y / p.z) }
        for (k0, k1) in [(0, 1), (1, 0), (2, 3), (3, 3), (1, 2)] {
            let input0 = InputImageTransformation(scales: (scale, scale), quarterTurns: k0, width: w, height: h)
            let input1 = InputImageTransformation(scales: (scale, scale), quarterTurns: k1, width: w, height: h)
            let truth = Intrinsics.groundTruthInInputs(intrinsics0: original0, intrinsics1: original1, motion: scene.motion,
                                                       image0: input0, image1: input1)
            let resized0 = Intrinsics.scaled(original0, by: (scale, scale)), resized1 = Intrinsics.scaled(original1, by: (scale, scale))
            var pixels0: [SIMD2<Double>] = [], pixels1: [SIMD2<Double>] = []
            for x in scene.points {
                let y = scene.motion.rotation * x + scene.motion.translation
                pixels0.append(turned(project(resized0, x), k0))
                pixels1.append(turned(project(resized1, y), k1))
                // The turned camera 0 sees the point where the turned intrinsics project it.
                let inTurned0 = RigidTransform.inPlaneQuarterTurns(k0).rotation * x
                #expect((project(truth.intrinsics0, inTurned0) - pixels0.last!).max() < 1e-9)
                let inTurned1 = truth.motion.rotation * inTurned0 + truth.motion.translation
                #expect((project(truth.intrinsics1, inTurned1) - pixels1.last!).max() < 1e-9)
            }
            let errors = PoseEvaluation.epipolarErrors(pixels0, pixels1, motion: truth.motion,
                                                       intrinsics0: truth.intrinsics0, intrinsics1: truth.intrinsics1)
            #expect(errors.max()! < 1e-20, "turns \(k0) \(k1): \(errors.max()!)")
        }
    }

    @Test func scaledIntrinsicsDivideByTheScales() {
        let k = Matrix3(rows: Vector3(1163.45, 0, 653.626), Vector3(0, 1164.79, 481.6), Vector3(0, 0, 1))
        let s = Intrinsics.scaled(k, by: (1296.0 / 640, 968.0 / 480))
        #expect(s[0, 0] == (640.0 / 1296) * 1163.45 || abs(s[0, 0] - 1163.45 * 640 / 1296) < 1e-12)
        #expect(abs(s[1, 2] - 481.6 * 480 / 968) < 1e-12 && s[2, 2] == 1 && s[0, 1] == 0)
    }

    /// A full pair: exact inliers and random outliers; precision and matching score follow the
    /// epipolar errors, and the pose is found.
    @Test func evaluatesASyntheticPair() {
        var rng = SplitMix64(seed: 41)
        let scene = SyntheticScene.random(count: 200, rng: &rng)
        let k = Matrix3(rows: Vector3(600, 0, 320), Vector3(0, 600, 240), Vector3(0, 0, 1))
        let pixels0 = scene.image0.map { SIMD2(600 * $0.x + 320, 600 * $0.y + 240) }
        var pixels1 = scene.image1.map { SIMD2(600 * $0.x + 320, 600 * $0.y + 240) }
        for i in stride(from: 0, to: 200, by: 4) { pixels1[i] = SIMD2(640 * rng.unit(), 480 * rng.unit()) }
        var generator = SplitMix64(seed: 0)
        let result = PoseEvaluation.evaluate(pixels0, pixels1, keypointCount0: 500, intrinsics0: k, intrinsics1: k,
                                             truth: scene.motion, using: &generator)
        let correct = result.epipolarErrors.filter { $0 < 5e-4 }.count
        #expect(result.correctCount == correct && correct >= 150 && correct < 200)
        #expect(result.precision == Double(correct) / 200 && result.matchingScore == Double(correct) / 500)
        #expect(result.rotationError < 1e-3 && result.translationError < 1e-3)
        #expect(result.inlierCount >= 150)
        var again = SplitMix64(seed: 0)
        #expect(PoseEvaluation.evaluate(pixels0, pixels1, keypointCount0: 500, intrinsics0: k, intrinsics1: k,
                                        truth: scene.motion, using: &again) == result)
        // Fewer than five matches: no pose, infinite errors, as the reference reports them.
        var other = SplitMix64(seed: 0)
        let few = PoseEvaluation.evaluate(Array(pixels0.prefix(4)), Array(pixels1.prefix(4)), keypointCount0: 10,
                                          intrinsics0: k, intrinsics1: k, truth: scene.motion, using: &other)
        #expect(few.rotationError == .infinity && few.translationError == .infinity && few.poseError == .infinity)
        let none = PoseEvaluation.evaluate([], [], keypointCount0: 0, intrinsics0: k, intrinsics1: k, truth: scene.motion, using: &other)
        #expect(none.precision == 0 && none.matchingScore == 0 && none.epipolarErrors.isEmpty)
    }
}
