import Foundation
import Testing
@testable import Tensors

@Suite struct LogSumExpTests {
    /// Row and column log-sum-exp against double precision, on shapes with one row or column and
    /// vector tails; values spread over 60 so that the shifts matter.
    @Test(arguments: [(1, 1), (1, 13), (9, 1), (5, 8), (17, 23), (300, 71)])
    func matchesDoubleReference(rows: Int, columns: Int) {
        var seed = UInt64(rows * 1_000 + columns)
        let matrix: [Float] = (0..<(rows * columns)).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: seed >> 11) % 30_001 - 15_000) / 500
        }
        var rowOut = [Float](repeating: .nan, count: rows), columnOut = [Float](repeating: .nan, count: columns)
        var scratch = [Float](repeating: .nan, count: rowAndColumnLogSumExpScratchCount(columns: columns))
        matrix.withUnsafeBufferPointer { m in
            rowOut.withUnsafeMutableBufferPointer { r in columnOut.withUnsafeMutableBufferPointer { c in
                scratch.withUnsafeMutableBufferPointer { s in
                    rowAndColumnLogSumExp(m.baseAddress!, rows: rows, columns: columns, rowOutput: r.baseAddress!,
                                          columnOutput: c.baseAddress!, scratch: s.baseAddress!)
                }
            } }
        }
        func reference(_ values: [Double]) -> Double {
            let top = values.max()!
            return top + Foundation.log(values.map { Foundation.exp($0 - top) }.reduce(0, +))
        }
        var worst = 0.0
        for i in 0..<rows {
            let expected = reference((0..<columns).map { Double(matrix[i * columns + $0]) })
            worst = max(worst, abs(Double(rowOut[i]) - expected) / max(1, abs(expected)))
        }
        for j in 0..<columns {
            let expected = reference((0..<rows).map { Double(matrix[$0 * columns + j]) })
            worst = max(worst, abs(Double(columnOut[j]) - expected) / max(1, abs(expected)))
        }
        print("rowAndColumnLogSumExp \(rows) x \(columns): max error \(worst) (relative above 1)")
        // The maximum (exact) plus the log of a sum of 2-ulp exponentials, rounded to float.
        #expect(worst < 4 * Double(Float.ulpOfOne))
    }

    @Test func dualLogSoftmaxRowFollowsItsFormula() {
        for count in [1, 7, 8, 19] {
            var row = (0..<count).map { Float($0) * 0.37 - 2 }
            let original = row
            let columnTerms = (0..<count).map { Float($0) * -0.11 + 1 }, columnZ = (0..<count).map { -Float($0) * 0.05 }
            row.withUnsafeMutableBufferPointer {
                dualLogSoftmaxRow($0.baseAddress!, count: count, rowTerm: 0.7, columnTerms: columnTerms,
                                  rowLogSigmoid: -0.2, columnLogSigmoids: columnZ)
            }
            for j in 0..<count {
                let s = original[j]
                #expect(row[j] == ((s - 0.7) + (s - columnTerms[j])) + (-0.2 + columnZ[j]))
            }
        }
    }
}
