import Foundation
import Testing
@testable import Tensors

@Suite struct InstanceNormTests {
    /// The definition, channel by channel in Double: biased variance, eps 1e-5, then PReLU.
    static func naive(_ x: [Float], pixels: Int, channels: Int, slopes: [Float]?) -> [Float] {
        var out = x
        for c in 0..<channels {
            let values = (0..<pixels).map { Double(x[$0 * channels + c]) }
            let mean = values.reduce(0, +) / Double(pixels)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(pixels)
            for p in 0..<pixels {
                let v = (values[p] - mean) / (variance + 1e-5).squareRoot()
                out[p * channels + c] = Float(v >= 0 ? v : Double(slopes?[c] ?? 1) * v)
            }
        }
        return out
    }

    static func run(_ x: [Float], pixels: Int, channels: Int, slopes: [Float]?) -> [Float] {
        var data = x
        data.withUnsafeMutableBufferPointer { d in
            if let slopes {
                slopes.withUnsafeBufferPointer { instanceNormPReLU(d.baseAddress!, pixels: pixels, channels: channels, slopes: $0.baseAddress!) }
            } else {
                instanceNormPReLU(d.baseAddress!, pixels: pixels, channels: channels, slopes: nil)
            }
        }
        return data
    }

    @Test(arguments: [(1, 2), (3, 7), (13, 300), (64, 4096)])
    func matchesDefinition(_ channels: Int, _ pixels: Int) {
        var rng = SystemRandomNumberGenerator()
        // Offsets and spreads differing per channel, as U-Net activations do.
        let x = (0..<(pixels * channels)).map { i in Float(i % channels) * 0.7 - 3 + Float.random(in: -2...2, using: &rng) * Float(1 + i % 3) }
        let slopes = (0..<channels).map { Float($0) * 0.1 - 0.2 }
        for s in [slopes, nil] {
            let ours = Self.run(x, pixels: pixels, channels: channels, slopes: s)
            let reference = Self.naive(x, pixels: pixels, channels: channels, slopes: s)
            let worst = zip(ours, reference).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 2e-6, "\(channels)x\(pixels): \(worst)")
        }
    }

    @Test func constantChannelBecomesZeroAndSlopesApplyBelowZero() {
        // Channel 0 constant -> 0 (variance 0, eps keeps it finite); channel 1 = [-1, 1] -> about
        // [-1, 1], its negative side scaled by the slope 0.25.
        let out = Self.run([5, -1, 5, 1], pixels: 2, channels: 2, slopes: [0.5, 0.25])
        #expect(out[0] == 0 && out[2] == 0)
        let unit = Float(1 / (1 + 1e-5).squareRoot())
        #expect(abs(out[1] + 0.25 * unit) < 1e-7 && abs(out[3] - unit) < 1e-7)
    }
}
