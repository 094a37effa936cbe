// Camera motions and intrinsics as match_pairs.py's evaluation handles them: the ground-truth
// T_0to1 of a pairs file, its update for images turned by quarter turns, and the intrinsics
// scaled and turned with the image (models/utils.py: scale_intrinsics, rotate_intrinsics,
// rotate_pose_inplane).

/// A rigid motion x' = R · x + t; as a transform between cameras, `T_0to1` maps points in
/// camera 0's frame to camera 1's.
public struct RigidTransform: Sendable, Equatable {
    public var rotation: Matrix3
    public var translation: Vector3

    public init(rotation: Matrix3, translation: Vector3) {
        self.rotation = rotation
        self.translation = translation
    }

    /// From a 4x4 homogeneous matrix, row-major (16 values). The last row is not read: the
    /// pairs files hold [R t; 0 0 0 1].
    public init(homogeneous v: [Double]) {
        precondition(v.count == 16, "a 4x4 transform needs 16 values, got \(v.count)")
        self.init(rotation: Matrix3(rows: Vector3(v[0], v[1], v[2]), Vector3(v[4], v[5], v[6]), Vector3(v[8], v[9], v[10])),
                  translation: Vector3(v[3], v[7], v[11]))
    }

    public static let identity = RigidTransform(rotation: .identity, translation: .zero)

    /// `a * b` applies b first.
    public static func * (a: RigidTransform, b: RigidTransform) -> RigidTransform {
        RigidTransform(rotation: a.rotation * b.rotation, translation: a.rotation * b.translation + a.translation)
    }

    public var inverse: RigidTransform {
        let rt = rotation.transposed
        return RigidTransform(rotation: rt, translation: -(rt * translation))
    }

    /// The change of camera frame when its image is turned by `k` quarter turns counter-clockwise
    /// (numpy's rot90): a rotation by -90°·k about the optical axis.
    public static func inPlaneQuarterTurns(_ k: Int) -> RigidTransform {
        let (c, s): (Double, Double)
        switch ((k % 4) + 4) % 4 {
        case 0: (c, s) = (1, 0)
        case 1: (c, s) = (0, -1)
        case 2: (c, s) = (-1, 0)
        default: (c, s) = (0, 1)
        }
        return RigidTransform(rotation: Matrix3(rows: Vector3(c, -s, 0), Vector3(s, c, 0), Vector3(0, 0, 1)), translation: .zero)
    }
}

/// Pinhole intrinsics K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]] as 3x3 matrices.
public enum Intrinsics {
    /// K of the image resized by 1/scales, where `scales` = original size / resized size per axis
    /// (the reference's scale_intrinsics: diag(1/sx, 1/sy, 1) · K).
    public static func scaled(_ k: Matrix3, by scales: (x: Double, y: Double)) -> Matrix3 {
        Matrix3.diagonal(1 / scales.x, 1 / scales.y, 1) * k
    }

    /// K of the image turned by `quarterTurns` counter-clockwise (numpy's rot90), for an image of
    /// `width` x `height` pixels before turning (the reference's rotate_intrinsics; pixel centres
    /// at integers, so a flipped axis maps c to size - 1 - c).
    public static func rotated(_ k: Matrix3, quarterTurns: Int, width: Int, height: Int) -> Matrix3 {
        let fx = k[0, 0], fy = k[1, 1], cx = k[0, 2], cy = k[1, 2]
        let w = Double(width), h = Double(height)
        func matrix(_ fx: Double, _ fy: Double, _ cx: Double, _ cy: Double) -> Matrix3 {
            Matrix3(rows: Vector3(fx, 0, cx), Vector3(0, fy, cy), Vector3(0, 0, 1))
        }
        switch ((quarterTurns % 4) + 4) % 4 {
        case 0: return k
        case 1: return matrix(fy, fx, cy, w - 1 - cx)
        case 2: return matrix(fx, fy, w - 1 - cx, h - 1 - cy)
        default: return matrix(fy, fx, h - 1 - cy, cx)
        }
    }

    /// Pixel -> normalised image coordinates ((x - cx) / fx, (y - cy) / fy); skew is ignored, as
    /// the reference does.
    @inline(__always)
    public static func normalise(_ p: SIMD2<Double>, _ k: Matrix3) -> SIMD2<Double> {
        SIMD2((p.x - k[0, 2]) / k[0, 0], (p.y - k[1, 2]) / k[1, 1])
    }
}

/// How an image was turned into the network input whose pixels the keypoints are in: resized by
/// 1/`scales`, then turned by `quarterTurns` counter-clockwise.
public struct InputImageTransformation: Sendable, Equatable {
    /// The reference's `scales`: original size / resized size, per axis; read_image swaps them
    /// for odd turns, and so does the caller.
    public var scales: (x: Double, y: Double)
    public var quarterTurns: Int
    /// Size of the resized image before turning.
    public var width: Int
    public var height: Int

    public init(scales: (x: Double, y: Double), quarterTurns: Int = 0, width: Int, height: Int) {
        self.scales = scales
        self.quarterTurns = quarterTurns
        self.width = width
        self.height = height
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.scales == b.scales && a.quarterTurns == b.quarterTurns && a.width == b.width && a.height == b.height
    }
}

extension Intrinsics {
    /// The ground truth of a pair moved into the network inputs' pixels, as match_pairs.py --eval
    /// does: intrinsics scaled to the resized images, then, for turned images, intrinsics turned
    /// and the turn folded into the motion (T_0to1 becomes turn1 · T_0to1 · turn0⁻¹).
    public static func groundTruthInInputs(intrinsics0: Matrix3, intrinsics1: Matrix3, motion: RigidTransform,
                                           image0: InputImageTransformation, image1: InputImageTransformation)
        -> (intrinsics0: Matrix3, intrinsics1: Matrix3, motion: RigidTransform) {
        var k0 = scaled(intrinsics0, by: image0.scales), k1 = scaled(intrinsics1, by: image1.scales)
        var camera0 = RigidTransform.identity, camera1 = motion
        if image0.quarterTurns % 4 != 0 {
            k0 = rotated(k0, quarterTurns: image0.quarterTurns, width: image0.width, height: image0.height)
            camera0 = RigidTransform.inPlaneQuarterTurns(image0.quarterTurns) * camera0
        }
        if image1.quarterTurns % 4 != 0 {
            k1 = rotated(k1, quarterTurns: image1.quarterTurns, width: image1.width, height: image1.height)
            camera1 = RigidTransform.inPlaneQuarterTurns(image1.quarterTurns) * camera1
        }
        return (k0, k1, camera1 * camera0.inverse)
    }
}
