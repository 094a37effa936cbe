// Geometric verification for the ranking job: a homography fitted with RANSAC between matched
// keypoints. A query pasted into a photo (a poster on a wall, a logo on a box) is a plane, so the
// number of matches consistent with one homography separates true detections from chance matches
// far better than the raw match count.
//
// Method: normalised DLT (Hartley & Zisserman, "Multiple View Geometry", algorithm 4.2), 4-point
// minimal samples, forward transfer error against a pixel threshold, an adaptive iteration count,
// and a least-squares refit on the final inliers. The random generator has a fixed seed, so a
// rerun of the same job gives the same inlier counts.
import Foundation
import SuperGlueKit

/// A 3x3 homography, row-major, mapping image-0 points to image-1 points.
public struct Homography: Sendable, Equatable {
    /// The nine entries, row-major, scaled so that the largest-magnitude entry's sign is positive
    /// and `h[8] == 1` where `h[8]` is not near zero.
    public var entries: [Double]

    public init(entries: [Double]) { self.entries = entries }

    /// Maps a point; `nil` where it goes to infinity.
    public func apply(_ x: Double, _ y: Double) -> (x: Double, y: Double)? {
        let h = entries
        let w = h[6] * x + h[7] * y + h[8]
        guard abs(w) > 1e-12 else { return nil }
        return ((h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w)
    }
}

/// The outcome of ``HomographyRANSAC/estimate(_:_:)``.
public struct HomographyFit: Sendable, Equatable {
    public var homography: Homography
    /// One flag per correspondence: within the reprojection threshold of the final homography.
    public var inlierMask: [Bool]
    public var inlierCount: Int { inlierMask.reduce(0) { $0 + ($1 ? 1 : 0) } }
}

/// RANSAC estimation of a homography from point correspondences.
public struct HomographyRANSAC: Sendable {
    /// Maximum forward transfer error, in pixels, for a correspondence to count as an inlier.
    public var reprojectionThreshold: Double
    /// Probability of having drawn at least one all-inlier sample when the adaptive loop stops.
    public var confidence: Double
    public var maxIterations: Int
    /// Seed of the sampler; fixed so that reruns agree.
    public var seed: UInt64

    public init(reprojectionThreshold: Double = 3, confidence: Double = 0.999, maxIterations: Int = 2000, seed: UInt64 = 0) {
        self.reprojectionThreshold = reprojectionThreshold
        self.confidence = confidence
        self.maxIterations = maxIterations
        self.seed = seed
    }

    /// Fits a homography mapping `points0[i]` to `points1[i]`.
    ///
    /// Returns `nil` when there are fewer than four correspondences or every sample is degenerate
    /// (collinear points).
    public func estimate(_ points0: [(x: Double, y: Double)], _ points1: [(x: Double, y: Double)]) -> HomographyFit? {
        let n = min(points0.count, points1.count)
        guard n >= 4 else { return nil }
        let thresholdSquared = reprojectionThreshold * reprojectionThreshold
        var rng = SplitMix64(seed: seed)
        var best: (homography: Homography, mask: [Bool], count: Int)?
        var requiredIterations = maxIterations
        var iteration = 0
        var sample = [Int](repeating: 0, count: 4)
        while iteration < requiredIterations {
            iteration += 1
            Self.drawDistinct(into: &sample, below: n, using: &rng)
            let s0 = sample.map { points0[$0] }, s1 = sample.map { points1[$0] }
            guard !Self.hasCollinearTriple(s0), !Self.hasCollinearTriple(s1),
                  let candidate = Self.minimalSolution(s0, s1) else { continue }
            let (mask, count) = Self.inliers(of: candidate, points0, points1, n: n, thresholdSquared: thresholdSquared)
            if count > (best?.count ?? 0) {
                best = (candidate, mask, count)
                requiredIterations = min(maxIterations, Self.iterationsNeeded(inlierFraction: Double(count) / Double(n), confidence: confidence))
            }
        }
        guard var result = best else { return nil }
        // The minimal-sample model only fits four points exactly; a least-squares refit on all of
        // its inliers is less noisy, and is kept only when it explains at least as many points.
        if result.count > 4 {
            let in0 = (0..<n).filter { result.mask[$0] }.map { points0[$0] }
            let in1 = (0..<n).filter { result.mask[$0] }.map { points1[$0] }
            if let refit = Self.directLinearTransform(in0, in1) {
                let (mask, count) = Self.inliers(of: refit, points0, points1, n: n, thresholdSquared: thresholdSquared)
                if count >= result.count { result = (refit, mask, count) }
            }
        }
        return HomographyFit(homography: result.homography, inlierMask: result.mask)
    }

