import Foundation
import Testing
@testable import Tensors

/// The log-domain recursion written out in double precision, one entry at a time.
private func handSinkhorn(scores: [[Double]], bin: Double, iterations: Int) -> [[Double]] {
    let m = scores.count, n = scores[0].count
    var z = scores.map { $0 + [bin] }
    z.append([Double](repeating: bin, count: n + 1))
    let norm = -Foundation.log(Double(m + n))
    let logMu = [Double](repeating: norm, count: m) + [Foundation.log(Double(n)) + norm]
    let logNu = [Double](repeating: norm, count: n) + [Foundation.log(Double(m)) + norm]
    var u = [Double](repeating: 0, count: m + 1), v = [Double](repeating: 0, count: n + 1)
    for _ in 0..<iterations {
        for i in 0...m { u[i] = logMu[i] - Foundation.log((0...n).reduce(0.0) { $0 + Foundation.exp(z[i][$1] + v[$1]) }) }
        for j in 0...n { v[j] = logNu[j] - Foundation.log((0...m).reduce(0.0) { $0 + Foundation.exp(z[$1][j] + u[$1]) }) }
    }
    return (0...m).map { i in (0...n).map { j in z[i][j] + u[i] + v[j] - norm } }
}

private func solve(_ scores: [[Double]], bin: Float, iterations: Int, method: SinkhornMethod) -> [[Float]] {
    let m = scores.count, n = scores[0].count
    var buffer = [Float](repeating: .nan, count: (m + 1) * (n + 1))
    for i in 0..<m { for j in 0..<n { buffer[i * (n + 1) + j] = Float(scores[i][j]) } }
    let workspace = SinkhornWorkspace()
    buffer.withUnsafeMutableBufferPointer {
        logOptimalTransport(couplings: $0.baseAddress!, rows: m, columns: n, binScore: bin, iterations: iterations,
                            method: method, workspace: workspace)
    }
    return (0...m).map { i in Array(buffer[(i * (n + 1))..<((i + 1) * (n + 1))]) }
}

private func maxDifference(_ a: [[Float]], _ b: [[Double]]) -> Double {
    zip(a, b).map { zip($0, $1).map { abs(Double($0) - $1) }.max()! }.max()!
}

@Suite struct SinkhornTests {
    /// One iteration on a 1 x 1 score matrix, expanded by hand:
    /// Z = [[s, a], [a, a]], norm = -log 2, log_mu = log_nu = (-log 2, -log 2).
    @Test func oneByOneOneIterationClosedForm() {
        let s = 2.0, a = 1.0, l2 = Foundation.log(2.0)
        let u0 = -l2 - Foundation.log(Foundation.exp(s) + Foundation.exp(a))
        let u1 = -l2 - (a + l2)  // log(e^a + e^a)
        let v0 = -l2 - Foundation.log(Foundation.exp(s + u0) + Foundation.exp(a + u1))
        let v1 = -l2 - Foundation.log(Foundation.exp(a + u0) + Foundation.exp(a + u1))
        let expected = [[s + u0 + v0 + l2, a + u0 + v1 + l2], [a + u1 + v0 + l2, a + u1 + v1 + l2]]
        for method in [SinkhornMethod.logDomain, .stabilizedScaling] {
            let result = solve([[s]], bin: Float(a), iterations: 1, method: method)
            #expect(maxDifference(result, expected) < 1e-6, "\(method): \(result) vs \(expected)")
        }
    }

    @Test func twoByTwoMatchesHandIteration() {
        let scores = [[3.0, -1.0], [0.5, 2.0]]
        for iterations in [0, 1, 2, 5, 20, 100] {
            let expected = handSinkhorn(scores: scores, bin: 0.7, iterations: iterations)
            for method in [SinkhornMethod.logDomain, .stabilizedScaling] {
                let result = solve(scores, bin: 0.7, iterations: iterations, method: method)
                #expect(maxDifference(result, expected) < 2e-6, "\(method), \(iterations) iterations")
            }
        }
    }

    @Test(arguments: [(9, 23, 1.0), (40, 17, 8.0), (130, 70, 40.0)])
    func rectangularAgreesWithDoublePrecision(m: Int, n: Int, spread: Double) {
        // Wide score ranges make the stabilized solver rebuild its kernel and fall back to the
        // log domain for rows and columns that underflow.
        var seed: UInt64 = UInt64(m * 1000 + n)
        func next() -> Double { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Double(seed >> 11) / Double(1 << 53) - 0.5 }
        var scores = (0..<m).map { _ in (0..<n).map { _ in next() * spread } }
        // A few strong matches, as SuperGlue's score matrices have.
        for k in 0..<min(m, n) / 3 { scores[k][(k * 7) % n] += spread }
        for iterations in [3, 20, 100] {
            let expected = handSinkhorn(scores: scores, bin: 1.2, iterations: iterations)
            let logDomain = solve(scores, bin: 1.2, iterations: iterations, method: .logDomain)
            let stabilized = solve(scores, bin: 1.2, iterations: iterations, method: .stabilizedScaling)
            let magnitude = spread * 2 + 10
            let tolerance = 4e-6 * magnitude
            print("Sinkhorn \(m)x\(n) spread \(spread) iterations \(iterations): log-domain \(maxDifference(logDomain, expected)), stabilized \(maxDifference(stabilized, expected))")
            #expect(maxDifference(logDomain, expected) < tolerance)
            #expect(maxDifference(stabilized, expected) < tolerance)
        }
    }
}
