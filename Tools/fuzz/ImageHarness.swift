// libFuzzer entry point for the image decoders (ImageIO over the CImageCodecs libjpeg/libpng shims),
// compiled together with Sources/ImageIO by Tools/fuzz/libfuzzer.sh (not part of Package.swift).
// The pixel limit is lowered so an accepted image stays within the fuzzer's allocation bound.
import Foundation

let fuzzImageOptions = ImageDecodingOptions(maxPixelCount: 1 << 22, maxFileBytes: 1 << 20)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    // Gray and RGB share the decoder but not the libjpeg/libpng output settings, so both run.
    expectDecodedOrImageLoadingError(channels: 1) { try ImageDecoder.decode(data: bytes, source: "fuzz", options: fuzzImageOptions).image }
    expectDecodedOrImageLoadingError(channels: 3) { try ImageDecoder.decodeRGB(data: bytes, source: "fuzz", options: fuzzImageOptions).image }
    return 0
}

func expectDecodedOrImageLoadingError<Image: InterleavedImage>(channels: Int, _ decode: () throws -> Image) {
    do {
        let image = try decode()
        precondition(image.pixels.count == image.width * image.height * channels)
    } catch is ImageLoadingError {
    } catch {
        fatalError("unexpected error type \(type(of: error)): \(error)")
    }
}
