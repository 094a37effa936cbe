// 5x5 convolution (stride 1, padding 2) by Winograd F(4x4, 5x5) on NHWC maps: each 4x4 output
// tile comes from an 8x8 input patch, with 64 GEMMs [tiles x Cin] x [Cin x Cout], i.e. 64
// multiply-adds per 16 outputs and channel pair instead of 400 (6.25x fewer than im2col).
//
// The matrices are Toom-Cook's for the interpolation points 0, +-1, +-2, +-1/2 and infinity (the
// set Lavin & Gray use for F(6, 3), which has the same 8-point transform size). Pairing each
// point with its negative splits every transform into even and odd halves, so B^T d costs about
// 40 operations per 8 values. Coefficients reach 21/4 in B^T and 8 in A^T; on DISK's U-Net at
// 1024x768 the end result moved no keypoint and stayed within float32 noise of the direct
// convolution (the DISK parity tests bound it).

/// A 5x5, padding-2 convolution evaluated with Winograd F(4x4, 5x5).
public struct WinogradF4Conv5x5: Sendable {
    /// Number of input channels.
    public let inChannels: Int
    /// Number of output channels.
    public let outChannels: Int
    /// `U = G g G^T` per channel pair: `[64][inChannels][outChannels]`.
    public let transformedWeights: [Float]
    /// `outChannels` values.
    public let bias: [Float]

    /// Output tiles per GEMM batch: a batch's transformed inputs and products
    /// (64 x tiles x (Cin + Cout) floats) should stay in the core's L2 cache.
    public static let tilesPerBatch = 64

    // Toom-Cook matrices for the points (0, 1, -1, 2, -2, 1/2, -1/2, infinity), in that order.
    static let bT: [[Double]] = [
        [1, 0, -21.0 / 4, 0, 21.0 / 4, 0, -1, 0],
        [0, 1, 1, -17.0 / 4, -17.0 / 4, 1, 1, 0],
        [0, -1, 1, 17.0 / 4, -17.0 / 4, -1, 1, 0],
        [0, 1.0 / 2, 1.0 / 4, -5.0 / 2, -5.0 / 4, 2, 1, 0],
        [0, -1.0 / 2, 1.0 / 4, 5.0 / 2, -5.0 / 4, -2, 1, 0],
        [0, 2, 4, -5.0 / 2, -5, 1.0 / 2, 1, 0],
        [0, -2, 4, 5.0 / 2, -5, -1.0 / 2, 1, 0],
        [0, -1, 0, 21.0 / 4, 0, -21.0 / 4, 0, 1],
    ]
    static let g: [[Double]] = [
        [1, 0, 0, 0, 0],
        [-2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9],
        [-2.0 / 9, 2.0 / 9, -2.0 / 9, 2.0 / 9, -2.0 / 9],
        [1.0 / 90, 1.0 / 45, 2.0 / 45, 4.0 / 45, 8.0 / 45],
        [1.0 / 90, -1.0 / 45, 2.0 / 45, -4.0 / 45, 8.0 / 45],
        [32.0 / 45, 16.0 / 45, 8.0 / 45, 4.0 / 45, 2.0 / 45],
        [32.0 / 45, -16.0 / 45, 8.0 / 45, -4.0 / 45, 2.0 / 45],
        [0, 0, 0, 0, 1],
    ]
    static let aT: [[Double]] = [
        [1, 1, 1, 1, 1, 1, 1, 0],
        [0, 1, -1, 2, -2, 1.0 / 2, -1.0 / 2, 0],
        [0, 1, 1, 4, 4, 1.0 / 4, 1.0 / 4, 0],
        [0, 1, -1, 8, -8, 1.0 / 8, -1.0 / 8, 1],
    ]

    /// Transforms the weights of a 5x5 ``Conv2D``.
    public init(_ conv: Conv2D) {
        precondition(conv.kernelSize == 5, "WinogradF4Conv5x5 needs a 5x5 kernel")
        inChannels = conv.inChannels
        outChannels = conv.outChannels
        bias = conv.bias
        transformedWeights = winogradFilterTransform(conv, g: Self.g)
    }

    /// Scratch floats that ``apply(input:width:rows:output:scratch:)`` needs.
    public var scratchCount: Int { Self.scratchCount(inChannels: inChannels, outChannels: outChannels) }

