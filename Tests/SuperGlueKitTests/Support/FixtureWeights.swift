// Loads the compact random-weight fixtures written by Tools/reference/fixture_io.py:
// large tensors are stored as int8 NAME plus a float32 power-of-two scalar NAME:scale, so the
// dequantized values are bit-identical to the float32 weights the PyTorch reference ran with.
import Foundation
import Checkpoints

enum FixtureWeights {
    /// Directory Tests/Fixtures, found from this source file's path (no bundle resources needed).
    static let fixturesDirectory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func url(_ relative: String) -> URL { fixturesDirectory.appendingPathComponent(relative) }

    /// A safetensors file whose quantized tensors are expanded back to F32.
    static func load(_ url: URL) throws -> SafeTensorsFile {
        let file = try SafeTensorsFile(contentsOf: url)
        var out = SafeTensorsFile(metadata: file.metadata)
        for (name, tensor) in file.tensors where !name.hasSuffix(":scale") {
            if let scale = file.tensors[name + ":scale"] {
                let s = scale.floatValues()[0]
                out.tensors[name] = RawTensor(shape: tensor.shape, floats: tensor.floatValues().map { $0 * s })
            } else {
                out.tensors[name] = tensor
            }
        }
        return out
    }
}
