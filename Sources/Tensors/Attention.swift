// Multi-head scaled dot-product attention over row-major token matrices, and the row softmax it
// is built from (the vector helpers are in SIMD.swift; Sinkhorn.swift reuses them).

// MARK: - Softmax

/// Replaces each row of a row-major matrix by its softmax, `exp(x - max) / sum`.
///
/// - Parameters:
///   - matrix: first element of the matrix.
///   - rows: number of rows.
///   - columns: row length (at least 1).
///   - rowStride: distance between row starts, at least `columns`.
public func softmaxRows(_ matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int, rowStride: Int) {
    precondition(columns >= 1 && rowStride >= columns, "softmaxRows: bad shape")
    RowParallel.forEach(rows: rows, minRowsPerWorker: max(1, 32_768 / columns)) { range in
        for row in range { softmaxRow(matrix + row * rowStride, count: columns) }
    }
}

@inline(__always)
func softmaxRow(_ p: UnsafeMutablePointer<Float>, count: Int) {
    let inverse = exponentiateRow(p, count: count, into: p, zeroingSource: false)
    let scale = FloatVector(repeating: inverse)
    let full = count & ~7
    var j = 0
    while j < full { storeVector(loadVector(p + j) * scale, p + j); j += 8 }
    for k in full..<count { p[k] *= inverse }
}

/// Writes `exp(x - max)` of a row to `e` (which may be the row itself) and returns `1 / sum` of
/// the exponentials; with `zeroingSource`, also zeroes the row (then `e` must be elsewhere); with
/// `columnMaxima`, also raises each of its `count` values to the row's value in that column.
///
/// The attention keeps its score block zero between blocks so that the score GEMM can run with
/// beta = 1: OpenBLAS then skips its separate pass that zeroes C (a visible share of SuperGlue), and
/// the zeros are stored here, in a pass that is bound by the exponential, not by memory.
@inline(__always)
func exponentiateRow(_ p: UnsafeMutablePointer<Float>, count: Int, into e: UnsafeMutablePointer<Float>,
                     zeroingSource: Bool, columnMaxima: UnsafeMutablePointer<Float>? = nil) -> Float {
    let full = count & ~7
    var maxima = FloatVector(repeating: -.infinity)
    var j = 0
    while j < full {
        let x = loadVector(p + j)
        maxima = vectorMax(maxima, x)
        if let columnMaxima { storeVector(vectorMax(loadVector(columnMaxima + j), x), columnMaxima + j) }
        j += 8
    }
    if full < count {
        maxima = vectorMax(maxima, loadPartialVector(p + full, count: count - full, fill: -.infinity))
        if let columnMaxima { for k in full..<count { columnMaxima[k] = max(columnMaxima[k], p[k]) } }
    }
    let rowMax = FloatVector(repeating: horizontalMax(maxima))
    var sums = FloatVector.zero
    j = 0
    while j < full {
        let x = softmaxExp(loadVector(p + j) - rowMax)
        if zeroingSource { storeVector(.zero, p + j) }
        storeVector(x, e + j)
        sums += x
        j += 8
    }
    if full < count {
        // The padding lanes are -infinity: their ~1.2e-38 must not reach the sum.
        let x = softmaxExp(loadPartialVector(p + full, count: count - full, fill: -.infinity) - rowMax)
        for k in 0..<(count - full) {
            if zeroingSource { p[full + k] = 0 }
            e[full + k] = x[k]
            sums[k] += x[k]
        }
    }
    return 1 / horizontalSum(sums)
}

// MARK: - Multi-head attention

/// Query rows per attention block: one block's scores (`rows x keyCount` floats) stay within
/// about 512 KB, half of a 1 MB L2 cache, between the score GEMM, the exponentiation and the
/// value GEMM (128 rows at 1024 keys); taller blocks than the 256 KB ones this used to take
/// measured faster on LightGlue's self attention and SuperGlue at 2048 keypoints.
public func attentionBlockRows(keyCount: Int) -> Int {
    max(16, min(256, (131_072 / max(keyCount, 1)) & ~15))
}

