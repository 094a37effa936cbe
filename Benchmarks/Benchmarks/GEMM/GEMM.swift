// OpenBLAS sgemm at the GEMM shapes of SuperPoint's convolutions (im2col form, 640x480 input):
// M output channels, K = input channels x 9 (3x3) or input channels (1x1), N = pixels.
// Reports achieved GFLOP/s per shape, the ceiling any convolution built on this GEMM can reach.
import Benchmark
import BenchmarkSupport
import Tensors

struct GEMMShape {
    let name: String
    let m: Int, n: Int, k: Int
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
}

let shapes: [GEMMShape] = [
    GEMMShape(name: "conv1b 64x576x307200", m: 64, n: 307_200, k: 576),
    GEMMShape(name: "conv2a 64x576x76800", m: 64, n: 76_800, k: 576),
    GEMMShape(name: "conv3b 128x1152x19200", m: 128, n: 19_200, k: 1152),
    GEMMShape(name: "conv4b 128x1152x4800", m: 128, n: 4800, k: 1152),
    GEMMShape(name: "convPa 256x1152x4800", m: 256, n: 4800, k: 1152),
    GEMMShape(name: "convDb 256x256x4800", m: 256, n: 4800, k: 256),
    GEMMShape(name: "attention 1024x1024x64", m: 1024, n: 1024, k: 64),
    GEMMShape(name: "gnn mlp 512x2048x512", m: 512, n: 2048, k: 512),
]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, gflops],
        timeUnits: .milliseconds,
        maxDuration: .seconds(3),
        maxIterations: 30
    )
    // `sgemm`: single-thread OpenBLAS. `parallelSgemm`: as the engine runs it, C's rows split
    // over the workers, each part one single-threaded OpenBLAS call.
    typealias GEMMCall = @Sendable (GEMMShape, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    let variants: [(String, GEMMCall)] = [
        ("sgemm", { s, a, b, c in sgemm(m: s.m, n: s.n, k: s.k, a: a, lda: s.k, b: b, ldb: s.n, c: c, ldc: s.n) }),
        ("parallelSgemm", { s, a, b, c in parallelSgemm(m: s.m, n: s.n, k: s.k, a: a, lda: s.k, b: b, ldb: s.n, c: c, ldc: s.n) }),
    ]
    for shape in shapes {
        for (label, call) in variants {
            Benchmark("\(label) \(shape.name)") { benchmark in
                let a = [Float](repeating: 0.01, count: shape.m * shape.k)
                let b = [Float](repeating: 0.02, count: shape.k * shape.n)
                var c = [Float](repeating: 0, count: shape.m * shape.n)
                for _ in benchmark.scaledIterations {
                    let start = ContinuousClock.now
                    a.withUnsafeBufferPointer { ap in
                        b.withUnsafeBufferPointer { bp in
                            c.withUnsafeMutableBufferPointer { cp in
                                guard let aBase = ap.baseAddress, let bBase = bp.baseAddress, let cBase = cp.baseAddress else { return }
                                call(shape, aBase, bBase, cBase)
                            }
                        }
                    }
                    benchmark.measurement(gflops, gigaflopsPerSecond(shape.flops, since: start))
                }
                blackHole(c)
            }
        }
    }
}
