// Decoding JPEG and PNG files to 8-bit grayscale or RGB exactly as the references'
// cv2.imread(path, cv2.IMREAD_GRAYSCALE) and cv2.imread(path, cv2.IMREAD_COLOR) + BGR -> RGB
// (LightGlue's load_image) do, through the C shims in CImageCodecs.
import CImageCodecs
import Foundation

/// Container formats recognised by their leading bytes (never by file extension, as OpenCV does).
public enum ImageFormat: String, Sendable, Equatable, CaseIterable {
    case jpeg = "JPEG"
    case png = "PNG"

    /// The format whose signature starts `bytes`, or nil.
    public static func detect<Bytes: Collection>(_ bytes: Bytes) -> ImageFormat? where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(8))
        // OpenCV's JPEG signature check is the two-byte SOI marker followed by any marker byte.
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }

    /// Names a few common formats this package does not decode, for a clearer error message.
    static func describeUnsupported(_ bytes: [UInt8]) -> String? {
        func starts(_ prefix: [UInt8]) -> Bool { bytes.count >= prefix.count && Array(bytes.prefix(prefix.count)) == prefix }
        if starts([0x42, 0x4D]) { return "BMP" }
        if starts(Array("GIF8".utf8)) { return "GIF" }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return "TIFF" }
        if starts(Array("RIFF".utf8)), bytes.count >= 12, Array(bytes[8..<12]) == Array("WEBP".utf8) { return "WebP" }
        if bytes.count >= 12, Array(bytes[4..<8]) == Array("ftyp".utf8) { return "HEIF/AVIF" }
        if starts([0xFF, 0x4F, 0xFF, 0x51]) || starts([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50]) { return "JPEG 2000" }
        return nil
    }
}

/// Limits and policies of decoding.
public struct ImageDecodingOptions: Sendable, Equatable {
    /// Largest accepted `width * height`, checked against the header before pixels are allocated.
    public var maxPixelCount: Int
    /// Largest accepted file size in bytes, checked before the file is read.
    public var maxFileBytes: Int
    /// Apply the EXIF orientation tag (JPEG APP1, PNG eXIf) as cv2.imread does by default.
    public var appliesEXIFOrientation: Bool
    /// Whether a JPEG that libjpeg could only decode with warnings (truncated file, corrupt entropy
    /// data) is returned. cv2.imread returns such partially decoded images (the missing part is
    /// filled by libjpeg), so `true` keeps parity with the reference; `false` turns the first warning
    /// into ``ImageLoadingError/damaged(source:format:warning:warningCount:)``.
    public var acceptsDamagedJPEG: Bool

    /// Defaults: 100 megapixels, 512 MiB files, EXIF orientation applied, damaged JPEGs accepted (cv2 parity).
    public init(maxPixelCount: Int = 100_000_000, maxFileBytes: Int = 512 << 20,
                appliesEXIFOrientation: Bool = true, acceptsDamagedJPEG: Bool = true) {
        self.maxPixelCount = maxPixelCount
        self.maxFileBytes = maxFileBytes
        self.appliesEXIFOrientation = appliesEXIFOrientation
        self.acceptsDamagedJPEG = acceptsDamagedJPEG
    }
}

/// A decoded grayscale image with what the decoder found out along the way.
public typealias DecodedImage = DecodingResult<GrayImage>

/// A decoded RGB image with what the decoder found out along the way.
public typealias DecodedRGBImage = DecodingResult<RGBImage>

/// A decoded image with what the decoder found out along the way.
public struct DecodingResult<Image: InterleavedImage>: Sendable, Equatable {
    /// The image, already rotated/flipped by the EXIF orientation when that option is on.
    public var image: Image
    /// The container format.
    public var format: ImageFormat
    /// EXIF orientation tag (1...8) when present and valid.
    public var exifOrientation: Int?
    /// Number of recoverable codec warnings (for example "Premature end of JPEG file").
    public var warningCount: Int
    /// The first warning's text, if any.
    public var firstWarning: String?
}

/// Decodes JPEG and PNG data to ``GrayImage`` like `cv2.imread(path, cv2.IMREAD_GRAYSCALE)`
/// (``decode(contentsOf:options:)``), or to ``RGBImage`` like `cv2.imread(path, cv2.IMREAD_COLOR)`
/// followed by BGR -> RGB (``decodeRGB(contentsOf:options:)``).
///
/// - JPEG: libjpeg's own grayscale output (the Y channel of YCbCr files) or colour output (grey
///   files replicated to three channels), CMYK/YCCK files through OpenCV's CMYK conversion;
///   baseline and progressive.
/// - PNG: every colour type and bit depth, converted by libpng with the transformations OpenCV
///   requests (16 to 8 bits by dropping the low byte, alpha dropped without compositing, palette
///   expanded; gray: RGB to gray with libpng's fixed-point 0.299/0.587/0.114 weights; RGB: gray
///   expanded to three channels).
/// - The EXIF orientation is then applied as OpenCV's `ApplyExifOrientation` does.
///
/// Both outputs share the same limits, warnings and errors.
public enum ImageDecoder {
    /// Reads and decodes a file to grayscale. Errors name the file.
    public static func decode(contentsOf url: URL, options: ImageDecodingOptions = .init()) throws -> DecodedImage {
        try decode(data: readFile(url, options: options), source: url.path, options: options)
    }

    /// Decodes an in-memory encoded image to grayscale; `source` labels it in errors.
    public static func decode(data: Data, source: String = "<memory>", options: ImageDecodingOptions = .init()) throws -> DecodedImage {
        try decode(data: data, source: source, options: options, as: GrayImage.self)
    }

