import Testing
@testable import Tensors

/// 1...16 as a 4x4 single-channel NHWC map.
private let ramp4x4 = Tensor(shape: [4, 4, 1], data: (1...16).map(Float.init))

@Suite struct ConvolutionTests {
    @Test(arguments: ConvolutionPath.allCases)
    func boxFilterSumsTheClippedNeighbourhood(path: ConvolutionPath) {
        // Each output is the sum of the 3x3 neighbourhood, zeros outside (worked out by hand).
        let box = Conv2D(outChannels: 1, inChannels: 1, kernelSize: 3, weightsOIHW: Array(repeating: 1, count: 9), bias: [0])
        let out = conv2d(box, input: ramp4x4, relu: false, using: path)
        #expect(out.shape == [4, 4, 1])
        #expect(out.data == [14, 24, 30, 22,
                             33, 54, 63, 45,
                             57, 90, 99, 69,
                             46, 72, 78, 54])
    }

    @Test(arguments: ConvolutionPath.allCases)
    func topLeftTapIsCrossCorrelation(path: ConvolutionPath) {
        // Only w[ky=0][kx=0] set: out(y, x) = in(y - 1, x - 1), as torch's Conv2d (no kernel flip).
        var w = [Float](repeating: 0, count: 9)
        w[0] = 1
        let conv = Conv2D(outChannels: 1, inChannels: 1, kernelSize: 3, weightsOIHW: w, bias: [0])
        let out = conv2d(conv, input: ramp4x4, relu: false, using: path)
        #expect(out.data == [0, 0, 0, 0,
                             0, 1, 2, 3,
                             0, 5, 6, 7,
                             0, 9, 10, 11])
    }

    @Test(arguments: ConvolutionPath.allCases)
    func biasAndFusedReLU(path: ConvolutionPath) {
        let box = Conv2D(outChannels: 1, inChannels: 1, kernelSize: 3, weightsOIHW: Array(repeating: 1, count: 9), bias: [-50])
        let out = conv2d(box, input: ramp4x4, relu: true, using: path)
        #expect(out.data == [0, 0, 0, 0,
                             0, 4, 13, 0,
                             7, 40, 49, 19,
                             0, 22, 28, 4])
    }

    @Test(arguments: ConvolutionPath.allCases)
    func pointwiseMixesChannels(path: ConvolutionPath) {
        // 1x1, 2 -> 3 channels: out = W x + b with W = [[1, 2], [0, -1], [3, 0]], b = [0.5, 0, -1].
        let conv = Conv2D(outChannels: 3, inChannels: 2, kernelSize: 1, weightsOIHW: [1, 2, 0, -1, 3, 0], bias: [0.5, 0, -1])
        let input = Tensor(shape: [1, 2, 2], data: [1, 1, 2, -3])
        let out = conv2d(conv, input: input, relu: false, using: path)
        #expect(out.data == [3.5, -1, 2,
                             -3.5, 3, 5])
        let rectified = conv2d(conv, input: input, relu: true, using: path)
        #expect(rectified.data == [3.5, 0, 2, 0, 3, 5])
    }

    @Test func gemmPathMatchesNaiveOnRandomMaps() {
        var rng = SplitMix64(seed: 7)
        // Includes single-output layers (their own dot-product path) with kernels wider than the map.
        for (h, w, cin, cout, k) in [(7, 5, 3, 4, 3), (1, 9, 2, 5, 3), (6, 6, 8, 3, 1), (13, 11, 16, 24, 3), (9, 13, 4, 1, 3),
                                     (5, 2, 11, 1, 3), (6, 7, 3, 1, 5)] {
            let weights = (0..<(cout * cin * k * k)).map { _ in rng.nextFloat() }
            let bias = (0..<cout).map { _ in rng.nextFloat() }
            let conv = Conv2D(outChannels: cout, inChannels: cin, kernelSize: k, weightsOIHW: weights, bias: bias)
            let input = Tensor(shape: [h, w, cin], data: (0..<(h * w * cin)).map { _ in rng.nextFloat() })
            let fast = conv2d(conv, input: input, relu: true, using: .gemm)
            let slow = conv2d(conv, input: input, relu: true, using: .naive)
            let worst = zip(fast.data, slow.data).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-5, "\(h)x\(w)x\(cin)->\(cout) k\(k): max diff \(worst)")
        }
    }

    @Test func bandsWithStoredHaloRowsMatchTheWholeMap() throws {
        // Rows 2..<5 of a 7-row map, computed from a buffer holding only rows 1..<6 (the halo).
        var rng = SplitMix64(seed: 11)
        let (h, w, cin, cout) = (7, 6, 4, 5)
        let conv = Conv2D(outChannels: cout, inChannels: cin, kernelSize: 3,
                          weightsOIHW: (0..<(cout * cin * 9)).map { _ in rng.nextFloat() },
                          bias: (0..<cout).map { _ in rng.nextFloat() })
        let input = Tensor(shape: [h, w, cin], data: (0..<(h * w * cin)).map { _ in rng.nextFloat() })
        let whole = conv2d(conv, input: input, relu: false, using: .naive)
        let halo = Array(input.data[(1 * w * cin)..<(6 * w * cin)])
        var band = [Float](repeating: .nan, count: 3 * w * cout)
        var scratch = [Float](repeating: .nan, count: conv.scratchCount(bandPixels: 3 * w))
        halo.withUnsafeBufferPointer { src in
            band.withUnsafeMutableBufferPointer { dst in
                scratch.withUnsafeMutableBufferPointer { s in
                    conv.apply(input: MapRows(base: src.baseAddress!, firstRow: 1, validRows: 1..<6), width: w,
                               rows: 2..<5, output: dst.baseAddress!, relu: false, scratch: s.baseAddress)
                }
            }
        }
        let expected = Array(whole.data[(2 * w * cout)..<(5 * w * cout)])
        let worst = zip(band, expected).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst < 1e-5)
    }
}

/// Deterministic pseudo-random numbers for tests (SplitMix64).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}
