// 3x3 convolution (stride 1, padding 1) by Winograd F(4x4, 3x3) on NHWC maps: each 4x4 output
// tile comes from a 6x6 input patch, with 36 GEMMs [tiles x Cin] x [Cin x Cout], i.e. 36
// multiply-adds per 16 outputs and channel pair instead of 144 (4x fewer than im2col, 1.78x
// fewer than F(2x2, 3x3)). Its transforms (interpolation points 0, +-1, +-2, infinity) have
// coefficients up to 8 and 1/24, so rounding errors are roughly ten times those of F(2x2); the
// SuperPoint parity tests bound the end result.
//
// The transforms are applied as table-driven multiply-adds over whole channel vectors (channels
// are contiguous in NHWC), so every inner loop is a vectorizable axpy.

/// A 3x3, padding-1 convolution evaluated with Winograd F(4x4, 3x3).
public struct WinogradF4Conv3x3: Sendable {
    /// Number of input channels.
    public let inChannels: Int
    /// Number of output channels.
    public let outChannels: Int
    /// `U = G g G^T` per channel pair: `[36][inChannels][outChannels]`.
    public let transformedWeights: [Float]
    /// `outChannels` values.
    public let bias: [Float]

    /// Output tiles per GEMM batch.
    public static let tilesPerBatch = 192

    // Lavin & Gray's F(4x4, 3x3) matrices.
    static let bT: [[Double]] = [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ]
    static let g: [[Double]] = [
        [1.0 / 4, 0, 0],
        [-1.0 / 6, -1.0 / 6, -1.0 / 6],
        [-1.0 / 6, 1.0 / 6, -1.0 / 6],
        [1.0 / 24, 1.0 / 12, 1.0 / 6],
        [1.0 / 24, -1.0 / 12, 1.0 / 6],
        [0, 0, 1],
    ]
    static let aT: [[Double]] = [
        [1, 1, 1, 1, 1, 0],
        [0, 1, -1, 2, -2, 0],
        [0, 1, 1, 4, 4, 0],
        [0, 1, -1, 8, -8, 1],
    ]

    /// Non-zero entries of each row of a matrix, as (column, coefficient).
    static func sparseRows(_ m: [[Double]]) -> [[(Int, Float)]] {
        m.map { row in row.enumerated().compactMap { $0.element == 0 ? nil : ($0.offset, Float($0.element)) } }
    }
    static let bTRows = sparseRows(bT)
    static let aTRows = sparseRows(aT)

    /// Transforms the weights of a 3x3 ``Conv2D``.
    public init(_ conv: Conv2D) {
        precondition(conv.kernelSize == 3, "WinogradF4Conv3x3 needs a 3x3 kernel")
        let cin = conv.inChannels, cout = conv.outChannels
        inChannels = cin
        outChannels = cout
        bias = conv.bias
        transformedWeights = winogradFilterTransform(conv, g: Self.g)
    }

    /// Scratch floats that ``apply(input:width:rows:output:relu:pool:scratch:)`` needs.
    public var scratchCount: Int { Self.scratchCount(inChannels: inChannels, outChannels: outChannels) }

    /// Scratch floats for a layer with these channel counts: one batch per worker, plus a
    /// `[36][max(inChannels, outChannels)]` transform buffer each.
    public static func scratchCount(inChannels: Int, outChannels: Int) -> Int {
        winogradScratchCount(positions: 36, tilesPerBatch: tilesPerBatch, inChannels: inChannels, outChannels: outChannels,
                             extra: 36 * max(inChannels, outChannels))
    }

