// Multi-head scaled dot-product attention over row-major token matrices, with the vectorised
// exponential and row softmax it is built from (Sinkhorn.swift reuses them).

// MARK: - Vectorised exponential

/// Lanes of the vector type the element-wise kernels work on.
public typealias FloatVector = SIMD8<Float>

/// `exp(x)` for eight lanes, within about 2 ulp of the correctly rounded result.
///
/// Cody-Waite reduction `x = n ln2 + r`, `|r| <= ln2 / 2`, a degree-7 minimax-style polynomial
/// for `exp(r)` (Cephes `expf` coefficients) and `2^n` assembled in the exponent bits. Only plain
/// multiplies and adds are used so that the baseline x86-64 target (no FMA) stays vectorised.
/// Lanes below -87.33 (including -infinity) give 0; lanes above 88.37 saturate at about 2.4e38.
@inlinable @inline(__always)
public func vectorExp(_ x: FloatVector) -> FloatVector {
    let lowest = FloatVector(repeating: -87.336_55), highest = FloatVector(repeating: 88.376_26)
    // Comparisons and selects rather than pointwiseMin/Max, which the standard library does not
    // inline for SIMD8 and which carry NaN rules this kernel does not need.
    var clamped = x.replacing(with: lowest, where: x .< lowest)
    clamped.replace(with: highest, where: clamped .> highest)
    let (r, shifted) = expRangeReduction(clamped)
    var p = FloatVector(repeating: 1.987_569_15e-4)
    p = p * r + FloatVector(repeating: 1.398_199_95e-3)
    p = p * r + FloatVector(repeating: 8.333_451_9e-3)
    p = p * r + FloatVector(repeating: 4.166_579_59e-2)
    p = p * r + FloatVector(repeating: 1.666_666_55e-1)
    p = p * r + FloatVector(repeating: 5.000_000_1e-1)
    p = p * (r * r) + r + FloatVector(repeating: 1)
    return scaledByPowerOfTwo(p, shifted).replacing(with: 0, where: x .< lowest)
}

/// `exp(x)` for eight lanes known to be at most 0 (scores minus their row maximum), within about
/// 1.2e-7 relative error (about 2 ulp) of the exact value: the softmax kernel of attention.
///
/// Compared with ``vectorExp(_:)``: no upper clamp (x <= 0), lanes below -87.33 (including
/// -infinity padding) give about 1.2e-38 instead of exactly 0, which no softmax can tell apart
/// from 0 next to its maximum's 1, and a degree-5 polynomial (minimax on |r| <= ln2 / 2, fitted
/// for relative error 1.05e-7) instead of degree 7. About a third fewer instructions; the
/// attention spends about a tenth of its time here.
@inlinable @inline(__always)
public func softmaxExp(_ x: FloatVector) -> FloatVector {
    let lowest = FloatVector(repeating: -87.336_55)
    let (r, shifted) = expRangeReduction(x.replacing(with: lowest, where: x .< lowest))
    var p = FloatVector(repeating: 8.312_527e-3)
    p = p * r + FloatVector(repeating: 4.189_011_8e-2)
    p = p * r + FloatVector(repeating: 1.666_711_4e-1)
    p = p * r + FloatVector(repeating: 4.999_923_1e-1)
    p = p * (r * r) + r + FloatVector(repeating: 1)
    return scaledByPowerOfTwo(p, shifted)
}

/// Cody-Waite reduction of a clamped `x` to `x = n ln2 + r`: returns `r` and `n` held in the low
/// mantissa bits of `shifted` (adding 1.5 * 2^23 rounds x / ln2 to the nearest integer).
@inlinable @inline(__always)
func expRangeReduction(_ x: FloatVector) -> (r: FloatVector, shifted: FloatVector) {
    let roundingMagic = FloatVector(repeating: 12_582_912)
    let shifted = x * FloatVector(repeating: 1.442_695_04) + roundingMagic
    let n = shifted - roundingMagic
    // ln2 split in a short high part (exact products with n) and a correction.
    let r = x - n * FloatVector(repeating: 0.693_359_375) - n * FloatVector(repeating: -2.121_944_4e-4)
    return (r, shifted)
}

