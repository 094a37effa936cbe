// From an essential matrix to the camera motion, as cv2.recoverPose does: the four motions an
// essential matrix allows (Hartley & Zisserman, "Multiple View Geometry", result 9.19), each
// tested by triangulating the correspondences (linear DLT, section 12.2) and counting the points
// in front of both cameras; the motion with the most wins.

public enum PoseRecovery {
    /// The two rotations and the unit translation of E = [t]ₓ R, up to the sign of t:
    /// E = U diag(1, 1, 0) Vᵀ with U, V proper rotations, R = U W Vᵀ or U Wᵀ Vᵀ with
    /// W = [[0, 1, 0], [-1, 0, 0], [0, 0, 1]], t = the third column of U. Nil when the SVD fails.
    public static func decompose(_ e: Matrix3) -> (rotation1: Matrix3, rotation2: Matrix3, translation: Vector3)? {
        guard let (u, _, vt) = LAPACK.svd(e.rowMajor, rows: 3, cols: 3) else { return nil }
        var uMatrix = Matrix3(rowMajor: u), vtMatrix = Matrix3(rowMajor: vt)
        if uMatrix.determinant < 0 { uMatrix = -uMatrix }
        if vtMatrix.determinant < 0 { vtMatrix = -vtMatrix }
        let w = Matrix3(rows: Vector3(0, 1, 0), Vector3(-1, 0, 0), Vector3(0, 0, 1))
        return (uMatrix * w * vtMatrix, uMatrix * w.transposed * vtMatrix, uMatrix.column(2))
    }

    /// The homogeneous point X minimising the algebraic error of x0 ~ [I | 0] X and
    /// x1 ~ [R | t] X (normalised image points): the right singular vector of the 4x4 DLT system
    /// with the smallest singular value. Its overall sign is arbitrary.
    public static func triangulate(_ p0: SIMD2<Double>, _ p1: SIMD2<Double>, motion: RigidTransform) -> SIMD4<Double>? {
        let r = motion.rotation, t = motion.translation
        // Rows x·P[2] - P[0] and y·P[2] - P[1] for both cameras, P = [R | t].
        let third = SIMD4(r[2, 0], r[2, 1], r[2, 2], t.z)
        let first = SIMD4(r[0, 0], r[0, 1], r[0, 2], t.x), second = SIMD4(r[1, 0], r[1, 1], r[1, 2], t.y)
        let rows: [SIMD4<Double>] = [
            SIMD4(-1, 0, p0.x, 0), SIMD4(0, -1, p0.y, 0),
            p1.x * third - first, p1.y * third - second,
        ]
        let a = rows.flatMap { [$0.x, $0.y, $0.z, $0.w] }
        guard let (_, _, vt) = LAPACK.svd(a, rows: 4, cols: 4) else { return nil }
        return SIMD4(vt[12], vt[13], vt[14], vt[15])
    }

    /// How many of the correspondences (those flagged in `mask`, all when nil) triangulate in
    /// front of both cameras of `motion`, at depths below `distanceLimit` (which drops points near
    /// infinity, whose depth sign is unreliable).
    public static func pointsInFront(_ points0: [SIMD2<Double>], _ points1: [SIMD2<Double>], motion: RigidTransform,
                                     mask: [Bool]?, distanceLimit: Double) -> Int {
        var count = 0
        for i in points0.indices where mask?[i] ?? true {
            guard let x = triangulate(points0[i], points1[i], motion: motion), x.z * x.w > 0 else { continue }
            let point = Vector3(x.x, x.y, x.z) / x.w
            guard point.z < distanceLimit else { continue }
            let depth1 = (motion.rotation * point + motion.translation).z
            if depth1 > 0 && depth1 < distanceLimit { count += 1 }
        }
        return count
    }

    /// The motion of E that puts the most correspondences in front of both cameras, with that
    /// count; ties go to the first of (R1, t), (R2, t), (R1, -t), (R2, -t). Nil when E cannot be
    /// decomposed.
    public static func recover(_ e: Matrix3, _ points0: [SIMD2<Double>], _ points1: [SIMD2<Double>],
                               mask: [Bool]? = nil, distanceLimit: Double = 50) -> (motion: RigidTransform, inFront: Int)? {
        precondition(points0.count == points1.count && (mask?.count ?? points0.count) == points0.count)
        guard let (r1, r2, t) = decompose(e) else { return nil }
        var best: (motion: RigidTransform, inFront: Int)?
        for (r, s) in [(r1, t), (r2, t), (r1, -t), (r2, -t)] {
            let motion = RigidTransform(rotation: r, translation: s)
            let count = pointsInFront(points0, points1, motion: motion, mask: mask, distanceLimit: distanceLimit)
            if count > (best?.inFront ?? -1) { best = (motion, count) }
        }
        return best
    }
}
