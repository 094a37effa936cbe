// Errors of decoding and preprocessing. Every case names the input (file path or a caller-given label)
// so a batch job can log which file failed and why.

/// Why an image could not be loaded or preprocessed.
public enum ImageLoadingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be read (missing, permission, I/O error).
    case unreadable(source: String, reason: String)
    /// The file or buffer holds no bytes.
    case empty(source: String)
    /// The file is larger than ``ImageDecodingOptions/maxFileBytes``.
    case fileTooLarge(source: String, bytes: Int, limit: Int)
    /// The leading bytes match no supported format (JPEG, PNG). `detected` names a recognised but
    /// unsupported format (for example "BMP"), or is nil for unknown data such as text.
    case unsupportedFormat(source: String, detected: String?)
    /// The header announces more pixels than ``ImageDecodingOptions/maxPixelCount``; refused before
    /// any pixel buffer was allocated.
    case tooManyPixels(source: String, width: Int, height: Int, limit: Int)
    /// The codec rejected the data (corrupt, truncated or unsupported variant); `reason` is the
    /// libjpeg/libpng message.
    case corrupt(source: String, format: ImageFormat, reason: String)
    /// The codec recovered from damaged data (libjpeg warning) but the options ask to reject such files.
    case damaged(source: String, format: ImageFormat, warning: String, warningCount: Int)
    /// A pixel buffer could not be allocated.
    case outOfMemory(source: String)
    /// A resize request that the reference would reject or that yields an empty image.
    case invalidResize(String)

    public var description: String {
        switch self {
        case let .unreadable(source, reason):
            return "\(source): cannot read file: \(reason)"
        case let .empty(source):
            return "\(source): file is empty"
        case let .fileTooLarge(source, bytes, limit):
            return "\(source): file has \(bytes) bytes, more than the limit of \(limit)"
        case let .unsupportedFormat(source, detected):
            if let detected {
                return "\(source): \(detected) images are not supported (only JPEG and PNG)"
            }
            return "\(source): not a JPEG or PNG image (unrecognised leading bytes)"
        case let .tooManyPixels(source, width, height, limit):
            return "\(source): image is \(width)x\(height) pixels, more than the limit of \(limit) pixels"
        case let .corrupt(source, format, reason):
            return "\(source): invalid \(format.rawValue) data: \(reason)"
        case let .damaged(source, format, warning, count):
            return "\(source): damaged \(format.rawValue) data (\(count) warning(s), first: \(warning))"
        case let .outOfMemory(source):
            return "\(source): out of memory while decoding"
        case let .invalidResize(reason):
            return "invalid resize: \(reason)"
        }
    }
}
