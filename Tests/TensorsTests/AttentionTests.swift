import Foundation
import Testing
@testable import Tensors

@Suite struct AttentionTests {
    @Test func vectorExpIsAccurate() {
        let worst = worstRelativeError(of: vectorExp, from: -87, to: 88, step: 0.1)
        print("vectorExp max relative error \(worst)")
        #expect(worst < 4 * Double(Float.ulpOfOne))
        let extremes = vectorExp(FloatVector(-.infinity, -200, -88, 0, 1, 89, 1000, -87.3))
        #expect(extremes[0] == 0 && extremes[1] == 0 && extremes[2] == 0)
        #expect(extremes[3] == 1)
        #expect(abs(extremes[4] - Float(M_E)) <= Float(M_E).ulp)
        #expect(extremes[5].isFinite && extremes[6].isFinite && extremes[5] > 1e38)
        #expect(extremes[7] > 0)
    }

    /// Worst relative error of an 8-lane exp against `Foundation.exp` on lanes from `low` to `high`.
    func worstRelativeError(of exp: (FloatVector) -> FloatVector, from low: Float, to high: Float, step: Float) -> Double {
        var worst: Double = 0
        var x = low
        while x <= high {
            let lanes = FloatVector((0..<8).map { min(high, x + Float($0) * 0.0137) })
            let e = exp(lanes)
            for k in 0..<8 {
                let exact = Foundation.exp(Double(lanes[k]))
                worst = max(worst, abs(Double(e[k]) - exact) / exact)
            }
            x += step
        }
        return worst
    }

    @Test func softmaxExpIsAccurateOnItsDomain() {
        let worst = worstRelativeError(of: softmaxExp, from: -87.3, to: 0, step: 0.01)
        print("softmaxExp max relative error \(worst)")
        // Degree-5 polynomial: 1.05e-7 by construction, plus float32 evaluation rounding.
        #expect(worst < 3e-7)
        let extremes = softmaxExp(FloatVector(-.infinity, -1e30, -200, -88, 0, -1e-30, -87.3, -0.5))
        for k in 0..<4 { #expect(extremes[k] >= 0 && extremes[k] < 1.2e-38, "lane \(k): \(extremes[k])") }
        #expect(extremes[4] == 1 && extremes[5] == 1)
        #expect(extremes[6] > 0)
        #expect(abs(Double(extremes[7]) - Foundation.exp(-0.5)) < 3e-7 * Foundation.exp(-0.5))
    }

    @Test func softmaxRowsMatchesDefinition() {
        // Row lengths around the vector width exercise the tails.
        for columns in [1, 3, 8, 11, 17] {
            let rows = 3, stride = columns + 2
            var values = (0..<(rows * stride)).map { Float(sin(Double($0) * 1.7) * 5) }
            let original = values
            values.withUnsafeMutableBufferPointer { softmaxRows($0.baseAddress!, rows: rows, columns: columns, rowStride: stride) }
            for r in 0..<rows {
                let row = (0..<columns).map { Double(original[r * stride + $0]) }
                let m = row.max()!
                let total = row.map { Foundation.exp($0 - m) }.reduce(0, +)
                for c in 0..<columns {
                    #expect(abs(Double(values[r * stride + c]) - Foundation.exp(row[c] - m) / total) < 1e-6)
                }
                for c in columns..<stride { #expect(values[r * stride + c] == original[r * stride + c]) }
            }
        }
    }

    /// Two tokens, two heads of one channel each; the expected outputs are worked out by hand.
    @Test func twoTokensByHand() {
        // Rows are tokens; column h is head h.
        let query: [Float] = [1, 0, 0, 2]
        let key: [Float] = [1, 1, 2, 0]
        let value: [Float] = [1, 10, 3, 20]
        var output = [Float](repeating: .nan, count: 4)
        var scratch = [Float](repeating: 0, count: multiHeadAttentionScratchCount(queryCount: 2, keyCount: 2))
        query.withUnsafeBufferPointer { q in key.withUnsafeBufferPointer { k in value.withUnsafeBufferPointer { v in
            output.withUnsafeMutableBufferPointer { o in scratch.withUnsafeMutableBufferPointer { s in
                multiHeadAttention(query: q.baseAddress!, queryStride: 2, queryCount: 2,
                                   key: k.baseAddress!, keyStride: 2, value: v.baseAddress!, valueStride: 2, keyCount: 2,
                                   heads: 2, headDim: 1, scale: 1, output: o.baseAddress!, outputStride: 2,
                                   scratch: s.baseAddress!)
            } }
        } } }
        let e = M_E
        // Head 0, token 0: logits (1, 2) -> weights (1, e) / (1 + e) on values (1, 3).
        let expected: [Double] = [(1 + 3 * e) / (1 + e), 15,
                                  // Token 1: head 0 has logits (0, 0) -> mean of (1, 3);
                                  // head 1 has logits (2, 0) -> weights (e^2, 1) / (e^2 + 1) on (10, 20).
                                  2, (10 * e * e + 20) / (e * e + 1)]
        for k in 0..<4 { #expect(abs(Double(output[k]) - expected[k]) < 1e-5, "output[\(k)] = \(output[k]), expected \(expected[k])") }
    }

    @Test func headsUseTheirOwnColumnsAndScale() {
        // Random 3 queries x 5 keys, 4 heads of 3 channels, strided rows; compared with a direct
        // double-precision evaluation per head.
        let heads = 4, headDim = 3, width = heads * headDim
        let nq = 3, nk = 5, stride = width + 1, outStride = width + 3
        var seed: UInt64 = 7
        func next() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 500 }
        let q = (0..<(nq * stride)).map { _ in next() }
        let k = (0..<(nk * stride)).map { _ in next() }
        let v = (0..<(nk * stride)).map { _ in next() }
        var out = [Float](repeating: 0, count: nq * outStride)
        var scratch = [Float](repeating: 0, count: multiHeadAttentionScratchCount(queryCount: nq, keyCount: nk))
        q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
            out.withUnsafeMutableBufferPointer { op in scratch.withUnsafeMutableBufferPointer { sp in
                multiHeadAttention(query: qp.baseAddress!, queryStride: stride, queryCount: nq,
                                   key: kp.baseAddress!, keyStride: stride, value: vp.baseAddress!, valueStride: stride, keyCount: nk,
                                   heads: heads, headDim: headDim, scale: 0.5, output: op.baseAddress!, outputStride: outStride,
                                   scratch: sp.baseAddress!)
            } }
        } } }
        for h in 0..<heads {
            for i in 0..<nq {
                let logits = (0..<nk).map { j in 0.5 * (0..<headDim).reduce(0.0) { $0 + Double(q[i * stride + h * headDim + $1]) * Double(k[j * stride + h * headDim + $1]) } }
                let m = logits.max()!
                let w = logits.map { Foundation.exp($0 - m) }
                let total = w.reduce(0, +)
                for d in 0..<headDim {
                    let expected = (0..<nk).reduce(0.0) { $0 + w[$1] / total * Double(v[$1 * stride + h * headDim + d]) }
                    #expect(abs(Double(out[i * outStride + h * headDim + d]) - expected) < 1e-5)
                }
            }
            for i in 0..<nq { for c in width..<outStride { #expect(out[i * outStride + c] == 0) } }
        }
    }
}