    /// Samples needed to draw one all-inlier 4-point set with the given confidence.
    static func iterationsNeeded(inlierFraction: Double, confidence: Double) -> Int {
        let allInliers = pow4(inlierFraction)
        if allInliers >= 1 { return 1 }
        if allInliers <= 0 { return Int.max }
        let needed = (1 - confidence).log / (1 - allInliers).log
        return needed.isFinite ? max(1, Int(needed.rounded(.up))) : Int.max
    }

    private static func pow4(_ x: Double) -> Double { x * x * x * x }

    private static func inliers(of h: Homography, _ p0: [(x: Double, y: Double)], _ p1: [(x: Double, y: Double)], n: Int, thresholdSquared: Double) -> ([Bool], Int) {
        var mask = [Bool](repeating: false, count: n)
        var count = 0
        for i in 0..<n {
            guard let q = h.apply(p0[i].x, p0[i].y) else { continue }
            let dx = q.x - p1[i].x, dy = q.y - p1[i].y
            if dx * dx + dy * dy <= thresholdSquared { mask[i] = true; count += 1 }
        }
        return (mask, count)
    }

    private static func drawDistinct(into sample: inout [Int], below n: Int, using rng: inout SplitMix64) {
        for k in 0..<sample.count {
            var candidate: Int
            repeat { candidate = Int(rng.next() % UInt64(n)) } while sample[0..<k].contains(candidate)
            sample[k] = candidate
        }
    }

    /// True when any three of the points are (nearly) collinear: such a sample does not determine a homography.
    static func hasCollinearTriple(_ p: [(x: Double, y: Double)]) -> Bool {
        for i in 0..<p.count {
            for j in (i + 1)..<p.count {
                for k in (j + 1)..<p.count {
                    let ax = p[j].x - p[i].x, ay = p[j].y - p[i].y
                    let bx = p[k].x - p[i].x, by = p[k].y - p[i].y
                    let cross = ax * by - ay * bx
                    let scale = (ax * ax + ay * ay).squareRoot() * (bx * bx + by * by).squareRoot()
                    if abs(cross) <= 1e-6 * scale || scale == 0 { return true }
                }
            }
        }
        return false
    }

    /// Normalised DLT: the homography minimising the algebraic error over all given correspondences.
    static func directLinearTransform(_ p0: [(x: Double, y: Double)], _ p1: [(x: Double, y: Double)]) -> Homography? {
        guard p0.count >= 4, p0.count == p1.count,
              let t0 = similarityNormalisation(p0), let t1 = similarityNormalisation(p1) else { return nil }
        // Accumulate AᵀA (9x9) directly rather than A (2n x 9): the smallest eigenvector of AᵀA is
        // the right singular vector of A for its smallest singular value.
        var ata = [Double](repeating: 0, count: 81)
        for i in 0..<p0.count {
            let x = t0.scale * (p0[i].x - t0.cx), y = t0.scale * (p0[i].y - t0.cy)
            let u = t1.scale * (p1[i].x - t1.cx), v = t1.scale * (p1[i].y - t1.cy)
            let rowU: [Double] = [-x, -y, -1, 0, 0, 0, u * x, u * y, u]
            let rowV: [Double] = [0, 0, 0, -x, -y, -1, v * x, v * y, v]
            for r in 0..<9 {
                for c in r..<9 { ata[r * 9 + c] += rowU[r] * rowU[c] + rowV[r] * rowV[c] }
            }
        }
        for r in 0..<9 { for c in 0..<r { ata[r * 9 + c] = ata[c * 9 + r] } }
        guard let hn = smallestEigenvector(symmetric: ata, size: 9) else { return nil }
        return denormalise(hn, t0, t1)
    }

