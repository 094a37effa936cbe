// Element-wise and window operations on NHWC maps (channels innermost) and single-channel maps.
// All take raw pointers so callers can run them on reused workspaces without allocating.

/// 2x2 max-pooling with stride 2 of an NHWC map. Like torch's `MaxPool2d(2, 2)`, odd trailing
/// rows/columns are dropped (output `height / 2 x width / 2`).
public func maxPool2x2(
    input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
    output: UnsafeMutablePointer<Float>
) {
    maxPool2x2Rows(input: input, width: width, channels: channels,
                   outputRows: 0..<(height / 2), outputWidth: width / 2, output: output)
}

/// Pools input rows `2 * r, 2 * r + 1` into output row `r - outputRows.lowerBound` for each `r`
/// in `outputRows`; `input` points at input row `2 * outputRows.lowerBound`.
@inline(__always)
public func maxPool2x2Rows(
    input: UnsafePointer<Float>, width: Int, channels: Int,
    outputRows: Range<Int>, outputWidth: Int,
    output: UnsafeMutablePointer<Float>
) {
    let rowStride = width * channels
    for (i, _) in outputRows.enumerated() {
        let top = input + 2 * i * rowStride, bottom = top + rowStride
        let dst = output + i * outputWidth * channels
        for x in 0..<outputWidth {
            let a = top + 2 * x * channels, b = bottom + 2 * x * channels, d = dst + x * channels
            for c in 0..<channels {
                d[c] = max(max(a[c], a[c + channels]), max(b[c], b[c + channels]))
            }
        }
    }
}

/// Max over the `(2 * radius + 1)^2` window centred on each pixel of a single-channel
/// `height x width` map, the window clipped at the edges: torch's
/// `max_pool2d(kernel_size = 2r + 1, stride = 1, padding = r)` (its padding never wins a max).
/// Separable: a horizontal pass into `temp` (`height * width` floats), then a vertical one.
public func slidingMax(
    _ input: UnsafePointer<Float>, height: Int, width: Int, radius: Int,
    temp: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>
) {
    guard radius > 0 else {
        output.update(from: input, count: height * width)
        return
    }
    // Rows are independent in each pass (and max is exact), so both split over the workers with
    // results identical to a serial run.
    RowParallel.forEach(rows: height, minRowsPerWorker: 16) { rows in
        // Interior pixels eight at a time (the window lies inside the row), the edges one by one.
        let vectorEnd = width - radius - 8
        for y in rows {
            let src = input + y * width, dst = temp + y * width
            func scalar(_ x: Int) {
                let lo = max(x - radius, 0), hi = min(x + radius, width - 1)
                var m = src[lo]
                var i = lo + 1
                while i <= hi { m = max(m, src[i]); i += 1 }
                dst[x] = m
            }
            var x = 0
            while x < min(radius, width) { scalar(x); x += 1 }
            while x <= vectorEnd {
                var m = loadVector(src + x - radius)
                for k in (1 - radius)...radius { m = vectorMax(m, loadVector(src + x + k)) }
                storeVector(m, dst + x)
                x += 8
            }
            while x < width { scalar(x); x += 1 }
        }
    }
    RowParallel.forEach(rows: height, minRowsPerWorker: 16) { rows in
        for y in rows {
            let lo = max(y - radius, 0), hi = min(y + radius, height - 1)
            let dst = output + y * width
            dst.update(from: temp + lo * width, count: width)
            var r = lo + 1
            while r <= hi {
                let src = temp + r * width
                for x in 0..<width { dst[x] = max(dst[x], src[x]) }
                r += 1
            }
        }
    }
}

/// The `simple_nms` of SuperPoint's and ALIKED's references, on a single-channel map in place: a
/// pixel survives if it equals the maximum of its `(2r+1)^2` window (so equal maxima all
/// survive); then, twice, pixels not within `r` of a survivor are re-examined with the
/// suppressed pixels zeroed, and new window maxima among them survive too. Everything else
/// becomes 0. The five work buffers hold `height * width` floats each.
public func simpleNMS(
    _ scores: UnsafeMutablePointer<Float>, height: Int, width: Int, radius r: Int,
    keep: UnsafeMutablePointer<Float>, pooled: UnsafeMutablePointer<Float>, temp: UnsafeMutablePointer<Float>,
    masked: UnsafeMutablePointer<Float>, maskedMax: UnsafeMutablePointer<Float>
) {
    let n = height * width
    // The element-wise steps, eight at a time and split over the workers (exact, like max).
    func elementwise(_ body: (_ i: Int) -> Void, _ vector: (_ i: Int) -> Void) {
        let chunks = n >= 1 << 16 ? Parallel.concurrency : 1
        Parallel.forEachChunk(chunks) { chunk, _ in
            let range = Parallel.range(chunk, of: chunks, count: n)
            var i = range.lowerBound
            while i + 8 <= range.upperBound { vector(i); i += 8 }
            while i < range.upperBound { body(i); i += 1 }
        }
    }
    let zero = FloatVector.zero, one = FloatVector(repeating: 1)
    slidingMax(scores, height: height, width: width, radius: r, temp: temp, output: pooled)
    elementwise({ keep[$0] = scores[$0] == pooled[$0] ? 1 : 0 }) {
        storeVector(zero.replacing(with: one, where: loadVector(scores + $0) .== loadVector(pooled + $0)), keep + $0)
    }
    for _ in 0..<2 {
        // `pooled` holds the suppression mask: within r of a current survivor.
        slidingMax(keep, height: height, width: width, radius: r, temp: temp, output: pooled)
        elementwise({ masked[$0] = pooled[$0] > 0 ? 0 : scores[$0] }) {
            storeVector(loadVector(scores + $0).replacing(with: 0, where: loadVector(pooled + $0) .> zero), masked + $0)
        }
        slidingMax(masked, height: height, width: width, radius: r, temp: temp, output: maskedMax)
        elementwise({ i in
            if keep[i] == 0 && pooled[i] <= 0 && masked[i] == maskedMax[i] { keep[i] = 1 }
        }) { i in
            let k = loadVector(keep + i), m = loadVector(masked + i)
            let admit = (k .== zero) .& (loadVector(pooled + i) .<= zero) .& (m .== loadVector(maskedMax + i))
            storeVector(k.replacing(with: one, where: admit), keep + i)
        }
    }
    elementwise({ if keep[$0] == 0 { scores[$0] = 0 } }) {
        storeVector(loadVector(scores + $0).replacing(with: 0, where: loadVector(keep + $0) .== zero), scores + $0)
    }
}

