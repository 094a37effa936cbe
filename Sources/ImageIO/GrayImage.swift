// An 8-bit single-channel image, the form every input takes after decoding (cv2 IMREAD_GRAYSCALE).

/// 8-bit grayscale image, row-major, `width * height` bytes.
public struct GrayImage: Sendable, Equatable {
    /// Number of columns.
    public var width: Int
    /// Number of rows.
    public var height: Int
    /// Row-major samples, `pixels[y * width + x]`.
    public var pixels: [UInt8]

    /// Wraps existing samples; `pixels.count` must equal `width * height` (a programming error otherwise).
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && width * height == pixels.count,
                     "GrayImage: \(width)x\(height) does not match \(pixels.count) bytes")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The sample at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> UInt8 {
        pixels[y * width + x]
    }
}
