// SuperPoint: the whole forward pass (encoder, both heads, NMS, top-1024, descriptor sampling) at
// 640x480 and 1024x768, and each convolution alone at its 640x480 map size, with the layer's
// effective GFLOP/s: direct-convolution flops (2 * H * W * Cin * Cout * k * k) over the time,
// whatever the layer really computes (the Winograd layers do fewer multiplies).
//
// Weights are RandomWeights (official shapes, not trained values); the input is a deterministic
// synthetic textured image. Run time depends on the shapes only, except top-k and sampling, which
// see the full 1024 keypoints either way (random weights leave many candidates above threshold).
import Benchmark
import BenchmarkSupport
import SuperGlueKit
import SuperGlueKitTestSupport
import Tensors

/// One convolution of the network, as SuperPoint.init builds it, on its 640x480 map.
struct ConvLayer: Sendable {
    enum Kind: Sendable {
        case im2col  // Conv2D (conv1a 3x3, and the 1x1 convPb / convDb)
        case winogradF2  // WinogradConv3x3: levels 1 and 2
        case winogradF4  // WinogradF4Conv3x3: levels 3, 4, convPa, convDa
    }

    let name: String
    let kind: Kind
    let inChannels: Int, outChannels: Int, kernel: Int
    /// Map size (the layer's input and output) at a 640x480 image.
    let width: Int, height: Int
    /// ReLU and 2x2 max-pooling as the model applies them.
    let relu: Bool, pool: Bool
    /// Rows per call: the model runs conv1a/conv1b in bands of rows (SuperPoint.bandPixels = 5120
    /// output pixels, so 8 rows at 640 wide); every other layer in one call over the whole map.
    let bandRows: Int

    var flops: Double { 2 * Double(width * height) * Double(inChannels * outChannels * kernel * kernel) }
}

let layers: [ConvLayer] = [
    ConvLayer(name: "conv1a", kind: .im2col, inChannels: 1, outChannels: 64, kernel: 3, width: 640, height: 480, relu: true, pool: false, bandRows: 8),
    ConvLayer(name: "conv1b", kind: .winogradF4, inChannels: 64, outChannels: 64, kernel: 3, width: 640, height: 480, relu: true, pool: true, bandRows: 8),
    ConvLayer(name: "conv2a", kind: .winogradF2, inChannels: 64, outChannels: 64, kernel: 3, width: 320, height: 240, relu: true, pool: false, bandRows: 240),
    ConvLayer(name: "conv2b", kind: .winogradF2, inChannels: 64, outChannels: 64, kernel: 3, width: 320, height: 240, relu: true, pool: true, bandRows: 240),
    ConvLayer(name: "conv3a", kind: .winogradF4, inChannels: 64, outChannels: 128, kernel: 3, width: 160, height: 120, relu: true, pool: false, bandRows: 120),
    ConvLayer(name: "conv3b", kind: .winogradF4, inChannels: 128, outChannels: 128, kernel: 3, width: 160, height: 120, relu: true, pool: true, bandRows: 120),
    ConvLayer(name: "conv4a", kind: .winogradF4, inChannels: 128, outChannels: 128, kernel: 3, width: 80, height: 60, relu: true, pool: false, bandRows: 60),
    ConvLayer(name: "conv4b", kind: .winogradF4, inChannels: 128, outChannels: 128, kernel: 3, width: 80, height: 60, relu: true, pool: false, bandRows: 60),
    ConvLayer(name: "convPa", kind: .winogradF4, inChannels: 128, outChannels: 256, kernel: 3, width: 80, height: 60, relu: true, pool: false, bandRows: 60),
    ConvLayer(name: "convPb", kind: .im2col, inChannels: 256, outChannels: 65, kernel: 1, width: 80, height: 60, relu: false, pool: false, bandRows: 60),
    ConvLayer(name: "convDa", kind: .winogradF4, inChannels: 128, outChannels: 256, kernel: 3, width: 80, height: 60, relu: true, pool: false, bandRows: 60),
    ConvLayer(name: "convDb", kind: .im2col, inChannels: 256, outChannels: 256, kernel: 1, width: 80, height: 60, relu: false, pool: false, bandRows: 60),
    // The other Winograd variant on the 64-channel layers, to weigh speed against parity margin.
    ConvLayer(name: "conv1b", kind: .winogradF2, inChannels: 64, outChannels: 64, kernel: 3, width: 640, height: 480, relu: true, pool: true, bandRows: 8),
    ConvLayer(name: "conv2a", kind: .winogradF4, inChannels: 64, outChannels: 64, kernel: 3, width: 320, height: 240, relu: true, pool: false, bandRows: 240),
]

/// A layer with random weights and its buffers, built once per benchmark.
final class LayerState: @unchecked Sendable {
    // @unchecked: used by one benchmark closure at a time; the buffers are never shared.
    let layer: ConvLayer
    let conv: Conv2D
    let banded: (any BandedConvolution3x3)?
    /// The input map, or for banded layers one band with its halo rows (the model keeps only
    /// that much of conv1a's output), reused for every band.
    let input: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
    let inputCount: Int, outputCount: Int, scratchCount: Int

