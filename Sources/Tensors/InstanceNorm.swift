// InstanceNorm2d (no affine, no running statistics) fused with a per-channel PReLU, on NHWC maps:
// the conv unit of DISK's U-Net (kornia.feature.disk). Statistics are accumulated in Double so a
// large map does not drift from torch's (pairwise) float32 reductions.

/// Normalises each channel of an NHWC `pixels x channels` map in place to zero mean and unit
/// (biased) variance, `(x - mean) / sqrt(var + epsilon)`, then applies PReLU with one slope per
/// channel (`x >= 0 ? x : slope * x`); `slopes` nil skips the PReLU.
///
/// Reads the map twice (statistics, then the update); channels are spread over `Parallel`.
public func instanceNormPReLU(_ data: UnsafeMutablePointer<Float>, pixels: Int, channels: Int,
                              slopes: UnsafePointer<Float>?, epsilon: Double = 1e-5) {
    guard pixels > 0, channels > 0 else { return }
    // Per-channel sums over all pixels, in lanes of channels so each pass reads rows contiguously.
    var mean = [Double](repeating: 0, count: channels), scale = [Double](repeating: 0, count: channels)
    mean.withUnsafeMutableBufferPointer { meanBuffer in
        scale.withUnsafeMutableBufferPointer { scaleBuffer in
            let meanOut = meanBuffer.baseAddress!, scaleOut = scaleBuffer.baseAddress!
            let groups = (channels + 7) / 8
            Parallel.forEachChunk(groups) { group, _ in
                let first = group * 8, count = min(8, channels - first)
                var sum = [Double](repeating: 0, count: count)
                for p in 0..<pixels {
                    let row = data + p * channels + first
                    for c in 0..<count { sum[c] += Double(row[c]) }
                }
                var squares = [Double](repeating: 0, count: count)
                for c in 0..<count { sum[c] /= Double(pixels) }
                for p in 0..<pixels {
                    let row = data + p * channels + first
                    for c in 0..<count {
                        let d = Double(row[c]) - sum[c]
                        squares[c] += d * d
                    }
                }
                for c in 0..<count {
                    meanOut[first + c] = sum[c]
                    scaleOut[first + c] = 1 / (squares[c] / Double(pixels) + epsilon).squareRoot()
                }
            }
        }
    }
    // The update in Double too: a channel's mean can be large against its spread, and rounding it
    // to Float first would cost several ulps of the normalised values.
    let slope32 = (0..<channels).map { slopes?[$0] ?? 1 }
    let parts = max(1, min(Parallel.concurrency * 4, pixels / 256))
    mean.withUnsafeBufferPointer { m in
        scale.withUnsafeBufferPointer { s in
            slope32.withUnsafeBufferPointer { a in
                let m = m.baseAddress!, s = s.baseAddress!, a = a.baseAddress!
                Parallel.forEachChunk(parts) { part, _ in
                    let lo = pixels * part / parts, hi = pixels * (part + 1) / parts
                    for p in lo..<hi {
                        let row = data + p * channels
                        for c in 0..<channels {
                            let v = Float((Double(row[c]) - m[c]) * s[c])
                            row[c] = v >= 0 ? v : a[c] * v
                        }
                    }
                }
            }
        }
    }
}
