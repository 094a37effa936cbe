// PNG and JPEG output (match visualisations, report thumbnails), through libpng and libjpeg in the
// C shim.
import CImageCodecs
import Foundation

/// Errors of PNG and JPEG encoding.
public enum ImageEncodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Pixel count does not match the geometry, a side is not positive or too large for the format,
    /// or the JPEG quality is outside 1...100.
    case invalidGeometry(width: Int, height: Int, channels: Int, byteCount: Int)
    /// The codec failed (message from libpng or libjpeg) or ran out of memory.
    case encoderFailed(String)

    public var description: String {
        switch self {
        case let .invalidGeometry(width, height, channels, count):
            return "image encoding: \(width)x\(height)x\(channels) does not match \(count) bytes, or is out of the format's range"
        case let .encoderFailed(message):
            return "image encoding failed: \(message)"
        }
    }
}

/// The name PNG encoding errors had before JPEG output existed.
public typealias PNGEncodingError = ImageEncodingError

/// Encodes 8-bit RGB pixels (`width * height * 3` bytes, row-major, R G B) as a PNG file's bytes.
public func encodePNG(rgb: [UInt8], width: Int, height: Int) throws -> Data {
    try encode(pixels: rgb, width: width, height: height, channels: 3) { cic_encode_png($0, $1, $2, $3, $4) }
}

/// Encodes an 8-bit grayscale image as a PNG file's bytes.
public func encodePNG(gray image: GrayImage) throws -> Data {
    try encode(pixels: image.pixels, width: image.width, height: image.height, channels: 1) { cic_encode_png($0, $1, $2, $3, $4) }
}

/// Encodes 8-bit RGB pixels as a baseline JPEG file's bytes (libjpeg's quality scale, 1...100;
/// chroma subsampled 2x2). Lossy: meant for previews such as report thumbnails, where PNG of a
/// photograph would be several times larger.
public func encodeJPEG(rgb: [UInt8], width: Int, height: Int, quality: Int = 85) throws -> Data {
    guard (1...100).contains(quality) else { throw ImageEncodingError.invalidGeometry(width: width, height: height, channels: 3, byteCount: rgb.count) }
    return try encode(pixels: rgb, width: width, height: height, channels: 3) { cic_encode_jpeg($0, $1, $2, $3, Int32(quality), $4) }
}

/// Encodes an 8-bit grayscale image as a baseline JPEG file's bytes.
public func encodeJPEG(gray image: GrayImage, quality: Int = 85) throws -> Data {
    guard (1...100).contains(quality) else { throw ImageEncodingError.invalidGeometry(width: image.width, height: image.height, channels: 1, byteCount: image.pixels.count) }
    return try encode(pixels: image.pixels, width: image.width, height: image.height, channels: 1) { cic_encode_jpeg($0, $1, $2, $3, Int32(quality), $4) }
}

private func encode(pixels: [UInt8], width: Int, height: Int, channels: Int,
                    codec: (UnsafePointer<UInt8>?, Int32, Int32, Int32, UnsafeMutablePointer<cic_buffer>) -> cic_status) throws -> Data {
    guard width > 0, height > 0, width <= Int(Int32.max), height <= Int(Int32.max),
          width.multipliedReportingOverflow(by: height).overflow == false,
          pixels.count == width * height * channels else {
        throw ImageEncodingError.invalidGeometry(width: width, height: height, channels: channels, byteCount: pixels.count)
    }
    var buffer = cic_buffer()
    defer { cic_buffer_free(&buffer) }
    let status = pixels.withUnsafeBufferPointer { raw in
        codec(raw.baseAddress, Int32(width), Int32(height), Int32(channels), &buffer)
    }
    let message = withUnsafeBytes(of: &buffer.message) { raw -> String in
        let chars = raw.bindMemory(to: UInt8.self)
        return String(decoding: chars[0..<(chars.firstIndex(of: 0) ?? chars.count)], as: UTF8.self)
    }
    if status == CIC_ERR_ARGUMENT {
        throw ImageEncodingError.invalidGeometry(width: width, height: height, channels: channels, byteCount: pixels.count)
    }
    guard status == CIC_OK, let bytes = buffer.data else {
        throw ImageEncodingError.encoderFailed(message.isEmpty ? "status \(status.rawValue)" : message)
    }
    return Data(bytes: bytes, count: buffer.size)
}
