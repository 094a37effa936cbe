// Random two-view scenes with known geometry for the solver tests.
import Foundation
@testable import Geometry
import Networks

/// Points in front of two cameras: camera 0 at the origin, camera 1 = `motion` · camera 0.
struct SyntheticScene {
    var motion: RigidTransform
    var points: [Vector3]
    /// Normalised image coordinates of each point in both cameras.
    var image0: [SIMD2<Double>]
    var image1: [SIMD2<Double>]

    /// The essential matrix [t]ₓ R, unit Frobenius norm.
    var essential: Matrix3 {
        let e = Matrix3.crossProduct(motion.translation) * motion.rotation
        return (1 / e.norm) * e
    }

    static func gaussian(_ rng: inout SplitMix64) -> Double {
        let u = max(rng.unit(), 1e-300), v = rng.unit()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }

    /// Rodrigues' formula: the rotation by `angle` radians about `axis`.
    static func rotation(axis: Vector3, angle: Double) -> Matrix3 {
        let k = Matrix3.crossProduct(axis / axis.length)
        return Matrix3.identity + sin(angle) * k + (1 - cos(angle)) * (k * k)
    }

    static func randomUnitVector(_ rng: inout SplitMix64) -> Vector3 {
        let v = Vector3(gaussian(&rng), gaussian(&rng), gaussian(&rng))
        return v / v.length
    }

    /// `count` points with depth 4 to 8 in camera 0, kept only where camera 1 also sees them
    /// in front; rotation up to `maxAngle` radians, translation of length `baseline`.
    static func random(count: Int, maxAngle: Double = 0.5, baseline: Double = 1, rng: inout SplitMix64) -> SyntheticScene {
        let r = rotation(axis: randomUnitVector(&rng), angle: maxAngle * rng.unit())
        let motion = RigidTransform(rotation: r, translation: baseline * randomUnitVector(&rng))
        var scene = SyntheticScene(motion: motion, points: [], image0: [], image1: [])
        while scene.points.count < count {
            let depth = 4 + 4 * rng.unit()
            let p = Vector3((rng.unit() - 0.5) * depth, (rng.unit() - 0.5) * depth, depth)
            let q = motion.rotation * p + motion.translation
            guard q.z > 0.5 else { continue }
            scene.points.append(p)
            scene.image0.append(SIMD2(p.x / p.z, p.y / p.z))
            scene.image1.append(SIMD2(q.x / q.z, q.y / q.z))
        }
        return scene
    }

    /// Smallest ‖a - s·b‖ over s = ±1, for matrices of unit norm.
    static func distanceUpToSign(_ a: Matrix3, _ b: Matrix3) -> Double {
        min((a + -b).norm, (a + b).norm)
    }
}