/// Softmax over the first `channels` of every `stride`-float pixel row, in place
/// (max-subtracted, as torch computes it).
public func softmaxChannels(_ data: UnsafeMutablePointer<Float>, pixels: Int, channels: Int, stride: Int) {
    for p in 0..<pixels {
        let row = data + p * stride
        var peak = row[0]
        for c in 1..<channels { peak = max(peak, row[c]) }
        var sum: Float = 0
        for c in 0..<channels {
            let e = expf(row[c] - peak)
            row[c] = e
            sum += e
        }
        let inv = 1 / sum
        for c in 0..<channels { row[c] *= inv }
    }
}

/// Depth-to-space of 8x8 cells: `cells` is `h x w` pixels of `stride` floats whose first 64
/// values are the cell's pixels in row-major (row r, column c at `8 r + c`); writes the
/// `8h x 8w` single-channel map.
public func depthToSpace8(
    _ cells: UnsafePointer<Float>, cellRows h: Int, cellColumns w: Int, stride: Int,
    output: UnsafeMutablePointer<Float>
) {
    let outW = 8 * w
    for cy in 0..<h {
        for cx in 0..<w {
            let cell = cells + (cy * w + cx) * stride
            for r in 0..<8 {
                let dst = output + (8 * cy + r) * outW + 8 * cx
                for c in 0..<8 { dst[c] = cell[8 * r + c] }
            }
        }
    }
}

/// Divides each `dim`-float row by `max(norm, 1e-12)`, as torch's `F.normalize(p=2)` does.
public func l2NormalizeRows(_ data: UnsafeMutablePointer<Float>, rows: Int, dim: Int) {
    for r in 0..<rows {
        let row = data + r * dim
        var ss: Float = 0
        for c in 0..<dim { ss += row[c] * row[c] }
        let inv = 1 / max(ss.squareRoot(), 1e-12)
        for c in 0..<dim { row[c] *= inv }
    }
}

/// torch.selu in place: `scale * x` above 0, `scale * alpha * (exp(x) - 1)` at or below, eight
/// lanes at a time (absolute error about 2e-7 near 0, where exp(x) - 1 cancels), split over the
/// workers for large maps.
public func seluInPlace(_ data: UnsafeMutablePointer<Float>, count: Int) {
    let chunks = count >= 1 << 16 ? Parallel.concurrency : 1
    Parallel.forEachChunk(chunks) { chunk, _ in
        let range = Parallel.range(chunk, of: chunks, count: count)
        seluSerial(data + range.lowerBound, count: range.count)
    }
}

/// `data[i] = selu(data[i] + other[i])` (a residual connection and its activation in one pass),
/// split over the workers for large maps.
public func addThenSELU(_ data: UnsafeMutablePointer<Float>, adding other: UnsafePointer<Float>, count: Int) {
    let chunks = count >= 1 << 16 ? Parallel.concurrency : 1
    Parallel.forEachChunk(chunks) { chunk, _ in
        let range = Parallel.range(chunk, of: chunks, count: count)
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            storeVector(seluVector(loadVector(data + i) + loadVector(other + i)), data + i)
            i += 8
        }
        while i < range.upperBound {
            data[i] = seluScalar(data[i] + other[i])
            i += 1
        }
    }
}

/// ``seluInPlace(_:count:)`` on the calling thread.
public func seluSerial(_ data: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        storeVector(seluVector(loadVector(data + i)), data + i)
        i += 8
    }
    while i < count {
        data[i] = seluScalar(data[i])
        i += 1
    }
}

let seluScale: Float = 1.0507009873554804934193349852946
let seluNegativeScale: Float = 1.6732632423543772848170429916717 * seluScale

/// SELU of eight lanes: the negative branch from ``softmaxExp(_:)`` (made for arguments at most
/// 0), absolute error about 1.2e-7 like the exponential's. Positive lanes go through the
/// exponential too (no clamp to 0 first) and are then replaced: above about 88 they give
/// meaningless values, never used.
@inline(__always)
func seluVector(_ x: FloatVector) -> FloatVector {
    let below = (softmaxExp(x) - FloatVector(repeating: 1)) * FloatVector(repeating: seluNegativeScale)
    return (x * FloatVector(repeating: seluScale)).replacing(with: below, where: x .<= 0)
}

@inline(__always)
func seluScalar(_ x: Float) -> Float {
    x > 0 ? x * seluScale : (expf(x) - 1) * seluNegativeScale
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