    /// Computes output rows `rows` (`rows.lowerBound` even) with bias and optional ReLU; with
    /// `pool`, writes the 2x2 max-pooled rows (`rows.count / 2` rows of `width / 2` pixels).
    public func apply(
        input: MapRows, width: Int, rows: Range<Int>,
        output: UnsafeMutablePointer<Float>, relu: Bool, pool: Bool,
        scratch: UnsafeMutablePointer<Float>
    ) {
        precondition(rows.lowerBound % 2 == 0, "Winograd bands start on an even row")
        let cin = inChannels, cout = outChannels
        let pooledWidth = width / 2, pooledRows = rows.count / 2
        bias.withUnsafeBufferPointer { b in
            let bias = b.baseAddress!
            runWinogradTiles(
                tileSide: 4, input: input, width: width, rows: rows, inChannels: cin, outChannels: cout,
                tilesPerBatch: Self.tilesPerBatch, transformedWeights: transformedWeights, scratch: scratch,
                extra: 36 * max(cin, cout),
                inputTransform: { patch, v, stride, temp in
                    // temp[i][l] = sum_k B^T[i][k] d[k][l]; V[i][j] = sum_l B^T[j][l] temp[i][l].
                    if cin % 8 == 0 {
                        inputTransformF4(patch, channels: cin, temp: temp, into: v, stride: stride)
                        return
                    }
                    for i in 0..<6 {
                        for l in 0..<6 {
                            combine(Self.bTRows[i], count: cin, into: temp + (i * 6 + l) * cin) { patch[$0 * 6 + l] }
                        }
                    }
                    for i in 0..<6 {
                        for j in 0..<6 {
                            combine(Self.bTRows[j], count: cin, into: v + (i * 6 + j) * stride) { UnsafePointer(temp + (i * 6 + $0) * cin) }
                        }
                    }
                },
                outputTransform: { ty, tx, m, stride, temp in
                    // Y goes to m's first 16 positions (M is no longer needed).
                    let y = m
                    if cout % 8 == 0 {
                        outputTransformF4(m, stride: stride, channels: cout, bias: bias, relu: relu, temp: temp)
                    } else {
                        // s[i][l] = sum_k A^T[i][k] M[k][l] (4 x 6); Y[i][j] = sum_l A^T[j][l] s[i][l].
                        for i in 0..<4 {
                            for l in 0..<6 {
                                combine(Self.aTRows[i], count: cout, into: temp + (i * 6 + l) * cout) { UnsafePointer(m + ($0 * 6 + l) * stride) }
                            }
                        }
                        for i in 0..<4 {
                            for j in 0..<4 {
                                let dst = y + (i * 4 + j) * stride
                                combine(Self.aTRows[j], count: cout, into: dst) { UnsafePointer(temp + (i * 6 + $0) * cout) }
                                if relu {
                                    for c in 0..<cout { dst[c] = max(dst[c] + bias[c], 0) }
                                } else {
                                    for c in 0..<cout { dst[c] += bias[c] }
                                }
                            }
                        }
                    }
                    if pool {
                        // Four 2x2 windows per tile; floor pooling drops windows cut by the edge.
                        for wy in 0..<2 where 2 * ty + wy < pooledRows {
                            for wx in 0..<2 where 2 * tx + wx < pooledWidth {
                                let a = y + ((2 * wy) * 4 + 2 * wx) * stride, b = a + stride
                                let c0 = a + 4 * stride, d = c0 + stride
                                let dst = output + ((2 * ty + wy) * pooledWidth + 2 * tx + wx) * cout
                                for c in 0..<cout { dst[c] = max(max(a[c], b[c]), max(c0[c], d[c])) }
                            }
                        }
                    } else {
                        for i in 0..<4 where 4 * ty + i < rows.count {
                            for j in 0..<4 where 4 * tx + j < width {
                                (output + ((4 * ty + i) * width + 4 * tx + j) * cout).update(from: y + (i * 4 + j) * stride, count: cout)
                            }
                        }
                    }
                })
        }
    }
}

/// `dst = sum over terms (k, a) of a * source(k)`, element-wise over `count` floats.
@inline(__always)
func combine(_ terms: [(Int, Float)], count: Int, into dst: UnsafeMutablePointer<Float>,
             _ source: (Int) -> UnsafePointer<Float>) {
    let (k0, a0) = terms[0]
    let s0 = source(k0)
    for c in 0..<count { dst[c] = a0 * s0[c] }
    for (k, a) in terms.dropFirst() {
        let s = source(k)
        if a == 1 {
            for c in 0..<count { dst[c] += s[c] }
        } else if a == -1 {
            for c in 0..<count { dst[c] -= s[c] }
        } else {
            for c in 0..<count { dst[c] += a * s[c] }
        }
    }
}

/// A 3x3, padding-1 convolution that computes bands of output rows, optionally 2x2-max-pooled:
/// the common interface of the Winograd variants.
public protocol BandedConvolution3x3: Sendable {
    /// Floats of scratch that `apply` needs.
    var scratchCount: Int { get }
    /// See ``WinogradConv3x3/apply(input:width:rows:output:relu:pool:scratch:)``.
    func apply(input: MapRows, width: Int, rows: Range<Int>, output: UnsafeMutablePointer<Float>,
               relu: Bool, pool: Bool, scratch: UnsafeMutablePointer<Float>)
}

extension WinogradConv3x3: BandedConvolution3x3 {}
extension WinogradF4Conv3x3: BandedConvolution3x3 {}

// Fast paths for channel counts that are multiples of 8: the 1-D transforms on 8 channels at a
// time, held in SIMD registers, in two passes (columns, then rows) through an L1-sized buffer.

