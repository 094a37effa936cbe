import Foundation
import Testing
@testable import Checkpoints
import Networks

/// Schemas against the names/shapes the reference models produce (via the fixtures), and the
/// checkpoint -> safetensors conversion, bit-exact.
@Suite struct SchemaTests {
    static func shapes(_ expected: [String: RawTensor]) -> [String: [Int]] { expected.mapValues(\.shape) }

    static func schemaShapes(_ schema: WeightSchema) -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: schema.entries.map { ($0.name, $0.shape) })
    }

    @Test func superPointMatchesReferenceModel() throws {
        let reference = Self.shapes(try CheckpointFixtures.expected("superpoint_expected.safetensors"))
        #expect(Self.schemaShapes(SuperPoint.weightSchema()) == reference)
    }

    @Test func superGlueMatchesReferenceModel() throws {
        // The fixture model has one GNN layer (and BatchNorm num_batches_tracked buffers).
        let reference = Self.shapes(try CheckpointFixtures.expected("superglue_expected.safetensors"))
        #expect(Self.schemaShapes(SuperGlue.weightSchema(gnnLayers: 1)) == reference)
        #expect(SuperGlue.weightSchema(gnnLayers: 1).entries.filter(\.optional).allSatisfy { $0.name.hasSuffix(".num_batches_tracked") })
    }

    /// Layer count read from the names: the fixture's layer 0 copied to layers 1..17 gives the
    /// official 18-layer layout.
    @Test func superGlueLayerCountIsReadFromNames() throws {
        let oneLayer = Self.shapes(try CheckpointFixtures.expected("superglue_expected.safetensors"))
        var eighteen = oneLayer
        for (name, shape) in oneLayer where name.hasPrefix("gnn.layers.0.") {
            for layer in 1..<18 { eighteen["gnn.layers.\(layer)." + name.dropFirst("gnn.layers.0.".count)] = shape }
        }
        let schema = try ModelCatalog.standard.schema(forTensors: eighteen)
        #expect(schema.kind == .superglue)
        #expect(schema.metadata[SuperGlue.gnnLayersMetadataKey] == "18")
        try schema.validate(shapes: eighteen)

        // A gap in the layers is a missing tensor of the first absent layer.
        let gap = eighteen.filter { !$0.key.hasPrefix("gnn.layers.7.") }
        #expect(throws: WeightError.missing(name: "gnn.layers.7.attn.proj.0.weight", expected: [256, 256, 1])) {
            try ModelCatalog.standard.schema(forTensors: gap).validate(shapes: gap)
        }
        #expect(throws: WeightError.self) { try ModelCatalog.standard.schema(forTensors: ["gnn.layers.999999.attn.merge.weight": [256, 256, 1]]) }
    }

    @Test func validationNamesTheFirstProblem() throws {
        let schema = SuperPoint.weightSchema()
        var shapes = Self.schemaShapes(schema)
        try schema.validate(shapes: shapes)

        var missing = shapes
        missing["conv3a.bias"] = nil
        #expect(throws: WeightError.missing(name: "conv3a.bias", expected: [128])) { try schema.validate(shapes: missing) }

        var wrong = shapes
        wrong["convPb.weight"] = [64, 256, 1, 1]
        let error = #expect(throws: WeightError.self) { try schema.validate(shapes: wrong) }
        #expect(error == .wrongShape(name: "convPb.weight", expected: [65, 256, 1, 1], found: [64, 256, 1, 1]))
        #expect(error?.description == "tensor 'convPb.weight' has shape [64, 256, 1, 1], expected [65, 256, 1, 1]")

        shapes["extra.weight"] = [3]
        #expect(throws: WeightError.unexpected(name: "extra.weight", shape: [3])) { try schema.validate(shapes: shapes) }
    }

    @Test func modelDetection() throws {
        #expect(try ModelCatalog.standard.detect(names: ["conv1a.weight", "conv1a.bias"]) == .superpoint)
        #expect(try ModelCatalog.standard.detect(names: ["kenc.encoder.0.weight"]) == .superglue)
        #expect(try ModelCatalog.standard.detect(names: ["bin_score"]) == .superglue)
        #expect(throws: WeightError.self) { try ModelCatalog.standard.detect(names: ["fc.weight"]) }
        #expect(throws: WeightError.self) { try ModelCatalog.standard.detect(names: ["conv1a.weight", "bin_score"]) }
    }
}

