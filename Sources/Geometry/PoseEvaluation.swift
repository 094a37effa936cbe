// The relative pose evaluation of the reference's match_pairs.py --eval (models/utils.py):
// symmetric epipolar distances of the matches under the ground-truth motion, precision and
// matching score, the motion estimated from the matches (essential matrix by RANSAC, then
// cheirality), its angular errors, and the area under the cumulative pose error curve.
import Foundation

/// Settings of the evaluation; the defaults are the reference's.
public struct PoseEvaluationOptions: Sendable, Equatable {
    /// A match is correct when its symmetric epipolar distance (normalised coordinates, squared)
    /// is below this.
    public var epipolarThreshold: Double = 5e-4
    /// RANSAC inlier threshold in pixels of the images the keypoints live in; divided by the mean
    /// focal length to get normalised units.
    public var ransacThresholdPixels: Double = 1
    public var ransacConfidence: Double = 0.99999
    public var ransacMaxIterations: Int = 1000

    public init() {}
}

/// The per-pair values the reference writes to `{stem0}_{stem1}_evaluation.npz`.
public struct PairPoseEvaluation: Sendable, Equatable {
    /// Symmetric epipolar distance of each match, in match order.
    public var epipolarErrors: [Double]
    /// Matches with an epipolar distance below the threshold.
    public var correctCount: Int
    /// correct / matches (0 without matches).
    public var precision: Double
    /// correct / keypoints of image 0 (0 without keypoints).
    public var matchingScore: Double
    /// Angle between the estimated and the true translation directions, in degrees, folded to
    /// [0, 90] (E fixes t up to sign); infinity when no pose was estimated.
    public var translationError: Double
    /// Angle of the rotation between the estimated and the true rotation, in degrees; infinity when
    /// no pose was estimated.
    public var rotationError: Double
    /// RANSAC inliers of the estimated pose (0 when none).
    public var inlierCount: Int

    /// The pose error the AUC is computed over: the larger of the two angles.
    public var poseError: Double { max(translationError, rotationError) }
}

public enum PoseEvaluation {
    /// The symmetric epipolar distance of each correspondence (pixels, with their intrinsics)
    /// under the motion T_0to1: with x̂ = K⁻¹ x and E = [t]ₓ R,
    /// (x̂1ᵀ E x̂0)² · (1 / ((E x̂0)₀² + (E x̂0)₁²) + 1 / ((Eᵀ x̂1)₀² + (Eᵀ x̂1)₁²)).
    public static func epipolarErrors(_ points0: [SIMD2<Double>], _ points1: [SIMD2<Double>],
                                      motion: RigidTransform, intrinsics0: Matrix3, intrinsics1: Matrix3) -> [Double] {
        precondition(points0.count == points1.count)
        let e = Matrix3.crossProduct(motion.translation) * motion.rotation
        let et = e.transposed
        return zip(points0, points1).map { p, q in
            let a = Intrinsics.normalise(p, intrinsics0), b = Intrinsics.normalise(q, intrinsics1)
            let x0 = Vector3(a.x, a.y, 1), x1 = Vector3(b.x, b.y, 1)
            let ex0 = e * x0, etx1 = et * x1
            let r = (x1 * ex0).sum()
            return r * r * (1 / (ex0.x * ex0.x + ex0.y * ex0.y) + 1 / (etx1.x * etx1.x + etx1.y * etx1.y))
        }
    }

    /// The motion from camera 0 to camera 1 estimated from pixel correspondences, as the
    /// reference's estimate_pose: normalised by the intrinsics, essential matrix by RANSAC with a
    /// threshold of `thresholdPixels` over the mean focal length, then the candidate whose
    /// cheirality check keeps the most RANSAC inliers. The translation has unit length. Nil with
    /// fewer than five correspondences or when no candidate puts any inlier in front of both cameras.
    public static func estimateMotion(_ points0: [SIMD2<Double>], _ points1: [SIMD2<Double>],
                                      intrinsics0 k0: Matrix3, intrinsics1 k1: Matrix3,
                                      options: PoseEvaluationOptions = .init(),
                                      using generator: inout some RandomNumberGenerator) -> (motion: RigidTransform, inliers: [Bool])? {
        guard points0.count >= 5 else { return nil }
        // The reference averages fx of image 0 and fy of image 1.
        let meanFocal = (k0[0, 0] + k1[1, 1] + k0[0, 0] + k1[1, 1]) / 4
        let n0 = points0.map { Intrinsics.normalise($0, k0) }, n1 = points1.map { Intrinsics.normalise($0, k1) }
        let ransac = EssentialMatrixRANSAC(threshold: options.ransacThresholdPixels / meanFocal,
                                           confidence: options.ransacConfidence, maxIterations: options.ransacMaxIterations)
        guard let estimate = ransac.estimate(n0, n1, using: &generator) else { return nil }
        var best: (motion: RigidTransform, inliers: [Bool])?
        var bestCount = 0
        for e in estimate.candidates {
            // Points beyond 1e9 units count as at infinity, as in the reference's call.
            guard let (motion, count) = PoseRecovery.recover(e, n0, n1, mask: estimate.inliers, distanceLimit: 1e9) else { continue }
            if count > bestCount { best = (motion, estimate.inliers); bestCount = count }
        }
        return best
    }