    /// Scratch floats for a layer with these channel counts: one batch per worker, plus a
    /// 64-vector transform buffer each.
    public static func scratchCount(inChannels: Int, outChannels: Int) -> Int {
        winogradScratchCount(positions: 64, tilesPerBatch: tilesPerBatch, inChannels: inChannels, outChannels: outChannels,
                             extra: 64 * FloatVector.scalarCount)
    }

    /// Computes output rows `rows` of the convolution with its bias into `output`
    /// (`rows.count * width * outChannels` floats, row `rows.lowerBound` first).
    public func apply(input: MapRows, width: Int, rows: Range<Int>, output: UnsafeMutablePointer<Float>,
                      scratch: UnsafeMutablePointer<Float>) {
        let cin = inChannels, cout = outChannels, rowStride = width * cout
        bias.withUnsafeBufferPointer { b in
            let bias = b.baseAddress!
            runWinogradTiles(
                tileSide: 4, kernel: 5, input: input, width: width, rows: rows, inChannels: cin, outChannels: cout,
                tilesPerBatch: Self.tilesPerBatch, transformedWeights: transformedWeights, scratch: scratch,
                extra: 64 * FloatVector.scalarCount,
                inputTransform: { patch, v, stride, temp in
                    inputTransformF4x5(patch, channels: cin, temp: temp, into: v, stride: stride)
                },
                outputTransform: { ty, tx, m, stride, temp in
                    outputTransformF4x5(UnsafePointer(m), stride: stride, channels: cout, bias: bias, temp: temp,
                                        into: output + (4 * ty * width + 4 * tx) * cout, rowStride: rowStride,
                                        rows: min(4, rows.count - 4 * ty), columns: min(4, width - 4 * tx))
                })
        }
    }
}

/// B^T x for the eight values of one patch column or row (rows of ``WinogradF4Conv5x5/bT``).
@inline(__always)
func inputTransform8(_ x0: FloatVector, _ x1: FloatVector, _ x2: FloatVector, _ x3: FloatVector,
                     _ x4: FloatVector, _ x5: FloatVector, _ x6: FloatVector, _ x7: FloatVector)
    -> (FloatVector, FloatVector, FloatVector, FloatVector, FloatVector, FloatVector, FloatVector, FloatVector) {
    let r0 = x0 - x6 + 5.25 * (x4 - x2)
    let r7 = x7 - x1 + 5.25 * (x3 - x5)
    let e1 = x2 + x6 - 4.25 * x4, o1 = x1 + x5 - 4.25 * x3
    let e2 = 0.25 * x2 - 1.25 * x4 + x6, o2 = 0.5 * x1 - 2.5 * x3 + 2 * x5
    let e3 = 4 * x2 - 5 * x4 + x6, o3 = 2 * x1 - 2.5 * x3 + 0.5 * x5
    return (r0, e1 + o1, e1 - o1, e2 + o2, e2 - o2, e3 + o3, e3 - o3, r7)
}

/// A^T m for eight values (rows of ``WinogradF4Conv5x5/aT``).
@inline(__always)
func outputTransform8(_ m0: FloatVector, _ m1: FloatVector, _ m2: FloatVector, _ m3: FloatVector,
                      _ m4: FloatVector, _ m5: FloatVector, _ m6: FloatVector, _ m7: FloatVector)
    -> (FloatVector, FloatVector, FloatVector, FloatVector) {
    let s1 = m1 + m2, d1 = m1 - m2, s2 = m3 + m4, d2 = m3 - m4, s3 = m5 + m6, d3 = m5 - m6
    return (m0 + s1 + s2 + s3, d1 + 2 * d2 + 0.5 * d3, s1 + 4 * s2 + 0.25 * s3, d1 + 8 * d2 + 0.125 * d3 + m7)
}