@Suite struct ConversionTests {
    static let cases: [(file: String, expected: String, model: ModelKind, format: String)] = [
        ("superpoint_legacy.pth", "superpoint_expected.safetensors", .superpoint, "legacy"),
        ("superpoint_zip.pth", "superpoint_expected.safetensors", .superpoint, "zip"),
        ("superglue_legacy.pth", "superglue_expected.safetensors", .superglue, "legacy"),
        ("superglue_zip.pth", "superglue_expected.safetensors", .superglue, "zip"),
    ]

    /// The written safetensors holds exactly torch.load's float tensors as F32, without
    /// num_batches_tracked, and records where it came from.
    @Test(arguments: cases.indices)
    func convertsBitExact(index: Int) throws {
        let (name, expectedName, model, format) = Self.cases[index]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conversion-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out.safetensors")
        try WeightConversion.convertFile(at: CheckpointFixtures.url(name), to: output)

        let converted = try SafeTensorsFile(contentsOf: output)
        let expected = try CheckpointFixtures.expected(expectedName).filter { !$0.key.hasSuffix("num_batches_tracked") }
        #expect(Set(converted.tensors.keys) == Set(expected.keys))
        for (tensorName, tensor) in expected {
            #expect(tensor.dtype == .f32)
            #expect(converted.tensors[tensorName] == tensor, "\(tensorName)")
        }
        #expect(converted.metadata == [
            "model": model.rawValue,
            "source_file": name,
            "source_git_blob_id": GitBlobID.of(try CheckpointFixtures.bytes(name)),
            "source_format": format,
        ].merging(model == .superglue ? ["gnn_layers": "1"] : [:]) { a, _ in a })

        // The engine's loader accepts it: every schema tensor read, nothing left over.
        let store = WeightStore(file: converted)
        let schema = try ModelCatalog.standard.schema(forTensors: converted.tensors.mapValues(\.shape))
        for entry in schema.entries where !entry.optional { _ = try store.tensor(entry.name, entry.shape) }
        try store.finish()
    }

    @Test func explicitModelKindIsValidated() throws {
        let bytes = try CheckpointFixtures.bytes("superpoint_zip.pth")
        let error = #expect(throws: CheckpointError.self) {
            try WeightConversion.convert(checkpointBytes: bytes, name: "superpoint_zip.pth", model: .superglue)
        }
        #expect(error?.description.hasPrefix("superpoint_zip.pth: missing tensor 'gnn.layers.0.") == true)
    }

    @Test func nonModelCheckpointIsRefused() throws {
        let bytes = try CheckpointFixtures.bytes("variants_zip.pth")
        #expect(throws: CheckpointError.self) { try WeightConversion.convert(checkpointBytes: bytes, name: "variants_zip.pth") }
        let error = #expect(throws: CheckpointError.self) {
            try WeightConversion.convert(checkpointBytes: bytes, name: "variants_zip.pth", model: .superpoint)
        }
        #expect(error?.description == "variants_zip.pth: missing tensor 'conv1a.weight' (expected shape [64, 1, 3, 3])")
    }
}

@Suite struct LoadWeightsTests {
    /// The engine-facing loader accepts a .pth (converted in memory) and the safetensors the
    /// converter wrote, and both give the same tensors.
    @Test func checkpointAndSafetensorsLoadAlike() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("load-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("sg.safetensors")
        try WeightConversion.convertFile(at: CheckpointFixtures.url("superglue_legacy.pth"), to: output)
        let fromCheckpoint = try WeightConversion.loadWeights(at: CheckpointFixtures.url("superglue_legacy.pth"))
        let fromSafetensors = try WeightConversion.loadWeights(at: output)
        #expect(fromCheckpoint.tensors == fromSafetensors.tensors)
        #expect(fromCheckpoint.metadata == fromSafetensors.metadata)
        // A safetensors file with a wrongly shaped tensor is refused with both shapes.
        var broken = fromSafetensors
        broken.tensors["bin_score"] = RawTensor(shape: [1], floats: [1])
        try broken.write(to: output)
        let error = #expect(throws: CheckpointError.self) { try WeightConversion.loadWeights(at: output) }
        #expect(error?.description == "sg.safetensors: tensor 'bin_score' has shape [1], expected []")
        #expect(throws: CheckpointError.self) { try WeightConversion.loadWeights(at: directory.appendingPathComponent("absent.pth")) }
    }
}
