// Cross attention in both directions from one similarity matrix per head: when queries and keys
// of both token sets come from the same projection (LightGlue's cross block), the similarity of
// set 1 to set 0 is the transpose of set 0 to set 1, so one score GEMM serves both softmaxes.
//
// The similarity is never held whole: it is computed a block of rows at a time, and each block
// serves both directions while it is in cache. Its rows are complete (the row softmax is exact,
// as in multiHeadAttention); its columns are not, so the column softmax is accumulated across
// blocks with a running maximum, rescaling the partial sums when the maximum grows (the
// streaming softmax of FlashAttention, Dao et al. 2022). Holding the whole n0 x n1 similarity
// instead costs its traffic to and from L3 three times per head, more than the GEMM it saves.
import Foundation

/// Rows whose exponentials one float partial sum per column adds up before joining the running sum.
private let columnSumBlockRows = 64

/// Scratch floats ``bidirectionalAttention(first:firstStride:firstCount:firstValue:firstValueStride:second:secondStride:secondCount:secondValue:secondValueStride:heads:headDim:scale:firstOutput:firstOutputStride:secondOutput:secondOutputStride:scratch:)``
/// needs: per worker a block of scores, a block of exponentials, the blocks' row normalisers,
/// and for the columns their block maxima, running maxima, running sums and running weighted
/// sums.
///
/// Grows with both counts, so one reservation for the largest counts serves every smaller pair
/// (pruning only shrinks the sets).
public func bidirectionalAttentionScratchCount(firstCount: Int, secondCount: Int, headDim: Int) -> Int {
    let columns = max(1, min(firstCount, secondCount))
    // streamedBlockRows(columns: c) * c <= max(131_072, 16 c) and streamedBlockRows <= 256.
    return Parallel.workers * (2 * max(131_072, 16 * columns) + 256 + columns * (3 + headDim))
}

/// Rows per block: ``attentionBlockRows(keyCount:)``, a block of scores within 512 KB. Each
/// block also updates the running column sums (`columns x headDim`) once, and the transposed
/// GEMM's depth is the block height: blocks half as tall measured slower.
private func streamedBlockRows(columns: Int) -> Int {
    attentionBlockRows(keyCount: columns)
}

/// Multi-head attention of two token sets to each other through one shared similarity.
///
/// Head `h` owns columns `h * headDim ..< (h + 1) * headDim` of every row. With
/// `S_h = scale * A_h B_h^T` (`A` = `first`, `B` = `second`, `[firstCount, secondCount]`):
/// `firstOutput_h = softmax_rows(S_h) secondValue_h` and
/// `secondOutput_h = softmax_rows(S_h^T) firstValue_h`: the same as
/// ``multiHeadAttention(query:queryStride:queryCount:key:keyStride:value:valueStride:keyCount:heads:headDim:scale:output:outputStride:scratch:)``
/// run both ways, to float rounding, with one score GEMM instead of two.
///
/// The larger set's rows are split into blocks (the smaller set's rows are the block columns).
/// Heads run one after another; a head's blocks are spread over the workers, each block: its
/// scores, the exact row softmax and its GEMM into the larger set's outputs, then the column
/// update: running maxima, rescaled running sums, the exponentials and one GEMM with the
/// transposed block (`K` = block rows) into the worker's running weighted sums. The workers'
/// partial column results are merged into the smaller set's outputs at the end of the head.
///
/// - Parameters:
///   - first: `firstCount` rows (set 0's queries and keys), `firstStride` apart.
///   - firstValue: `firstCount` rows, `firstValueStride` apart.
///   - second: `secondCount` rows (set 1's queries and keys), `secondStride` apart.
///   - secondValue: `secondCount` rows, `secondValueStride` apart.
///   - heads: number of heads.
///   - headDim: channels per head.
///   - scale: factor on the dot products.
///   - firstOutput: `firstCount` rows; only the `heads * headDim` leading columns are written.
///   - secondOutput: `secondCount` rows, likewise.
///   - scratch: ``bidirectionalAttentionScratchCount(firstCount:secondCount:headDim:)`` floats.
public func bidirectionalAttention(
    first: UnsafePointer<Float>, firstStride: Int, firstCount: Int,
    firstValue: UnsafePointer<Float>, firstValueStride: Int,
    second: UnsafePointer<Float>, secondStride: Int, secondCount: Int,
    secondValue: UnsafePointer<Float>, secondValueStride: Int,
    heads: Int, headDim: Int, scale: Float,
    firstOutput: UnsafeMutablePointer<Float>, firstOutputStride: Int,
    secondOutput: UnsafeMutablePointer<Float>, secondOutputStride: Int,
    scratch: UnsafeMutablePointer<Float>
) {
    precondition(firstCount > 0 && secondCount > 0, "bidirectionalAttention: both sets need at least one row")
    let rowSet = AttentionSet(tokens: first, tokenStride: firstStride, count: firstCount, values: firstValue,
                              valueStride: firstValueStride, output: firstOutput, outputStride: firstOutputStride)
    let columnSet = AttentionSet(tokens: second, tokenStride: secondStride, count: secondCount, values: secondValue,
                                 valueStride: secondValueStride, output: secondOutput, outputStride: secondOutputStride)
    // The definition is symmetric in the two sets.
    let swapped = secondCount > firstCount
    streamedAttention(rows: swapped ? columnSet : rowSet, columns: swapped ? rowSet : columnSet,
                      heads: heads, headDim: headDim, scale: scale, scratch: scratch)
}

