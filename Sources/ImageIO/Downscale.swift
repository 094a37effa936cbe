// Area-averaging downscale for previews (report thumbnails, plots): every output pixel is the mean
// of the source pixels it covers, with fractional weights at its borders, as cv2's INTER_AREA
// does for shrinking. Not used on the networks' inputs, which follow the references' resizes.

/// The weights of one axis: output pixel `d` is the weighted sum of source pixels
/// `start[d] ..< start[d] + count[d]`, with weights `weights[offset[d] ..< offset[d] + count[d]]`.
struct AreaAxis {
    var start: [Int] = []
    var count: [Int] = []
    var offset: [Int] = []
    var weights: [Float] = []

    init(sourceCount: Int, targetCount: Int) {
        let scale = Double(sourceCount) / Double(targetCount)
        for d in 0..<targetCount {
            let from = Double(d) * scale, to = min(Double(d + 1) * scale, Double(sourceCount))
            let first = Int(from.rounded(.down)), last = min(Int(to.rounded(.up)), sourceCount)
            start.append(first)
            count.append(last - first)
            offset.append(weights.count)
            for s in first..<last {
                let covered = min(Double(s + 1), to) - max(Double(s), from)
                weights.append(Float(covered / scale))
            }
        }
    }
}

/// The size that fits `width` x `height` inside `maxWidth` x `maxHeight` keeping the aspect ratio
/// (each side at least 1); the size itself when it already fits.
public func sizeToFit(width: Int, height: Int, maxWidth: Int, maxHeight: Int) -> (width: Int, height: Int) {
    guard width > maxWidth || height > maxHeight else { return (width, height) }
    let scale = min(Double(maxWidth) / Double(width), Double(maxHeight) / Double(height))
    return (max(1, Int((Double(width) * scale).rounded())), max(1, Int((Double(height) * scale).rounded())))
}

extension InterleavedImage {
    /// The image shrunk to fit `maxWidth` x `maxHeight` by area averaging, aspect ratio kept; the
    /// image itself when it already fits. Memory: the output plus one row of floats.
    public func downscaled(toFitWidth maxWidth: Int, height maxHeight: Int) -> Self {
        precondition(maxWidth > 0 && maxHeight > 0, "downscaled: the box must be positive")
        guard width > 0, height > 0 else { return self }
        let (targetWidth, targetHeight) = sizeToFit(width: width, height: height, maxWidth: maxWidth, maxHeight: maxHeight)
        if targetWidth == width && targetHeight == height { return self }
        let channels = Self.channels
        let columns = AreaAxis(sourceCount: width, targetCount: targetWidth)
        let rows = AreaAxis(sourceCount: height, targetCount: targetHeight)
        var accumulator = [Float](repeating: 0, count: targetWidth * targetHeight * channels)
        var resampledRow = [Float](repeating: 0, count: targetWidth * channels)
        let rowLength = targetWidth * channels
        pixels.withUnsafeBufferPointer { source in
            accumulator.withUnsafeMutableBufferPointer { out in
                resampledRow.withUnsafeMutableBufferPointer { row in
                    // Output rows d take source rows in order, so each source row is resampled
                    // horizontally when first needed and reused by the next output row (the
                    // rows on a boundary between two outputs).
                    var cachedRow = -1
                    for d in 0..<targetHeight {
                        let outBase = d * rowLength
                        for k in 0..<rows.count[d] {
                            let y = rows.start[d] + k, wy = rows.weights[rows.offset[d] + k]
                            if y != cachedRow {
                                let rowBase = y * width * channels
                                for x in 0..<targetWidth {
                                    let first = columns.start[x], n = columns.count[x], o = columns.offset[x]
                                    for c in 0..<channels {
                                        var sum: Float = 0
                                        for j in 0..<n { sum += columns.weights[o + j] * Float(source[rowBase + (first + j) * channels + c]) }
                                        row[x * channels + c] = sum
                                    }
                                }
                                cachedRow = y
                            }
                            for i in 0..<rowLength { out[outBase + i] += wy * row[i] }
                        }
                    }
                }
            }
        }
        return Self(width: targetWidth, height: targetHeight,
                    pixels: accumulator.map { UInt8(min(max($0.rounded(), 0), 255)) })
    }
}

extension RGBImage {
    /// Luma with the BT.601 weights (0.299, 0.587, 0.114), as cv2's RGB-to-grey conversion uses.
    public var luma: GrayImage {
        var gray = [UInt8](repeating: 0, count: width * height)
        for i in 0..<(width * height) {
            let y = 0.299 * Float(pixels[3 * i]) + 0.587 * Float(pixels[3 * i + 1]) + 0.114 * Float(pixels[3 * i + 2])
            gray[i] = UInt8(min(max(y.rounded(), 0), 255))
        }
        return GrayImage(width: width, height: height, pixels: gray)
    }
}
