// Match visualisation in the spirit of the reference's make_matching_plot (models/utils.py):
// both grey images side by side with a white margin, one line per match coloured by confidence
// through the jet colour map, and a text block with counts and thresholds. Rendering is done on an
// RGB byte canvas with a built-in 5x7 bitmap font, so no plotting library is needed.
import ImageIO
import Networks

/// An 8-bit RGB raster.
public struct RGBCanvas: Sendable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes, row-major RGB.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        self.width = width
        self.height = height
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { p[3 * i] = fill.0; p[3 * i + 1] = fill.1; p[3 * i + 2] = fill.2 }
        self.pixels = p
    }

    @inline(__always)
    public mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let o = 3 * (y * width + x)
        pixels[o] = c.0; pixels[o + 1] = c.1; pixels[o + 2] = c.2
    }

    /// Copies a grey image with its top-left corner at (x0, y0).
    public mutating func blit(gray: [UInt8], width w: Int, height h: Int, at x0: Int, _ y0: Int) {
        for y in 0..<h {
            for x in 0..<w {
                let v = gray[y * w + x]
                set(x0 + x, y0 + y, (v, v, v))
            }
        }
    }

    /// A line of the given thickness (Bresenham, square brush).
    public mutating func line(from p0: (Double, Double), to p1: (Double, Double), color: (UInt8, UInt8, UInt8), thickness: Int = 1) {
        var x0 = Int(p0.0.rounded()), y0 = Int(p0.1.rounded())
        let x1 = Int(p1.0.rounded()), y1 = Int(p1.1.rounded())
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        let r = max(0, thickness - 1) / 2
        var guardSteps = 4 * (dx - dy) + 8
        while guardSteps > 0 {
            guardSteps -= 1
            for oy in -r...r { for ox in -r...r { set(x0 + ox, y0 + oy, color) } }
            if x0 == x1 && y0 == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x0 += sx }
            if e2 <= dx { err += dx; y0 += sy }
        }
    }

    /// A filled disc.
    public mutating func dot(at p: (Double, Double), radius: Int, color: (UInt8, UInt8, UInt8)) {
        let cx = Int(p.0.rounded()), cy = Int(p.1.rounded())
        for oy in -radius...radius { for ox in -radius...radius where ox * ox + oy * oy <= radius * radius { set(cx + ox, cy + oy, color) } }
    }

    /// Text in the built-in 5x7 font (upper-cased), each font pixel drawn as `scale x scale`.
    public mutating func text(_ string: String, at x0: Int, _ y0: Int, scale: Int = 2, color: (UInt8, UInt8, UInt8)) {
        var x = x0
        for ch in string.uppercased() {
            let rows = BitmapFont.glyph(ch)
            for (ry, bits) in rows.enumerated() {
                for rx in 0..<5 where bits & (1 << (4 - rx)) != 0 {
                    for sy in 0..<scale { for sx in 0..<scale { set(x + rx * scale + sx, y0 + ry * scale + sy, color) } }
                }
            }
            x += 6 * scale
        }
    }
}

/// MATLAB/matplotlib "jet": blue (0) through cyan, yellow to red (1).
public func jetColor(_ value: Float) -> (UInt8, UInt8, UInt8) {
    let v = Double(min(max(value, 0), 1))
    func channel(_ center: Double) -> UInt8 {
        let c = min(max(1.5 - abs(4 * v - center), 0), 1)
        return UInt8((c * 255).rounded())
    }
    return (channel(3), channel(2), channel(1))
}

/// Inputs of a match plot.
public struct MatchPlot: Sendable {
    public var image0: GrayImage
    public var image1: GrayImage
    /// Keypoints (x, y) in each image's pixel coordinates.
    public var keypoints0: [Float]
    public var keypoints1: [Float]
    /// For each keypoint of image 0, the matched index in image 1 or -1.
    public var matches0: [Int]
    public var confidence0: [Float]
    /// Lines of text drawn in the top-left corner.
    public var text: [String]
    public var showKeypoints: Bool = false