    /// Angle between two directions, in degrees (the reference's angle_error_vec).
    public static func angleBetween(_ a: Vector3, _ b: Vector3) -> Double {
        let cosine = (a * b).sum() / (a.length * b.length)
        return acos(min(max(cosine, -1), 1)) * 180 / .pi
    }

    /// Angle of the rotation R1ᵀ R2, in degrees (the reference's angle_error_mat).
    public static func angleBetween(_ r1: Matrix3, _ r2: Matrix3) -> Double {
        let cosine = ((r1.transposed * r2).trace - 1) / 2
        return abs(acos(min(max(cosine, -1), 1))) * 180 / .pi
    }

    /// Translation and rotation errors of an estimated motion against the truth, in degrees; the
    /// translation error is folded to min(e, 180 - e) because E fixes t only up to sign.
    public static func motionErrors(estimated: RigidTransform, truth: RigidTransform) -> (translation: Double, rotation: Double) {
        let t = angleBetween(estimated.translation, truth.translation)
        return (min(t, 180 - t), angleBetween(estimated.rotation, truth.rotation))
    }

    /// The area under the recall-vs-error curve up to each threshold, divided by the threshold
    /// (the reference's pose_auc): errors sorted, recall (i + 1) / n at the i-th, the curve starting
    /// at (0, 0) and held flat from the last error below the threshold to the threshold;
    /// trapezoidal integration. Infinite (failed) errors count in n but never in the area.
    public static func areaUnderCurve(errors: [Double], thresholds: [Double]) -> [Double] {
        let sorted = errors.sorted { a, b in a.isNaN ? false : (b.isNaN ? true : a < b) }
        let n = Double(sorted.count)
        let e = [0] + sorted
        let recall = [0] + sorted.indices.map { Double($0 + 1) / n }
        return thresholds.map { threshold in
            // The first index whose error is not below the threshold (numpy's searchsorted, left).
            let end = e.firstIndex { !($0 < threshold) } ?? e.count
            let xs = Array(e[0..<end]) + [threshold]
            let ys = Array(recall[0..<end]) + [recall[end - 1]]
            var area = 0.0
            for i in 1..<xs.count { area += (xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1]) / 2 }
            return area / threshold
        }
    }

    /// The reference's evaluation of one pair: `points0[i]` matched to `points1[i]` (pixels of
    /// the images whose intrinsics are given), `keypointCount0` keypoints detected in image 0.
    public static func evaluate(_ points0: [SIMD2<Double>], _ points1: [SIMD2<Double>], keypointCount0: Int,
                                intrinsics0: Matrix3, intrinsics1: Matrix3, truth: RigidTransform,
                                options: PoseEvaluationOptions = .init(),
                                using generator: inout some RandomNumberGenerator) -> PairPoseEvaluation {
        let errors = epipolarErrors(points0, points1, motion: truth, intrinsics0: intrinsics0, intrinsics1: intrinsics1)
        let correct = errors.reduce(0) { $0 + ($1 < options.epipolarThreshold ? 1 : 0) }
        var result = PairPoseEvaluation(
            epipolarErrors: errors, correctCount: correct,
            precision: errors.isEmpty ? 0 : Double(correct) / Double(errors.count),
            matchingScore: keypointCount0 > 0 ? Double(correct) / Double(keypointCount0) : 0,
            translationError: .infinity, rotationError: .infinity, inlierCount: 0)
        if let (motion, inliers) = estimateMotion(points0, points1, intrinsics0: intrinsics0, intrinsics1: intrinsics1,
                                                  options: options, using: &generator) {
            (result.translationError, result.rotationError) = motionErrors(estimated: motion, truth: truth)
            result.inlierCount = inliers.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        return result
    }
}