    /// The homography through exactly four correspondences: the 8x8 DLT system with `h33 = 1`,
    /// in normalised coordinates, by Gaussian elimination (the minimal case needs no eigen-solver,
    /// and this runs once per RANSAC sample).
    static func minimalSolution(_ p0: [(x: Double, y: Double)], _ p1: [(x: Double, y: Double)]) -> Homography? {
        guard p0.count == 4, p1.count == 4,
              let t0 = similarityNormalisation(p0), let t1 = similarityNormalisation(p1) else { return nil }
        var m = [Double](repeating: 0, count: 8 * 9)  // augmented rows [A | b]
        for i in 0..<4 {
            let x = t0.scale * (p0[i].x - t0.cx), y = t0.scale * (p0[i].y - t0.cy)
            let u = t1.scale * (p1[i].x - t1.cx), v = t1.scale * (p1[i].y - t1.cy)
            let r = 2 * i * 9
            m.replaceSubrange(r..<(r + 9), with: [x, y, 1, 0, 0, 0, -u * x, -u * y, u])
            m.replaceSubrange((r + 9)..<(r + 18), with: [0, 0, 0, x, y, 1, -v * x, -v * y, v])
        }
        for column in 0..<8 {
            var pivot = column
            for row in (column + 1)..<8 where abs(m[row * 9 + column]) > abs(m[pivot * 9 + column]) { pivot = row }
            guard abs(m[pivot * 9 + column]) > 1e-12 else { return nil }
            if pivot != column { for k in 0..<9 { m.swapAt(pivot * 9 + k, column * 9 + k) } }
            for row in 0..<8 where row != column {
                let factor = m[row * 9 + column] / m[column * 9 + column]
                if factor != 0 { for k in column..<9 { m[row * 9 + k] -= factor * m[column * 9 + k] } }
            }
        }
        var hn = [Double](repeating: 1, count: 9)
        for row in 0..<8 { hn[row] = m[row * 9 + 8] / m[row * 9 + row] }
        return denormalise(hn, t0, t1)
    }

    /// Undoes the normalisations: H = T1⁻¹ · Hn · T0, with T = [[s, 0, -s·cx], [0, s, -s·cy], [0, 0, 1]].
    private static func denormalise(_ hn: [Double], _ t0: (cx: Double, cy: Double, scale: Double), _ t1: (cx: Double, cy: Double, scale: Double)) -> Homography? {
        let t0m: [Double] = [t0.scale, 0, -t0.scale * t0.cx, 0, t0.scale, -t0.scale * t0.cy, 0, 0, 1]
        let t1inv: [Double] = [1 / t1.scale, 0, t1.cx, 0, 1 / t1.scale, t1.cy, 0, 0, 1]
        var h = multiply3(t1inv, multiply3(hn, t0m))
        let norm = h.map { $0 * $0 }.reduce(0, +).squareRoot()
        guard norm > 0, norm.isFinite else { return nil }
        let divisor = abs(h[8]) > 1e-10 * norm ? h[8] : norm
        h = h.map { $0 / divisor }
        guard h.allSatisfy(\.isFinite) else { return nil }
        return Homography(entries: h)
    }

    /// Translation to the centroid and isotropic scale to a mean distance of √2; `nil` if all points coincide.
    private static func similarityNormalisation(_ p: [(x: Double, y: Double)]) -> (cx: Double, cy: Double, scale: Double)? {
        let n = Double(p.count)
        let cx = p.reduce(0) { $0 + $1.x } / n, cy = p.reduce(0) { $0 + $1.y } / n
        let meanDistance = p.reduce(0) { $0 + (($1.x - cx) * ($1.x - cx) + ($1.y - cy) * ($1.y - cy)).squareRoot() } / n
        guard meanDistance > 1e-12, meanDistance.isFinite else { return nil }
        return (cx, cy, 2.0.squareRoot() / meanDistance)
    }

    private static func multiply3(_ a: [Double], _ b: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: 9)
        for r in 0..<3 { for c in 0..<3 { out[r * 3 + c] = a[r * 3] * b[c] + a[r * 3 + 1] * b[3 + c] + a[r * 3 + 2] * b[6 + c] } }
        return out
    }

    /// Cyclic Jacobi eigen-decomposition of a small symmetric matrix; returns the unit eigenvector
    /// of the smallest eigenvalue.
    static func smallestEigenvector(symmetric input: [Double], size n: Int) -> [Double]? {
        var a = input
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var offDiagonal = 0.0
            for p in 0..<n { for q in (p + 1)..<n { offDiagonal += a[p * n + q] * a[p * n + q] } }
            if offDiagonal < 1e-30 { break }
            for p in 0..<n {
                for q in (p + 1)..<n {
                    let apq = a[p * n + q]
                    guard abs(apq) > 1e-300 else { continue }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        guard a.allSatisfy(\.isFinite) else { return nil }
        var smallest = 0
        for i in 1..<n where a[i * n + i] < a[smallest * n + smallest] { smallest = i }
        return (0..<n).map { v[$0 * n + smallest] }
    }
}

extension Double {
    fileprivate var log: Double { Foundation.log(self) }
}
