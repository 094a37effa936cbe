// The five-point relative pose problem: every essential matrix consistent with five
// correspondences of normalised image points.
//
// Method: H. Stewénius, C. Engels, D. Nistér, "Recent developments on direct relative
// orientation", ISPRS J. Photogrammetry and Remote Sensing 60 (2006), the Gröbner basis
// formulation of D. Nistér's solver ("An efficient solution to the five-point relative pose
// problem", PAMI 2004). The five epipolar constraints leave E in a 4-dimensional space,
// E = x·X + y·Y + z·Z + W. The rank condition det(E) = 0 and the trace condition
// 2·E·Eᵀ·E - tr(E·Eᵀ)·E = 0 give ten cubic equations in x, y, z. Eliminating their ten leading
// monomials (graded lexicographic order) leaves a quotient ring of dimension 10 whose
// multiplication-by-x matrix has the solutions as eigenvalues; its eigenvectors, the basis
// monomials evaluated at a solution, give y and z. Up to ten real solutions.

/// Polynomials in x, y, z of degree at most 3: coefficients of the 20 monomials in graded
/// lexicographic order (x > y > z),
/// x³ x²y x²z xy² xyz xz² y³ y²z yz² z³ | x² xy xz y² yz z² | x y z | 1.
struct CubicPolynomial {
    /// Exponents (of x, y, z) of each monomial, in coefficient order.
    static let exponents: [(Int, Int, Int)] = [
        (3, 0, 0), (2, 1, 0), (2, 0, 1), (1, 2, 0), (1, 1, 1), (1, 0, 2), (0, 3, 0), (0, 2, 1), (0, 1, 2), (0, 0, 3),
        (2, 0, 0), (1, 1, 0), (1, 0, 1), (0, 2, 0), (0, 1, 1), (0, 0, 2),
        (1, 0, 0), (0, 1, 0), (0, 0, 1),
        (0, 0, 0),
    ]
    /// Index of the first monomial of degree <= d: the monomials are sorted by falling degree.
    static let firstOfDegree = [19, 16, 10, 0]

    /// `product[i * 20 + j]`: the monomial of monomial i times monomial j (-1 above degree 3).
    static let product: [Int] = {
        var table = [Int](repeating: -1, count: 400)
        for i in 0..<20 {
            for j in 0..<20 {
                let (a, b) = (exponents[i], exponents[j])
                let e = (a.0 + b.0, a.1 + b.1, a.2 + b.2)
                table[i * 20 + j] = exponents.firstIndex { $0 == e } ?? -1
            }
        }
        return table
    }()

    var coefficients: [Double]
    /// An upper bound on the degree; products use it to skip monomials that are zero.
    var degree: Int

    init(coefficients: [Double], degree: Int) {
        self.coefficients = coefficients
        self.degree = degree
    }

    /// a·x + b·y + c·z + d.
    static func linear(_ a: Double, _ b: Double, _ c: Double, _ d: Double) -> CubicPolynomial {
        var p = [Double](repeating: 0, count: 20)
        p[16] = a; p[17] = b; p[18] = c; p[19] = d
        return CubicPolynomial(coefficients: p, degree: 1)
    }

    static func * (p: CubicPolynomial, q: CubicPolynomial) -> CubicPolynomial {
        precondition(p.degree + q.degree <= 3, "product of degree \(p.degree + q.degree) exceeds 3")
        var out = [Double](repeating: 0, count: 20)
        let table = product, first = firstOfDegree
        p.coefficients.withUnsafeBufferPointer { a in
            q.coefficients.withUnsafeBufferPointer { b in
                table.withUnsafeBufferPointer { t in
                    out.withUnsafeMutableBufferPointer { o in
                        for i in first[p.degree]..<20 where a[i] != 0 {
                            for j in first[q.degree]..<20 { o[t[i * 20 + j]] += a[i] * b[j] }
                        }
                    }
                }
            }
        }
        return CubicPolynomial(coefficients: out, degree: p.degree + q.degree)
    }

    static func + (p: CubicPolynomial, q: CubicPolynomial) -> CubicPolynomial {
        CubicPolynomial(coefficients: zip(p.coefficients, q.coefficients).map(+), degree: max(p.degree, q.degree))
    }

    static func - (p: CubicPolynomial, q: CubicPolynomial) -> CubicPolynomial {
        CubicPolynomial(coefficients: zip(p.coefficients, q.coefficients).map(-), degree: max(p.degree, q.degree))
    }

    static func * (s: Double, p: CubicPolynomial) -> CubicPolynomial {
        CubicPolynomial(coefficients: p.coefficients.map { s * $0 }, degree: p.degree)
    }

    /// The value at (x, y, z).
    func callAsFunction(_ x: Double, _ y: Double, _ z: Double) -> Double {
        var sum = 0.0
        for (c, e) in zip(coefficients, Self.exponents) where c != 0 {
            sum += c * pow(x, e.0) * pow(y, e.1) * pow(z, e.2)
        }
        return sum
    }

