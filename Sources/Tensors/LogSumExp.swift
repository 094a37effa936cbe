// Log-sum-exp of every row and every column of a matrix in one kernel (LightGlue's dual
// log-softmax assignment), vectorised along the rows for both: the column reductions run over
// the rows with one vector of eight columns at a time, so no pass walks down a column.
import Foundation

/// Scratch floats ``rowAndColumnLogSumExp(_:rows:columns:rowOutput:columnOutput:scratch:)``
/// needs: the column maxima and the column sums in double.
public func rowAndColumnLogSumExpScratchCount(columns: Int) -> Int { 3 * columns + 2 }

/// Writes `log(sum_j exp(x_ij))` of every row to `rowOutput` and `log(sum_i exp(x_ij))` of every
/// column to `columnOutput`, both shifted by their maximum, with the exponentials summed in
/// double. The exponential is ``vectorExp(_:)`` (about 2 ulp).
///
/// - Parameters:
///   - matrix: `rows x columns`, row-major and contiguous; values must be finite.
///   - scratch: ``rowAndColumnLogSumExpScratchCount(columns:)`` floats.
public func rowAndColumnLogSumExp(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int,
                                  rowOutput: UnsafeMutablePointer<Float>, columnOutput: UnsafeMutablePointer<Float>,
                                  scratch: UnsafeMutablePointer<Float>) {
    guard rows > 0, columns > 0 else { return }
    let maxima = scratch
    // Doubles start at an 8-byte boundary past the maxima.
    let doubles = UnsafeMutableRawPointer(scratch + columns)
    let sums = doubles.alignedUp(for: Double.self).bindMemory(to: Double.self, capacity: columns)
    maxima.update(from: matrix, count: columns)
    for row in 1..<max(1, rows) {
        let p = matrix + row * columns
        forEachLanes(columns) { j, lanes in
            storeLanes(vectorMax(loadLanes(maxima + j, lanes), loadLanes(p + j, lanes)), maxima + j, lanes)
        }
    }
    sums.update(repeating: 0, count: columns)
    for row in 0..<rows {
        let p = matrix + row * columns
        var rowMaxima = FloatVector(repeating: -.infinity)
        forEachLanes(columns) { j, lanes in
            let x = lanes == 8 ? loadVector(p + j) : loadPartialVector(p + j, count: lanes, fill: -.infinity)
            rowMaxima = vectorMax(rowMaxima, x)
        }
        let rowMax = horizontalMax(rowMaxima), shift = FloatVector(repeating: rowMax)
        var rowLow = SIMD4<Double>.zero, rowHigh = SIMD4<Double>.zero
        forEachLanes(columns) { j, lanes in
            let x = loadLanes(p + j, lanes)
            var toRow = vectorExp(x - shift)
            let toColumn = vectorExp(x - loadLanes(maxima + j, lanes))
            if lanes < 8 { for k in lanes..<8 { toRow[k] = 0 } }
            rowLow += SIMD4<Double>(toRow.lowHalf)
            rowHigh += SIMD4<Double>(toRow.highHalf)
            if lanes == 8 {
                let low = UnsafeMutableRawPointer(sums + j), high = UnsafeMutableRawPointer(sums + j + 4)
                low.storeBytes(of: low.loadUnaligned(as: SIMD4<Double>.self) + SIMD4<Double>(toColumn.lowHalf), as: SIMD4<Double>.self)
                high.storeBytes(of: high.loadUnaligned(as: SIMD4<Double>.self) + SIMD4<Double>(toColumn.highHalf), as: SIMD4<Double>.self)
            } else {
                for k in 0..<lanes { sums[j + k] += Double(toColumn[k]) }
            }
        }
        rowOutput[row] = rowMax + Float(log((rowLow + rowHigh).sum()))
    }
    for j in 0..<columns { columnOutput[j] = maxima[j] + Float(log(sums[j])) }
}

/// Calls `body(j, lanes)` for the vectors of eight (then the last 1 to 7) columns of a row.
@inline(__always)
func forEachLanes(_ count: Int, _ body: (Int, Int) -> Void) {
    var j = 0
    while j + 8 <= count { body(j, 8); j += 8 }
    if j < count { body(j, count - j) }
}

/// Replaces each `x_j` of a row by `((x_j - rowTerm) + (x_j - columnTerms[j])) + (rowLogSigmoid +
/// columnLogSigmoids[j])`, LightGlue's log assignment from the two log-sum-exps and the
/// matchabilities, eight columns at a time in that order of operations.
public func dualLogSoftmaxRow(_ row: UnsafeMutablePointer<Float>, count: Int, rowTerm: Float, columnTerms: UnsafePointer<Float>,
                              rowLogSigmoid: Float, columnLogSigmoids: UnsafePointer<Float>) {
    let r = FloatVector(repeating: rowTerm), z = FloatVector(repeating: rowLogSigmoid)
    forEachLanes(count) { j, lanes in
        let s = loadLanes(row + j, lanes)
        let value = ((s - r) + (s - loadLanes(columnTerms + j, lanes))) + (z + loadLanes(columnLogSigmoids + j, lanes))
        storeLanes(value, row + j, lanes)
    }
}
