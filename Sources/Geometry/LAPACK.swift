// Small dense linear algebra through the LAPACK routines OpenBLAS ships (SVD, nonsymmetric
// eigen-decomposition, LU solve). Matrices are row-major `[Double]` here and column-major in
// LAPACK, so each call copies its input transposed and its outputs back.
import COpenBLAS

enum LAPACK {
    /// Row-major `rows x cols` -> column-major (or back, with the sizes swapped).
    static func transposed(_ a: [Double], rows: Int, cols: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows * cols)
        for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = a[r * cols + c] } }
        return out
    }

    /// The full singular value decomposition A = U · diag(s) · Vᵀ of a row-major `rows x cols`
    /// matrix: U is `rows x rows`, Vᵀ is `cols x cols` (row-major, rows of Vᵀ are the right
    /// singular vectors), s has min(rows, cols) values in descending order. Nil when LAPACK
    /// reports a failure to converge or the input is not finite.
    static func svd(_ a: [Double], rows: Int, cols: Int) -> (u: [Double], s: [Double], vt: [Double])? {
        precondition(a.count == rows * cols && rows > 0 && cols > 0)
        guard a.allSatisfy(\.isFinite) else { return nil }
        var work = transposed(a, rows: rows, cols: cols)
        var m = blasint(rows), n = blasint(cols), lda = blasint(rows), ldu = blasint(rows), ldvt = blasint(cols)
        var s = [Double](repeating: 0, count: min(rows, cols))
        var u = [Double](repeating: 0, count: rows * rows)
        var vt = [Double](repeating: 0, count: cols * cols)
        var lwork = blasint(8 * (rows + cols) + 64)
        var scratch = [Double](repeating: 0, count: Int(lwork))
        var info: blasint = 0
        var allU = CChar(UInt8(ascii: "A")), allV = CChar(UInt8(ascii: "A"))
        dgesvd_(&allU, &allV, &m, &n, &work, &lda, &s, &u, &ldu, &vt, &ldvt, &scratch, &lwork, &info, 1, 1)
        guard info == 0 else { return nil }
        return (transposed(u, rows: rows, cols: rows), s, transposed(vt, rows: cols, cols: cols))
    }

    /// Eigenvalues of a row-major `n x n` matrix, with the real right eigenvector of each real
    /// eigenvalue (nil for the members of complex pairs). Nil when LAPACK fails.
    static func eigen(_ a: [Double], size n: Int) -> [(value: Double, imaginary: Double, vector: [Double]?)]? {
        precondition(a.count == n * n && n > 0)
        guard a.allSatisfy(\.isFinite) else { return nil }
        var work = transposed(a, rows: n, cols: n)
        var order = blasint(n), lda = blasint(n), ldvl = blasint(1), ldvr = blasint(n)
        var real = [Double](repeating: 0, count: n), imaginary = [Double](repeating: 0, count: n)
        var left = [Double](repeating: 0, count: 1), right = [Double](repeating: 0, count: n * n)
        var lwork = blasint(8 * n + 64)
        var scratch = [Double](repeating: 0, count: Int(lwork))
        var info: blasint = 0
        var none = CChar(UInt8(ascii: "N")), vectors = CChar(UInt8(ascii: "V"))
        dgeev_(&none, &vectors, &order, &work, &lda, &real, &imaginary, &left, &ldvl, &right, &ldvr, &scratch, &lwork, &info, 1, 1)
        guard info == 0 else { return nil }
        // Column k of the column-major output is the eigenvector of eigenvalue k (real case).
        return (0..<n).map { k in
            (real[k], imaginary[k], imaginary[k] == 0 ? Array(right[(k * n)..<((k + 1) * n)]) : nil)
        }
    }

    /// Solves A · X = B for X (A `n x n`, B `n x columns`, both row-major) by LU decomposition
    /// with partial pivoting. Nil when A is singular.
    static func solve(_ a: [Double], _ b: [Double], size n: Int, columns: Int) -> [Double]? {
        precondition(a.count == n * n && b.count == n * columns)
        guard a.allSatisfy(\.isFinite), b.allSatisfy(\.isFinite) else { return nil }
        var lu = transposed(a, rows: n, cols: n)
        var x = transposed(b, rows: n, cols: columns)
        var order = blasint(n), rhs = blasint(columns), lda = blasint(n), ldb = blasint(n)
        var pivots = [blasint](repeating: 0, count: n)
        var info: blasint = 0
        dgesv_(&order, &rhs, &lu, &lda, &pivots, &x, &ldb, &info)
        guard info == 0 else { return nil }
        return transposed(x, rows: columns, cols: n)
    }
}
