// The reference's read_image: decode to gray, choose the size with process_resize, cv2.resize to it,
// optionally rotate with np.rot90, then divide by 255 in double precision and store as Float32.
import Foundation

/// How the decoded image is resized before inference (the reference's `--resize` option).
public enum ResizeSpec: Sendable, Equatable, CustomStringConvertible {
    /// Keep the decoded size (`--resize -1`).
    case none
    /// Scale so the longer side becomes `n` pixels, the other side rounded (`--resize n`).
    case longestSide(Int)
    /// Resize to exactly `width` x `height` (`--resize w h`).
    case exact(width: Int, height: Int)

    /// The reference's default, `--resize 640 480`.
    public static let referenceDefault = ResizeSpec.exact(width: 640, height: 480)

    /// Interprets the numbers of a `--resize` option as the reference's match_pairs.py does: one
    /// number n > 0 = longest side, -1 = no resize, two numbers = exact size, and `w -1` = longest side w.
    /// - Throws: ``ImageLoadingError/invalidResize(_:)`` for other combinations (the reference fails on them).
    public init(arguments: [Int]) throws {
        var numbers = arguments
        if numbers.count == 2 && numbers[1] == -1 {
            numbers = [numbers[0]]
        }
        switch numbers.count {
        case 1 where numbers[0] == -1:
            self = .none
        case 1 where numbers[0] > 0:
            self = .longestSide(numbers[0])
        case 2 where numbers[0] > 0 && numbers[1] > 0:
            self = .exact(width: numbers[0], height: numbers[1])
        default:
            throw ImageLoadingError.invalidResize("\(arguments) is not -1, one positive size or two positive sizes")
        }
    }

    /// The size an image of `width` x `height` is resized to (the reference's process_resize).
    /// For `.longestSide(n)` both sides are multiplied by n / max(width, height) in double precision
    /// and rounded half to even, as Python's round() does.
    /// - Throws: ``ImageLoadingError/invalidResize(_:)`` when the result has a zero or negative side.
    public func targetSize(width: Int, height: Int) throws -> (width: Int, height: Int) {
        let size: (width: Int, height: Int)
        switch self {
        case .none:
            size = (width, height)
        case let .longestSide(n):
            guard n > 0 else { throw ImageLoadingError.invalidResize("longest side \(n) must be positive") }
            let scale = Double(n) / Double(max(width, height))
            size = (Int((Double(width) * scale).rounded(.toNearestOrEven)),
                    Int((Double(height) * scale).rounded(.toNearestOrEven)))
        case let .exact(w, h):
            size = (w, h)
        }
        guard size.width > 0, size.height > 0 else {
            throw ImageLoadingError.invalidResize("\(width)x\(height) resized with \(self) gives \(size.width)x\(size.height)")
        }
        return size
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case let .longestSide(n): return "longest side \(n)"
        case let .exact(w, h): return "\(w)x\(h)"
        }
    }
}

/// Options of ``ImageLoader``.
public struct PreprocessingOptions: Sendable, Equatable {
    /// Resize rule; defaults to the reference's 640x480.
    public var resize: ResizeSpec
    /// Counter-clockwise quarter turns applied after resizing (np.rot90's k; the pairs file's rotation).
    public var rotation: Int
    /// Decoder limits and policies.
    public var decoding: ImageDecodingOptions

    public init(resize: ResizeSpec = .referenceDefault, rotation: Int = 0, decoding: ImageDecodingOptions = .init()) {
        self.resize = resize
        self.rotation = rotation
        self.decoding = decoding
    }
}

/// A network-ready image: Float32 intensities in [0, 1], row-major, plus the geometry needed to map
/// keypoints back to the original file.
public struct PreparedImage: Sendable, Equatable {
    /// `width * height` values, `Float(Double(v) / 255)` of the resized (and rotated) 8-bit image.
    public var pixels: [Float]
    /// Width after resizing and rotation.
    public var width: Int
    /// Height after resizing and rotation.
    public var height: Int
    /// The 8-bit image the floats were made from.
    public var gray: GrayImage
    /// Width of the decoded image (after EXIF orientation, before resizing).
    public var originalWidth: Int
    /// Height of the decoded image (after EXIF orientation, before resizing).
    public var originalHeight: Int
    /// Original width / resized width (original height / resized height for odd rotations), the
    /// reference's `scales[0]`: multiply network x coordinates by it to get original-image x (rotation 0).
    public var scaleX: Double
    /// Original height / resized height (width ratio for odd rotations), the reference's `scales[1]`.
    public var scaleY: Double
    /// Recoverable decoder warnings (a truncated or corrupt JPEG decoded in part, as cv2.imread
    /// accepts it); 0 for clean files and for images not decoded from a file.
    public var decodingWarningCount: Int = 0
    /// The first decoder warning's text, if any.
    public var firstDecodingWarning: String?
}

/// Loads images the way the reference's read_image does.
public enum ImageLoader {
    /// Decodes, resizes, rotates and normalises the file at `url`.
    /// - Throws: ``ImageLoadingError`` naming the file.
    public static func prepare(contentsOf url: URL, options: PreprocessingOptions = .init()) throws -> PreparedImage {
        let decoded = try ImageDecoder.decode(contentsOf: url, options: options.decoding)
        var prepared = try prepare(decoded.image, options: options)
        prepared.decodingWarningCount = decoded.warningCount
        prepared.firstDecodingWarning = decoded.firstWarning
        return prepared
    }

    /// Resizes, rotates and normalises an already decoded image.
    public static func prepare(_ image: GrayImage, options: PreprocessingOptions = .init()) throws -> PreparedImage {
        let target = try options.resize.targetSize(width: image.width, height: image.height)
        var scales = (Double(image.width) / Double(target.width), Double(image.height) / Double(target.height))
        var processed = try image.resized(width: target.width, height: target.height)
        let turns = ((options.rotation % 4) + 4) % 4
        if turns != 0 {
            processed = processed.rotated(quarterTurns: turns)
            if turns % 2 == 1 {
                scales = (scales.1, scales.0)
            }
        }
        return PreparedImage(pixels: normalized(processed), width: processed.width, height: processed.height,
                             gray: processed, originalWidth: image.width, originalHeight: image.height,
                             scaleX: scales.0, scaleY: scales.1)
    }

    /// `Float(Double(v) / 255)` per pixel: the reference divides the float32 image by the Python float
    /// 255. (numpy promotes to float64) and casts the result back to float32.
    public static func normalized(_ image: GrayImage) -> [Float] {
        let table = (0..<256).map { Float(Double($0) / 255.0) }
        return table.withUnsafeBufferPointer { lookup in
            image.pixels.map { lookup[Int($0)] }
        }
    }
}