    private func pow(_ v: Double, _ n: Int) -> Double { n == 0 ? 1 : (1..<n).reduce(v) { acc, _ in acc * v } }
}

public enum FivePointSolver {
    /// Every essential matrix E (unit Frobenius norm) with p1ᵀ · E · p0 = 0 for the five
    /// correspondences, p = (x, y, 1) in normalised image coordinates. Empty for degenerate
    /// samples (coincident points, a rank-deficient constraint system).
    public static func essentialMatrices(_ points0: [SIMD2<Double>], _ points1: [SIMD2<Double>]) -> [Matrix3] {
        precondition(points0.count == 5 && points1.count == 5, "the five-point solver takes five correspondences")
        guard let basis = nullSpace(points0, points1) else { return [] }
        let constraints = constraintMatrix(basis)
        // Gauss-Jordan on the ten leading monomials: [A | B] -> [I | A⁻¹B].
        let a = (0..<10).flatMap { r in constraints[(r * 20)..<(r * 20 + 10)] }
        let b = (0..<10).flatMap { r in constraints[(r * 20 + 10)..<(r * 20 + 20)] }
        guard let reduced = LAPACK.solve(a, b, size: 10, columns: 10) else { return [] }
        // Multiplication by x on the basis (x², xy, xz, y², yz, z², x, y, z, 1): times x, the first six
        // become the leading monomials x³ x²y x²z xy² xyz xz² (rows 0-5 of the reduced system, as
        // leading = -A⁻¹B · basis); x·x, x·y, x·z, x·1 are basis monomials 0, 1, 2, 6.
        var action = [Double](repeating: 0, count: 100)
        for r in 0..<6 { for c in 0..<10 { action[r * 10 + c] = -reduced[r * 10 + c] } }
        action[6 * 10 + 0] = 1
        action[7 * 10 + 1] = 1
        action[8 * 10 + 2] = 1
        action[9 * 10 + 6] = 1
        guard let eigen = LAPACK.eigen(action, size: 10) else { return [] }
        var solutions: [Matrix3] = []
        for (_, _, vector) in eigen {
            guard let v = vector, abs(v[9]) > 1e-12 * (v.map(abs).max() ?? 0) else { continue }
            let (x, y, z) = (v[6] / v[9], v[7] / v[9], v[8] / v[9])
            let e = x * basis[0] + y * basis[1] + z * basis[2] + basis[3]
            let norm = e.norm
            guard norm > 0, norm.isFinite else { continue }
            solutions.append((1 / norm) * e)
        }
        return solutions
    }

    /// Four 3x3 matrices spanning the essential matrices allowed by the five linear constraints
    /// p1ᵀ E p0 = 0: the right singular vectors of the 5x9 constraint matrix with zero singular value.
    static func nullSpace(_ points0: [SIMD2<Double>], _ points1: [SIMD2<Double>]) -> [Matrix3]? {
        var rows: [Double] = []
        for (p, q) in zip(points0, points1) {
            // Coefficient of E[i][j] in q̃ᵀ E p̃ is q̃[i] · p̃[j], with p̃ = (p, 1), q̃ = (q, 1).
            rows += [q.x * p.x, q.x * p.y, q.x, q.y * p.x, q.y * p.y, q.y, p.x, p.y, 1]
        }
        guard let (_, s, vt) = LAPACK.svd(rows, rows: 5, cols: 9), s[4] > 1e-12 * s[0] else { return nil }
        return (5..<9).map { r in Matrix3(rowMajor: Array(vt[(r * 9)..<(r * 9 + 9)])) }
    }

    /// The ten cubic constraints on (x, y, z), 10 rows of 20 monomial coefficients: det(E) and
    /// the nine entries of 2·E·Eᵀ·E - tr(E·Eᵀ)·E for E = x·X + y·Y + z·Z + W.
    static func constraintMatrix(_ basis: [Matrix3]) -> [Double] {
        let e: [[CubicPolynomial]] = (0..<3).map { i in
            (0..<3).map { j in CubicPolynomial.linear(basis[0][i, j], basis[1][i, j], basis[2][i, j], basis[3][i, j]) }
        }
        let determinant = e[0][0] * (e[1][1] * e[2][2] - e[1][2] * e[2][1])
            - e[0][1] * (e[1][0] * e[2][2] - e[1][2] * e[2][0])
            + e[0][2] * (e[1][0] * e[2][1] - e[1][1] * e[2][0])
        var eet = [[CubicPolynomial]](repeating: [], count: 3)
        for i in 0..<3 {
            for j in 0..<3 {
                eet[i].append(j < i ? eet[j][i] : e[i][0] * e[j][0] + e[i][1] * e[j][1] + e[i][2] * e[j][2])
            }
        }
        let trace = eet[0][0] + eet[1][1] + eet[2][2]
        var rows = determinant.coefficients
        rows.reserveCapacity(200)
        for i in 0..<3 {
            for j in 0..<3 {
                rows += (2 * (eet[i][0] * e[0][j] + eet[i][1] * e[1][j] + eet[i][2] * e[2][j]) - trace * e[i][j]).coefficients
            }
        }
        return rows
    }
}