    init(_ layer: ConvLayer) {
        self.layer = layer
        var g = SplitMix64(seed: 7)
        let fanIn = layer.inChannels * layer.kernel * layer.kernel
        let bound = 1 / Double(fanIn).squareRoot()
        let weights = (0..<(layer.outChannels * fanIn)).map { _ in Float((2 * g.unit() - 1) * bound) }
        let bias = (0..<layer.outChannels).map { _ in Float((2 * g.unit() - 1) * bound) }
        conv = Conv2D(outChannels: layer.outChannels, inChannels: layer.inChannels, kernelSize: layer.kernel,
                      weightsOIHW: weights, bias: bias)
        switch layer.kind {
        case .im2col: banded = nil
        case .winogradF2: banded = WinogradConv3x3(conv)
        case .winogradF4: banded = WinogradF4Conv3x3(conv)
        }
        let inputRows = layer.bandRows < layer.height ? layer.bandRows + 2 : layer.height
        inputCount = inputRows * layer.width * layer.inChannels
        outputCount = layer.bandRows * layer.width * layer.outChannels
        scratchCount = max(banded?.scratchCount ?? conv.scratchCount(bandPixels: layer.bandRows * layer.width), 1)
        input = .allocate(capacity: inputCount)
        output = .allocate(capacity: outputCount)
        scratch = .allocate(capacity: scratchCount)
        // Post-ReLU-like activations in [0, 1).
        for i in 0..<inputCount { input[i] = Float(g.unit()) }
        output.initialize(repeating: 0, count: outputCount)
        scratch.initialize(repeating: 0, count: scratchCount)
    }

    deinit {
        input.deallocate()
        output.deallocate()
        scratch.deallocate()
    }

    /// The whole map, band by band as the model runs it. Banded layers write every band to the
    /// same output rows (the model writes them to a level-2 map; the pooled output of a band is
    /// small and stays in cache either way).
    func run() {
        var y0 = 0
        while y0 < layer.height {
            let band = y0..<min(y0 + layer.bandRows, layer.height)
            let source: MapRows
            if layer.bandRows < layer.height {
                let halo = max(band.lowerBound - 1, 0)..<min(band.upperBound + 1, layer.height)
                source = MapRows(base: input, firstRow: halo.lowerBound, validRows: halo)
            } else {
                source = MapRows(base: input, firstRow: 0, validRows: 0..<layer.height)
            }
            if let banded {
                banded.apply(input: source, width: layer.width, rows: band, output: output, relu: layer.relu,
                             pool: layer.pool, scratch: scratch)
            } else {
                conv.apply(input: source, width: layer.width, rows: band, output: output, relu: layer.relu,
                           scratch: layer.kernel == 1 ? nil : scratch)
            }
            y0 += layer.bandRows
        }
    }
}

/// The network and its input at one image size.
struct ForwardState: Sendable {
    let network: SuperGlueKit.SuperPoint
    let image: [Float]
    let width: Int, height: Int
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock],
        timeUnits: .milliseconds,
        maxDuration: .seconds(3),
        maxIterations: 20
    )

    for (width, height) in [(640, 480), (1024, 768)] {
        Benchmark(
            "forward \(width)x\(height) top-1024",
            configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
                                 maxDuration: .seconds(4), maxIterations: width > 640 ? 8 : 15)
        ) { (benchmark: Benchmark, state: ForwardState) in
            for _ in benchmark.scaledIterations {
                blackHole(try? state.network(image: state.image, width: state.width, height: state.height))
            }
        } setup: {
            let network = try Networks.SuperPoint(weights: RandomWeights.superPoint(seed: 1),
                                                      config: SuperPointConfig(maxKeypoints: 1024))
            let state = ForwardState(network: network, image: syntheticInput(width: width, height: height),
                                     width: width, height: height)
            _ = try state.network(image: state.image, width: width, height: height)  // grow the workspace
            return state
        }
    }

    for layer in layers {
        let mode = layer.kind == .im2col ? (layer.kernel == 1 ? "gemm 1x1" : "im2col") : (layer.kind == .winogradF2 ? "winograd F2" : "winograd F4")
        Benchmark(
            "\(layer.name) \(layer.inChannels)->\(layer.outChannels) \(layer.width)x\(layer.height) \(mode)",
            configuration: .init(metrics: [.wallClock, .cpuTotal, gflops], maxDuration: .seconds(2), maxIterations: 30)
        ) { (benchmark: Benchmark, state: LayerState) in
            for _ in benchmark.scaledIterations {
                let start = ContinuousClock.now
                state.run()
                benchmark.measurement(gflops, gigaflopsPerSecond(state.layer.flops, since: start))
            }
            blackHole(state.output[0])
        } setup: {
            LayerState(layer)
        }
    }
}
