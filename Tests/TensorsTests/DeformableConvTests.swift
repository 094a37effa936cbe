// The deformable 3x3 convolution against a direct double-precision loop written from the
// definition, and against torchvision.ops.deform_conv2d (Tests/Fixtures/deform_conv, made by
// Tools/reference/make_deform_conv_fixtures.py).
import Foundation
import Testing
import Checkpoints
@testable import Tensors

/// The definition, one output value at a time, in Double: NCHW-free indexing on the NHWC maps
/// the kernel takes (input [H, W, Cin], offsets [H, W, 18] with (dy, dx) per tap).
func deformableConv3x3Naive(_ conv: Conv2D, input: [Float], offsets: [Float], height: Int, width: Int) -> [Double] {
    let cin = conv.inChannels, cout = conv.outChannels
    func sample(_ c: Int, _ y: Double, _ x: Double) -> Double {
        if y <= -1 || y >= Double(height) || x <= -1 || x >= Double(width) { return 0 }
        let y0 = Int(y.rounded(.down)), x0 = Int(x.rounded(.down))
        let ly = y - Double(y0), lx = x - Double(x0)
        var total = 0.0
        for (yy, wy) in [(y0, 1 - ly), (y0 + 1, ly)] {
            for (xx, wx) in [(x0, 1 - lx), (x0 + 1, lx)] where yy >= 0 && yy < height && xx >= 0 && xx < width {
                total += wy * wx * Double(input[(yy * width + xx) * cin + c])
            }
        }
        return total
    }
    var out = [Double](repeating: 0, count: height * width * cout)
    for y in 0..<height {
        for x in 0..<width {
            for o in 0..<cout {
                var acc = Double(conv.bias[o])
                for k in 0..<9 {
                    let sy = Double(y - 1 + k / 3) + Double(offsets[(y * width + x) * 18 + 2 * k])
                    let sx = Double(x - 1 + k % 3) + Double(offsets[(y * width + x) * 18 + 2 * k + 1])
                    for c in 0..<cin {
                        acc += Double(conv.gemmWeights[(k * cin + c) * cout + o]) * sample(c, sy, sx)
                    }
                }
                out[(y * width + x) * cout + o] = acc
            }
        }
    }
    return out
}

/// [C, H, W] -> [H, W, C].
func nhwc(_ chw: [Float], channels: Int, height: Int, width: Int) -> [Float] {
    var out = [Float](repeating: 0, count: chw.count)
    for c in 0..<channels {
        for p in 0..<(height * width) { out[p * channels + c] = chw[c * height * width + p] }
    }
    return out
}

