// PNG output for match visualisations, through libpng in the C shim.
import CImageCodecs
import Foundation

/// Errors of PNG encoding.
public enum PNGEncodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Pixel count does not match the geometry, or a side is not positive.
    case invalidGeometry(width: Int, height: Int, channels: Int, byteCount: Int)
    /// libpng failed (message from libpng) or ran out of memory.
    case encoderFailed(String)

    public var description: String {
        switch self {
        case let .invalidGeometry(width, height, channels, count):
            return "PNG encoding: \(width)x\(height)x\(channels) does not match \(count) bytes"
        case let .encoderFailed(message):
            return "PNG encoding failed: \(message)"
        }
    }
}

/// Encodes 8-bit RGB pixels (`width * height * 3` bytes, row-major, R G B) as a PNG file's bytes.
public func encodePNG(rgb: [UInt8], width: Int, height: Int) throws -> Data {
    try encodePNG(pixels: rgb, width: width, height: height, channels: 3)
}

/// Encodes an 8-bit grayscale image as a PNG file's bytes.
public func encodePNG(gray image: GrayImage) throws -> Data {
    try encodePNG(pixels: image.pixels, width: image.width, height: image.height, channels: 1)
}

private func encodePNG(pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> Data {
    guard width > 0, height > 0, width <= Int(Int32.max), height <= Int(Int32.max),
          width.multipliedReportingOverflow(by: height).overflow == false,
          pixels.count == width * height * channels else {
        throw PNGEncodingError.invalidGeometry(width: width, height: height, channels: channels, byteCount: pixels.count)
    }
    var buffer = cic_buffer()
    defer { cic_buffer_free(&buffer) }
    let status = pixels.withUnsafeBufferPointer { raw in
        cic_encode_png(raw.baseAddress, Int32(width), Int32(height), Int32(channels), &buffer)
    }
    guard status == CIC_OK, let bytes = buffer.data else {
        let message = withUnsafeBytes(of: &buffer.message) { raw -> String in
            let chars = raw.bindMemory(to: UInt8.self)
            return String(decoding: chars[0..<(chars.firstIndex(of: 0) ?? chars.count)], as: UTF8.self)
        }
        throw PNGEncodingError.encoderFailed(message.isEmpty ? "status \(status.rawValue)" : message)
    }
    return Data(bytes: bytes, count: buffer.size)
}
