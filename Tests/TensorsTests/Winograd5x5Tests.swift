import Testing
@testable import Tensors

@Suite struct Winograd5x5Tests {
    /// Random 5x5 conv (weights and inputs in [0, 1), as WinogradTests) and NHWC input.
    static func problem(_ h: Int, _ w: Int, _ cin: Int, _ cout: Int, seed: UInt64) -> (Conv2D, Tensor) {
        var rng = SplitMix64(seed: seed)
        let conv = Conv2D(outChannels: cout, inChannels: cin, kernelSize: 5,
                          weightsOIHW: (0..<(cout * cin * 25)).map { _ in rng.nextFloat() - 0.5 },
                          bias: (0..<cout).map { _ in rng.nextFloat() })
        return (conv, Tensor(shape: [h, w, cin], data: (0..<(h * w * cin)).map { _ in rng.nextFloat() }))
    }

    static func run(_ conv: Conv2D, _ input: Tensor, rows: Range<Int>? = nil) -> [Float] {
        let (h, w) = (input.shape[0], input.shape[1])
        let rows = rows ?? 0..<h
        let winograd = WinogradF4Conv5x5(conv)
        var out = [Float](repeating: .nan, count: rows.count * w * conv.outChannels)
        var scratch = [Float](repeating: .nan, count: winograd.scratchCount)
        input.data.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { s in
                    winograd.apply(input: MapRows(base: i.baseAddress!, firstRow: 0, validRows: 0..<h), width: w, rows: rows,
                                   output: o.baseAddress!, scratch: s.baseAddress!)
                }
            }
        }
        return out
    }

    /// In exact arithmetic A^T [(G g) . (B^T d)] is the 1-D correlation of d (8 values) with g (5 taps): checked
    /// in Double on random vectors, so a wrong coefficient in any matrix fails whatever the rounding.
    @Test func matricesComputeTheCorrelation() {
        var rng = SplitMix64(seed: 11)
        let bT = WinogradF4Conv5x5.bT, g = WinogradF4Conv5x5.g, aT = WinogradF4Conv5x5.aT
        for _ in 0..<20 {
            let d = (0..<8).map { _ in Double(rng.nextFloat()) - 0.5 }, taps = (0..<5).map { _ in Double(rng.nextFloat()) - 0.5 }
            let v = bT.map { row in zip(row, d).map(*).reduce(0, +) }
            let u = g.map { row in zip(row, taps).map(*).reduce(0, +) }
            let m = zip(u, v).map(*)
            let y = aT.map { row in zip(row, m).map(*).reduce(0, +) }
            for i in 0..<4 {
                let direct = (0..<5).map { taps[$0] * d[i + $0] }.reduce(0, +)
                #expect(abs(y[i] - direct) < 1e-12, "output \(i): \(y[i]) vs \(direct)")
            }
        }
    }

    /// Against the six-loop direct convolution: sizes that are not multiples of the 4x4 tile, channel
    /// counts below, at and above a vector (8) with tails, a map narrower than the kernel.
    @Test(arguments: [(7, 5, 3, 4), (8, 8, 16, 8), (1, 9, 2, 5), (13, 11, 24, 17), (12, 20, 80, 129), (3, 2, 9, 1)])
    func matchesNaiveConvolution(_ shape: (Int, Int, Int, Int)) {
        let (h, w, cin, cout) = shape
        let (conv, input) = Self.problem(h, w, cin, cout, seed: UInt64(h * 1000 + w))
        let expected = conv2d(conv, input: input, relu: false, using: .naive).data
        let got = Self.run(conv, input)
        // Sums of up to 25 * cin terms of size 0.25; the transforms' coefficients (up to 21/4 and 8)
        // scale float32 rounding by about ten.
        let scale = expected.map(abs).max() ?? 1
        let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? .nan
        print("F(4x4, 5x5) \(shape): max |diff| \(worst), outputs up to \(scale)")
        #expect(worst < 2e-5 * max(scale, 1), "\(shape): \(worst)")
        #expect(got.count == expected.count && !got.contains { $0.isNaN })
    }

    /// Bands of rows (as a caller computing part of a map does) give the rows of the whole map, up
    /// to rounding: other tiles share a GEMM batch, and a band starting off the whole map's 4-row
    /// tile grid transforms other patches.
    @Test func bandOfRowsMatchesTheWholeMap() {
        let (conv, input) = Self.problem(19, 13, 12, 10, seed: 5)
        let whole = Self.run(conv, input), expected = conv2d(conv, input: input, relu: false, using: .naive).data
        var banded: [Float] = []
        for rows in [0..<4, 4..<11, 11..<19] { banded += Self.run(conv, input, rows: rows) }
        let scale = expected.map(abs).max() ?? 1
        let worst = zip(banded, expected).map { abs($0 - $1) }.max() ?? .nan
        let fromWhole = zip(banded, whole).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst < 2e-5 * scale && fromWhole < 2e-5 * scale, "\(worst), \(fromWhole) from the whole map's")
    }
}
