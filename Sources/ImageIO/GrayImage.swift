// An 8-bit single-channel image, the form every input takes after decoding (cv2 IMREAD_GRAYSCALE).

/// 8-bit grayscale image, row-major, `width * height` bytes.
public struct GrayImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width * height == pixels.count, "GrayImage: \(width)x\(height) does not match \(pixels.count) bytes")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}
