// Deterministic random weights and features in the official layouts, for benchmarks and tests:
// run time depends only on the shapes, so timing the networks needs no weight files. The values
// are not trained weights and the networks' outputs with them mean nothing.
import Checkpoints
import Networks

/// Seeded random weight files with the official tensor names and shapes.
///
/// For benchmarks and tests only: the values follow PyTorch's default initialisation
/// (uniform in `±1/sqrt(fan_in)` for convolutions and their biases), BatchNorm statistics are the
/// identity (mean 0, variance 1) and `bin_score` is 1. They are not meaningful weights.
public enum RandomWeights {
    /// SuperPoint weights (`conv1a.weight` ... `convDb.bias`), loadable with ``SuperPoint/init(weights:config:)``.
    public static func superPoint(descriptorDim: Int = 256, seed: UInt64) -> SafeTensorsFile {
        file(for: SuperPoint.weightSchema(descriptorDim: descriptorDim), seed: seed)
    }

    /// SuperGlue weights with `layers` GNN layers (the published files have 18), loadable with
    /// ``SuperGlue/init(weights:config:)`` for either ``SuperGlueConfig/Weights`` value.
    public static func superGlue(layers: Int = 18, seed: UInt64) -> SafeTensorsFile {
        file(for: SuperGlue.weightSchema(gnnLayers: layers), seed: seed)
    }

    /// Every non-optional tensor of `schema`, drawn from one generator in schema order.
    public static func file(for schema: WeightSchema, seed: UInt64) -> SafeTensorsFile {
        var g = SplitMix64(seed: seed)
        var file = SafeTensorsFile(metadata: ["model": schema.kind.rawValue, "source_file": "random"])
        let shapes = Dictionary(schema.entries.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
        for entry in schema.entries where !entry.optional {
            let count = entry.shape.reduce(1, *)
            let name = entry.name
            var values: [Float]
            if name.hasSuffix("running_var") {
                values = [Float](repeating: 1, count: count)
            } else if name.hasSuffix("running_mean") {
                values = [Float](repeating: 0, count: count)
            } else if name == "bin_score" {
                values = [1]
            } else {
                // Bias bound from its layer's weight fan-in; BatchNorm affine parameters random too.
                let weightShape = name.hasSuffix(".bias") ? shapes[String(name.dropLast(5)) + ".weight"] ?? entry.shape : entry.shape
                let fanIn = max(weightShape.dropFirst().reduce(1, *), 1)
                let bound = 1 / Double(fanIn).squareRoot()
                values = (0..<count).map { _ in Float((2 * g.unit() - 1) * bound) }
            }
            file.tensors[name] = RawTensor(shape: entry.shape, floats: values)
        }
        return file
    }
}

extension Features {
    /// `count` seeded random features on a `width x height` image: keypoints uniform over the
    /// image, scores uniform in [0, 1), unit-length descriptors. For benchmarks and tests.
    public static func random(count: Int, descriptorDim: Int = 256, imageWidth: Int, imageHeight: Int, seed: UInt64) -> Features {
        var g = SplitMix64(seed: seed)
        var keypoints: [Float] = [], scores: [Float] = [], descriptors: [Float] = []
        keypoints.reserveCapacity(2 * max(count, 0))
        scores.reserveCapacity(max(count, 0))
        descriptors.reserveCapacity(max(count, 0) * descriptorDim)
        for _ in 0..<max(count, 0) {
            keypoints += [Float(g.unit()) * Float(imageWidth - 1), Float(g.unit()) * Float(imageHeight - 1)]
            scores.append(Float(g.unit()))
            let v = (0..<descriptorDim).map { _ in Float(g.unit() - 0.5) }
            let norm = max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-6)
            descriptors += v.map { $0 / norm }
        }
        return Features(keypoints: keypoints, scores: scores, descriptors: descriptors, descriptorDim: descriptorDim,
                        imageWidth: imageWidth, imageHeight: imageHeight)
    }
}