/// V = B^T d B for one 8x8 patch (`d[8 i + j]` points at pixel (i, j)'s channels): position `k`'s
/// channels go to `v + k * stride`. `temp` holds 64 vectors.
@inline(__always)
func inputTransformF4x5(_ d: UnsafePointer<UnsafePointer<Float>>, channels n: Int, temp: UnsafeMutablePointer<Float>,
                        into v: UnsafeMutablePointer<Float>, stride: Int) {
    let w = FloatVector.scalarCount
    forEachChannelChunk(n) { c, lanes in
        // Columns: temp[i][l] = sum_k B^T[i][k] d[k][l].
        for l in 0..<8 {
            let r = inputTransform8(loadLanes(d[l] + c, lanes), loadLanes(d[8 + l] + c, lanes), loadLanes(d[16 + l] + c, lanes),
                                    loadLanes(d[24 + l] + c, lanes), loadLanes(d[32 + l] + c, lanes), loadLanes(d[40 + l] + c, lanes),
                                    loadLanes(d[48 + l] + c, lanes), loadLanes(d[56 + l] + c, lanes))
            let t = temp + l * w
            storeVector(r.0, t); storeVector(r.1, t + 8 * w); storeVector(r.2, t + 16 * w); storeVector(r.3, t + 24 * w)
            storeVector(r.4, t + 32 * w); storeVector(r.5, t + 40 * w); storeVector(r.6, t + 48 * w); storeVector(r.7, t + 56 * w)
        }
        // Rows: V[i][j] = sum_l B^T[j][l] temp[i][l].
        for i in 0..<8 {
            let t = temp + i * 8 * w
            let r = inputTransform8(loadVector(t), loadVector(t + w), loadVector(t + 2 * w), loadVector(t + 3 * w),
                                    loadVector(t + 4 * w), loadVector(t + 5 * w), loadVector(t + 6 * w), loadVector(t + 7 * w))
            let o = v + i * 8 * stride + c
            storeLanes(r.0, o, lanes); storeLanes(r.1, o + stride, lanes)
            storeLanes(r.2, o + 2 * stride, lanes); storeLanes(r.3, o + 3 * stride, lanes)
            storeLanes(r.4, o + 4 * stride, lanes); storeLanes(r.5, o + 5 * stride, lanes)
            storeLanes(r.6, o + 6 * stride, lanes); storeLanes(r.7, o + 7 * stride, lanes)
        }
    }
}

/// Y = A^T M A + bias for one tile (position `k` of M at `m + k * stride`), written to the
/// `rows x columns` (at most 4 x 4) output pixels inside the map: pixel (i, j) at
/// `out + i * rowStride + j * channels`. `temp` holds 32 vectors.
///
/// M is read in whole vectors even in a last chunk of fewer than 8 channels (the extra lanes are
/// computed and dropped): in ``runWinogradTiles``'s products every row is followed by another
/// row or by the slab's padding, so those reads stay inside the scratch buffer, and they avoid
/// assembling partial vectors lane by lane (129 output channels had a 1-channel tail).
@inline(__always)
func outputTransformF4x5(_ m: UnsafePointer<Float>, stride: Int, channels n: Int, bias: UnsafePointer<Float>,
                         temp: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, rowStride: Int,
                         rows: Int, columns: Int) {
    let w = FloatVector.scalarCount
    forEachChannelChunk(n) { c, lanes in
        // Columns: temp[i][l] = sum_k A^T[i][k] M[k][l].
        for l in 0..<8 {
            let col = m + l * stride + c
            let s = outputTransform8(loadVector(col), loadVector(col + 8 * stride), loadVector(col + 16 * stride),
                                     loadVector(col + 24 * stride), loadVector(col + 32 * stride), loadVector(col + 40 * stride),
                                     loadVector(col + 48 * stride), loadVector(col + 56 * stride))
            let t = temp + l * w
            storeVector(s.0, t); storeVector(s.1, t + 8 * w); storeVector(s.2, t + 16 * w); storeVector(s.3, t + 24 * w)
        }
        let b = loadLanes(bias + c, lanes)
        for i in 0..<rows {
            let t = temp + i * 8 * w
            let y = outputTransform8(loadVector(t), loadVector(t + w), loadVector(t + 2 * w), loadVector(t + 3 * w),
                                     loadVector(t + 4 * w), loadVector(t + 5 * w), loadVector(t + 6 * w), loadVector(t + 7 * w))
            let o = out + i * rowStride + c
            storeLanes(y.0 + b, o, lanes)
            if columns > 1 { storeLanes(y.1 + b, o + n, lanes) }
            if columns > 2 { storeLanes(y.2 + b, o + 2 * n, lanes) }
            if columns > 3 { storeLanes(y.3 + b, o + 3 * n, lanes) }
        }
    }
}
