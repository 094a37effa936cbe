import Foundation
import Testing
@testable import Tensors

@Suite struct BidirectionalAttentionTests {
    /// Both outputs of the kernel against a plain double-precision evaluation of the definition,
    /// on sizes that exercise one row or column, vector tails, either set as the blocked one,
    /// several blocks (the last one partial) spread over the workers, one and four heads, padded
    /// strides, and a scale large enough that the running column maxima jump by more than the
    /// float exponent range.
    @Test(arguments: [(1, 1, 1, 3, 0.9), (1, 9, 4, 3, 0.9), (7, 1, 4, 8, 0.9), (13, 17, 1, 8, 0.9), (33, 70, 4, 5, 0.9),
                      (40, 5_003, 2, 4, 0.9), (2_100, 67, 4, 2, 0.9), (1_030, 300, 1, 8, 12)] as [(Int, Int, Int, Int, Float)])
    func matchesNaiveReference(n0: Int, n1: Int, heads: Int, headDim: Int, scale: Float) {
        let width = heads * headDim
        let stride0 = width + 3, stride1 = width + 1, valueStride0 = width + 2, valueStride1 = width
        let outStride0 = width + 5, outStride1 = width + 1
        var seed = UInt64(n0 * 1_000 + n1)
        func next() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 500
        }
        let a = (0..<(n0 * stride0)).map { _ in next() }
        let b = (0..<(n1 * stride1)).map { _ in next() }
        let v0 = (0..<(n0 * valueStride0)).map { _ in next() }
        let v1 = (0..<(n1 * valueStride1)).map { _ in next() }
        var out0 = [Float](repeating: 7, count: n0 * outStride0)
        var out1 = [Float](repeating: 7, count: n1 * outStride1)
        // Scratch starts as NaN: the kernel must not read what it did not write.
        var scratch = [Float](repeating: .nan, count: bidirectionalAttentionScratchCount(firstCount: n0, secondCount: n1, headDim: headDim))
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
            v0.withUnsafeBufferPointer { v0 in v1.withUnsafeBufferPointer { v1 in
                out0.withUnsafeMutableBufferPointer { o0 in out1.withUnsafeMutableBufferPointer { o1 in
                    scratch.withUnsafeMutableBufferPointer { t in
                        bidirectionalAttention(first: a.baseAddress!, firstStride: stride0, firstCount: n0,
                                               firstValue: v0.baseAddress!, firstValueStride: valueStride0,
                                               second: b.baseAddress!, secondStride: stride1, secondCount: n1,
                                               secondValue: v1.baseAddress!, secondValueStride: valueStride1,
                                               heads: heads, headDim: headDim, scale: scale,
                                               firstOutput: o0.baseAddress!, firstOutputStride: outStride0,
                                               secondOutput: o1.baseAddress!, secondOutputStride: outStride1,
                                               scratch: t.baseAddress!)
                    }
                } }
            } }
        } }
        var worst0 = 0.0, worst1 = 0.0, largestLogit = 0.0
        for h in 0..<heads {
            let c = h * headDim
            var logits = [Double](repeating: 0, count: n0 * n1)
            for i in 0..<n0 {
                for j in 0..<n1 {
                    var dot = 0.0
                    for d in 0..<headDim { dot += Double(a[i * stride0 + c + d]) * Double(b[j * stride1 + c + d]) }
                    logits[i * n1 + j] = Double(scale) * dot
                    largestLogit = max(largestLogit, abs(logits[i * n1 + j]))
                }
            }
            for i in 0..<n0 {  // row softmax times set 1's values
                let m = (0..<n1).map { logits[i * n1 + $0] }.max()!
                let w = (0..<n1).map { Foundation.exp(logits[i * n1 + $0] - m) }
                let total = w.reduce(0, +)
                for d in 0..<headDim {
                    var sum = 0.0
                    for j in 0..<n1 { sum += w[j] * Double(v1[j * valueStride1 + c + d]) }
                    worst0 = max(worst0, abs(Double(out0[i * outStride0 + c + d]) - sum / total))
                }
            }
            for j in 0..<n1 {  // column softmax times set 0's values
                let m = (0..<n0).map { logits[$0 * n1 + j] }.max()!
                let w = (0..<n0).map { Foundation.exp(logits[$0 * n1 + j] - m) }
                let total = w.reduce(0, +)
                for d in 0..<headDim {
                    var sum = 0.0
                    for i in 0..<n0 { sum += w[i] * Double(v0[i * valueStride0 + c + d]) }
                    worst1 = max(worst1, abs(Double(out1[j * outStride1 + c + d]) - sum / total))
                }
            }
        }
        print("bidirectionalAttention \(n0) x \(n1), \(heads) heads of \(headDim), scale \(scale): max |error| \(worst0) (set 0), \(worst1) (set 1)")
        // Values are within 2 in magnitude: a few float roundings of weighted means of them, plus
        // the float scores' rounding (a few ulp of the largest logit), which the exponential turns
        // into relative errors of the weights.
        let tolerance = 2e-6 + 8 * Double(Float.ulpOfOne) * largestLogit * 2
        print("  largest |logit| \(largestLogit), tolerance \(tolerance)")
        #expect(worst0 < tolerance && worst1 < tolerance)
        // Columns beyond the heads are left alone.
        for i in 0..<n0 { for k in width..<outStride0 { #expect(out0[i * outStride0 + k] == 7) } }
        for j in 0..<n1 { for k in width..<outStride1 { #expect(out1[j * outStride1 + k] == 7) } }
    }
}
