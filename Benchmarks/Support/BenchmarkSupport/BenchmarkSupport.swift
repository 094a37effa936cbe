// Shared pieces of the benchmark suites: deterministic synthetic images, the GFLOP/s metric and
// a grey JPEG writer for the end-to-end inputs.
import Benchmark
import CJPEGWriter
import Foundation
import SuperGlueKit
import SuperGlueKitTestSupport
import Tensors

/// Achieved (effective) GFLOP/s: `flops` over the time since `start`.
public let gflops = BenchmarkMetric.custom("GFLOP/s", polarity: .prefersLarger, useScalingFactor: false)

/// `flops` floating-point operations that started at `start`, in GFLOP/s (rounded).
public func gigaflopsPerSecond(_ flops: Double, since start: ContinuousClock.Instant) -> Int {
    Int((flops / seconds(since: start) / 1e9).rounded())
}

/// Seconds elapsed since `start`.
public func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

/// A deterministic textured grey image: smooth gradients and sinusoids (low frequencies), a grid
/// of bright and dark rectangles (corners and edges, what keypoint detectors respond to), and
/// per-pixel noise. `shift` moves the pattern by that many pixels, so two images with different
/// shifts overlap like a camera pan.
public func syntheticImage(width: Int, height: Int, seed: UInt64 = 1, shift: (x: Int, y: Int) = (0, 0)) -> GrayImage {
    var g = SplitMix64(seed: seed)
    // Rectangles on a 48-pixel grid, random size and brightness, laid out in pattern coordinates.
    let cell = 48
    let columns = (width + 2 * abs(shift.x)) / cell + 2, rows = (height + 2 * abs(shift.y)) / cell + 2
    struct Box { var x0: Int, y0: Int, x1: Int, y1: Int, value: Int }
    var boxes: [Box] = []
    for r in 0..<rows {
        for c in 0..<columns {
            let w = 8 + Int(g.unit() * 30), h = 8 + Int(g.unit() * 30)
            let x0 = c * cell + Int(g.unit() * Double(cell - w)), y0 = r * cell + Int(g.unit() * Double(cell - h))
            boxes.append(Box(x0: x0, y0: y0, x1: x0 + w, y1: y0 + h, value: g.unit() < 0.5 ? -90 : 90))
        }
    }
    var pixels = [UInt8](repeating: 0, count: width * height)
    for y in 0..<height {
        for x in 0..<width {
            let px = x + shift.x + abs(shift.x), py = y + shift.y + abs(shift.y)  // pattern coordinates, >= 0
            var v = 128.0 + 30 * sin(Double(px) * 0.031) * cos(Double(py) * 0.023) + 0.05 * Double(px - py)
            let box = boxes[(py / cell) * columns + px / cell]
            if px >= box.x0 && px < box.x1 && py >= box.y0 && py < box.y1 { v += Double(box.value) }
            v += (g.unit() - 0.5) * 16
            pixels[y * width + x] = UInt8(max(0, min(255, v.rounded())))
        }
    }
    return GrayImage(width: width, height: height, pixels: pixels)
}

/// ``syntheticImage(width:height:seed:shift:)`` as SuperPoint input: grey / 255.
public func syntheticInput(width: Int, height: Int, seed: UInt64 = 1) -> [Float] {
    syntheticImage(width: width, height: height, seed: seed).pixels.map { Float($0) / 255 }
}

/// Why a benchmark input could not be written.
public struct BenchmarkInputError: Error, CustomStringConvertible {
    public var description: String
}

/// Writes `image` to `url` as a grey baseline JPEG.
public func writeJPEG(_ image: GrayImage, to url: URL, quality: Int = 90) throws {
    let capacity = 256
    var message = [CChar](repeating: 0, count: capacity)
    let status = image.pixels.withUnsafeBufferPointer { pixels in
        bench_write_gray_jpeg(url.path, pixels.baseAddress, Int32(image.width), Int32(image.height), Int32(quality),
                              &message, capacity)
    }
    guard status == 0 else {
        throw BenchmarkInputError(description: "writing \(url.path): " + String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}

/// The temporary folder of this process's input files named `name` (see ``temporaryFolder(_:)``).
public func temporaryFolderURL(_ name: String) -> URL {
    FileManager.default.temporaryDirectory
        .appendingPathComponent("superglue-benchmarks-\(name)-\(ProcessInfo.processInfo.processIdentifier)", isDirectory: true)
}

/// Creates an empty ``temporaryFolderURL(_:)`` for one benchmark's input files.
public func temporaryFolder(_ name: String) throws -> URL {
    let url = temporaryFolderURL(name)
    try? FileManager.default.removeItem(at: url)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
