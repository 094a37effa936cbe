// The SuperGlue state dict (models/superglue.py of magicleap/SuperGluePretrainedNetwork): tensor
// names and shapes, and the two official files. The loader, the converter and the download
// manifest all read this one description.
import Checkpoints

extension ModelKind {
    public static let superglue = ModelKind(rawValue: "superglue")
}

extension SuperGlue {
    /// Largest GNN layer count accepted from a file's names (the official files have 18).
    public static let maxGNNLayers = 256
    /// Metadata key of converted files recording the layer count.
    public static let gnnLayersMetadataKey = "gnn_layers"

    /// The keypoint encoder MLP (3 -> encoder widths -> dim, BatchNorm after every convolution but
    /// the last), `gnnLayers` attentional layers (query/key/value projections `proj.0-2`, `merge`,
    /// and a 2*dim -> 2*dim -> dim MLP), `final_proj` and the scalar `bin_score`. MLP indices
    /// count the BatchNorm and ReLU modules between convolutions, as nn.Sequential names them.
    public static func weightSchema(gnnLayers: Int, descriptorDim: Int = 256, keypointEncoder: [Int] = [32, 64, 128, 256]) -> WeightSchema {
        var schema = WeightSchema(kind: .superglue, entries: [], metadata: [gnnLayersMetadataKey: String(gnnLayers)])
        func mlp(_ prefix: String, _ channels: [Int]) {
            for i in 1..<channels.count {
                schema.addConvolution("\(prefix).\(3 * (i - 1))", input: channels[i - 1], output: channels[i], kernel: [1])
                if i < channels.count - 1 { schema.addBatchNorm("\(prefix).\(3 * (i - 1) + 1)", channels: channels[i]) }
            }
        }
        let d = descriptorDim
        mlp("kenc.encoder", [3] + keypointEncoder + [d])
        for layer in 0..<gnnLayers {
            let prefix = "gnn.layers.\(layer)"
            for p in 0..<3 { schema.addConvolution("\(prefix).attn.proj.\(p)", input: d, output: d, kernel: [1]) }
            schema.addConvolution("\(prefix).attn.merge", input: d, output: d, kernel: [1])
            mlp("\(prefix).mlp", [2 * d, 2 * d, d])
        }
        schema.addConvolution("final_proj", input: d, output: d, kernel: [1])
        schema.entries.append(WeightSchema.Entry(name: "bin_score", shape: []))
        return schema
    }

    /// The schema a file's names imply: the layer count is the highest `gnn.layers.N` plus one.
    public static func weightSchema(forTensorsNamed names: [String]) throws -> WeightSchema {
        guard let highest = try WeightSchema.highestIndex(in: names, prefix: "gnn.layers.", limit: maxGNNLayers) else {
            throw WeightError.missing(name: "gnn.layers.0.attn.merge.weight", expected: [256, 256, 1])
        }
        return weightSchema(gnnLayers: highest + 1)
    }

    /// `superglue_indoor.pth` (ScanNet) and `superglue_outdoor.pth` (MegaDepth) of
    /// magicleap/SuperGluePretrainedNetwork (non-commercial licence).
    public static let officialFiles = [
        OfficialWeights.File(name: "superglue_indoor.pth", gitBlobID: "2b54532f1b7321505cac79ee3a2863ef2ab2d163", model: .superglue),
        OfficialWeights.File(name: "superglue_outdoor.pth", gitBlobID: "5ca3392bd5349790d7bc1c246961fc041b88c1e8", model: .superglue),
    ]

    /// SuperGlue in the ``ModelCatalog``.
    public static let modelDescription = ModelDescription(
        kind: .superglue, summary: "SuperGlue (kenc.encoder.0.weight ...)", files: officialFiles,
        recognizes: { $0.hasPrefix("kenc.") || $0.hasPrefix("gnn.") || $0.hasPrefix("final_proj.") || $0 == "bin_score" },
        schema: { try weightSchema(forTensorsNamed: $0.keys.sorted()) })
}

extension SuperGlue {
    /// The official file of one weight set.
    public static func officialFile(_ weights: SuperGlueConfig.Weights) -> OfficialWeights.File {
        officialFiles[weights == .indoor ? 0 : 1]
    }
}
