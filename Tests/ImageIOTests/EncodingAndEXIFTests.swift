// PNG encoding through libpng, and the EXIF orientation parser on hand-built TIFF payloads.
import Foundation
import Testing
@testable import ImageIO

@Suite struct PNGEncodingTests {
    @Test func grayRoundTrip() throws {
        var pixels = [UInt8]()
        for y in 0..<13 { for x in 0..<29 { pixels.append(UInt8((x * 9 + y * 17) % 256)) } }
        let image = GrayImage(width: 29, height: 13, pixels: pixels)
        let png = try encodePNG(gray: image)
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        #expect(try GrayImage(encoded: png) == image)
    }

    @Test func rgbRoundTripThroughGrayDecoder() throws {
        // Equal R, G and B decode to that value exactly (libpng's rgb_to_gray leaves gray pixels alone);
        // a pure colour decodes to libpng's fixed-point weight: red 255 -> 255 * 9797 >> 15 = 76.
        let width = 5, height = 3
        var rgb = [UInt8]()
        for i in 0..<(width * height - 1) { rgb += [UInt8(i * 10), UInt8(i * 10), UInt8(i * 10)] }
        rgb += [255, 0, 0]
        let decoded = try GrayImage(encoded: try encodePNG(rgb: rgb, width: width, height: height))
        #expect(decoded.width == width && decoded.height == height)
        #expect(Array(decoded.pixels.prefix(width * height - 1)) == (0..<(width * height - 1)).map { UInt8($0 * 10) })
        #expect(decoded.pixels.last == UInt8((255 * 9797) >> 15))
    }

    @Test func invalidGeometryThrows() {
        #expect(throws: PNGEncodingError.self) { try encodePNG(rgb: [1, 2, 3], width: 2, height: 1) }
        #expect(throws: PNGEncodingError.self) { try encodePNG(rgb: [], width: 0, height: 0) }
        #expect(throws: PNGEncodingError.self) { try encodePNG(rgb: [1, 2, 3], width: -1, height: -1) }
    }
}

@Suite struct EXIFParserTests {
    /// TIFF header + IFD0 with the given (tag, type, value) entries.
    private func tiff(bigEndian: Bool, entries: [(UInt16, UInt16, UInt16)]) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] { bigEndian ? u16(UInt16(v >> 16)) + u16(UInt16(v & 0xFFFF)) : u16(UInt16(v & 0xFFFF)) + u16(UInt16(v >> 16)) }
        var bytes: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
        bytes += u16(42) + u32(8) + u16(UInt16(entries.count))
        for (tag, type, value) in entries { bytes += u16(tag) + u16(type) + u32(1) + u16(value) + [0, 0] }
        return bytes + u32(0)
    }

    @Test func readsOrientationInBothByteOrders() {
        for value in UInt16(1)...8 {
            #expect(EXIFOrientation.parse(tiff(bigEndian: false, entries: [(0x010F, 2, 0), (0x0112, 3, value)])) == Int(value))
            #expect(EXIFOrientation.parse(tiff(bigEndian: true, entries: [(0x0112, 3, value)])) == Int(value))
        }
    }

    @Test func rejectsMalformedPayloads() {
        #expect(EXIFOrientation.parse([UInt8]()) == nil)
        #expect(EXIFOrientation.parse(Array("II*".utf8)) == nil)
        #expect(EXIFOrientation.parse(tiff(bigEndian: false, entries: [(0x0112, 3, 0)])) == nil)
        #expect(EXIFOrientation.parse(tiff(bigEndian: false, entries: [(0x0112, 3, 9)])) == nil)
        #expect(EXIFOrientation.parse(tiff(bigEndian: false, entries: [(0x0112, 4, 6)])) == nil)
        #expect(EXIFOrientation.parse(tiff(bigEndian: false, entries: [(0x0100, 3, 6)])) == nil)
        // IFD offset pointing past the end, and an entry count larger than the data.
        var pastEnd = tiff(bigEndian: false, entries: [(0x0112, 3, 6)])
        pastEnd[4] = 0xFF
        #expect(EXIFOrientation.parse(pastEnd) == nil)
        var longCount = tiff(bigEndian: false, entries: [(0x0100, 3, 6)])
        longCount[8] = 0xFF; longCount[9] = 0xFF
        #expect(EXIFOrientation.parse(longCount) == nil)
    }

    @Test func applyMatchesHandRotations() {
        // 3 wide, 2 high: 1 2 3 / 4 5 6
        let image = GrayImage(width: 3, height: 2, pixels: [1, 2, 3, 4, 5, 6])
        let expected: [Int: GrayImage] = [
            1: image,
            2: GrayImage(width: 3, height: 2, pixels: [3, 2, 1, 6, 5, 4]),
            3: GrayImage(width: 3, height: 2, pixels: [6, 5, 4, 3, 2, 1]),
            4: GrayImage(width: 3, height: 2, pixels: [4, 5, 6, 1, 2, 3]),
            5: GrayImage(width: 2, height: 3, pixels: [1, 4, 2, 5, 3, 6]),
            6: GrayImage(width: 2, height: 3, pixels: [4, 1, 5, 2, 6, 3]),
            7: GrayImage(width: 2, height: 3, pixels: [6, 3, 5, 2, 4, 1]),
            8: GrayImage(width: 2, height: 3, pixels: [3, 6, 2, 5, 1, 4]),
        ]
        for (orientation, result) in expected {
            #expect(EXIFOrientation.apply(orientation, to: image) == result, "orientation \(orientation)")
        }
        #expect(EXIFOrientation.apply(0, to: image) == image)
    }
}
