// PyTorch checkpoint -> validated Float32 safetensors, the form the inference engine loads.
import Foundation

/// Converts PyTorch checkpoints of the networks in a ``ModelCatalog`` into safetensors files.
public enum WeightConversion {
    /// Metadata keys written into converted files.
    public enum MetadataKey {
        public static let model = "model"
        public static let sourceFile = "source_file"
        /// `git hash-object` id of the source checkpoint, tying the weights to their origin.
        public static let sourceGitBlobID = "source_git_blob_id"
        public static let sourceFormat = "source_format"
    }

    /// The Float32 safetensors contents for a checkpoint held in memory.
    ///
    /// The model is detected from the tensor names unless `model` is given; every tensor is
    /// validated against the model's schema (first missing, unexpected or wrongly shaped tensor
    /// reported), BatchNorm `num_batches_tracked` counters are dropped, floats are widened to
    /// Float32 exactly (F16, BF16) and NaN or infinity is refused.
    /// - Parameter name: the source file name, used in messages and recorded in the metadata.
    public static func convert(checkpointBytes bytes: [UInt8], name: String, model: ModelKind? = nil, catalog: ModelCatalog) throws -> SafeTensorsFile {
        let checkpoint = try TorchCheckpoint(bytes: bytes, name: name)
        do {
            let shapes = checkpoint.tensors.mapValues(\.shape)
            let schema = try catalog.schema(forTensors: shapes, kind: model ?? catalog.detect(names: checkpoint.names))
            try schema.validate(shapes: shapes, order: checkpoint.names)
            var file = SafeTensorsFile()
            for entry in schema.entries where !entry.optional {
                guard let tensor = checkpoint.tensors[entry.name] else { continue }  // validate() guarantees presence
                guard [.f32, .f16, .bf16, .f64].contains(tensor.dtype) else {
                    throw WeightError.invalid("tensor '\(entry.name)' has integer type \(tensor.dtype.rawValue); expected floating point")
                }
                let values = tensor.floatValues()
                if values.contains(where: { !$0.isFinite }) { throw WeightError.nonFinite(name: entry.name) }
                file.tensors[entry.name] = RawTensor(shape: tensor.shape, floats: values)
            }
            file.metadata = schema.metadata.merging([
                MetadataKey.model: schema.kind.rawValue,
                MetadataKey.sourceFile: name,
                MetadataKey.sourceGitBlobID: GitBlobID.of(bytes),
                MetadataKey.sourceFormat: checkpoint.format.rawValue,
            ]) { _, fixed in fixed }
            return file
        } catch let error as WeightError {
            throw CheckpointError("\(name): \(error.description)")
        }
    }

    /// Converts the checkpoint at `input` and writes the safetensors file to `output` atomically.
    @discardableResult
    public static func convertFile(at input: URL, to output: URL, model: ModelKind? = nil, catalog: ModelCatalog) throws -> SafeTensorsFile {
        let data = try TorchCheckpoint.readFile(input)
        let file = try convert(checkpointBytes: [UInt8](data), name: input.lastPathComponent, model: model, catalog: catalog)
        do { try file.write(to: output) } catch {
            throw CheckpointError("\(output.path): cannot write file (\(error.localizedDescription))")
        }
        return file
    }

    /// Loads model weights from either a converted safetensors file or a PyTorch checkpoint
    /// (converted in memory, nothing written), telling them apart by content, then validates
    /// them against the model's schema.
    public static func loadWeights(at url: URL, model: ModelKind? = nil, catalog: ModelCatalog) throws -> SafeTensorsFile {
        let data = try TorchCheckpoint.readFile(url)
        // safetensors starts with a u64 header length whose JSON header opens with '{'.
        if data.count > 8, data[data.startIndex + 8] == UInt8(ascii: "{") {
            let file = try SafeTensorsFile(data: data, name: url.lastPathComponent)
            do {
                let kind = try model ?? file.metadata[MetadataKey.model].map(ModelKind.init(rawValue:)) ?? catalog.detect(names: file.tensors.keys)
                try catalog.schema(forTensors: file.tensors.mapValues(\.shape), kind: kind).validate(file)
            } catch let error as WeightError {
                throw CheckpointError("\(url.lastPathComponent): \(error.description)")
            }
            return file
        }
        return try convert(checkpointBytes: [UInt8](data), name: url.lastPathComponent, model: model, catalog: catalog)
    }
}
