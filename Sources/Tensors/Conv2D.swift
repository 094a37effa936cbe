// 2-D convolution (stride 1, "same" zero padding, odd square kernel) on NHWC feature maps.
//
// Layout: a feature map is `height x width x channels`, channels innermost. A k x k convolution is
// then one GEMM per band of output rows: the band's im2col matrix [pixels, k*k*Cin] (built from
// contiguous runs of Cin values, so it is a handful of memcpys per pixel) times the weights
// reshaped to [k*k*Cin, Cout]. Building the im2col matrix per band keeps it small (a whole-image
// im2col of a 640x480x64 map would be 700 MB) and lets bias, ReLU and pooling run on the band
// while it is still in cache. 1x1 convolutions need no im2col: the map itself is the GEMM operand.

/// Weights of a 2-D convolution rearranged for NHWC GEMMs, plus its bias.
public struct Conv2D: Sendable {
    /// Number of input channels.
    public let inChannels: Int
    /// Number of output channels.
    public let outChannels: Int
    /// Kernel side (1 or 3 in SuperPoint; any odd size works); padding is `kernelSize / 2`.
    public let kernelSize: Int
    /// `[ky][kx][ci][co]`, i.e. a row-major `[kernelSize * kernelSize * inChannels, outChannels]`
    /// matrix: row `(ky * k + kx) * Cin + ci` matches the im2col column order below.
    public let gemmWeights: [Float]
    /// `outChannels` values.
    public let bias: [Float]

    /// Rearranges PyTorch `Conv2d` weights (`[Cout, Cin, k, k]`, row-major) and bias (`[Cout]`).
    public init(outChannels: Int, inChannels: Int, kernelSize: Int, weightsOIHW: [Float], bias: [Float]) {
        precondition(kernelSize % 2 == 1, "Conv2D: only odd kernels are supported")
        precondition(weightsOIHW.count == outChannels * inChannels * kernelSize * kernelSize, "Conv2D: weight count")
        precondition(bias.count == outChannels, "Conv2D: bias count")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.bias = bias
        let k = kernelSize
        var g = [Float](repeating: 0, count: weightsOIHW.count)
        for co in 0..<outChannels {
            for ci in 0..<inChannels {
                for ky in 0..<k {
                    for kx in 0..<k {
                        g[((ky * k + kx) * inChannels + ci) * outChannels + co] =
                            weightsOIHW[((co * inChannels + ci) * k + ky) * k + kx]
                    }
                }
            }
        }
        self.gemmWeights = g
    }

    /// Length of one im2col row.
    public var patchSize: Int { kernelSize * kernelSize * inChannels }

    /// Scratch floats ``apply(input:rows:height:width:output:relu:scratch:scratchCount:)`` needs
    /// for a band of `bandPixels` output pixels (0 for 1x1 kernels).
    public func scratchCount(bandPixels: Int) -> Int { kernelSize == 1 || outChannels == 1 ? 0 : bandPixels * patchSize }
}

/// The rows of an NHWC map that a band computation may read. Rows outside `validRows` are the
/// zero padding (the first convolution of a fused band pipeline keeps only a few rows in memory).
public struct MapRows {
    /// Address of row `firstRow` (row `y` is at `base + (y - firstRow) * width * channels`).
    public var base: UnsafePointer<Float>
    /// Index of the row at `base`.
    public var firstRow: Int
    /// Rows that are stored; every other row reads as zeros.
    public var validRows: Range<Int>

    /// Rows `validRows` of a map `channels` wide, row `firstRow` at `base`.
    public init(base: UnsafePointer<Float>, firstRow: Int, validRows: Range<Int>) {
        self.base = base
        self.firstRow = firstRow
        self.validRows = validRows
    }
}

/// The activation a convolution applies to its output, after the bias, while it is in cache.
public enum ConvActivation: Sendable {
    case none, relu
    /// torch.selu (see ``seluInPlace(_:count:)``).
    case selu
}

extension Conv2D {
    /// Computes output rows `rows` of the convolution into `output` (row `rows.lowerBound` first,
    /// `rows.count * width * outChannels` floats), adding the bias and optionally applying ReLU.
    ///
    /// `scratch` must hold ``scratchCount(bandPixels:)`` floats for `rows.count * width` pixels.
    public func apply(
        input: MapRows, width: Int, rows: Range<Int>,
        output: UnsafeMutablePointer<Float>, relu: Bool,
        scratch: UnsafeMutablePointer<Float>?
    ) {
        apply(input: input, width: width, rows: rows, output: output, activation: relu ? .relu : .none, scratch: scratch)
    }

