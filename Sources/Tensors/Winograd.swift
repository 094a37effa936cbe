// 3x3 convolution (stride 1, padding 1) by Winograd's minimal filtering F(2x2, 3x3)
// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), on NHWC maps.
//
// Each 2x2 block of output pixels (a "tile") is computed from the 4x4 input patch around it:
//   V = B^T d B   (input patch, per channel)        U = G g G^T   (3x3 filter, precomputed)
//   M = V (.) U summed over input channels          Y = A^T M A   (the 2x2 outputs)
// The sum over input channels of the 16 element-wise products is 16 independent GEMMs
// [tiles x Cin] x [Cin x Cout], one per position of the 4x4 transform: 16 multiply-adds per
// tile and channel pair instead of 36, i.e. 2.25x fewer flops than im2col. The transforms only
// use additions (and the exact halvings in G), so the result stays within a few ulps of the
// direct sum; the parity tests bound it.
//
// A 2x2 output tile is also a 2x2 pooling window, so the pooling that follows conv1b, conv2b
// and conv3b is fused into the output transform.

/// A 3x3, padding-1 convolution evaluated with Winograd F(2x2, 3x3).
public struct WinogradConv3x3: Sendable {
    /// Number of input channels.
    public let inChannels: Int
    /// Number of output channels.
    public let outChannels: Int
    /// `U = G g G^T` per channel pair: `[16][inChannels][outChannels]`.
    public let transformedWeights: [Float]
    /// `outChannels` values.
    public let bias: [Float]

    /// Output tiles per GEMM batch: large enough for OpenBLAS to reach full speed, small enough
    /// for the transformed input and products to stay in the last-level cache.
    public static let tilesPerBatch = 512

