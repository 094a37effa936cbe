// Entropic optimal transport with a dustbin row and column, solved by Sinkhorn iterations on the
// log potentials (SuperGlue, Sarlin et al. CVPR 2020, section 3.2 and its supplementary).
//
// Both solvers compute the same iterates as the plain log-domain recursion
//     u_i = log_mu_i - logsumexp_j(Z_ij + v_j),   v_j = log_nu_j - logsumexp_i(Z_ij + u_i)
// from u = v = 0, and return Z_ij + u_i + v_j - norm. `.logDomain` evaluates every logsumexp
// directly (two exps per matrix entry per iteration). `.stabilizedScaling` keeps a kernel
// K = exp(Z + ua + va - norm) with the potentials ua, va "absorbed" at some earlier iteration,
// so that an iteration is two matrix-vector products with exp(v - va) and exp(u - ua); the
// kernel is rebuilt whenever those offsets grow, and rows or columns whose sums became too
// small to be accurate are recomputed in the log domain.
import COpenBLAS
import Foundation

/// How ``logOptimalTransport(couplings:rows:columns:binScore:iterations:method:workspace:)``
/// evaluates the Sinkhorn iterations.
public enum SinkhornMethod: Sendable, Hashable {
    /// Every log-sum-exp evaluated over the full matrix (vectorised exp).
    case logDomain
    /// Matrix-vector products with an absorbed kernel, falling back to the log domain where the
    /// kernel cannot represent a row or column accurately. Same result to float32 rounding.
    case stabilizedScaling
}

/// Reusable buffers for the Sinkhorn solvers. Not thread-safe: one per concurrent caller.
public final class SinkhornWorkspace {
    private var capacity = 0
    private var vectorCapacity = 0
    /// Kernel, or the transposed couplings for `.logDomain`.
    private var matrix: UnsafeMutablePointer<Float>
    private var vectors: UnsafeMutablePointer<Float>

    public init() {
        matrix = .allocate(capacity: 1)
        vectors = .allocate(capacity: 1)
    }

    deinit {
        matrix.deallocate()
        vectors.deallocate()
    }

    func reserve(matrixCount: Int, vectorCount: Int) -> (matrix: UnsafeMutablePointer<Float>, vectors: UnsafeMutablePointer<Float>) {
        if matrixCount > capacity {
            matrix.deallocate()
            matrix = .allocate(capacity: matrixCount)
            capacity = matrixCount
        }
        if vectorCount > vectorCapacity {
            vectors.deallocate()
            vectors = .allocate(capacity: vectorCount)
            vectorCapacity = vectorCount
        }
        return (matrix, vectors)
    }
}

/// Turns a score matrix into SuperGlue's log assignment matrix, in place.
///
/// `couplings` holds `(rows + 1) x (columns + 1)` floats, row-major; its leading
/// `rows x columns` block must hold the scores. The last column and row are set to `binScore`
/// (the dustbins), the marginals are `1 / (rows + columns)` for every real point and
/// `columns / (rows + columns)` (row dustbin) and `rows / (rows + columns)` (column dustbin), and
/// after `iterations` Sinkhorn iterations the matrix is replaced by `log P + log(rows + columns)`
/// for the transport plan `P`.
///
/// - Precondition: `rows >= 1`, `columns >= 1`, `iterations >= 0`.
public func logOptimalTransport(
    couplings: UnsafeMutablePointer<Float>, rows m: Int, columns n: Int,
    binScore: Float, iterations: Int,
    method: SinkhornMethod = .stabilizedScaling,
    workspace: SinkhornWorkspace
) {
    precondition(m >= 1 && n >= 1 && iterations >= 0, "logOptimalTransport: empty problem")
    let rowCount = m + 1, columnCount = n + 1
    for i in 0..<m { couplings[i * columnCount + n] = binScore }
    for j in 0..<columnCount { couplings[m * columnCount + j] = binScore }

    // The marginals in float32, rounded exactly as the reference forms them.
    let norm = -logf(Float(m + n))
    let (matrix, vectors) = workspace.reserve(matrixCount: rowCount * columnCount, vectorCount: 8 * (rowCount + columnCount))
    let logMu = vectors, logNu = logMu + rowCount
    let u = logNu + columnCount, v = u + rowCount
    let scratch = v + columnCount
    for i in 0..<m { logMu[i] = norm }
    logMu[m] = logf(Float(n)) + norm
    for j in 0..<n { logNu[j] = norm }
    logNu[n] = logf(Float(m)) + norm
    u.initialize(repeating: 0, count: rowCount)
    v.initialize(repeating: 0, count: columnCount)

    if iterations > 0 {
        let problem = SinkhornProblem(
            z: couplings, rows: rowCount, columns: columnCount, logMu: logMu, logNu: logNu,
            norm: norm, u: u, v: v)
        switch method {
        case .logDomain:
            problem.solveLogDomain(iterations: iterations, transposed: matrix)
        case .stabilizedScaling:
            problem.solveStabilized(iterations: iterations, kernel: matrix, scratch: scratch)
        }
    }

    // Z + u (row) + v (column) - norm, in the reference's order of additions.
    let uRead = UnsafePointer(u), vRead = UnsafePointer(v)
    RowParallel.forEach(rows: rowCount) { range in
        for i in range {
            let row = couplings + i * columnCount
            let ui = FloatVector(repeating: uRead[i]), normVector = FloatVector(repeating: norm)
            var j = 0
            while j + 8 <= columnCount {
                storeVector(((loadVector(row + j) + ui) + loadVector(vRead + j)) - normVector, row + j)
                j += 8
            }
            while j < columnCount { row[j] = ((row[j] + uRead[i]) + vRead[j]) - norm; j += 1 }
        }
    }
}

