// InstanceNorm2d (no affine, no running statistics) fused with a per-channel PReLU, on NHWC maps:
// the conv unit of DISK's U-Net (kornia.feature.disk). Statistics are accumulated in Double so a
// large map does not drift from torch's (pairwise) float32 reductions.

/// Normalises each channel of an NHWC `pixels x channels` map in place to zero mean and unit
/// (biased) variance, `(x - mean) / sqrt(var + epsilon)`, then applies PReLU with one slope per
/// channel (`x >= 0 ? x : slope * x`); `slopes` nil skips the PReLU.
///
/// Reads the map twice, both times pixel by pixel (whole rows of channels, spread over
/// `Parallel` in blocks of pixels): once for the statistics, once for the update.
public func instanceNormPReLU(_ data: UnsafeMutablePointer<Float>, pixels: Int, channels: Int,
                              slopes: UnsafePointer<Float>?, epsilon: Double = 1e-5) {
    guard pixels > 0, channels > 0 else { return }
    // One pass of per-channel sums of d = x - shift and d^2, shift being the first pixel's value:
    // in Double, with the shift keeping the values near the mean, var = E[d^2] - E[d]^2 loses
    // nothing a float32 result could show. Blocks have a fixed size, so the sums (added up in
    // block order) do not depend on the worker count.
    let blockPixels = 2048, blocks = (pixels + blockPixels - 1) / blockPixels
    var partial = [Double](repeating: 0, count: blocks * 2 * channels)
    var mean = [Double](repeating: 0, count: channels), scale = [Double](repeating: 0, count: channels)
    let shift = (0..<channels).map { Double(data[$0]) }
    shift.withUnsafeBufferPointer { shiftBuffer in
        partial.withUnsafeMutableBufferPointer { partialBuffer in
            let shift = shiftBuffer.baseAddress!, sums = partialBuffer.baseAddress!
            Parallel.forEachChunk(blocks) { block, _ in
                let s1 = sums + block * 2 * channels, s2 = s1 + channels
                let vectorEnd = channels - channels % 8
                for p in (block * blockPixels)..<min(pixels, (block + 1) * blockPixels) {
                    let row = data + p * channels
                    var c = 0
                    while c < vectorEnd {
                        let d = SIMD8<Double>(loadVector(row + c)) - loadDoubles(shift + c)
                        storeDoubles(loadDoubles(s1 + c) + d, s1 + c)
                        storeDoubles(loadDoubles(s2 + c) + d * d, s2 + c)
                        c += 8
                    }
                    for c in vectorEnd..<channels {
                        let d = Double(row[c]) - shift[c]
                        s1[c] += d
                        s2[c] += d * d
                    }
                }
            }
            for c in 0..<channels {
                var s1 = 0.0, s2 = 0.0
                for block in 0..<blocks {
                    s1 += sums[block * 2 * channels + c]
                    s2 += sums[block * 2 * channels + channels + c]
                }
                let m = s1 / Double(pixels)
                mean[c] = shift[c] + m
                scale[c] = 1 / (max(s2 / Double(pixels) - m * m, 0) + epsilon).squareRoot()
            }
        }
    }
    // The update in Double too: a channel's mean can be large against its spread, and rounding it
    // to Float first would cost several ulps of the normalised values.
    let slope32 = (0..<channels).map { slopes?[$0] ?? 1 }
    mean.withUnsafeBufferPointer { m in
        scale.withUnsafeBufferPointer { s in
            slope32.withUnsafeBufferPointer { a in
                let m = m.baseAddress!, s = s.baseAddress!, a = a.baseAddress!
                let vectorEnd = channels - channels % 8
                Parallel.forEachChunk(blocks) { block, _ in
                    for p in (block * blockPixels)..<min(pixels, (block + 1) * blockPixels) {
                        let row = data + p * channels
                        var c = 0
                        while c < vectorEnd {
                            var v = FloatVector((SIMD8<Double>(loadVector(row + c)) - loadDoubles(m + c)) * loadDoubles(s + c))
                            v.replace(with: v * loadVector(a + c), where: v .< FloatVector.zero)
                            storeVector(v, row + c)
                            c += 8
                        }
                        for c in vectorEnd..<channels {
                            let v = Float((Double(row[c]) - m[c]) * s[c])
                            row[c] = v >= 0 ? v : a[c] * v
                        }
                    }
                }
            }
        }
    }
}

@inline(__always)
private func loadDoubles(_ p: UnsafePointer<Double>) -> SIMD8<Double> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Double>.self)
}

@inline(__always)
private func storeDoubles(_ v: SIMD8<Double>, _ p: UnsafeMutablePointer<Double>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Double>.self)
}
