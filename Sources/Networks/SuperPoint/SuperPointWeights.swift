// The SuperPoint state dict (models/superpoint.py of magicleap/SuperGluePretrainedNetwork):
// tensor names and shapes, and the official file. The loader, the converter and the download
// manifest all read this one description.
import Checkpoints

extension ModelKind {
    public static let superpoint = ModelKind(rawValue: "superpoint")
}

extension SuperPoint {
    /// A VGG-style shared encoder (conv1a ... conv4b, channels 64-64-128-128) and two heads: the
    /// detector (convPa, convPb: 65 = 8x8 cells + dustbin) and the descriptor (convDa, convDb:
    /// `descriptorDim` channels).
    public static func weightSchema(descriptorDim: Int = 256) -> WeightSchema {
        var schema = WeightSchema(kind: .superpoint, entries: [])
        let (c1, c2, c3, c4, c5) = (64, 64, 128, 128, 256)
        for (name, input, output, kernel) in [
            ("conv1a", 1, c1, 3), ("conv1b", c1, c1, 3), ("conv2a", c1, c2, 3), ("conv2b", c2, c2, 3),
            ("conv3a", c2, c3, 3), ("conv3b", c3, c3, 3), ("conv4a", c3, c4, 3), ("conv4b", c4, c4, 3),
            ("convPa", c4, c5, 3), ("convPb", c5, 65, 1), ("convDa", c4, c5, 3), ("convDb", c5, descriptorDim, 1),
        ] {
            schema.addConvolution(name, input: input, output: output, kernel: [kernel, kernel])
        }
        return schema
    }

    /// `superpoint_v1.pth` of magicleap/SuperGluePretrainedNetwork (non-commercial licence).
    public static let officialFile = OfficialWeights.File(
        name: "superpoint_v1.pth", gitBlobID: "107a444ca318d487390137d619d49f2f0a3b1ad8", model: .superpoint)

    /// SuperPoint in the ``ModelCatalog``.
    public static let modelDescription = ModelDescription(
        kind: .superpoint, summary: "SuperPoint (conv1a.weight ...)", files: [officialFile],
        recognizes: { $0.hasPrefix("conv1a.") || $0.hasPrefix("convPa.") || $0.hasPrefix("convDa.") },
        schema: { _ in weightSchema() })
}
