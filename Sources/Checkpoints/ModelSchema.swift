// The tensor names and shapes the SuperPoint and SuperGlue state dicts have, derived from the
// architectures described in the papers (DeTone et al. 2018, Sarlin et al. 2020) and the layout
// of the official weight files. Validation against a schema happens before any weight is used,
// so a wrong or damaged file fails with the first offending tensor named.
import Foundation

/// Which network a weight file holds.
public enum ModelKind: String, Sendable, CaseIterable, Codable {
    case superpoint
    case superglue

    /// Detects the model from tensor names (`conv1a.weight` for SuperPoint; `kenc.`, `gnn.`,
    /// `final_proj.` or `bin_score` for SuperGlue).
    public static func detect<S: Sequence>(names: S) throws -> ModelKind where S.Element == String {
        var superpoint = false, superglue = false
        for name in names {
            if name.hasPrefix("conv1a.") || name.hasPrefix("convPa.") || name.hasPrefix("convDa.") { superpoint = true }
            if name.hasPrefix("kenc.") || name.hasPrefix("gnn.") || name.hasPrefix("final_proj.") || name == "bin_score" { superglue = true }
        }
        switch (superpoint, superglue) {
        case (true, false): return .superpoint
        case (false, true): return .superglue
        case (true, true): throw WeightError.invalid("tensor names mix SuperPoint and SuperGlue layers; pass the model kind explicitly")
        case (false, false): throw WeightError.invalid("tensor names match neither SuperPoint (conv1a.weight ...) nor SuperGlue (kenc.encoder.0.weight ...)")
        }
    }
}

/// The expected tensors of one model: names, shapes, and which ones may be absent.
public struct WeightSchema: Sendable, Equatable {
    /// One expected tensor.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        /// BatchNorm `num_batches_tracked` counters: written by torch >= 0.4.1, absent from older
        /// files and from converted safetensors; never used for inference.
        public var optional: Bool