/// One token set of ``bidirectionalAttention``: its query-and-key rows, values and output.
private struct AttentionSet {
    let tokens: UnsafePointer<Float>, tokenStride: Int, count: Int
    let values: UnsafePointer<Float>, valueStride: Int
    let output: UnsafeMutablePointer<Float>, outputStride: Int
}

/// ``bidirectionalAttention`` with the rows of `rows` in blocks and those of `columns` as the
/// block columns.
private func streamedAttention(rows: AttentionSet, columns: AttentionSet, heads: Int, headDim: Int, scale: Float,
                               scratch: UnsafeMutablePointer<Float>) {
    let n = columns.count
    let blockRows = min(streamedBlockRows(columns: n), rows.count)
    let blocks = (rows.count + blockRows - 1) / blockRows
    let workers = min(Parallel.concurrency, blocks)
    let layout = StreamedLayout(blockRows: blockRows, columns: n, headDim: headDim)
    // Score blocks start zeroed and are left zeroed (see exponentiateRow).
    for worker in 0..<workers { (scratch + worker * layout.perWorker).update(repeating: 0, count: blockRows * n) }

    for head in 0..<heads {
        let channel = head * headDim
        for worker in 0..<workers {
            let base = scratch + worker * layout.perWorker
            (base + layout.runningMaxima).update(repeating: -.infinity, count: n)
            (base + layout.runningSums).update(repeating: 0, count: n)
            (base + layout.accumulator).update(repeating: 0, count: n * headDim)
        }
        Parallel.forEachChunk(blocks) { block, worker in
            let base = scratch + worker * layout.perWorker
            let scores = base, weights = base + layout.weights, inverseSums = base + layout.inverseSums
            let blockMaxima = base + layout.blockMaxima, maxima = base + layout.runningMaxima
            let sums = base + layout.runningSums
            let accumulator = base + layout.accumulator
            let start = block * blockRows, count = min(blockRows, rows.count - start)
            sgemm(transB: true, m: count, n: n, k: headDim, alpha: scale,
                  a: rows.tokens + start * rows.tokenStride + channel, lda: rows.tokenStride,
                  b: columns.tokens + channel, ldb: columns.tokenStride, beta: 1, c: scores, ldc: n)
            // Rows: exact softmax, as multiHeadAttention.
            blockMaxima.update(repeating: -.infinity, count: n)
            for row in 0..<count {
                inverseSums[row] = exponentiateRow(scores + row * n, count: n, into: weights + row * n,
                                                    zeroingSource: false, columnMaxima: blockMaxima)
            }
            let out = rows.output + start * rows.outputStride + channel
            sgemm(m: count, n: headDim, k: n, a: weights, lda: n, b: columns.values + channel, ldb: columns.valueStride,
                  c: out, ldc: rows.outputStride)
            scaleRows(out, stride: rows.outputStride, rows: count, columns: headDim, by: inverseSums)
            // Columns: raise the running maxima, rescale what was summed under the old ones, then
            // add this block's exponentials and weighted values.
            raiseMaxima(maxima, to: blockMaxima, count: n, sums: sums, accumulator: accumulator, headDim: headDim)
            exponentiateColumns(scores, rows: count, columns: n, maxima: maxima, into: weights, sums: sums)
            sgemm(transA: true, m: n, n: headDim, k: count, a: weights, lda: n,
                  b: rows.values + start * rows.valueStride + channel, ldb: rows.valueStride,
                  beta: 1, c: accumulator, ldc: headDim)
        }
        // Merge the workers' partial column softmaxes.
        RowParallel.forEach(rows: n, minRowsPerWorker: 256) { range in
            for j in range {
                var top = -Float.infinity
                for worker in 0..<workers { top = max(top, scratch[worker * layout.perWorker + layout.runningMaxima + j]) }
                let out = columns.output + j * columns.outputStride + channel
                var total: Float = 0
                for d in 0..<headDim { out[d] = 0 }
                for worker in 0..<workers {
                    let base = scratch + worker * layout.perWorker
                    let factor = workers == 1 ? 1 : expf(base[layout.runningMaxima + j] - top)
                    total += factor * base[layout.runningSums + j]
                    let partial = base + layout.accumulator + j * headDim
                    for d in 0..<headDim { out[d] += factor * partial[d] }
                }
                let inverse = 1 / total
                for d in 0..<headDim { out[d] *= inverse }
            }
        }
    }
}