/// `max_j(x_j + offset_j) + log(sum_j exp(x_j + offset_j - max))` over `count` values, where
/// `offset` is either a vector (stride 1) or nil (zero).
@inline(__always)
func logSumExp(_ x: UnsafePointer<Float>, offset: UnsafePointer<Float>?, count: Int) -> Float {
    let full = count & ~7
    var maxima = FloatVector(repeating: -.infinity)
    var j = 0
    if let offset {
        while j < full { maxima = vectorMax(maxima, loadVector(x + j) + loadVector(offset + j)); j += 8 }
    } else {
        while j < full { maxima = vectorMax(maxima, loadVector(x + j)); j += 8 }
    }
    var largest = horizontalMax(maxima)
    for k in full..<count { largest = max(largest, x[k] + (offset?[k] ?? 0)) }
    guard largest.isFinite else { return largest }
    let shift = FloatVector(repeating: largest)
    var sums = FloatVector.zero
    j = 0
    if let offset {
        while j < full { sums += vectorExp((loadVector(x + j) + loadVector(offset + j)) - shift); j += 8 }
    } else {
        while j < full { sums += vectorExp(loadVector(x + j) - shift); j += 8 }
    }
    var sum = horizontalSum(sums)
    for k in full..<count { sum += expf((x[k] + (offset?[k] ?? 0)) - largest) }
    return largest + logf(sum)
}

/// The matrix and potentials of one solve; the solvers update `u` and `v` in place.
struct SinkhornProblem {
    let z: UnsafeMutablePointer<Float>
    let rows: Int, columns: Int
    let logMu: UnsafeMutablePointer<Float>, logNu: UnsafeMutablePointer<Float>
    let norm: Float
    let u: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>

    /// Row update of the log-domain recursion for rows `range`.
    @inline(__always)
    func exactRowUpdate(_ range: Range<Int>) {
        for i in range { u[i] = logMu[i] - logSumExp(z + i * columns, offset: v, count: columns) }
    }

    /// Column update of the log-domain recursion for one column, read with a stride.
    func exactColumnUpdate(_ j: Int) {
        var largest = -Float.infinity
        for i in 0..<rows { largest = max(largest, z[i * columns + j] + u[i]) }
        guard largest.isFinite else { v[j] = logNu[j] - largest; return }
        var sum: Float = 0
        for i in 0..<rows { sum += expf((z[i * columns + j] + u[i]) - largest) }
        v[j] = logNu[j] - (largest + logf(sum))
    }

    func solveLogDomain(iterations: Int, transposed: UnsafeMutablePointer<Float>) {
        transpose(z, rows: rows, columns: columns, into: transposed)
        let zT = UnsafePointer(transposed)
        for _ in 0..<iterations {
            RowParallel.forEach(rows: rows, minRowsPerWorker: 32) { exactRowUpdate($0) }
            RowParallel.forEach(rows: columns, minRowsPerWorker: 32) { range in
                for j in range { v[j] = logNu[j] - logSumExp(zT + j * rows, offset: u, count: rows) }
            }
        }
    }

    /// Kernel entries below exp(-40) are stored as 0 so that no product in the matrix-vector
    /// kernels is subnormal (slow on x86); offsets beyond +-10 trigger a rebuild.
    static let kernelFloor: Float = -40
    static let maxOffset: Float = 10

