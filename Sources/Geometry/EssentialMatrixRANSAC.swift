// Robust essential matrix estimation as cv2.findEssentialMat(method=RANSAC) does it: five-point
// minimal samples, every solution of a sample scored by its Sampson distance to all
// correspondences, the best inlier count kept, and the number of samples adapted to the inlier
// ratio found so far (Fischler & Bolles 1981; the stopping rule of Hartley & Zisserman,
// "Multiple View Geometry", 4.7.1). The samples come from the caller's generator, so a seeded
// generator makes runs reproducible.
import Foundation

/// The outcome of ``EssentialMatrixRANSAC/estimate(_:_:using:)``.
public struct EssentialMatrixEstimate: Sendable {
    /// The best model; with exactly five correspondences every solution of the five-point
    /// solver (as OpenCV returns them), to be told apart by ``PoseRecovery``.
    public var candidates: [Matrix3]
    /// One flag per correspondence: Sampson distance within the threshold of the best model.
    public var inliers: [Bool]
    /// Samples drawn.
    public var iterations: Int

    public var inlierCount: Int { inliers.reduce(0) { $0 + ($1 ? 1 : 0) } }
}

public struct EssentialMatrixRANSAC: Sendable {
    /// Maximum Sampson distance of an inlier, in normalised image units.
    public var threshold: Double
    /// Probability that at least one sample was all inliers when the loop stops.
    public var confidence: Double
    public var maxIterations: Int

    public init(threshold: Double, confidence: Double = 0.99999, maxIterations: Int = 1000) {
        self.threshold = threshold
        self.confidence = confidence
        self.maxIterations = maxIterations
    }

    /// Estimates E with p1ᵀ E p0 ≈ 0 from normalised correspondences. Nil with fewer than five
    /// correspondences or when no sample yields a model supported by more than four points.
    public func estimate(_ points0: [SIMD2<Double>], _ points1: [SIMD2<Double>],
                         using generator: inout some RandomNumberGenerator) -> EssentialMatrixEstimate? {
        precondition(points0.count == points1.count, "\(points0.count) and \(points1.count) points")
        let n = points0.count
        guard n >= 5 else { return nil }
        if n == 5 {
            let solutions = FivePointSolver.essentialMatrices(points0, points1)
            return solutions.isEmpty ? nil : EssentialMatrixEstimate(candidates: solutions, inliers: Array(repeating: true, count: 5), iterations: 1)
        }
        let squaredThreshold = threshold * threshold
        var best: (model: Matrix3, inliers: [Bool], count: Int)?
        var required = maxIterations
        var iteration = 0
        var sample = [Int](repeating: 0, count: 5)
        while iteration < required {
            iteration += 1
            Self.drawDistinct(into: &sample, below: n, using: &generator)
            let models = FivePointSolver.essentialMatrices(sample.map { points0[$0] }, sample.map { points1[$0] })
            for model in models {
                var mask = [Bool](repeating: false, count: n)
                var count = 0
                for i in 0..<n where Self.sampsonDistanceSquared(model, points0[i], points1[i]) <= squaredThreshold {
                    mask[i] = true
                    count += 1
                }
                // A model must be supported by more points than its own sample.
                if count > max(best?.count ?? 0, 4) {
                    best = (model, mask, count)
                    required = Self.requiredIterations(confidence: confidence, outlierRatio: Double(n - count) / Double(n),
                                                       sampleSize: 5, limit: required)
                }
            }
        }
        guard let best else { return nil }
        return EssentialMatrixEstimate(candidates: [best.model], inliers: best.inliers, iterations: iteration)
    }

    /// The squared Sampson distance of a correspondence to E, (p1ᵀ E p0)² divided by the squared
    /// norm of the epipolar constraint's gradient, ((E p0)₀² + (E p0)₁² + (Eᵀ p1)₀² + (Eᵀ p1)₁²).
    @inline(__always)
    public static func sampsonDistanceSquared(_ e: Matrix3, _ p0: SIMD2<Double>, _ p1: SIMD2<Double>) -> Double {
        let x0 = Vector3(p0.x, p0.y, 1), x1 = Vector3(p1.x, p1.y, 1)
        let ex0 = e * x0
        let etx1 = e.transposed * x1
        let r = (x1 * ex0).sum()
        return r * r / (ex0.x * ex0.x + ex0.y * ex0.y + etx1.x * etx1.x + etx1.y * etx1.y)
    }

    /// Samples needed so that one of them is outlier-free with probability `confidence`:
    /// log(1 - confidence) / log(1 - (1 - outlierRatio)^sampleSize), rounded to nearest, at most `limit`.
    public static func requiredIterations(confidence: Double, outlierRatio: Double, sampleSize: Int, limit: Int) -> Int {
        let p = min(max(confidence, 0), 1), outliers = min(max(outlierRatio, 0), 1)
        let numerator = log(max(1 - p, Double.leastNormalMagnitude))
        let allInliers = pow(1 - outliers, Double(sampleSize))
        let failure = 1 - allInliers
        guard failure >= Double.leastNormalMagnitude else { return 0 }
        let denominator = log(failure)
        if denominator >= 0 || -numerator >= Double(limit) * -denominator { return limit }
        return Int((numerator / denominator).rounded(.toNearestOrEven))
    }

    /// `sample.count` distinct indices below n, uniformly.
    static func drawDistinct(into sample: inout [Int], below n: Int, using generator: inout some RandomNumberGenerator) {
        for k in 0..<sample.count {
            var candidate: Int
            repeat { candidate = Int(generator.next() % UInt64(n)) } while sample[0..<k].contains(candidate)
            sample[k] = candidate
        }
    }
}
