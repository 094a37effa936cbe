// Small synthetic SuperGlue checkpoints and a plain double-precision evaluation of the reference
// network written directly from models/superglue.py's semantics (no folding, no head reordering),
// used to check the load-time rewrites of SuperGlue.swift on networks small enough to evaluate
// naively.
import Foundation
import Checkpoints
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

/// Deterministic pseudo-random numbers (64-bit LCG), uniform in [-1, 1).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1 }
    mutating func next() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) / Double(1 << 52) - 1
    }
    mutating func values(_ count: Int, scale: Double = 1, offset: Double = 0) -> [Float] {
        (0..<count).map { _ in Float(next() * scale + offset) }
    }
}

/// A random checkpoint with the reference's state_dict names for a small configuration.
struct SyntheticSuperGlue {
    let dim: Int
    let encoder: [Int]
    let layers: Int
    var tensors: [String: RawTensor] = [:]

    init(dim: Int = 8, encoder: [Int] = [4, 6], layers: Int = 2, seed: UInt64 = 1) {
        self.dim = dim
        self.encoder = encoder
        self.layers = layers
        var random = TestRandom(seed: seed)
        func conv(_ name: String, _ inputs: Int, _ outputs: Int, gain: Double = 1) {
            tensors[name + ".weight"] = RawTensor(shape: [outputs, inputs, 1], floats: random.values(outputs * inputs, scale: gain * 1.7 / Double(inputs).squareRoot()))
            tensors[name + ".bias"] = RawTensor(shape: [outputs], floats: random.values(outputs, scale: 0.2))
        }
        func batchNorm(_ name: String, _ channels: Int) {
            tensors[name + ".weight"] = RawTensor(shape: [channels], floats: random.values(channels, scale: 0.4, offset: 1))
            tensors[name + ".bias"] = RawTensor(shape: [channels], floats: random.values(channels, scale: 0.3))
            tensors[name + ".running_mean"] = RawTensor(shape: [channels], floats: random.values(channels, scale: 0.3))
            tensors[name + ".running_var"] = RawTensor(shape: [channels], floats: random.values(channels, scale: 0.5, offset: 1))
            tensors[name + ".num_batches_tracked"] = RawTensor(dtype: .i64, shape: [], bytes: withUnsafeBytes(of: Int64(1234).littleEndian) { Array($0) })
        }
        let widths = [3] + encoder + [dim]
        for layer in 0..<(widths.count - 1) {
            conv("kenc.encoder.\(3 * layer)", widths[layer], widths[layer + 1], gain: 2)
            if layer < widths.count - 2 { batchNorm("kenc.encoder.\(3 * layer + 1)", widths[layer + 1]) }
        }
        for layer in 0..<layers {
            let p = "gnn.layers.\(layer)"
            for k in 0..<3 { conv("\(p).attn.proj.\(k)", dim, dim, gain: 3) }
            conv("\(p).attn.merge", dim, dim)
            conv("\(p).mlp.0", 2 * dim, 2 * dim)
            batchNorm("\(p).mlp.1", 2 * dim)
            conv("\(p).mlp.3", 2 * dim, dim)
        }
        conv("final_proj", dim, dim, gain: 1)
        tensors["bin_score"] = RawTensor(shape: [], floats: [0.8])
    }

    var config: SuperGlueConfig { SuperGlueConfig(descriptorDim: dim, keypointEncoder: encoder, sinkhornIterations: 30) }

    var file: SafeTensorsFile { SafeTensorsFile(tensors: tensors) }

    func floats(_ name: String) -> [Double] { (tensors[name]?.floatValues() ?? []).map(Double.init) }

    /// Random features with unit descriptors in a `width x height` image.
    static func features(count: Int, dim: Int, seed: UInt64, width: Int = 64, height: Int = 48) -> Features {
        var random = TestRandom(seed: seed)
        var descriptors: [Float] = []
        for _ in 0..<count {
            let row = random.values(dim)
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            descriptors += row.map { $0 / norm }
        }
        var keypoints: [Float] = []
        var scores: [Float] = []
        for _ in 0..<count {
            let x: Double = (random.next() + 1) / 2 * Double(width - 1)
            let y: Double = (random.next() + 1) / 2 * Double(height - 1)
            keypoints.append(Float(x.rounded()))
            keypoints.append(Float(y.rounded()))
        }
        for _ in 0..<count { scores.append(Float((random.next() + 1) / 2)) }
        return Features(keypoints: keypoints, scores: scores, descriptors: descriptors, descriptorDim: dim,
                        imageWidth: width, imageHeight: height)
    }

    // MARK: Direct evaluation, channels-first as in the reference ([C][N] arrays).

    private func conv(_ name: String, _ x: [[Double]]) -> [[Double]] {
        let w = floats(name + ".weight"), b = floats(name + ".bias")
        let inputs = x.count, outputs = b.count, n = x.first?.count ?? 0
        var y = [[Double]](repeating: [Double](repeating: 0, count: n), count: outputs)
        for o in 0..<outputs {
            for t in 0..<n {
                var sum: Double = b[o]
                for i in 0..<inputs { sum += w[o * inputs + i] * x[i][t] }
                y[o][t] = sum
            }
        }
        return y
    }

