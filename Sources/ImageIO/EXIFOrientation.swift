// EXIF orientation: reading tag 0x0112 from the TIFF-structured EXIF payload and applying it the way
// OpenCV's ApplyExifOrientation does after imread.

/// Reading and applying the EXIF orientation tag.
public enum EXIFOrientation {
    /// Orientation value (1...8) of IFD0 in a TIFF-structured EXIF payload (starting at the "II"/"MM"
    /// byte-order mark), or nil when absent, malformed or out of range. Every read is bounds-checked.
    public static func parse<Bytes: RandomAccessCollection>(_ bytes: Bytes) -> Int? where Bytes.Element == UInt8, Bytes.Index == Int {
        let base = bytes.startIndex
        let count = bytes.count
        guard count >= 8 else { return nil }
        let littleEndian: Bool
        switch (bytes[base], bytes[base + 1]) {
        case (0x49, 0x49): littleEndian = true
        case (0x4D, 0x4D): littleEndian = false
        default: return nil
        }
        func u16(_ offset: Int) -> Int? {
            guard offset >= 0, offset + 2 <= count else { return nil }
            let a = Int(bytes[base + offset]), b = Int(bytes[base + offset + 1])
            return littleEndian ? a | (b << 8) : (a << 8) | b
        }
        func u32(_ offset: Int) -> Int? {
            guard let low = u16(littleEndian ? offset : offset + 2), let high = u16(littleEndian ? offset + 2 : offset) else { return nil }
            return low | (high << 16)
        }
        guard u16(2) == 42, let ifdOffset = u32(4), let entryCount = u16(ifdOffset) else { return nil }
        for entry in 0..<entryCount {
            let position = ifdOffset + 2 + entry * 12
            guard let tag = u16(position) else { return nil }
            guard tag == 0x0112 else { continue }
            // Type SHORT (3), value stored inline in the first two bytes of the value field.
            guard let type = u16(position + 2), type == 3, let value = u16(position + 8) else { return nil }
            return (1...8).contains(value) ? value : nil
        }
        return nil
    }

    /// The image as displayed for EXIF orientation `orientation` (OpenCV's mapping: 2 mirror
    /// left-right, 3 rotate 180, 4 mirror top-bottom, 5 transpose, 6 rotate 90 clockwise,
    /// 7 transverse, 8 rotate 90 counter-clockwise). Other values return the image unchanged.
    public static func apply<Image: InterleavedImage>(_ orientation: Int, to image: Image) -> Image {
        let width = image.width, height = image.height, channels = Image.channels
        // Source coordinates for destination (x, y), with the destination's width dw / height dh.
        let transposes = orientation >= 5 && orientation <= 8
        let outWidth = transposes ? height : width
        let outHeight = transposes ? width : height
        let map: (Int, Int) -> (Int, Int)
        switch orientation {
        case 2: map = { x, y in (width - 1 - x, y) }
        case 3: map = { x, y in (width - 1 - x, height - 1 - y) }
        case 4: map = { x, y in (x, height - 1 - y) }
        case 5: map = { x, y in (y, x) }
        case 6: map = { x, y in (y, height - 1 - x) }
        case 7: map = { x, y in (width - 1 - y, height - 1 - x) }
        case 8: map = { x, y in (width - 1 - y, x) }
        default: return image
        }
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        image.pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        let (sx, sy) = map(x, y)
                        let from = (sy * width + sx) * channels, to = (y * outWidth + x) * channels
                        for c in 0..<channels { target[to + c] = source[from + c] }
                    }
                }
            }
        }
        return Image(width: outWidth, height: outHeight, pixels: out)
    }
}
