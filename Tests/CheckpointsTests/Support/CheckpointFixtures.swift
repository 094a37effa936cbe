// Locates Tests/Fixtures/checkpoints (written by Tools/reference/make_checkpoint_fixtures.py) and
// decodes its expected-tensor files back into what torch.load returned.
import Foundation
import Testing
@testable import Checkpoints
import Networks

enum CheckpointFixtures {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/checkpoints")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(name))) }

    /// torch dtype names (as the generator records them) to safetensors dtypes.
    static let torchDTypes: [String: DType] = [
        "float32": .f32, "float16": .f16, "bfloat16": .bf16, "float64": .f64, "int64": .i64, "int32": .i32,
    ]

    /// The expected tensors with their torch dtypes restored: int8 + ':scale' pairs become the
    /// float32 values q * scale, and bfloat16 bit patterns stored as I16 become BF16 again.
    static func expected(_ name: String) throws -> [String: RawTensor] {
        let file = try SafeTensorsFile(contentsOf: url(name))
        var out: [String: RawTensor] = [:]
        for (tensorName, tensor) in file.tensors where !tensorName.hasSuffix(":scale") {
            guard let dtypeName = file.metadata["dtype." + tensorName], let dtype = torchDTypes[dtypeName],
                  let shapeText = file.metadata["shape." + tensorName],
                  let shape = try JSONSerialization.jsonObject(with: Data(shapeText.utf8)) as? [Int]
            else { throw SafeTensorsError("\(name): no dtype or shape recorded for \(tensorName)") }
            // The recorded torch shape wins: the numpy writer stores 0-d tensors with shape [1].
            #expect(shape.reduce(1, *) == tensor.count, "\(tensorName)")
            if let scale = file.tensors[tensorName + ":scale"]?.floatValues().first {
                out[tensorName] = RawTensor(shape: shape, floats: tensor.floatValues().map { $0 * scale })
            } else {
                out[tensorName] = RawTensor(dtype: dtype, shape: shape, bytes: tensor.bytes)
            }
            #expect(out[tensorName]?.dtype == dtype, "\(tensorName)")
        }
        // A tensor equal to an earlier one (tied weights) is stored once: 'same_as.NAME' names it.
        for (key, original) in file.metadata where key.hasPrefix("same_as.") {
            let tensorName = String(key.dropFirst("same_as.".count))
            guard let tensor = out[original], file.metadata["shape." + tensorName] == file.metadata["shape." + original],
                  file.metadata["dtype." + tensorName] == file.metadata["dtype." + original]
            else { throw SafeTensorsError("\(name): \(tensorName) is recorded as the same as \(original), which is missing or differs") }
            out[tensorName] = tensor
        }
        return out
    }
}
