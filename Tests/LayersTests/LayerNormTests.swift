import Foundation
import Testing
@testable import Layers
import Tensors

@Suite struct LayerNormTests {
    /// Normalisation with and without GELU against a double-precision evaluation, on channel
    /// counts around the vector width (tails) and padded rows, which must stay untouched.
    @Test(arguments: [1, 5, 8, 13, 512])
    func matchesDoubleReference(channels: Int) {
        let rows = 9, stride = channels + 3
        var seed: UInt64 = UInt64(channels)
        func next() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 250
        }
        let gamma = (0..<channels).map { _ in next() }, beta = (0..<channels).map { _ in next() }
        let norm = LayerNorm(gamma: gamma, beta: beta)
        let input = (0..<(rows * stride)).map { _ in next() }
        for gelu in [false, true] {
            var data = input
            data.withUnsafeMutableBufferPointer { norm.apply($0.baseAddress!, stride: stride, rows: rows, gelu: gelu) }
            var worst = 0.0
            for r in 0..<rows {
                let row = (0..<channels).map { Double(input[r * stride + $0]) }
                let mean = row.reduce(0, +) / Double(channels)
                let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(channels)
                for c in 0..<channels {
                    var y = (row[c] - mean) / (variance + Double(norm.epsilon)).squareRoot() * Double(gamma[c]) + Double(beta[c])
                    if gelu { y = 0.5 * y * (1 + Foundation.erf(y / 2.0.squareRoot())) }
                    worst = max(worst, abs(Double(data[r * stride + c]) - y) / max(1, abs(y)))
                }
                for c in channels..<stride { #expect(data[r * stride + c] == input[r * stride + c]) }
            }
            print("LayerNorm \(channels) channels, gelu \(gelu): max error \(worst) (relative above 1)")
            // Values up to about 4 x 4 + 4: a few float roundings.
            #expect(worst < 1e-5)
        }
    }

    /// The vector GELU agrees with the scalar one (libm erff) to a couple of float roundings.
    @Test func vectorGELUMatchesScalar() {
        var worst: Float = 0
        var x: Float = -12
        while x < 12 {
            let v = FloatVector((0..<8).map { x + Float($0) * 0.000_37 })
            let g = vectorGELU(v)
            for k in 0..<8 { worst = max(worst, abs(g[k] - exactGELU(v[k])) / max(1, abs(exactGELU(v[k])))) }
            x += 0.0029
        }
        print("vectorGELU vs exactGELU: max difference \(worst) (relative above 1)")
        #expect(worst < 4 * Float.ulpOfOne)
    }
}