/// B^T d for six values (one column or row of a 6x6 patch).
@inline(__always)
func inputTransform6(_ d0: FloatVector, _ d1: FloatVector, _ d2: FloatVector, _ d3: FloatVector, _ d4: FloatVector, _ d5: FloatVector)
    -> (FloatVector, FloatVector, FloatVector, FloatVector, FloatVector, FloatVector) {
    let r0 = 4 * d0 - 5 * d2 + d4
    let r1 = d3 + d4 - 4 * (d1 + d2)
    let r2 = 4 * (d1 - d2) - d3 + d4
    let r3 = 2 * (d3 - d1) - d2 + d4
    let r4 = 2 * (d1 - d3) - d2 + d4
    let r5 = 4 * d1 - 5 * d3 + d5
    return (r0, r1, r2, r3, r4, r5)
}

/// V = B^T d B for one 6x6 patch (`d[6 i + j]` points at pixel (i, j)'s channels), channels % 8 == 0;
/// position `k` goes to `v + k * stride`.
@inline(__always)
func inputTransformF4(_ d: UnsafePointer<UnsafePointer<Float>>, channels n: Int,
                      temp: UnsafeMutablePointer<Float>, into v: UnsafeMutablePointer<Float>, stride: Int) {
    var c = 0
    while c < n {
        for l in 0..<6 {
            let r = inputTransform6(loadVector(d[l] + c), loadVector(d[6 + l] + c), loadVector(d[12 + l] + c),
                                    loadVector(d[18 + l] + c), loadVector(d[24 + l] + c), loadVector(d[30 + l] + c))
            storeVector(r.0, temp + (0 * 6 + l) * 8); storeVector(r.1, temp + (1 * 6 + l) * 8)
            storeVector(r.2, temp + (2 * 6 + l) * 8); storeVector(r.3, temp + (3 * 6 + l) * 8)
            storeVector(r.4, temp + (4 * 6 + l) * 8); storeVector(r.5, temp + (5 * 6 + l) * 8)
        }
        for i in 0..<6 {
            let t = temp + i * 48
            let r = inputTransform6(loadVector(t), loadVector(t + 8), loadVector(t + 16), loadVector(t + 24), loadVector(t + 32), loadVector(t + 40))
            let o = v + i * 6 * stride + c
            storeVector(r.0, o); storeVector(r.1, o + stride); storeVector(r.2, o + 2 * stride)
            storeVector(r.3, o + 3 * stride); storeVector(r.4, o + 4 * stride); storeVector(r.5, o + 5 * stride)
        }
        c += 8
    }
}

/// A^T m for six values.
@inline(__always)
func outputTransform6(_ m0: FloatVector, _ m1: FloatVector, _ m2: FloatVector, _ m3: FloatVector, _ m4: FloatVector, _ m5: FloatVector)
    -> (FloatVector, FloatVector, FloatVector, FloatVector) {
    let a = m1 + m2, b = m1 - m2, p = m3 + m4, q = m3 - m4
    return (m0 + a + p, b + 2 * q, a + 4 * p, b + 8 * q + m5)
}

/// Y = A^T M A (+ bias, ReLU) in place: position `k` of M is at `m + k * stride`; Y goes to its
/// first 16 positions.
@inline(__always)
func outputTransformF4(_ m: UnsafeMutablePointer<Float>, stride: Int, channels n: Int, bias: UnsafePointer<Float>, relu: Bool,
                       temp: UnsafeMutablePointer<Float>) {
    var c = 0
    let zero = FloatVector(repeating: 0)
    while c < n {
        for l in 0..<6 {
            let col = m + l * stride + c
            let s = outputTransform6(loadVector(col), loadVector(col + 6 * stride), loadVector(col + 12 * stride),
                                     loadVector(col + 18 * stride), loadVector(col + 24 * stride), loadVector(col + 30 * stride))
            storeVector(s.0, temp + (0 * 6 + l) * 8); storeVector(s.1, temp + (1 * 6 + l) * 8)
            storeVector(s.2, temp + (2 * 6 + l) * 8); storeVector(s.3, temp + (3 * 6 + l) * 8)
        }
        let b = loadVector(bias + c)
        for i in 0..<4 {
            let t = temp + i * 48
            var y = outputTransform6(loadVector(t), loadVector(t + 8), loadVector(t + 16), loadVector(t + 24), loadVector(t + 32), loadVector(t + 40))
            y.0 += b; y.1 += b; y.2 += b; y.3 += b
            if relu {
                // Compare and select: the standard library's pointwiseMax is not inlined for SIMD8
                // and showed up in profiles as a function call per vector.
                y.0.replace(with: zero, where: y.0 .< zero); y.1.replace(with: zero, where: y.1 .< zero)
                y.2.replace(with: zero, where: y.2 .< zero); y.3.replace(with: zero, where: y.3 .< zero)
            }
            let o = m + i * 4 * stride + c
            storeVector(y.0, o); storeVector(y.1, o + stride); storeVector(y.2, o + 2 * stride); storeVector(y.3, o + 3 * stride)
        }
        c += 8
    }
}
