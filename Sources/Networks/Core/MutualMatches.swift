// Mutual nearest neighbours of a log assignment matrix, the match rule SuperGlue and LightGlue
// share: best column of each row and best row of each column, kept when mutual and when the
// score exp(log assignment) exceeds a threshold.
import Foundation

/// Mutual best matches of the `count0 x count1` block at the top-left of `logAssignment` (rows
/// `rowStride` apart). A mutual pair's score is reported even when it is not above
/// `threshold` (the references do so); strict comparisons keep the first index among ties.
public func mutualMatches(logAssignment: UnsafePointer<Float>, count0: Int, count1: Int, rowStride: Int,
                          threshold: Float) -> Matches {
    var rowBest = [Int](repeating: 0, count: count0), rowMax = [Float](repeating: -.infinity, count: count0)
    var columnBest = [Int](repeating: 0, count: count1), columnMax = [Float](repeating: -.infinity, count: count1)
    // Strict comparisons keep the first index among equal maxima.
    rowBest.withUnsafeMutableBufferPointer { rowBest in
        rowMax.withUnsafeMutableBufferPointer { rowMax in
            columnBest.withUnsafeMutableBufferPointer { columnBest in
                columnMax.withUnsafeMutableBufferPointer { columnMax in
                    for i in 0..<count0 {
                        let row = logAssignment + i * rowStride
                        var best = 0, bestValue = row[0]
                        for j in 0..<count1 {
                            let value = row[j]
                            if value > bestValue { bestValue = value; best = j }
                            if value > columnMax[j] { columnMax[j] = value; columnBest[j] = i }
                        }
                        rowBest[i] = best
                        rowMax[i] = bestValue
                    }
                }
            }
        }
    }
    var result = Matches.unmatched(count0: count0, count1: count1)
    var valid0 = [Bool](repeating: false, count: count0)
    for i in 0..<count0 where columnBest[rowBest[i]] == i {
        let score = expf(rowMax[i])
        result.matchingScores0[i] = score
        if score > threshold {
            valid0[i] = true
            result.matches0[i] = rowBest[i]
        }
    }
    for j in 0..<count1 where rowBest[columnBest[j]] == j {
        result.matchingScores1[j] = result.matchingScores0[columnBest[j]]
        if valid0[columnBest[j]] { result.matches1[j] = columnBest[j] }
    }
    return result
}