    public init(image0: GrayImage, image1: GrayImage, keypoints0: [Float], keypoints1: [Float], matches0: [Int], confidence0: [Float], text: [String]) {
        self.image0 = image0
        self.image1 = image1
        self.keypoints0 = keypoints0
        self.keypoints1 = keypoints1
        self.matches0 = matches0
        self.confidence0 = confidence0
        self.text = text
    }

    /// Width of the white gap between the two images, as the reference's plot leaves one.
    public static let margin = 10

    /// Renders the plot.
    public func render() -> RGBCanvas {
        let w = image0.width + Self.margin + image1.width
        let h = max(image0.height, image1.height)
        var canvas = RGBCanvas(width: max(w, 1), height: max(h, 1))
        canvas.blit(gray: image0.pixels, width: image0.width, height: image0.height, at: 0, 0)
        let x1 = image0.width + Self.margin
        canvas.blit(gray: image1.pixels, width: image1.width, height: image1.height, at: x1, 0)
        if showKeypoints {
            for i in 0..<(keypoints0.count / 2) { canvas.dot(at: (Double(keypoints0[2 * i]), Double(keypoints0[2 * i + 1])), radius: 1, color: (255, 255, 255)) }
            for i in 0..<(keypoints1.count / 2) { canvas.dot(at: (Double(keypoints1[2 * i]) + Double(x1), Double(keypoints1[2 * i + 1])), radius: 1, color: (255, 255, 255)) }
        }
        // Draw weakest first so confident matches stay visible on top.
        let order = matches0.indices.filter { matches0[$0] >= 0 && 2 * matches0[$0] + 1 < keypoints1.count }
            .sorted { confidence0[$0] < confidence0[$1] }
        for i in order {
            let j = matches0[i]
            let c = jetColor(confidence0[i])
            let p0 = (Double(keypoints0[2 * i]), Double(keypoints0[2 * i + 1]))
            let p1 = (Double(keypoints1[2 * j]) + Double(x1), Double(keypoints1[2 * j + 1]))
            canvas.line(from: p0, to: p1, color: c, thickness: 1)
            canvas.dot(at: p0, radius: 2, color: c)
            canvas.dot(at: p1, radius: 2, color: c)
        }
        // Text in white with a black shadow, large enough to read on a 640x480 plot.
        let scale = h >= 400 ? 2 : 1
        for (n, line) in text.enumerated() {
            let y = 6 + n * 10 * scale
            canvas.text(line, at: 7, y + 1, scale: scale, color: (0, 0, 0))
            canvas.text(line, at: 6, y, scale: scale, color: (255, 255, 255))
        }
        return canvas
    }
}

/// A 5x7 bitmap font: each glyph is 7 rows of 5 bits (bit 4 = leftmost pixel).
enum BitmapFont {
    static func glyph(_ c: Character) -> [UInt8] {
        switch c {
        case "0": return [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E]
        case "1": return [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E]
        case "2": return [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F]
        case "3": return [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E]
        case "4": return [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02]
        case "5": return [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E]
        case "6": return [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E]
        case "7": return [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08]
        case "8": return [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E]
        case "9": return [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C]
        case "A": return [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]
        case "B": return [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E]
        case "C": return [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E]
        case "D": return [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C]
        case "E": return [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F]
        case "F": return [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10]
        case "G": return [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F]
        case "H": return [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]
        case "I": return [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E]
        case "J": return [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C]
        case "K": return [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11]
        case "L": return [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F]
        case "M": return [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11]
        case "N": return [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11]
        case "O": return [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]
        case "P": return [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10]
        case "Q": return [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D]
        case "R": return [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11]
        case "S": return [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E]
        case "T": return [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04]
        case "U": return [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]
        case "V": return [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04]
        case "W": return [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A]
        case "X": return [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11]
        case "Y": return [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04]
        case "Z": return [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F]
        case ":": return [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00]
        case ".": return [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C]
        case ",": return [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08]
        case "-": return [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00]
        case "_": return [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F]
        case "/": return [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00]
        case "=": return [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00]
        case "(": return [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02]
        case ")": return [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08]
        case "%": return [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03]
        case "+": return [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00]
        case "x": return [0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11]
        case " ": return [0, 0, 0, 0, 0, 0, 0]
        default: return [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04]  // '?' for anything unknown
        }
    }
}
