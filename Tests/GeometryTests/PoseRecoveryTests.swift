// Decomposition of E, triangulation and the cheirality choice among the four motions.
import Foundation
import Testing
@testable import Geometry
import Networks

@Suite struct PoseRecoveryTests {
    @Test func decompositionContainsTheTrueMotion() throws {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<50 {
            let scene = SyntheticScene.random(count: 5, rng: &rng)
            let (r1, r2, t) = try #require(PoseRecovery.decompose(scene.essential))
            for r in [r1, r2] {
                #expect(abs(r.determinant - 1) < 1e-9)
                #expect(((r * r.transposed) + -Matrix3.identity).norm < 1e-9)
            }
            #expect(abs(t.length - 1) < 1e-12)
            let trueT = scene.motion.translation / scene.motion.translation.length
            let rotationError = min(PoseEvaluation.angleBetween(r1, scene.motion.rotation), PoseEvaluation.angleBetween(r2, scene.motion.rotation))
            #expect(rotationError < 1e-5)
            #expect(min((t - trueT).length, (t + trueT).length) < 1e-9)
        }
    }

    @Test func triangulationRecoversThePointUpToScale() throws {
        var rng = SplitMix64(seed: 12)
        let scene = SyntheticScene.random(count: 20, rng: &rng)
        for (i, point) in scene.points.enumerated() {
            let x = try #require(PoseRecovery.triangulate(scene.image0[i], scene.image1[i], motion: scene.motion))
            #expect((Vector3(x.x, x.y, x.z) / x.w - point).length < 1e-8 * point.length)
        }
    }

    /// On exact data the true motion (unit translation) wins with every point in front; a mask
    /// restricts the count.
    @Test func recoverChoosesTheMotionWithPointsInFront() throws {
        var rng = SplitMix64(seed: 13)
        for _ in 0..<20 {
            let scene = SyntheticScene.random(count: 40, rng: &rng)
            let (motion, count) = try #require(PoseRecovery.recover(scene.essential, scene.image0, scene.image1))
            #expect(count == 40)
            let errors = PoseEvaluation.motionErrors(estimated: motion, truth: scene.motion)
            #expect(errors.rotation < 1e-5 && errors.translation < 1e-5)
            // Not folded: the sign of t is fixed by the cheirality check.
            #expect(PoseEvaluation.angleBetween(motion.translation, scene.motion.translation) < 1e-5)
            let mask = (0..<40).map { $0 % 3 == 0 }
            #expect(PoseRecovery.recover(scene.essential, scene.image0, scene.image1, mask: mask)?.inFront == 14)
        }
    }

    /// Points far beyond the distance limit are not counted (OpenCV's far-point rule).
    @Test func distanceLimitDropsFarPoints() throws {
        var rng = SplitMix64(seed: 14)
        let scene = SyntheticScene.random(count: 10, rng: &rng)
        let near = try #require(PoseRecovery.recover(scene.essential, scene.image0, scene.image1, distanceLimit: 50))
        let tooNear = try #require(PoseRecovery.recover(scene.essential, scene.image0, scene.image1, distanceLimit: 1))
        #expect(near.inFront == 10 && tooNear.inFront == 0)
    }
}
