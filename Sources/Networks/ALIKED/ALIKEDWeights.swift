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
        var schema = WeightSchema(kind: .aliked, entries: [], metadata: ["aliked_variant": variant.rawValue])
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
}