    func solveStabilized(iterations: Int, kernel: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let absorbedU = scratch, absorbedV = absorbedU + rows
        let expOffsetV = absorbedV + columns, expOffsetU = expOffsetV + columns
        let rowSums = expOffsetU + rows, columnSums = rowSums + rows
        // A row sum below this may have lost more than 2^-23 of its value to flushed entries
        // (each at most exp(kernelFloor + maxOffset)), so it is recomputed in the log domain.
        let reliableRowSum = Float(columns) * expf(Self.kernelFloor + Self.maxOffset) * 0x1p23
        let reliableColumnSum = Float(rows) * expf(Self.kernelFloor + Self.maxOffset) * 0x1p23

        // First row update from v = 0 directly; the kernel then starts from that u.
        RowParallel.forEach(rows: rows, minRowsPerWorker: 32) { exactRowUpdate($0) }
        absorb(kernel, absorbedU: absorbedU, absorbedV: absorbedV)
        var firstColumnUpdateDone = false

        for iteration in 0..<iterations {
            if iteration > 0 {
                if maxOffset(v, from: absorbedV, count: columns) > Self.maxOffset {
                    absorb(kernel, absorbedU: absorbedU, absorbedV: absorbedV)
                }
                for j in 0..<columns { expOffsetV[j] = expf(v[j] - absorbedV[j]) }
                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(rows), Int32(columns), 1, kernel, Int32(columns),
                            expOffsetV, 1, 0, rowSums, 1)
                for i in 0..<rows {
                    let sum = rowSums[i]
                    if sum >= reliableRowSum && sum.isFinite {
                        // logsumexp_j(Z_ij + v_j) = norm - ua_i + log(sum)
                        u[i] = logMu[i] - ((norm - absorbedU[i]) + logf(sum))
                    } else {
                        exactRowUpdate(i..<(i + 1))
                    }
                }
            }
            if maxOffset(u, from: absorbedU, count: rows) > Self.maxOffset {
                absorb(kernel, absorbedU: absorbedU, absorbedV: absorbedV)
            }
            for i in 0..<rows { expOffsetU[i] = expf(u[i] - absorbedU[i]) }
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(rows), Int32(columns), 1, kernel, Int32(columns),
                        expOffsetU, 1, 0, columnSums, 1)
            for j in 0..<columns {
                let sum = columnSums[j]
                if sum >= reliableColumnSum && sum.isFinite {
                    v[j] = logNu[j] - ((norm - absorbedV[j]) + logf(sum))
                } else {
                    exactColumnUpdate(j)
                }
            }
            if !firstColumnUpdateDone {
                // v moved from 0 to its first real values: absorb them so later sums stay near 1.
                firstColumnUpdateDone = true
                absorb(kernel, absorbedU: absorbedU, absorbedV: absorbedV)
            }
        }
    }

    func maxOffset(_ x: UnsafeMutablePointer<Float>, from base: UnsafeMutablePointer<Float>, count: Int) -> Float {
        var largest: Float = 0
        for k in 0..<count { largest = max(largest, abs(x[k] - base[k])) }
        return largest.isNaN ? .infinity : largest
    }

    /// K = exp(Z + u + v - norm) with entries below exp(kernelFloor) set to 0; records u, v.
    func absorb(_ kernel: UnsafeMutablePointer<Float>, absorbedU: UnsafeMutablePointer<Float>, absorbedV: UnsafeMutablePointer<Float>) {
        absorbedU.update(from: u, count: rows)
        absorbedV.update(from: v, count: columns)
        let columns = self.columns, z = self.z, norm = self.norm
        let rowOffsets = UnsafePointer(absorbedU), columnOffsets = UnsafePointer(absorbedV)
        let floor = FloatVector(repeating: Self.kernelFloor)
        RowParallel.forEach(rows: rows, minRowsPerWorker: 32) { range in
            for i in range {
                let zRow = z + i * columns, kRow = kernel + i * columns
                let rowShift = FloatVector(repeating: rowOffsets[i] - norm)
                var j = 0
                while j + 8 <= columns {
                    let exponent = (loadVector(zRow + j) + loadVector(columnOffsets + j)) + rowShift
                    storeVector(vectorExp(exponent).replacing(with: 0, where: exponent .< floor), kRow + j)
                    j += 8
                }
                while j < columns {
                    let exponent = (zRow[j] + columnOffsets[j]) + (rowOffsets[i] - norm)
                    kRow[j] = exponent < Self.kernelFloor ? 0 : expf(exponent)
                    j += 1
                }
            }
        }
    }
}

/// Row-major `rows x columns` matrix transposed into `output` (`columns x rows`), in cache blocks.
func transpose(_ input: UnsafePointer<Float>, rows: Int, columns: Int, into output: UnsafeMutablePointer<Float>) {
    let block = 32
    var i0 = 0
    while i0 < rows {
        let i1 = min(i0 + block, rows)
        var j0 = 0
        while j0 < columns {
            let j1 = min(j0 + block, columns)
            for i in i0..<i1 {
                for j in j0..<j1 { output[j * rows + i] = input[i * columns + j] }
            }
            j0 = j1
        }
        i0 = i1
    }
}
