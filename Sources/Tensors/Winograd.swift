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

// The transforms, on eight channels at a time in SIMD registers (channels are contiguous in NHWC;
// with sixteen source pointers and a destination that may alias them, scalar loops are not
// vectorized by the compiler). A last chunk of fewer than eight channels goes through the same
// code with partial loads and stores.

/// Calls `body(c, lanes)` for the chunks `c ..< c + lanes` of `0 ..< channels`: `lanes` is 8
/// except in a last, shorter chunk.
@inline(__always)
func forEachChannelChunk(_ channels: Int, _ body: (_ c: Int, _ lanes: Int) -> Void) {
    var c = 0
    while c + 8 <= channels { body(c, 8); c += 8 }
    if c < channels { body(c, channels - c) }
}

/// V = B^T d B for one 4x4 patch; `d[4 i + j]` points at the `channels` values of patch pixel
/// (i, j); writes position `k`'s channels at `v + k * stride`.
/// B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]].
@inline(__always)
func inputTransform(_ d: UnsafePointer<UnsafePointer<Float>>, channels: Int, into v: UnsafeMutablePointer<Float>, stride n: Int) {
    forEachChannelChunk(channels) { c, lanes in
        // Rows: t = B^T d, one 4-pixel column at a time.
        @inline(__always) func column(_ j: Int) -> (FloatVector, FloatVector, FloatVector, FloatVector) {
            let d0 = loadLanes(d[j] + c, lanes), d1 = loadLanes(d[4 + j] + c, lanes)
            let d2 = loadLanes(d[8 + j] + c, lanes), d3 = loadLanes(d[12 + j] + c, lanes)
            return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
        }
        let t0 = column(0), t1 = column(1), t2 = column(2), t3 = column(3)
        // Columns: V = t B.
        @inline(__always) func row(_ i: Int, _ a: FloatVector, _ b: FloatVector, _ e: FloatVector, _ f: FloatVector) {
            let o = v + 4 * i * n + c
            storeLanes(a - e, o, lanes); storeLanes(b + e, o + n, lanes)
            storeLanes(e - b, o + 2 * n, lanes); storeLanes(b - f, o + 3 * n, lanes)
        }
        row(0, t0.0, t1.0, t2.0, t3.0)
        row(1, t0.1, t1.1, t2.1, t3.1)
        row(2, t0.2, t1.2, t2.2, t3.2)
        row(3, t0.3, t1.3, t2.3, t3.3)
    }
}

/// The 2x2 outputs Y = A^T M A (+ bias, ReLU) of channels `c ..< c + lanes` of one tile, position
/// `k` of M at `m + k * n`. A^T = [[1,1,1,0],[0,1,-1,-1]].
@inline(__always)
func outputTransformValues(_ m: UnsafePointer<Float>, _ c: Int, _ lanes: Int, _ n: Int, _ bias: UnsafePointer<Float>, _ relu: Bool)
    -> (FloatVector, FloatVector, FloatVector, FloatVector) {
    @inline(__always) func at(_ k: Int) -> FloatVector { loadLanes(m + k * n + c, lanes) }
    // Rows: s = A^T M.
    let s00 = at(0) + at(4) + at(8), s01 = at(1) + at(5) + at(9), s02 = at(2) + at(6) + at(10), s03 = at(3) + at(7) + at(11)
    let s10 = at(4) - at(8) - at(12), s11 = at(5) - at(9) - at(13), s12 = at(6) - at(10) - at(14), s13 = at(7) - at(11) - at(15)
    // Columns: Y = s A.
    let b = loadLanes(bias + c, lanes)
    var y00 = s00 + s01 + s02 + b, y01 = s01 - s02 - s03 + b
    var y10 = s10 + s11 + s12 + b, y11 = s11 - s12 - s13 + b
    if relu {
        let zero = FloatVector.zero
        y00.replace(with: zero, where: y00 .< zero); y01.replace(with: zero, where: y01 .< zero)
        y10.replace(with: zero, where: y10 .< zero); y11.replace(with: zero, where: y11 .< zero)
    }
    return (y00, y01, y10, y11)
}

/// Writes a tile's 2x2 outputs; `o.1 ... o.3` are nil for pixels outside the map.
@inline(__always)
func outputTransform(
    _ m: UnsafePointer<Float>, stride: Int, bias: UnsafePointer<Float>, channels n: Int, relu: Bool,
    into o: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?)
) {
    forEachChannelChunk(n) { c, lanes in
        let y = outputTransformValues(m, c, lanes, stride, bias, relu)
        storeLanes(y.0, o.0 + c, lanes)
        if let p = o.1 { storeLanes(y.1, p + c, lanes) }
        if let p = o.2 { storeLanes(y.2, p + c, lanes) }
        if let p = o.3 { storeLanes(y.3, p + c, lanes) }
    }
}

/// The tile's 2x2 outputs max-pooled into one pixel.
@inline(__always)
func outputTransformPooled(_ m: UnsafePointer<Float>, stride: Int, bias: UnsafePointer<Float>, channels n: Int, relu: Bool,
                           into o: UnsafeMutablePointer<Float>) {
    forEachChannelChunk(n) { c, lanes in
        let y = outputTransformValues(m, c, lanes, stride, bias, relu)
        storeLanes(vectorMax(vectorMax(y.0, y.1), vectorMax(y.2, y.3)), o + c, lanes)
    }
}
