import Foundation
import Testing
@testable import Tensors

@Suite struct VectorErfTests {
    /// Error of `vectorErf` in units in the last place of the exact value (double `erf`), over
    /// floats from 0 to 10 at a fixed bit stride, every float around the polynomial switch
    /// (0.875) and where the result reaches 1 (3.92), and the negated values.
    @Test func vectorErfIsWithinTwoUlp() {
        var inputs: [Float] = []
        let top = Float(10).bitPattern
        var bits: UInt32 = 0
        while bits <= top { inputs.append(Float(bitPattern: bits)); bits += 199 }
        for (low, high) in [(Float(0.86), Float(0.89)), (Float(3.85), Float(4.05))] {
            var x = low
            while x <= high { inputs.append(x); x = x.nextUp }
        }
        var worst = 0.0, worstAt: Float = 0, worstLibm = 0.0
        var lanes = FloatVector.zero
        func check(_ values: FloatVector, _ count: Int) {
            let result = vectorErf(values)
            for k in 0..<count {
                for sign in [Float(1), -1] {
                    let x = sign * values[k]
                    let y = sign * result[k]
                    let exact = Foundation.erf(Double(x))
                    let ulp = Double(Float(exact).ulp)
                    let error = abs(Double(y) - exact) / ulp
                    if error > worst { worst = error; worstAt = x }
                    worstLibm = max(worstLibm, abs(Double(erff(x)) - exact) / ulp)
                }
            }
        }
        var filled = 0
        for x in inputs {
            lanes[filled] = x
            filled += 1
            if filled == 8 { check(lanes, 8); filled = 0 }
        }
        if filled > 0 { check(lanes, filled) }
        print("vectorErf: \(inputs.count * 2) inputs, max error \(worst) ulp at \(worstAt) (libm erff: \(worstLibm) ulp)")
        #expect(worst < 2)
    }

    @Test func vectorErfSpecialValues() {
        let r = vectorErf(FloatVector(0, -0.0, .infinity, -.infinity, .nan, 1e-30, -1e-40, 100))
        #expect(r[0] == 0 && r[1] == 0 && r[1].sign == .minus)
        #expect(r[2] == 1 && r[3] == -1 && r[7] == 1)
        #expect(r[4].isNaN)
        #expect(abs(Double(r[5]) - 1e-30 * 2 / Double.pi.squareRoot()) <= Double(Float(1.128e-30).ulp))
        #expect(r[6] < 0 && r[6] > -2e-40)
    }

    /// Odd symmetry holds bit for bit (the sign is applied last).
    @Test func vectorErfIsOdd() {
        var x: Float = 0.001
        while x < 6 {
            let v = FloatVector((0..<8).map { x + Float($0) * 0.0003 })
            #expect(vectorErf(-v) == -vectorErf(v))
            x *= 1.01
        }
    }
}
