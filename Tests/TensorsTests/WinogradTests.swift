import Testing
@testable import Tensors

@Suite struct WinogradTests {
    /// Random conv and NHWC input (seeded).
    static func problem(_ h: Int, _ w: Int, _ cin: Int, _ cout: Int, seed: UInt64) -> (Conv2D, Tensor) {
        var rng = SplitMix64(seed: seed)
        let conv = Conv2D(outChannels: cout, inChannels: cin, kernelSize: 3,
                          weightsOIHW: (0..<(cout * cin * 9)).map { _ in rng.nextFloat() },
                          bias: (0..<cout).map { _ in rng.nextFloat() })
        return (conv, Tensor(shape: [h, w, cin], data: (0..<(h * w * cin)).map { _ in rng.nextFloat() }))
    }

    /// Runs F(2x2, 3x3) (`tile` 2) or F(4x4, 3x3) (`tile` 4).
    static func run(_ conv: Conv2D, _ input: Tensor, rows: Range<Int>? = nil, relu: Bool, pool: Bool, tile: Int = 2) -> [Float] {
        let (h, w) = (input.shape[0], input.shape[1])
        let rows = rows ?? 0..<h
        let count = pool ? (rows.count / 2) * (w / 2) * conv.outChannels : rows.count * w * conv.outChannels
        var out = [Float](repeating: .nan, count: count)
        let f2 = WinogradConv3x3(conv), f4 = WinogradF4Conv3x3(conv)
        var scratch = [Float](repeating: .nan, count: tile == 2 ? f2.scratchCount : f4.scratchCount)
        input.data.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { s in
                    let source = MapRows(base: i.baseAddress!, firstRow: 0, validRows: 0..<h)
                    if tile == 2 {
                        f2.apply(input: source, width: w, rows: rows, output: o.baseAddress!, relu: relu, pool: pool, scratch: s.baseAddress!)
                    } else {
                        f4.apply(input: source, width: w, rows: rows, output: o.baseAddress!, relu: relu, pool: pool, scratch: s.baseAddress!)
                    }
                }
            }
        }
        return out
    }

    @Test(arguments: [2, 4])
    func boxFilterOnTheHandCheckedRamp(tile: Int) {
        let box = Conv2D(outChannels: 1, inChannels: 1, kernelSize: 3, weightsOIHW: Array(repeating: 1, count: 9), bias: [0])
        let ramp = Tensor(shape: [4, 4, 1], data: (1...16).map(Float.init))
        let out = Self.run(box, ramp, relu: false, pool: false, tile: tile)
        let expected: [Float] = [14, 24, 30, 22, 33, 54, 63, 45, 57, 90, 99, 69, 46, 72, 78, 54]
        // F(4x4)'s transforms divide by 6 and 24, so it is exact only up to rounding.
        #expect(zip(out, expected).allSatisfy { abs($0 - $1) <= 1e-4 }, "\(out)")
        // Pooled: max of each 2x2 block of the above.
        let pooled = Self.run(box, ramp, relu: false, pool: true, tile: tile)
        #expect(zip(pooled, [54, 63, 90, 99] as [Float]).allSatisfy { abs($0 - $1) <= 1e-4 }, "\(pooled)")
    }

    @Test(arguments: [(7, 5, 3, 4), (8, 8, 16, 8), (1, 9, 2, 5), (13, 11, 64, 24), (40, 30, 8, 8)], [2, 4])
    func matchesNaiveConvolution(_ shape: (Int, Int, Int, Int), tile: Int) {
        let (h, w, cin, cout) = shape
        let (conv, input) = Self.problem(h, w, cin, cout, seed: UInt64(h * 1000 + w))
        let expected = conv2d(conv, input: input, relu: true, using: .naive).data
        let got = Self.run(conv, input, relu: true, pool: false, tile: tile)
        let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst < 1e-4, "\(shape) F\(tile): \(worst)")
        #expect(!got.contains { $0.isNaN })
    }

    @Test(arguments: [(7, 5), (8, 8), (9, 6), (3, 3), (10, 14)], [2, 4])
    func pooledMatchesConvolutionThenPool(_ size: (Int, Int), tile: Int) {
        let (h, w) = size
        let (conv, input) = Self.problem(h, w, 6, 5, seed: 3)
        let full = conv2d(conv, input: input, relu: true, using: .naive)
        var expected = [Float](repeating: .nan, count: (h / 2) * (w / 2) * 5)
        full.data.withUnsafeBufferPointer { f in
            expected.withUnsafeMutableBufferPointer { e in
                maxPool2x2(input: f.baseAddress!, height: h, width: w, channels: 5, output: e.baseAddress!)
            }
        }
        let got = Self.run(conv, input, relu: true, pool: true, tile: tile)
        let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
        // Outputs are about 5 in size; F(4x4)'s transforms round about ten times more than F(2x2)'s.
        #expect(worst < (tile == 2 ? 1e-5 : 5e-5), "\(size) F\(tile): \(worst)")
        #expect(got.count == expected.count && !got.contains { $0.isNaN })
    }

    @Test(arguments: [2, 4])
    func bandOfRowsMatchesTheWholeMap(tile: Int) {
        let (conv, input) = Self.problem(9, 7, 4, 3, seed: 5)
        let whole = conv2d(conv, input: input, relu: false, using: .naive).data
        let band = Self.run(conv, input, rows: 2..<7, relu: false, pool: false, tile: tile)
        let expected = Array(whole[(2 * 7 * 3)..<(7 * 7 * 3)])
        let worst = zip(band, expected).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst < 1e-5)
    }
}