/// `p * 2^n`, `n` (at least -126) taken from ``expRangeReduction(_:)``'s `shifted`: shifting it
/// into the exponent field wraps the magic constant's bits away, leaving (n + 127) << 23 = 2^n.
@inlinable @inline(__always)
func scaledByPowerOfTwo(_ p: FloatVector, _ shifted: FloatVector) -> FloatVector {
    let bits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &<< 23 &+ SIMD8<UInt32>(repeating: 127 << 23)
    return p * unsafeBitCast(bits, to: FloatVector.self)
}

/// Lane-wise maximum by compare and select (see ``vectorExp(_:)``).
@inlinable @inline(__always)
func vectorMax(_ a: FloatVector, _ b: FloatVector) -> FloatVector {
    a.replacing(with: b, where: b .> a)
}

/// Largest lane.
@inlinable @inline(__always)
func horizontalMax(_ v: FloatVector) -> Float {
    let low = v.lowHalf, high = v.highHalf
    let half = low.replacing(with: high, where: high .> low)
    return max(max(half[0], half[1]), max(half[2], half[3]))
}

/// Sum of the lanes.
@inlinable @inline(__always)
func horizontalSum(_ v: FloatVector) -> Float {
    let half = v.lowHalf + v.highHalf
    return (half[0] + half[1]) + (half[2] + half[3])
}

@inlinable @inline(__always)
func loadVector(_ p: UnsafePointer<Float>) -> FloatVector {
    UnsafeRawPointer(p).loadUnaligned(as: FloatVector.self)
}

@inlinable @inline(__always)
func storeVector(_ v: FloatVector, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: FloatVector.self)
}

/// `count` values from `p`, padded with `fill` to a full vector (for row tails).
@inlinable @inline(__always)
func loadPartialVector(_ p: UnsafePointer<Float>, count: Int, fill: Float) -> FloatVector {
    var v = FloatVector(repeating: fill)
    for k in 0..<count { v[k] = p[k] }
    return v
}

/// `lanes` (1 to 8) floats at `p` as a vector, zeros beyond: a full load when `lanes` is 8.
@inlinable @inline(__always)
func loadLanes(_ p: UnsafePointer<Float>, _ lanes: Int) -> FloatVector {
    lanes == 8 ? loadVector(p) : loadPartialVector(p, count: lanes, fill: 0)
}

/// Stores the first `lanes` (1 to 8) lanes of `v` at `p`.
@inlinable @inline(__always)
func storeLanes(_ v: FloatVector, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == 8 {
        storeVector(v, p)
    } else {
        for k in 0..<lanes { p[k] = v[k] }
    }
}

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
/// the exponentials; with `zeroingSource`, also zeroes the row (then `e` must be elsewhere).
///
/// The attention keeps its score block zero between blocks so that the score GEMM can run with
/// beta = 1: OpenBLAS then skips its separate pass that zeroes C (about 6 % of SuperGlue), and
/// the zeros are stored here, in a pass that is bound by the exponential, not by memory.
@inline(__always)
func exponentiateRow(_ p: UnsafeMutablePointer<Float>, count: Int, into e: UnsafeMutablePointer<Float>,
                     zeroingSource: Bool) -> Float {
    let full = count & ~7
    var maxima = FloatVector(repeating: -.infinity)
    var j = 0
    while j < full { maxima = vectorMax(maxima, loadVector(p + j)); j += 8 }
    if full < count { maxima = vectorMax(maxima, loadPartialVector(p + full, count: count - full, fill: -.infinity)) }
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
/// about 256 KB, half of a 512 KB L2 cache, between the score GEMM, the exponentiation and the
/// value GEMM (64 rows at 1024 keys).
public func attentionBlockRows(keyCount: Int) -> Int {
    max(16, min(256, (65_536 / max(keyCount, 1)) & ~15))
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
        for row in 0..<rows {
            let o = out + row * outputStride, factor = inverseSums[row]
            for d in 0..<headDim { o[d] *= factor }
        }
    }
}