/// Offsets of one worker's part of the scratch of ``streamedAttention``.
private struct StreamedLayout {
    let weights: Int, inverseSums: Int, blockMaxima: Int, runningMaxima: Int, runningSums: Int
    let accumulator: Int, perWorker: Int

    init(blockRows: Int, columns n: Int, headDim: Int) {
        weights = blockRows * n
        inverseSums = 2 * blockRows * n
        blockMaxima = inverseSums + blockRows
        runningMaxima = blockMaxima + n
        runningSums = runningMaxima + n
        accumulator = runningSums + n
        perWorker = accumulator + n * headDim
    }
}

/// Raises each running column maximum to the block's and rescales that column's running sum
/// and weighted sums by `exp(old - new)` (0 for a column seen for the first time).
@inline(__always)
private func raiseMaxima(_ maxima: UnsafeMutablePointer<Float>, to blockMaxima: UnsafePointer<Float>, count: Int,
                         sums: UnsafeMutablePointer<Float>, accumulator: UnsafeMutablePointer<Float>, headDim: Int) {
    var j = 0
    while j < count {
        let lanes = min(8, count - j)
        let old = loadPartialVector(maxima + j, count: lanes, fill: 0)
        let seen = loadPartialVector(blockMaxima + j, count: lanes, fill: 0)
        let raised = old .< seen
        if any(raised) {
            let new = old.replacing(with: seen, where: raised)
            // A first block gives exp(-inf) = 0 (about 1e-38 here) on zero sums: still 0.
            let factors = softmaxExp(old - new)
            for k in 0..<lanes where raised[k] {
                maxima[j + k] = new[k]
                sums[j + k] *= factors[k]
                let row = accumulator + (j + k) * headDim
                for d in 0..<headDim { row[d] *= factors[k] }
            }
        }
        j += 8
    }
}

/// Writes `exp(x - maxima[column])` of a block to `e`, zeroes the block, and adds each column's
/// exponentials to `sums`, eight columns at a time down the rows (the block is in cache), with
/// the partial sums in registers over groups of rows so that no float sum runs over more than a
/// group.
@inline(__always)
private func exponentiateColumns(_ block: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
                                 maxima: UnsafePointer<Float>, into e: UnsafeMutablePointer<Float>,
                                 sums: UnsafeMutablePointer<Float>) {
    @inline(__always) func strip(_ j: Int, _ lanes: Int) {
        let maximum = loadLanes(maxima + j, lanes)
        var total = loadLanes(sums + j, lanes)
        var start = 0
        while start < rows {
            let end = min(rows, start + columnSumBlockRows)
            var partial = FloatVector.zero
            for row in start..<end {
                let p = block + row * columns + j
                // Lanes past `lanes` exponentiate 0 - 0 and are never stored.
                let x = softmaxExp(loadLanes(p, lanes) - maximum)
                storeLanes(.zero, p, lanes)
                storeLanes(x, e + row * columns + j, lanes)
                partial += x
            }
            total += partial
            start = end
        }
        storeLanes(total, sums + j, lanes)
    }
    var j = 0
    while j + 8 <= columns { strip(j, 8); j += 8 }
    if j < columns { strip(j, columns - j) }
}

/// Multiplies row `r` of a block by `factors[r]`.
@inline(__always)
func scaleRows(_ block: UnsafeMutablePointer<Float>, stride: Int, rows: Int, columns: Int, by factors: UnsafePointer<Float>) {
    for row in 0..<rows {
        let o = block + row * stride, factor = factors[row]
        for d in 0..<columns { o[d] *= factor }
    }
}