    private func batchNormReLU(_ name: String, _ x: [[Double]]) -> [[Double]] {
        let g = floats(name + ".weight"), b = floats(name + ".bias")
        let mean = floats(name + ".running_mean"), variance = floats(name + ".running_var")
        return x.indices.map { c in x[c].map { max(0, (($0 - mean[c]) / (variance[c] + 1e-5).squareRoot()) * g[c] + b[c]) } }
    }

    private func attention(_ p: String, _ x: [[Double]], _ source: [[Double]]) -> [[Double]] {
        let q = conv(p + ".proj.0", x), k = conv(p + ".proj.1", source), v = conv(p + ".proj.2", source)
        let heads = 4, headDim = dim / heads, n = x[0].count, m = source[0].count
        var message = [[Double]](repeating: [Double](repeating: 0, count: n), count: dim)
        for h in 0..<heads {
            // view(batch, headDim, heads, n): head h holds channels d * heads + h.
            let channels = (0..<headDim).map { $0 * heads + h }
            for i in 0..<n {
                let logits = (0..<m).map { j in channels.reduce(0.0) { $0 + q[$1][i] * k[$1][j] } / Double(headDim).squareRoot() }
                let top = logits.max() ?? 0
                let weights = logits.map { Foundation.exp($0 - top) }
                let total = weights.reduce(0, +)
                for c in channels { message[c][i] = (0..<m).reduce(0.0) { $0 + weights[$1] / total * v[c][$1] } }
            }
        }
        return conv(p + ".merge", message)
    }

    /// Log assignment matrix of the reference network, in double precision, rows = image 0.
    func referenceLogAssignment(_ f0: Features, _ f1: Features, iterations: Int) -> [[Double]] {
        func encode(_ f: Features) -> [[Double]] {
            let w = Double(f.imageWidth), h = Double(f.imageHeight), s = max(w, h) * 0.7
            var x: [[Double]] = [(0..<f.count).map { (Double(f.keypoints[2 * $0]) - w / 2) / s },
                                 (0..<f.count).map { (Double(f.keypoints[2 * $0 + 1]) - h / 2) / s },
                                 f.scores.map(Double.init)]
            let widths = [3] + encoder + [dim]
            for layer in 0..<(widths.count - 1) {
                x = conv("kenc.encoder.\(3 * layer)", x)
                if layer < widths.count - 2 { x = batchNormReLU("kenc.encoder.\(3 * layer + 1)", x) }
            }
            return (0..<dim).map { c in (0..<f.count).map { Double(f.descriptors[$0 * dim + c]) + x[c][$0] } }
        }
        var d0 = encode(f0), d1 = encode(f1)
        for layer in 0..<layers {
            let p = "gnn.layers.\(layer)"
            let (s0, s1) = layer % 2 == 1 ? (d1, d0) : (d0, d1)
            func delta(_ x: [[Double]], _ s: [[Double]]) -> [[Double]] {
                let hidden = batchNormReLU(p + ".mlp.1", conv(p + ".mlp.0", x + attention(p + ".attn", x, s)))
                return conv(p + ".mlp.3", hidden)
            }
            let e0 = delta(d0, s0), e1 = delta(d1, s1)
            d0 = zip(d0, e0).map { zip($0, $1).map(+) }
            d1 = zip(d1, e1).map { zip($0, $1).map(+) }
        }
        let m0 = conv("final_proj", d0), m1 = conv("final_proj", d1)
        let m = f0.count, n = f1.count, bin = floats("bin_score")[0]
        var z = (0..<m).map { i in (0..<n).map { j in (0..<dim).reduce(0.0) { $0 + m0[$1][i] * m1[$1][j] } / Double(dim).squareRoot() } + [bin] }
        z.append([Double](repeating: bin, count: n + 1))
        let norm = -Foundation.log(Double(m + n))
        let logMu = [Double](repeating: norm, count: m) + [Foundation.log(Double(n)) + norm]
        let logNu = [Double](repeating: norm, count: n) + [Foundation.log(Double(m)) + norm]
        var u = [Double](repeating: 0, count: m + 1), v = [Double](repeating: 0, count: n + 1)
        func lse(_ values: [Double]) -> Double { let top = values.max() ?? 0; return top + Foundation.log(values.reduce(0) { $0 + Foundation.exp($1 - top) }) }
        for _ in 0..<iterations {
            for i in 0...m { u[i] = logMu[i] - lse((0...n).map { z[i][$0] + v[$0] }) }
            for j in 0...n { v[j] = logNu[j] - lse((0...m).map { z[$0][j] + u[$0] }) }
        }
        return (0...m).map { i in (0...n).map { j in z[i][j] + u[i] + v[j] - norm } }
    }
}
