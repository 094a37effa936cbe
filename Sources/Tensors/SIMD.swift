// SIMD helpers every element-wise kernel shares: the 8-lane vector type, a vectorised
// exponential (two accuracy levels), lane reductions, and full or partial loads and stores.

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
public func loadLanes(_ p: UnsafePointer<Float>, _ lanes: Int) -> FloatVector {
    lanes == 8 ? loadVector(p) : loadPartialVector(p, count: lanes, fill: 0)
}

/// Stores the first `lanes` (1 to 8) lanes of `v` at `p`.
@inlinable @inline(__always)
public func storeLanes(_ v: FloatVector, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == 8 {
        storeVector(v, p)
    } else {
        for k in 0..<lanes { p[k] = v[k] }
    }
}

// MARK: - Vectorised error function

/// `erf(x)` for eight lanes, within about 1.5 ulp of the correctly rounded result (the dense
/// sweep against libm in the tests prints the measured worst case).
///
/// Two polynomials fitted for this function (weighted least squares iterated towards minimax):
/// below 0.875, `x + x P(x^2)` with `P` of degree 6 (relative error 2e-10); above, the
/// complement `1 - exp(-x^2) Q(|x| - 2.4375)` with `Q` of degree 8 approximating
/// `erfc(x) exp(x^2)` on [0.875, 4] (absolute error of the product below 1e-8). From |x| = 3.92
/// on, the float result is +-1. Plain multiplies and adds only, like ``vectorExp(_:)``.
@inlinable @inline(__always)
public func vectorErf(_ x: FloatVector) -> FloatVector {
    let signMask = SIMD8<UInt32>(repeating: 0x8000_0000)
    let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
    let a = unsafeBitCast(bits & ~signMask, to: FloatVector.self)

    let s = x * x
    var p = FloatVector(repeating: 8.698_959e-5)
    p = p * s + FloatVector(repeating: -8.216_545e-4)
    p = p * s + FloatVector(repeating: 5.207_219e-3)
    p = p * s + FloatVector(repeating: -2.686_177_4e-2)
    p = p * s + FloatVector(repeating: 1.128_373_7e-1)
    p = p * s + FloatVector(repeating: -3.761_263_5e-1)
    p = p * s + FloatVector(repeating: 1.283_791_7e-1)
    let near = x + x * p

    let clamped = a.replacing(with: 4, where: a .> 4)
    let t = clamped - FloatVector(repeating: 2.4375)
    var q = FloatVector(repeating: 1.427_748e-4)
    q = q * t + FloatVector(repeating: 3.506_669_3e-4)
    q = q * t + FloatVector(repeating: 7.744_769_7e-4)
    q = q * t + FloatVector(repeating: -6.510_145e-4)
    q = q * t + FloatVector(repeating: 2.473_271_5e-3)
    q = q * t + FloatVector(repeating: -8.868_432e-3)
    q = q * t + FloatVector(repeating: 2.644_973_2e-2)
    q = q * t + FloatVector(repeating: -7.755_379_4e-2)
    q = q * t + FloatVector(repeating: 2.155_546_8e-1)
    let far = 1 - vectorExp(-(clamped * clamped)) * q
    let signedFar = unsafeBitCast(unsafeBitCast(far, to: SIMD8<UInt32>.self) | (bits & signMask), to: FloatVector.self)
    return signedFar.replacing(with: near, where: a .< 0.875)
}
