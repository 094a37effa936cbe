// SuperGlue: a whole match with 512, 1024 and 2048 keypoints per side at 20 and 100 Sinkhorn
// iterations; the graph network alone (sinkhornIterations 0: keypoint encoder, 18 attentional
// layers, final projection, score matrix); and the Sinkhorn solver alone (logOptimalTransport on a
// random (n+1) x (n+1) coupling matrix), so that match ~ GNN + Sinkhorn + mutual-check.
//
// Weights are RandomWeights (official shapes, 18 layers); features are seeded random keypoints
// on a 640x480 image with unit descriptors. Run time depends only on the counts.
import Benchmark
import BenchmarkSupport
import SuperGlueKit
import SuperGlueKitTestSupport
import Tensors

/// The published models' GNN depth.
let gnnLayers = 18

/// Random weights, generated once per process (on first use).
let weights = RandomWeights.superGlue(layers: gnnLayers, seed: 2)

struct MatchState: Sendable {
    let matcher: SuperGlueKit.SuperGlue
    let features0: Features, features1: Features
}

/// A pristine coupling matrix and the one the solver overwrites.
final class SinkhornState: @unchecked Sendable {
    // @unchecked: used by one benchmark closure at a time.
    let size: Int
    let scores: [Float]
    var couplings: [Float]
    let workspace = SinkhornWorkspace()

    init(size n: Int) {
        size = n
        var g = SplitMix64(seed: UInt64(n))
        // Scores like SuperGlue's (descriptor dot products / sqrt(256)): roughly in [-1, 1].
        var s = [Float](repeating: 0, count: (n + 1) * (n + 1))
        for i in 0..<n {
            for j in 0..<n { s[i * (n + 1) + j] = Float(2 * g.unit() - 1) }
        }
        scores = s
        couplings = s
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal],
        timeUnits: .milliseconds,
        maxDuration: .seconds(3),
        maxIterations: 10
    )
    func features(_ n: Int) -> (Features, Features) {
        (Features.random(count: n, imageWidth: 640, imageHeight: 480, seed: 3),
         Features.random(count: n, imageWidth: 640, imageHeight: 480, seed: 4))
    }
    func iterationLimit(_ n: Int) -> Int { n >= 2048 ? 3 : (n >= 1024 ? 8 : 10) }

    for n in [512, 1024, 2048] {
        for iterations in [20, 100] {
            Benchmark("match \(n)x\(n) \(iterations) iterations",
                      configuration: .init(maxIterations: iterationLimit(n))) { (benchmark: Benchmark, state: MatchState) in
                for _ in benchmark.scaledIterations {
                    blackHole(try? state.matcher.match(state.features0, state.features1))
                }
            } setup: {
                let matcher = try Networks.SuperGlue(weights: weights, config: SuperGlueConfig(weights: .indoor, sinkhornIterations: iterations))
                let (f0, f1) = features(n)
                return MatchState(matcher: matcher, features0: f0, features1: f1)
            }
        }
    }

    for n in [512, 1024, 2048] {
        Benchmark("gnn \(n)x\(n) (0 iterations)", configuration: .init(maxIterations: iterationLimit(n))) { (benchmark: Benchmark, state: MatchState) in
            for _ in benchmark.scaledIterations {
                blackHole(try? state.matcher.match(state.features0, state.features1))
            }
        } setup: {
            let matcher = try Networks.SuperGlue(weights: weights, config: SuperGlueConfig(weights: .indoor, sinkhornIterations: 0))
            let (f0, f1) = features(n)
            return MatchState(matcher: matcher, features0: f0, features1: f1)
        }
    }

    for n in [1024, 2048] {
        for iterations in [20, 100] {
            Benchmark("sinkhorn \(n + 1)x\(n + 1) \(iterations) iterations",
                      configuration: .init(maxIterations: 20)) { (benchmark: Benchmark, state: SinkhornState) in
                // The solver works in place: restore the scores, then (re)start the clock. One
                // solve per sample (scaling factor 1), so nothing else lands in the measurement.
                for _ in benchmark.scaledIterations {
                    state.couplings.withUnsafeMutableBufferPointer { c in
                        state.scores.withUnsafeBufferPointer { s in
                            guard let destination = c.baseAddress, let source = s.baseAddress else { return }
                            destination.update(from: source, count: s.count)
                        }
                    }
                    benchmark.startMeasurement()
                    state.couplings.withUnsafeMutableBufferPointer { c in
                        guard let base = c.baseAddress else { return }
                        logOptimalTransport(couplings: base, rows: state.size, columns: state.size, binScore: 1,
                                            iterations: iterations, workspace: state.workspace)
                    }
                }
                blackHole(state.couplings[0])
            } setup: {
                SinkhornState(size: n)
            }
        }
    }
}