    /// Reads and decodes a file to RGB. Errors name the file.
    public static func decodeRGB(contentsOf url: URL, options: ImageDecodingOptions = .init()) throws -> DecodedRGBImage {
        try decodeRGB(data: readFile(url, options: options), source: url.path, options: options)
    }

    /// Decodes an in-memory encoded image to RGB; `source` labels it in errors.
    public static func decodeRGB(data: Data, source: String = "<memory>", options: ImageDecodingOptions = .init()) throws -> DecodedRGBImage {
        try decode(data: data, source: source, options: options, as: RGBImage.self)
    }

    /// The file's bytes, refused before reading when larger than the options allow.
    private static func readFile(_ url: URL, options: ImageDecodingOptions) throws -> Data {
        let source = url.path
        let size: Int
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: source)
            size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        } catch {
            throw ImageLoadingError.unreadable(source: source, reason: Self.reason(error))
        }
        if size > options.maxFileBytes {
            throw ImageLoadingError.fileTooLarge(source: source, bytes: size, limit: options.maxFileBytes)
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ImageLoadingError.unreadable(source: source, reason: Self.reason(error))
        }
        return data
    }

    /// The decoder behind both outputs; `Image.channels` picks gray (1) or RGB (3).
    private static func decode<Image: InterleavedImage>(data: Data, source: String, options: ImageDecodingOptions,
                                                        as _: Image.Type) throws -> DecodingResult<Image> {
        if data.isEmpty { throw ImageLoadingError.empty(source: source) }
        if data.count > options.maxFileBytes {
            throw ImageLoadingError.fileTooLarge(source: source, bytes: data.count, limit: options.maxFileBytes)
        }
        guard let format = ImageFormat.detect(data) else {
            throw ImageLoadingError.unsupportedFormat(source: source, detected: ImageFormat.describeUnsupported(Array(data.prefix(16))))
        }

        var result = cic_image_result()
        defer { cic_image_result_free(&result) }
        let limit = UInt64(max(0, options.maxPixelCount))
        let channels = Image.channels
        let status = data.withUnsafeBytes { raw -> cic_status in
            let bytes = raw.bindMemory(to: UInt8.self)
            switch format {
            case .jpeg: return cic_decode_jpeg(bytes.baseAddress, bytes.count, limit, Int32(channels), &result)
            case .png: return cic_decode_png(bytes.baseAddress, bytes.count, limit, Int32(channels), &result)
            }
        }
        let message = Self.string(fromCString: &result.message)
        switch status {
        case CIC_OK:
            break
        case CIC_ERR_TOO_LARGE:
            throw ImageLoadingError.tooManyPixels(source: source, width: Int(result.header_width),
                                                  height: Int(result.header_height), limit: options.maxPixelCount)
        case CIC_ERR_NO_MEMORY:
            throw ImageLoadingError.outOfMemory(source: source)
        default:
            throw ImageLoadingError.corrupt(source: source, format: format, reason: message.isEmpty ? "decoder failed" : message)
        }

        let warningCount = Int(result.warning_count)
        let firstWarning = warningCount > 0 ? Self.string(fromCString: &result.first_warning) : nil
        if format == .jpeg, warningCount > 0, !options.acceptsDamagedJPEG {
            throw ImageLoadingError.damaged(source: source, format: format, warning: firstWarning ?? "", warningCount: warningCount)
        }

        let width = Int(result.width)
        let height = Int(result.height)
        guard let pixelPointer = result.pixels, width > 0, height > 0, Int(result.channels) == channels else {
            throw ImageLoadingError.corrupt(source: source, format: format, reason: "decoder returned no pixels")
        }
        let pixels = Array(UnsafeBufferPointer(start: pixelPointer, count: width * height * channels))
        var image = Image(width: width, height: height, pixels: pixels)

        var orientation: Int?
        if let exifPointer = result.exif, result.exif_size > 0 {
            orientation = EXIFOrientation.parse(UnsafeBufferPointer(start: exifPointer, count: result.exif_size))
        }
        if options.appliesEXIFOrientation, let orientation {
            image = EXIFOrientation.apply(orientation, to: image)
        }
        return DecodingResult(image: image, format: format, exifOrientation: orientation,
                            warningCount: warningCount, firstWarning: firstWarning)
    }

    private static func reason(_ error: Error) -> String {
        (error as NSError).localizedDescription
    }

    private static func string<T>(fromCString tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[0..<end], as: UTF8.self)
        }
    }
}

extension GrayImage {
    /// Decodes a JPEG or PNG file to grayscale like `cv2.imread(path, cv2.IMREAD_GRAYSCALE)`.
    /// - Throws: ``ImageLoadingError`` naming the file and the reason.
    public init(contentsOf url: URL, options: ImageDecodingOptions = .init()) throws {
        self = try ImageDecoder.decode(contentsOf: url, options: options).image
    }

    /// Decodes in-memory JPEG or PNG data to grayscale; `source` labels the data in errors.
    public init(encoded data: Data, source: String = "<memory>", options: ImageDecodingOptions = .init()) throws {
        self = try ImageDecoder.decode(data: data, source: source, options: options).image
    }
}

extension RGBImage {
    /// Decodes a JPEG or PNG file to RGB like `cv2.imread(path, cv2.IMREAD_COLOR)` followed by BGR -> RGB.
    /// - Throws: ``ImageLoadingError`` naming the file and the reason.
    public init(contentsOf url: URL, options: ImageDecodingOptions = .init()) throws {
        self = try ImageDecoder.decodeRGB(contentsOf: url, options: options).image
    }

    /// Decodes in-memory JPEG or PNG data to RGB; `source` labels the data in errors.
    public init(encoded data: Data, source: String = "<memory>", options: ImageDecodingOptions = .init()) throws {
        self = try ImageDecoder.decodeRGB(data: data, source: source, options: options).image
    }
}