@Suite struct DeformableConvTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/deform_conv/deform_conv_golden.safetensors")

    @Test func zeroOffsetsAreAnOrdinaryConvolution() {
        var rng = SystemRandomNumberGenerator()
        let (h, w, cin, cout) = (5, 7, 3, 4)
        let weights = (0..<(cout * cin * 9)).map { _ in Float.random(in: -1...1, using: &rng) }
        let conv = Conv2D(outChannels: cout, inChannels: cin, kernelSize: 3, weightsOIHW: weights, bias: [0.5, -1, 0, 2])
        let input = Tensor(shape: [h, w, cin], data: (0..<(h * w * cin)).map { _ in Float.random(in: -1...1, using: &rng) })
        let plain = conv2d(conv, input: input, relu: false, using: .naive)
        let deformed = deformableConv3x3(DeformableConv3x3(conv), input: input, offsets: Tensor(zeros: [h, w, 18]))
        let worst = zip(plain.data, deformed.data).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-5)
    }

    @Test func wholePixelOffsetsShiftTheTaps() {
        // Every tap moved by (+1, -2): equals sampling the input shifted, zeros beyond the border.
        let (h, w) = (4, 6)
        let input = Tensor(shape: [h, w, 1], data: (0..<(h * w)).map { Float($0 + 1) })
        var taps = [Float](repeating: 0, count: 9)
        taps[4] = 1  // centre tap only
        let conv = Conv2D(outChannels: 1, inChannels: 1, kernelSize: 3, weightsOIHW: taps, bias: [0])
        var offsets = [Float](repeating: 0, count: h * w * 18)
        for p in 0..<(h * w) { offsets[p * 18 + 8] = 1; offsets[p * 18 + 9] = -2 }
        let out = deformableConv3x3(DeformableConv3x3(conv), input: input, offsets: Tensor(shape: [h, w, 18], data: offsets))
        for y in 0..<h {
            for x in 0..<w {
                let sy = y + 1, sx = x - 2
                let expected: Float = sy < h && sx >= 0 ? input.data[sy * w + sx] : 0
                #expect(out.data[y * w + x] == expected, "(\(y), \(x))")
            }
        }
    }

    @Test func randomCasesMatchTheDefinition() {
        var rng = SystemRandomNumberGenerator()
        for (h, w, cin, cout, spread) in [(6, 9, 5, 7, Float(1.5)), (3, 2, 8, 3, 4), (11, 4, 2, 16, 6), (1, 1, 3, 2, 1)] {
            let weights = (0..<(cout * cin * 9)).map { _ in Float.random(in: -0.5...0.5, using: &rng) }
            let bias = (0..<cout).map { _ in Float.random(in: -1...1, using: &rng) }
            let conv = Conv2D(outChannels: cout, inChannels: cin, kernelSize: 3, weightsOIHW: weights, bias: bias)
            let input = (0..<(h * w * cin)).map { _ in Float.random(in: -2...2, using: &rng) }
            let offsets = (0..<(h * w * 18)).map { _ in Float.random(in: -spread...spread, using: &rng) }
            let ours = deformableConv3x3(DeformableConv3x3(conv), input: Tensor(shape: [h, w, cin], data: input),
                                         offsets: Tensor(shape: [h, w, 18], data: offsets))
            let naive = deformableConv3x3Naive(conv, input: input, offsets: offsets, height: h, width: w)
            let worst = zip(ours.data, naive).map { abs(Double($0) - $1) }.max() ?? 0
            print("deformable conv \(h)x\(w) \(cin)->\(cout): max |ours - naive| = \(worst)")
            #expect(worst < 1e-5)
        }
    }

    /// torchvision.ops.deform_conv2d on the fixture's cases (no-mask cases; ALIKED uses none).
    @Test(arguments: ["small_bias", "edges", "aliked_block3", "tiny_far", "zero_offsets"])
    func matchesTorchvision(_ name: String) throws {
        let file = try SafeTensorsFile(contentsOf: Self.fixture)
        func tensor(_ key: String) throws -> RawTensor {
            guard let t = file.tensors["\(name)/\(key)"] else { throw SafeTensorsError("fixture lacks \(name)/\(key)") }
            return t
        }
        let input = try tensor("input"), offset = try tensor("offset"), weight = try tensor("weight"), output = try tensor("output")
        let (cin, h, w) = (input.shape[0], input.shape[1], input.shape[2])
        let cout = weight.shape[0]
        let bias = file.tensors["\(name)/bias"].map { $0.floatValues() } ?? [Float](repeating: 0, count: cout)
        let conv = Conv2D(outChannels: cout, inChannels: cin, kernelSize: 3, weightsOIHW: weight.floatValues(), bias: bias)
        let x = nhwc(input.floatValues(), channels: cin, height: h, width: w)
        let off = nhwc(offset.floatValues(), channels: 18, height: h, width: w)
        let expected = nhwc(output.floatValues(), channels: cout, height: h, width: w)
        let ours = deformableConv3x3(DeformableConv3x3(conv), input: Tensor(shape: [h, w, cin], data: x),
                                     offsets: Tensor(shape: [h, w, 18], data: off))
        let naive = deformableConv3x3Naive(conv, input: x, offsets: off, height: h, width: w)
        let worst = zip(ours.data, expected).map { abs($0 - $1) }.max() ?? 0
        let worstNaive = zip(naive, expected).map { abs($0 - Double($1)) }.max() ?? 0
        print("deform_conv2d \(name): max |ours - torchvision| = \(worst), |naive - torchvision| = \(worstNaive) (tolerance 1e-5)")
        #expect(worst < 1e-5)
        #expect(worstNaive < 1e-5)
    }
}
