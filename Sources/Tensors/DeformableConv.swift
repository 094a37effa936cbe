// Deformable 3x3 convolution (Dai et al. 2017) as torchvision.ops.deform_conv2d computes it with
// stride 1, padding 1, dilation 1, one offset group and no modulation mask (ALIKED's blocks 3
// and 4), on NHWC maps.
//
// Each output pixel reads its 9 taps at learned fractional positions: tap k = 3 * ky + kx of
// output (y, x) samples the input at (y - 1 + ky + dy_k, x - 1 + kx + dx_k), where the offsets
// map has 18 channels per pixel, 2k holding dy_k and 2k + 1 holding dx_k (torchvision's order).
// A sample is 0 when the position lies outside the open square (-1, H) x (-1, W); otherwise it
// is the bilinear blend of its 4 neighbours, a neighbour outside the map counting 0.
//
// The evaluation is im2col + GEMM like ``Conv2D``: the bilinear samples of a band of output
// pixels form a [pixels, 9 * Cin] matrix (tap-major, then channel: the column order of
// ``Conv2D/gemmWeights``), multiplied by the weights [9 * Cin, Cout]. The offsets are shared by
// all channels, so the 4 neighbour addresses and weights are computed once per (pixel, tap) and
// the channel loop is a contiguous 4-term blend.

/// A deformable 3x3 convolution: ``Conv2D`` weights (and bias) applied to bilinear samples at
/// offset positions.
public struct DeformableConv3x3: Sendable {
    /// The weights in ``Conv2D``'s GEMM layout; `kernelSize` is 3.
    public let conv: Conv2D

    public init(_ conv: Conv2D) {
        precondition(conv.kernelSize == 3, "DeformableConv3x3: a 3x3 kernel is required")
        self.conv = conv
    }

    public var inChannels: Int { conv.inChannels }
    public var outChannels: Int { conv.outChannels }

    /// Scratch floats ``apply(input:offsets:height:width:rows:output:scratch:)`` needs for a band of
    /// `bandPixels` output pixels.
    public func scratchCount(bandPixels: Int) -> Int { bandPixels * conv.patchSize }

    /// Computes output rows `rows` (row `rows.lowerBound` first at `output`, `outChannels` values
    /// per pixel) of the deformable convolution of the `height x width x inChannels` map `input`,
    /// with `offsets` the `height x width x 18` offset map, adding the bias.
    ///
    /// `scratch` holds ``scratchCount(bandPixels:)`` floats for `rows.count * width` pixels.
    public func apply(input: UnsafePointer<Float>, offsets: UnsafePointer<Float>, height: Int, width: Int,
                      rows: Range<Int>, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let pixels = rows.count * width
        guard pixels > 0 else { return }
        let patch = conv.patchSize, cout = outChannels
        conv.gemmWeights.withUnsafeBufferPointer { w in
            conv.bias.withUnsafeBufferPointer { b in
                let weights = w.baseAddress!, bias = b.baseAddress!
                let parts = max(1, min(Parallel.concurrency, rows.count))
                Parallel.forEachChunk(parts) { part, _ in
                    let partRows = Parallel.range(part, of: parts, count: rows.count)
                    guard !partRows.isEmpty else { return }
                    let firstPixel = partRows.lowerBound * width, partPixels = partRows.count * width
                    let patches = scratch + firstPixel * patch, out = output + firstPixel * cout
                    deformableIm2col(input: input, offsets: offsets, height: height, width: width,
                                     rows: (rows.lowerBound + partRows.lowerBound)..<(rows.lowerBound + partRows.upperBound),
                                     into: patches)
                    sgemm(m: partPixels, n: cout, k: patch, a: patches, lda: patch,
                          b: weights, ldb: cout, c: out, ldc: cout)
                    addBias(bias, channels: cout, pixels: partPixels, relu: false, data: out)
                }
            }
        }
    }

    /// One im2col row per output pixel of `rows`: for each tap the `Cin` bilinear samples.
    func deformableIm2col(input: UnsafePointer<Float>, offsets: UnsafePointer<Float>, height: Int, width: Int,
                          rows: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        let cin = inChannels, patch = conv.patchSize
        let fh = Float(height), fw = Float(width)
        for (bandRow, y) in rows.enumerated() {
            for x in 0..<width {
                let off = offsets + (y * width + x) * 18
                let row = dst + (bandRow * width + x) * patch
                for k in 0..<9 {
                    let d = row + k * cin
                    let sy = Float(y - 1 + k / 3) + off[2 * k]
                    let sx = Float(x - 1 + k % 3) + off[2 * k + 1]
                    guard sy > -1, sy < fh, sx > -1, sx < fw else {
                        d.update(repeating: 0, count: cin)
                        continue
                    }
                    let fy = sy.rounded(.down), fx = sx.rounded(.down)
                    let y0 = Int(fy), x0 = Int(fx)
                    let ly = sy - fy, lx = sx - fx, hy = 1 - ly, hx = 1 - lx
                    // torchvision's weights and term order; a neighbour outside the map reads 0.
                    let w1 = hy * hx, w2 = hy * lx, w3 = ly * hx, w4 = ly * lx
                    let top = y0 >= 0, bottom = y0 + 1 <= height - 1, left = x0 >= 0, right = x0 + 1 <= width - 1
                    let p1 = top && left ? input + (y0 * width + x0) * cin : nil
                    let p2 = top && right ? input + (y0 * width + x0 + 1) * cin : nil
                    let p3 = bottom && left ? input + ((y0 + 1) * width + x0) * cin : nil
                    let p4 = bottom && right ? input + ((y0 + 1) * width + x0 + 1) * cin : nil
                    if let p1, let p2, let p3, let p4 {
                        for c in 0..<cin { d[c] = w1 * p1[c] + w2 * p2[c] + w3 * p3[c] + w4 * p4[c] }
                    } else {
                        for c in 0..<cin {
                            let v1 = p1?[c] ?? 0, v2 = p2?[c] ?? 0, v3 = p3?[c] ?? 0, v4 = p4?[c] ?? 0
                            d[c] = w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4
                        }
                    }
                }
            }
        }
    }
}

/// Deformable-convolves an NHWC tensor `[height, width, inChannels]` with an offsets tensor
/// `[height, width, 18]`; returns `[height, width, outChannels]`.
public func deformableConv3x3(_ conv: DeformableConv3x3, input: Tensor, offsets: Tensor) -> Tensor {
    precondition(input.shape.count == 3 && input.shape[2] == conv.inChannels, "deformableConv3x3: expected [H, W, \(conv.inChannels)]")
    let height = input.shape[0], width = input.shape[1]
    precondition(offsets.shape == [height, width, 18], "deformableConv3x3: offsets must be [\(height), \(width), 18]")
    var out = [Float](repeating: 0, count: height * width * conv.outChannels)
    guard height > 0, width > 0 else { return Tensor(shape: [height, width, conv.outChannels], data: out) }
    var scratch = [Float](repeating: 0, count: conv.scratchCount(bandPixels: height * width))
    input.data.withUnsafeBufferPointer { inp in
        offsets.data.withUnsafeBufferPointer { off in
            out.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { s in
                    conv.apply(input: inp.baseAddress!, offsets: off.baseAddress!, height: height, width: width,
                               rows: 0..<height, output: o.baseAddress!, scratch: s.baseAddress!)
                }
            }
        }
    }
    return Tensor(shape: [height, width, conv.outChannels], data: out)
}
