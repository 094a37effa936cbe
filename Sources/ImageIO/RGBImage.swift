// An 8-bit three-channel image: what LightGlue's load_image returns (cv2.imread(path, IMREAD_COLOR)
// followed by BGR -> RGB), the input of the ALIKED and DISK pipelines.

/// 8-bit images stored row-major with interleaved channels; decoding and the EXIF orientation work on
/// any of them.
public protocol InterleavedImage: Sendable, Equatable {
    /// Samples per pixel.
    static var channels: Int { get }
    /// Number of columns.
    var width: Int { get }
    /// Number of rows.
    var height: Int { get }
    /// `width * height * channels` samples, `pixels[(y * width + x) * channels + c]`.
    var pixels: [UInt8] { get }
    /// Wraps existing samples; `pixels.count` must equal `width * height * channels`.
    init(width: Int, height: Int, pixels: [UInt8])
}

extension GrayImage: InterleavedImage {
    public static var channels: Int { 1 }
}

extension InterleavedImage {
    /// The image rotated by `quarterTurns` x 90 degrees counter-clockwise, like `np.rot90(image, k)`
    /// (any integer; taken modulo 4 as numpy does).
    public func rotated(quarterTurns: Int) -> Self {
        switch ((quarterTurns % 4) + 4) % 4 {
        case 1: return EXIFOrientation.apply(8, to: self)
        case 2: return EXIFOrientation.apply(3, to: self)
        case 3: return EXIFOrientation.apply(6, to: self)
        default: return self
        }
    }
}

/// 8-bit RGB image, row-major, channels interleaved (R, G, B), `width * height * 3` bytes.
public struct RGBImage: InterleavedImage {
    public static var channels: Int { 3 }
    /// Number of columns.
    public var width: Int
    /// Number of rows.
    public var height: Int
    /// Row-major R, G, B samples, `pixels[(y * width + x) * 3 + c]`.
    public var pixels: [UInt8]

    /// Wraps existing samples; `pixels.count` must equal `width * height * 3` (a programming error otherwise).
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && width * height * 3 == pixels.count,
                     "RGBImage: \(width)x\(height)x3 does not match \(pixels.count) bytes")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Sample `channel` (0 red, 1 green, 2 blue) at column `x`, row `y`.
    public subscript(x: Int, y: Int, channel: Int) -> UInt8 {
        pixels[(y * width + x) * 3 + channel]
    }
}
