// The five-point solver on exact data, its polynomial algebra, and degenerate samples.
import Foundation
import Testing
@testable import Geometry
import Networks

@Suite struct FivePointSolverTests {
    @Test func polynomialProductsAgreeWithValues() {
        var rng = SplitMix64(seed: 7)
        let l1 = CubicPolynomial.linear(rng.unit(), rng.unit(), rng.unit(), rng.unit())
        let l2 = CubicPolynomial.linear(rng.unit(), -rng.unit(), rng.unit(), rng.unit())
        let l3 = CubicPolynomial.linear(-rng.unit(), rng.unit(), rng.unit(), -rng.unit())
        let cubic = l1 * l2 * l3 - 2 * (l1 * l1) * l3 + l2
        for _ in 0..<10 {
            let (x, y, z) = (rng.unit() * 4 - 2, rng.unit() * 4 - 2, rng.unit() * 4 - 2)
            let expected = l1(x, y, z) * l2(x, y, z) * l3(x, y, z) - 2 * l1(x, y, z) * l1(x, y, z) * l3(x, y, z) + l2(x, y, z)
            #expect(abs(cubic(x, y, z) - expected) < 1e-12 * max(1, abs(expected)))
        }
    }

    /// On exact correspondences the true essential matrix is among the solutions, and every
    /// solution satisfies the five epipolar constraints and the essential matrix equations.
    @Test func exactDataContainsTheTrueEssentialMatrix() {
        var rng = SplitMix64(seed: 1)
        var worst = 0.0, solutionCounts: [Int] = []
        for _ in 0..<200 {
            let scene = SyntheticScene.random(count: 5, rng: &rng)
            let solutions = FivePointSolver.essentialMatrices(scene.image0, scene.image1)
            solutionCounts.append(solutions.count)
            let nearest = solutions.map { SyntheticScene.distanceUpToSign($0, scene.essential) }.min() ?? .infinity
            worst = max(worst, nearest)
            for e in solutions {
                for (p, q) in zip(scene.image0, scene.image1) {
                    #expect(abs((Vector3(q.x, q.y, 1) * (e * Vector3(p.x, p.y, 1))).sum()) < 1e-9)
                }
                #expect(abs(e.determinant) < 1e-9)
                let eet = e * e.transposed
                let residual = (2 * (eet * e)) + -(eet.trace * e)
                #expect(residual.norm < 1e-9)
            }
        }
        print("five-point, 200 exact scenes: worst distance of the nearest solution to the true E \(worst); solutions per sample \(solutionCounts.min()!)...\(solutionCounts.max()!), mean \(Double(solutionCounts.reduce(0, +)) / 200)")
        #expect(worst < 1e-6)
        #expect(solutionCounts.allSatisfy { (1...10).contains($0) })
    }

    @Test func degenerateSamplesGiveNoSolutionsOrValidOnes() {
        var rng = SplitMix64(seed: 3)
        let scene = SyntheticScene.random(count: 5, rng: &rng)
        // A repeated correspondence leaves only four constraints: the null space is 5-dimensional.
        var p0 = scene.image0, p1 = scene.image1
        p0[4] = p0[3]; p1[4] = p1[3]
        #expect(FivePointSolver.essentialMatrices(p0, p1).isEmpty)
        // All points identical.
        #expect(FivePointSolver.essentialMatrices(Array(repeating: p0[0], count: 5), Array(repeating: p1[0], count: 5)).isEmpty)
        // Non-finite input is refused rather than handed to LAPACK.
        p0[0] = SIMD2(.nan, 0)
        #expect(FivePointSolver.essentialMatrices(p0, p1).isEmpty)
    }
}