    /// ``apply(input:width:rows:output:relu:scratch:)`` with any ``ConvActivation``.
    public func apply(
        input: MapRows, width: Int, rows: Range<Int>,
        output: UnsafeMutablePointer<Float>, activation: ConvActivation,
        scratch: UnsafeMutablePointer<Float>?
    ) {
        let pixels = rows.count * width
        guard pixels > 0 else { return }
        gemmWeights.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                let weights = w.baseAddress!, bias = b.baseAddress!
                if kernelSize == 1 {
                    let a = input.base + (rows.lowerBound - input.firstRow) * width * inChannels
                    parallelSgemm(m: pixels, n: outChannels, k: inChannels, a: a, lda: inChannels,
                                  b: weights, ldb: outChannels, c: output, ldc: outChannels) { part in
                        addBias(bias, channels: outChannels, pixels: part.count, activation: activation,
                                data: output + part.lowerBound * outChannels)
                    }
                    return
                }
                if outChannels == 1 {
                    // One output channel: a GEMM with N = 1 ran at a fraction of OpenBLAS's speed and
                    // needed the whole im2col matrix; each output is k dot products of contiguous runs.
                    let parts = max(1, min(Parallel.concurrency, rows.count))
                    Parallel.forEachChunk(parts) { part, _ in
                        let partRows = Parallel.range(part, of: parts, count: rows.count)
                        singleOutput(input: input, width: width,
                                     rows: (rows.lowerBound + partRows.lowerBound)..<(rows.lowerBound + partRows.upperBound),
                                     weights: weights, bias: bias[0], activation: activation,
                                     into: output + partRows.lowerBound * width)
                    }
                    return
                }
                guard let scratch else { preconditionFailure("Conv2D.apply: a \(kernelSize)x\(kernelSize) kernel needs scratch") }
                // Parts of whole image rows, each building its own rows of the im2col matrix.
                let parts = max(1, min(Parallel.concurrency, rows.count))
                Parallel.forEachChunk(parts) { part, _ in
                    let partRows = Parallel.range(part, of: parts, count: rows.count)
                    guard !partRows.isEmpty else { return }
                    let firstPixel = partRows.lowerBound * width, partPixels = partRows.count * width
                    let patches = scratch + firstPixel * patchSize, out = output + firstPixel * outChannels
                    im2col(input: input, width: width,
                           rows: (rows.lowerBound + partRows.lowerBound)..<(rows.lowerBound + partRows.upperBound), into: patches)
                    sgemm(m: partPixels, n: outChannels, k: patchSize, a: patches, lda: patchSize,
                          b: weights, ldb: outChannels, c: out, ldc: outChannels)
                    addBias(bias, channels: outChannels, pixels: partPixels, activation: activation, data: out)
                }
            }
        }
    }

    /// Rows `rows` of a convolution with one output channel: per pixel, one dot product per kernel
    /// row over its `k * Cin` contiguous inputs (taps in the padding skipped), then bias and
    /// activation.
    func singleOutput(input: MapRows, width: Int, rows: Range<Int>, weights: UnsafePointer<Float>, bias: Float,
                      activation: ConvActivation, into out: UnsafeMutablePointer<Float>) {
        let k = kernelSize, pad = k / 2, cin = inChannels, run = k * cin
        for (bandRow, y) in rows.enumerated() {
            let dst = out + bandRow * width
            for x in 0..<width { dst[x] = bias }
            for ky in 0..<k {
                let iy = y + ky - pad
                guard input.validRows.contains(iy) else { continue }
                let src = input.base + (iy - input.firstRow) * width * cin, w = weights + ky * run
                for x in 0..<width {
                    let x0 = x - pad
                    if x0 >= 0 && x0 + k <= width {
                        dst[x] += dot(src + x0 * cin, w, count: run)
                    } else {
                        for kx in 0..<k where x0 + kx >= 0 && x0 + kx < width {
                            dst[x] += dot(src + (x0 + kx) * cin, w + kx * cin, count: cin)
                        }
                    }
                }
            }
            switch activation {
            case .none: break
            case .relu: for x in 0..<width { dst[x] = max(dst[x], 0) }
            case .selu: seluSerial(dst, count: width)
            }
        }
    }

    /// Writes one im2col row per output pixel of `rows`: taps in (ky, kx) order, `Cin` values each,
    /// zeros where the tap falls in the padding.
    func im2col(input: MapRows, width: Int, rows: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        let k = kernelSize, pad = k / 2, cin = inChannels, patch = patchSize
        let rowStride = width * cin
        for (bandRow, y) in rows.enumerated() {
            for ky in 0..<k {
                let iy = y + ky - pad
                let tapBase = ky * k * cin
                if !input.validRows.contains(iy) {
                    for x in 0..<width {
                        (dst + (bandRow * width + x) * patch + tapBase).update(repeating: 0, count: k * cin)
                    }
                    continue
                }
                let src = input.base + (iy - input.firstRow) * rowStride
                let run = k * cin
                for x in 0..<width {
                    let d = dst + (bandRow * width + x) * patch + tapBase
                    let x0 = x - pad
                    if x0 >= 0 && x0 + k <= width {
                        // The k taps of this kernel row are k adjacent pixels: one contiguous run,
                        // copied inline when short (a memmove call per run cost more than the copy).
                        if run <= 64 { copyShortRun(from: src + x0 * cin, to: d, count: run) } else { d.update(from: src + x0 * cin, count: run) }
                    } else {
                        for kx in 0..<k {
                            let ix = x0 + kx
                            if ix >= 0 && ix < width {
                                (d + kx * cin).update(from: src + ix * cin, count: cin)
                            } else {
                                (d + kx * cin).update(repeating: 0, count: cin)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `data[p][c] += bias[c]` for `pixels` rows of `channels` values, then `max(0, .)` if `relu`.
@inline(__always)
public func addBias(_ bias: UnsafePointer<Float>, channels: Int, pixels: Int, relu: Bool, data: UnsafeMutablePointer<Float>) {
    addBias(bias, channels: channels, pixels: pixels, activation: relu ? .relu : .none, data: data)
}

/// `data[p][c] += bias[c]` for `pixels` rows of `channels` values, then the activation (on the
/// calling thread).
@inline(__always)
public func addBias(_ bias: UnsafePointer<Float>, channels: Int, pixels: Int, activation: ConvActivation,
                    data: UnsafeMutablePointer<Float>) {
    if activation == .selu {
        for p in 0..<pixels {
            let row = data + p * channels
            for c in 0..<channels { row[c] += bias[c] }
        }
        seluSerial(data, count: pixels * channels)
    } else if activation == .relu {
        for p in 0..<pixels {
            let row = data + p * channels
            for c in 0..<channels { row[c] = max(row[c] + bias[c], 0) }
        }
    } else {
        for p in 0..<pixels {
            let row = data + p * channels
            for c in 0..<channels { row[c] += bias[c] }
        }
    }
}

/// Dot product of `count` floats, eight lanes at a time.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var sum = FloatVector.zero
    var i = 0
    while i + 8 <= count {
        sum += loadVector(a + i) * loadVector(b + i)
        i += 8
    }
    var total = horizontalSum(sum)
    while i < count {
        total += a[i] * b[i]
        i += 1
    }
    return total
}

/// Copies `count` (at most 64) floats eight at a time, the last vector overlapping when needed.
@inline(__always)
func copyShortRun(from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
    guard count >= 8 else {
        for i in 0..<count { dst[i] = src[i] }
        return
    }
    var i = 0
    while i + 8 <= count {
        storeVector(loadVector(src + i), dst + i)
        i += 8
    }
    if i < count { storeVector(loadVector(src + count - 8), dst + count - 8) }
}

/// Direct six-loop convolution (NHWC, same padding) used to check the GEMM path.
public func conv2dNaive(_ conv: Conv2D, input: [Float], height: Int, width: Int, relu: Bool) -> [Float] {
    let k = conv.kernelSize, pad = k / 2, cin = conv.inChannels, cout = conv.outChannels
    var out = [Float](repeating: 0, count: height * width * cout)
    for y in 0..<height {
        for x in 0..<width {
            for co in 0..<cout {
                var acc = conv.bias[co]
                for ky in 0..<k {
                    let iy = y + ky - pad
                    guard iy >= 0 && iy < height else { continue }
                    for kx in 0..<k {
                        let ix = x + kx - pad
                        guard ix >= 0 && ix < width else { continue }
                        for ci in 0..<cin {
                            acc += input[(iy * width + ix) * cin + ci] * conv.gemmWeights[((ky * k + kx) * cin + ci) * cout + co]
                        }
                    }
                }
                out[(y * width + x) * cout + co] = relu ? max(acc, 0) : acc
            }
        }
    }
    return out
}

/// Which convolution implementation ``conv2d(_:input:relu:using:)`` runs.
public enum ConvolutionPath: Sendable, CaseIterable {
    /// Banded im2col + OpenBLAS sgemm (what the models use).
    case gemm
    /// ``conv2dNaive(_:input:height:width:relu:)``.
    case naive
}

/// Convolves an NHWC tensor of shape `[height, width, inChannels]`; returns `[height, width, outChannels]`.
public func conv2d(_ conv: Conv2D, input: Tensor, relu: Bool, using path: ConvolutionPath = .gemm) -> Tensor {
    precondition(input.shape.count == 3 && input.shape[2] == conv.inChannels, "conv2d: expected [H, W, \(conv.inChannels)]")
    let height = input.shape[0], width = input.shape[1]
    switch path {
    case .naive:
        return Tensor(shape: [height, width, conv.outChannels],
                      data: conv2dNaive(conv, input: input.data, height: height, width: width, relu: relu))
    case .gemm:
        var out = [Float](repeating: 0, count: height * width * conv.outChannels)
        var scratch = [Float](repeating: 0, count: max(conv.scratchCount(bandPixels: width * max(height, 1)), 1))
        input.data.withUnsafeBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { s in
                    guard let base = inp.baseAddress, let dst = o.baseAddress else { return }
                    conv.apply(input: MapRows(base: base, firstRow: 0, validRows: 0..<height), width: width,
                               rows: 0..<height, output: dst, relu: relu, scratch: s.baseAddress)
                }
            }
        }
        return Tensor(shape: [height, width, conv.outChannels], data: out)
    }
}