    /// Transforms the weights of a 3x3 ``Conv2D``.
    public init(_ conv: Conv2D) {
        precondition(conv.kernelSize == 3, "WinogradConv3x3 needs a 3x3 kernel")
        let cin = conv.inChannels, cout = conv.outChannels
        inChannels = cin
        outChannels = cout
        bias = conv.bias
        // G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
        transformedWeights = winogradFilterTransform(conv, g: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
    }

    /// Scratch floats that ``apply(input:width:rows:output:relu:pool:scratch:)`` needs.
    public var scratchCount: Int { Self.scratchCount(inChannels: inChannels, outChannels: outChannels) }

    /// Scratch floats for a layer with these channel counts: one batch per worker.
    public static func scratchCount(inChannels: Int, outChannels: Int) -> Int {
        winogradScratchCount(positions: 16, tilesPerBatch: tilesPerBatch, inChannels: inChannels, outChannels: outChannels)
    }

    /// Computes output rows `rows` (`rows.lowerBound` even) with bias and optional ReLU.
    ///
    /// Without `pool`, writes `rows.count * width * outChannels` floats at `output` (row
    /// `rows.lowerBound` first). With `pool`, writes the 2x2 max-pooled rows instead:
    /// `rows.count / 2` rows of `width / 2` pixels (odd trailing rows/columns dropped, as torch).
    public func apply(
        input: MapRows, width: Int, rows: Range<Int>,
        output: UnsafeMutablePointer<Float>, relu: Bool, pool: Bool,
        scratch: UnsafeMutablePointer<Float>
    ) {
        precondition(rows.lowerBound % 2 == 0, "Winograd bands start on an even row")
        let cin = inChannels, cout = outChannels
        bias.withUnsafeBufferPointer { b in
            let bias = b.baseAddress!
            runWinogradTiles(
                tileSide: 2, input: input, width: width, rows: rows, inChannels: cin, outChannels: cout,
                tilesPerBatch: Self.tilesPerBatch, transformedWeights: transformedWeights, scratch: scratch, extra: 0,
                inputTransform: { patch, v, stride, _ in inputTransform(patch, channels: cin, into: v, stride: stride) },
                outputTransform: { ty, tx, products, stride, _ in
                    let oy = 2 * ty, ox = 2 * tx  // relative to rows.lowerBound
                    let hasRow1 = oy + 1 < rows.count, hasCol1 = ox + 1 < width
                    let m = UnsafePointer(products)
                    if pool {
                        // Floor pooling: a tile cut by the edge is exactly a dropped window.
                        guard hasRow1 && hasCol1 else { return }
                        outputTransformPooled(m, stride: stride, bias: bias, channels: cout, relu: relu,
                                              into: output + (ty * (width / 2) + tx) * cout)
                    } else {
                        let o = output + (oy * width + ox) * cout
                        outputTransform(m, stride: stride, bias: bias, channels: cout, relu: relu,
                                        into: (o, hasCol1 ? o + cout : nil, hasRow1 ? o + width * cout : nil,
                                               hasRow1 && hasCol1 ? o + width * cout + cout : nil))
                    }
                })
        }
    }
}

// The transforms, written out so the channel loops vectorize (channels are contiguous in NHWC).

/// V = B^T d B for one 4x4 patch; `d[4 i + j]` points at the `channels` values of patch pixel
/// (i, j); writes position `k`'s channels at `v + k * stride`.
/// B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]].
@inline(__always)
func inputTransform(_ d: UnsafePointer<UnsafePointer<Float>>, channels: Int, into v: UnsafeMutablePointer<Float>, stride n: Int) {
    let d00 = d[0], d01 = d[1], d02 = d[2], d03 = d[3]
    let d10 = d[4], d11 = d[5], d12 = d[6], d13 = d[7]
    let d20 = d[8], d21 = d[9], d22 = d[10], d23 = d[11]
    let d30 = d[12], d31 = d[13], d32 = d[14], d33 = d[15]
    // Eight channels at a time in SIMD registers: with sixteen source pointers and one
    // destination that may alias them, the scalar loop below is not vectorized by the compiler.
    let vectorEnd = channels & ~7
    var c0 = 0
    while c0 < vectorEnd {
        inputTransform8(d, c0, stride: n, into: v)
        c0 += 8
    }
    for c in vectorEnd..<channels {
        // Rows: t = B^T d.
        let t00 = d00[c] - d20[c], t01 = d01[c] - d21[c], t02 = d02[c] - d22[c], t03 = d03[c] - d23[c]
        let t10 = d10[c] + d20[c], t11 = d11[c] + d21[c], t12 = d12[c] + d22[c], t13 = d13[c] + d23[c]
        let t20 = d20[c] - d10[c], t21 = d21[c] - d11[c], t22 = d22[c] - d12[c], t23 = d23[c] - d13[c]
        let t30 = d10[c] - d30[c], t31 = d11[c] - d31[c], t32 = d12[c] - d32[c], t33 = d13[c] - d33[c]
        // Columns: V = t B.
        v[0 * n + c] = t00 - t02; v[1 * n + c] = t01 + t02; v[2 * n + c] = t02 - t01; v[3 * n + c] = t01 - t03
        v[4 * n + c] = t10 - t12; v[5 * n + c] = t11 + t12; v[6 * n + c] = t12 - t11; v[7 * n + c] = t11 - t13
        v[8 * n + c] = t20 - t22; v[9 * n + c] = t21 + t22; v[10 * n + c] = t22 - t21; v[11 * n + c] = t21 - t23
        v[12 * n + c] = t30 - t32; v[13 * n + c] = t31 + t32; v[14 * n + c] = t32 - t31; v[15 * n + c] = t31 - t33
    }
}

/// ``inputTransform(_:channels:into:)`` for channels `c ..< c + 8`.
@inline(__always)
func inputTransform8(_ d: UnsafePointer<UnsafePointer<Float>>, _ c: Int, stride n: Int, into v: UnsafeMutablePointer<Float>) {
    // Rows: t = B^T d, one 4-pixel column at a time.
    @inline(__always) func column(_ j: Int) -> (Float8, Float8, Float8, Float8) {
        let d0 = load8(d[j] + c), d1 = load8(d[4 + j] + c), d2 = load8(d[8 + j] + c), d3 = load8(d[12 + j] + c)
        return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
    }
    let t0 = column(0), t1 = column(1), t2 = column(2), t3 = column(3)
    // Columns: V = t B.
    @inline(__always) func row(_ i: Int, _ a: Float8, _ b: Float8, _ e: Float8, _ f: Float8) {
        let o = v + 4 * i * n + c
        store8(a - e, o); store8(b + e, o + n); store8(e - b, o + 2 * n); store8(b - f, o + 3 * n)
    }
    row(0, t0.0, t1.0, t2.0, t3.0)
    row(1, t0.1, t1.1, t2.1, t3.1)
    row(2, t0.2, t1.2, t2.2, t3.2)
    row(3, t0.3, t1.3, t2.3, t3.3)
}

/// ``outputTransformValues(_:_:_:_:_:)`` for channels `c ..< c + 8`.
@inline(__always)
func outputTransformValues8(_ m: UnsafePointer<Float>, _ c: Int, _ n: Int, _ bias: Float8, _ relu: Bool)
    -> (Float8, Float8, Float8, Float8) {
    @inline(__always) func at(_ k: Int) -> Float8 { load8(m + k * n + c) }
    // Rows: s = A^T M.
    let s00 = at(0) + at(4) + at(8), s01 = at(1) + at(5) + at(9), s02 = at(2) + at(6) + at(10), s03 = at(3) + at(7) + at(11)
    let s10 = at(4) - at(8) - at(12), s11 = at(5) - at(9) - at(13), s12 = at(6) - at(10) - at(14), s13 = at(7) - at(11) - at(15)
    // Columns: Y = s A.
    var y00 = s00 + s01 + s02 + bias, y01 = s01 - s02 - s03 + bias
    var y10 = s10 + s11 + s12 + bias, y11 = s11 - s12 - s13 + bias
    if relu {
        let zero = Float8(repeating: 0)
        y00.replace(with: zero, where: y00 .< zero); y01.replace(with: zero, where: y01 .< zero)
        y10.replace(with: zero, where: y10 .< zero); y11.replace(with: zero, where: y11 .< zero)
    }
    return (y00, y01, y10, y11)
}

/// The 2x2 outputs Y = A^T M A (+ bias, ReLU) of channel `c` of one tile, position `k` of M at
/// `m + k * n`.
/// A^T = [[1,1,1,0],[0,1,-1,-1]].
@inline(__always)
func outputTransformValues(_ m: UnsafePointer<Float>, _ c: Int, _ n: Int, _ bias: Float, _ relu: Bool)
    -> (Float, Float, Float, Float) {
    let m00 = m[c], m01 = m[n + c], m02 = m[2 * n + c], m03 = m[3 * n + c]
    let m10 = m[4 * n + c], m11 = m[5 * n + c], m12 = m[6 * n + c], m13 = m[7 * n + c]
    let m20 = m[8 * n + c], m21 = m[9 * n + c], m22 = m[10 * n + c], m23 = m[11 * n + c]
    let m30 = m[12 * n + c], m31 = m[13 * n + c], m32 = m[14 * n + c], m33 = m[15 * n + c]
    // Rows: s = A^T M.
    let s00 = m00 + m10 + m20, s01 = m01 + m11 + m21, s02 = m02 + m12 + m22, s03 = m03 + m13 + m23
    let s10 = m10 - m20 - m30, s11 = m11 - m21 - m31, s12 = m12 - m22 - m32, s13 = m13 - m23 - m33
    // Columns: Y = s A.
    var y00 = s00 + s01 + s02 + bias, y01 = s01 - s02 - s03 + bias
    var y10 = s10 + s11 + s12 + bias, y11 = s11 - s12 - s13 + bias
    if relu { y00 = max(y00, 0); y01 = max(y01, 0); y10 = max(y10, 0); y11 = max(y11, 0) }
    return (y00, y01, y10, y11)
}

@inline(__always)
func outputTransform(
    _ m: UnsafePointer<Float>, stride: Int, bias: UnsafePointer<Float>, channels n: Int, relu: Bool,
    into o: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?)
) {
    if let o01 = o.1, let o10 = o.2, let o11 = o.3 {
        let o00 = o.0
        let vectorEnd = n & ~7
        var c0 = 0
        while c0 < vectorEnd {
            let y = outputTransformValues8(m, c0, stride, load8(bias + c0), relu)
            store8(y.0, o00 + c0); store8(y.1, o01 + c0); store8(y.2, o10 + c0); store8(y.3, o11 + c0)
            c0 += 8
        }
        for c in vectorEnd..<n {
            let y = outputTransformValues(m, c, stride, bias[c], relu)
            o00[c] = y.0; o01[c] = y.1; o10[c] = y.2; o11[c] = y.3
        }
        return
    }
    for c in 0..<n {
        let y = outputTransformValues(m, c, stride, bias[c], relu)
        o.0[c] = y.0
        if let p = o.1 { p[c] = y.1 }
        if let p = o.2 { p[c] = y.2 }
        if let p = o.3 { p[c] = y.3 }
    }
}

/// The tile's 2x2 outputs max-pooled into one pixel.
@inline(__always)
func outputTransformPooled(_ m: UnsafePointer<Float>, stride: Int, bias: UnsafePointer<Float>, channels n: Int, relu: Bool,
                           into o: UnsafeMutablePointer<Float>) {
    let vectorEnd = n & ~7
    var c0 = 0
    while c0 < vectorEnd {
        let y = outputTransformValues8(m, c0, stride, load8(bias + c0), relu)
        let a = y.0.replacing(with: y.1, where: y.1 .> y.0), b = y.2.replacing(with: y.3, where: y.3 .> y.2)
        store8(a.replacing(with: b, where: b .> a), o + c0)
        c0 += 8
    }
    for c in vectorEnd..<n {
        let y = outputTransformValues(m, c, stride, bias[c], relu)
        o[c] = max(max(y.0, y.1), max(y.2, y.3))
    }
}
