// Row-major single-precision GEMM through OpenBLAS (single-threaded; see Parallel.swift).
import COpenBLAS

/// C[m x n] = alpha * op(A) * op(B) + beta * C, all row-major, on the calling thread.
/// `lda`, `ldb`, `ldc` are the row strides of the stored (untransposed) matrices.
@inline(__always)
public func sgemm(
    transA: Bool = false, transB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    _ = Parallel.blasConfigured
    cblas_sgemm(
        CblasRowMajor,
        transA ? CblasTrans : CblasNoTrans,
        transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k),
        alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc)
    )
}

/// ``sgemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` with the rows of C split over
/// the workers, each part one single-threaded GEMM; `epilogue` (bias, activation) runs on each
/// part's rows right after its GEMM, while they are still in cache.
public func parallelSgemm(
    transA: Bool = false, transB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    epilogue: ((Range<Int>) -> Void)? = nil
) {
    guard m > 0 else { return }
    // Parts of at least 32 rows and about a million multiply-adds: below that a dispatch costs
    // more than it saves.
    let rowsPerPart = max(32, 1 << 20 / max(1, n * k))
    let parts = min(Parallel.concurrency, m / rowsPerPart)
    Parallel.forEachChunk(max(parts, 1)) { part, _ in
        let rows = parts <= 1 ? 0..<m : Parallel.range(part, of: parts, count: m)
        guard !rows.isEmpty else { return }
        let aPart = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
        sgemm(transA: transA, transB: transB, m: rows.count, n: n, k: k, alpha: alpha,
              a: aPart, lda: lda, b: b, ldb: ldb, beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
        epilogue?(rows)
    }
}

/// Double-precision C[m x n] = A[m x k] * B[k x n], row-major, on the calling thread (load-time
/// weight rewrites that should not add float32 rounding).
public func dgemm(m: Int, n: Int, k: Int, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                  c: UnsafeMutablePointer<Double>, ldc: Int) {
    _ = Parallel.blasConfigured
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
}