/// Scratch floats ``multiHeadAttention(query:queryStride:queryCount:key:keyStride:value:valueStride:keyCount:heads:headDim:scale:output:outputStride:scratch:)``
/// needs: per worker, a block of scores, a block of their exponentials and the row normalisers.
public func multiHeadAttentionScratchCount(queryCount: Int, keyCount: Int) -> Int {
    Parallel.workers * max(1, min(attentionBlockRows(keyCount: keyCount), queryCount)) * (2 * keyCount + 1)
}

/// Multi-head scaled dot-product attention on head-contiguous token matrices.
///
/// Head `h` owns columns `h * headDim ..< (h + 1) * headDim` of the query, key, value and output
/// rows. For every head, `output_h = softmax(scale * Q_h K_h^T) V_h`. The work is split into
/// (head, block of query rows) tasks spread over the workers; each task runs one GEMM for its
/// scores, an in-place exponentiation, one GEMM into its output rows and the row normalisation.
///
/// - Parameters:
///   - query: `queryCount` rows, `queryStride` apart.
///   - key: `keyCount` rows, `keyStride` apart.
///   - value: `keyCount` rows, `valueStride` apart.
///   - heads: number of heads.
///   - headDim: channels per head.
///   - scale: factor on the dot products (`1 / sqrt(headDim)` for standard attention).
///   - output: `queryCount` rows, `outputStride` apart; only the `heads * headDim` leading
///     columns are written.
///   - scratch: ``multiHeadAttentionScratchCount(queryCount:keyCount:)`` floats.
public func multiHeadAttention(
    query: UnsafePointer<Float>, queryStride: Int, queryCount: Int,
    key: UnsafePointer<Float>, keyStride: Int,
    value: UnsafePointer<Float>, valueStride: Int, keyCount: Int,
    heads: Int, headDim: Int, scale: Float,
    output: UnsafeMutablePointer<Float>, outputStride: Int,
    scratch: UnsafeMutablePointer<Float>
) {
    guard queryCount > 0 else { return }
    precondition(keyCount > 0, "multiHeadAttention: no keys")
    let blockRows = min(attentionBlockRows(keyCount: keyCount), queryCount)
    let blocks = (queryCount + blockRows - 1) / blockRows
    let perWorker = blockRows * (2 * keyCount + 1)
    // Score blocks start zeroed (and are left zeroed by every task, see exponentiateRow).
    let active = min(Parallel.concurrency, heads * blocks)
    for worker in 0..<active { (scratch + worker * perWorker).update(repeating: 0, count: blockRows * keyCount) }
    Parallel.forEachChunk(heads * blocks) { task, worker in
        let head = task / blocks, block = task % blocks
        let column = head * headDim
        let first = block * blockRows, rows = min(blockRows, queryCount - first)
        let scores = scratch + worker * perWorker
        let weights = scores + blockRows * keyCount
        let inverseSums = weights + blockRows * keyCount
        sgemm(transB: true, m: rows, n: keyCount, k: headDim, alpha: scale,
              a: query + first * queryStride + column, lda: queryStride, b: key + column, ldb: keyStride,
              beta: 1, c: scores, ldc: keyCount)
        // Unnormalised weights; each output row is divided by its sum after the second GEMM,
        // which touches headDim values per row instead of keyCount.
        for row in 0..<rows {
            inverseSums[row] = exponentiateRow(scores + row * keyCount, count: keyCount, into: weights + row * keyCount,
                                                zeroingSource: true)
        }
        let out = output + first * outputStride + column
        sgemm(m: rows, n: headDim, k: keyCount,
              a: weights, lda: keyCount, b: value + column, ldb: valueStride,
              c: out, ldc: outputStride)
        scaleRows(out, stride: outputStride, rows: rows, columns: headDim, by: inverseSums)
    }
}
