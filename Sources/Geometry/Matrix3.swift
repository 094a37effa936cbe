// 3x3 matrices and 3-vectors in double precision, for camera geometry.

public typealias Vector3 = SIMD3<Double>

/// A 3x3 matrix stored by rows.
public struct Matrix3: Sendable, Equatable, CustomStringConvertible {
    public var row0: Vector3
    public var row1: Vector3
    public var row2: Vector3

    public init(rows row0: Vector3, _ row1: Vector3, _ row2: Vector3) {
        self.row0 = row0
        self.row1 = row1
        self.row2 = row2
    }

    /// From nine values in row-major order.
    public init(rowMajor v: [Double]) {
        precondition(v.count == 9, "a 3x3 matrix needs 9 values, got \(v.count)")
        self.init(rows: Vector3(v[0], v[1], v[2]), Vector3(v[3], v[4], v[5]), Vector3(v[6], v[7], v[8]))
    }

    public static let identity = Matrix3(rows: Vector3(1, 0, 0), Vector3(0, 1, 0), Vector3(0, 0, 1))

    public static func diagonal(_ a: Double, _ b: Double, _ c: Double) -> Matrix3 {
        Matrix3(rows: Vector3(a, 0, 0), Vector3(0, b, 0), Vector3(0, 0, c))
    }

    /// [v]ₓ, the matrix of the cross product with v: [v]ₓ · w = v × w.
    public static func crossProduct(_ v: Vector3) -> Matrix3 {
        Matrix3(rows: Vector3(0, -v.z, v.y), Vector3(v.z, 0, -v.x), Vector3(-v.y, v.x, 0))
    }

    public var rowMajor: [Double] { [row0.x, row0.y, row0.z, row1.x, row1.y, row1.z, row2.x, row2.y, row2.z] }

    public subscript(row: Int) -> Vector3 {
        get {
            switch row {
            case 0: return row0
            case 1: return row1
            default: precondition(row == 2, "row \(row) of a 3x3 matrix"); return row2
            }
        }
        set {
            switch row {
            case 0: row0 = newValue
            case 1: row1 = newValue
            default: precondition(row == 2, "row \(row) of a 3x3 matrix"); row2 = newValue
            }
        }
    }

    public subscript(row: Int, column: Int) -> Double {
        get { self[row][column] }
        set { self[row][column] = newValue }
    }

    public func column(_ c: Int) -> Vector3 { Vector3(row0[c], row1[c], row2[c]) }

    public var transposed: Matrix3 { Matrix3(rows: column(0), column(1), column(2)) }

    public var determinant: Double { (row0 * Self.cross(row1, row2)).sum() }

    public var trace: Double { row0.x + row1.y + row2.z }

    /// Frobenius norm.
    public var norm: Double { ((row0 * row0).sum() + (row1 * row1).sum() + (row2 * row2).sum()).squareRoot() }

    public static func * (a: Matrix3, b: Matrix3) -> Matrix3 {
        let bt = b.transposed
        func row(_ r: Vector3) -> Vector3 { Vector3((r * bt.row0).sum(), (r * bt.row1).sum(), (r * bt.row2).sum()) }
        return Matrix3(rows: row(a.row0), row(a.row1), row(a.row2))
    }

    public static func * (a: Matrix3, v: Vector3) -> Vector3 {
        Vector3((a.row0 * v).sum(), (a.row1 * v).sum(), (a.row2 * v).sum())
    }

    public static func * (s: Double, a: Matrix3) -> Matrix3 { Matrix3(rows: s * a.row0, s * a.row1, s * a.row2) }

    public static func + (a: Matrix3, b: Matrix3) -> Matrix3 { Matrix3(rows: a.row0 + b.row0, a.row1 + b.row1, a.row2 + b.row2) }

    public static prefix func - (a: Matrix3) -> Matrix3 { Matrix3(rows: -a.row0, -a.row1, -a.row2) }

    public static func cross(_ a: Vector3, _ b: Vector3) -> Vector3 {
        Vector3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
    }

    public var description: String { "[\(row0.x) \(row0.y) \(row0.z); \(row1.x) \(row1.y) \(row1.z); \(row2.x) \(row2.y) \(row2.z)]" }
}

extension SIMD3 where Scalar == Double {
    /// Euclidean length.
    public var length: Double { (self * self).sum().squareRoot() }
}