        public init(name: String, shape: [Int], optional: Bool = false) {
            self.name = name
            self.shape = shape
            self.optional = optional
        }
    }

    public let kind: ModelKind
    public let entries: [Entry]
    /// SuperGlue's number of attentional GNN layers (nil for SuperPoint).
    public let gnnLayers: Int?

    /// Largest GNN layer count accepted from a file's names (the official files have 18).
    public static let maxGNNLayers = 256

    /// SuperPoint: a VGG-style shared encoder (conv1a ... conv4b, channels 64-64-128-128) and two
    /// heads, the detector (convPa, convPb: 65 = 8x8 cells + dustbin) and the descriptor
    /// (convDa, convDb: `descriptorDim` channels).
    public static func superPoint(descriptorDim: Int = 256) -> WeightSchema {
        var entries: [Entry] = []
        func conv(_ name: String, _ input: Int, _ output: Int, kernel: Int) {
            entries.append(Entry(name: name + ".weight", shape: [output, input, kernel, kernel]))
            entries.append(Entry(name: name + ".bias", shape: [output]))
        }
        let (c1, c2, c3, c4, c5) = (64, 64, 128, 128, 256)
        conv("conv1a", 1, c1, kernel: 3); conv("conv1b", c1, c1, kernel: 3)
        conv("conv2a", c1, c2, kernel: 3); conv("conv2b", c2, c2, kernel: 3)
        conv("conv3a", c2, c3, kernel: 3); conv("conv3b", c3, c3, kernel: 3)
        conv("conv4a", c3, c4, kernel: 3); conv("conv4b", c4, c4, kernel: 3)
        conv("convPa", c4, c5, kernel: 3); conv("convPb", c5, 65, kernel: 1)
        conv("convDa", c4, c5, kernel: 3); conv("convDb", c5, descriptorDim, kernel: 1)
        return WeightSchema(kind: .superpoint, entries: entries, gnnLayers: nil)
    }

    /// SuperGlue: the keypoint encoder MLP (3 -> encoder widths -> dim, BatchNorm after every
    /// convolution but the last), `gnnLayers` attentional layers (query/key/value projections
    /// `proj.0-2`, `merge`, and a 2*dim -> 2*dim -> dim MLP), `final_proj` and the scalar
    /// `bin_score`. MLP indices count the BatchNorm and ReLU modules between convolutions,
    /// as nn.Sequential names them.
    public static func superGlue(gnnLayers: Int, descriptorDim: Int = 256, keypointEncoder: [Int] = [32, 64, 128, 256]) -> WeightSchema {
        var entries: [Entry] = []
        func conv1d(_ name: String, _ input: Int, _ output: Int) {
            entries.append(Entry(name: name + ".weight", shape: [output, input, 1]))
            entries.append(Entry(name: name + ".bias", shape: [output]))
        }
        func batchNorm(_ name: String, _ channels: Int) {
            for leaf in ["weight", "bias", "running_mean", "running_var"] {
                entries.append(Entry(name: "\(name).\(leaf)", shape: [channels]))
            }
            entries.append(Entry(name: name + ".num_batches_tracked", shape: [], optional: true))
        }
        func mlp(_ prefix: String, _ channels: [Int]) {
            var index = 0
            for i in 1..<channels.count {
                conv1d("\(prefix).\(index)", channels[i - 1], channels[i])
                if i < channels.count - 1 {
                    batchNorm("\(prefix).\(index + 1)", channels[i])
                    index += 3  // conv, BatchNorm, ReLU
                } else {
                    index += 1
                }
            }
        }
        let d = descriptorDim
        mlp("kenc.encoder", [3] + keypointEncoder + [d])
        for layer in 0..<gnnLayers {
            let prefix = "gnn.layers.\(layer)"
            for p in 0..<3 { conv1d("\(prefix).attn.proj.\(p)", d, d) }
            conv1d("\(prefix).attn.merge", d, d)
            mlp("\(prefix).mlp", [2 * d, 2 * d, d])
        }
        conv1d("final_proj", d, d)
        entries.append(Entry(name: "bin_score", shape: []))
        return WeightSchema(kind: .superglue, entries: entries, gnnLayers: gnnLayers)
    }

    /// The schema for a file's tensor names: the model kind given or detected, and for SuperGlue
    /// the GNN layer count read from the highest `gnn.layers.N` index.
    public static func forTensors<C: Collection>(named names: C, kind: ModelKind? = nil) throws -> WeightSchema where C.Element == String {
        let resolved = try kind ?? ModelKind.detect(names: names)
        switch resolved {
        case .superpoint:
            return superPoint()
        case .superglue:
            var highest = -1
            for name in names where name.hasPrefix("gnn.layers.") {
                let digits = name.dropFirst("gnn.layers.".count).prefix { $0.isASCII && $0.isNumber }
                guard !digits.isEmpty, digits.count <= 6, let index = Int(digits) else { continue }
                guard index < maxGNNLayers else {
                    throw WeightError.invalid("tensor '\(name.prefix(100))' names GNN layer \(index); at most \(maxGNNLayers) layers are supported")
                }
                highest = max(highest, index)
            }
            guard highest >= 0 else { throw WeightError.missing(name: "gnn.layers.0.attn.merge.weight", expected: [256, 256, 1]) }
            return superGlue(gnnLayers: highest + 1)
        }
    }

    /// Checks every tensor: throws for the first expected tensor missing or wrongly shaped (in
    /// schema order), then for the first tensor the schema does not know (in `order`, else sorted).
    public func validate(shapes: [String: [Int]], order: [String]? = nil) throws {
        var known = Set<String>()
        for entry in entries {
            known.insert(entry.name)
            guard let found = shapes[entry.name] else {
                if entry.optional { continue }
                throw WeightError.missing(name: entry.name, expected: entry.shape)
            }
            guard found == entry.shape else { throw WeightError.wrongShape(name: entry.name, expected: entry.shape, found: found) }
        }
        for name in order ?? shapes.keys.sorted() where !known.contains(name) {
            throw WeightError.unexpected(name: name, shape: shapes[name] ?? [])
        }
    }

    /// Checks the tensors of a safetensors file (see ``validate(shapes:order:)``).
    public func validate(_ file: SafeTensorsFile) throws {
        try validate(shapes: file.tensors.mapValues(\.shape))
    }
}
