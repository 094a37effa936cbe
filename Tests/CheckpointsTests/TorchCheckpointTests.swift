import Foundation
import Testing
@testable import Checkpoints

/// Reading torch.save output in both layouts, bit-exact against what torch.load returned.
@Suite struct TorchCheckpointTests {
    static let fullModels: [(file: String, expected: String, format: TorchCheckpoint.Format)] = [
        ("superpoint_legacy.pth", "superpoint_expected.safetensors", .legacy),
        ("superpoint_zip.pth", "superpoint_expected.safetensors", .zip),
        ("superglue_legacy.pth", "superglue_expected.safetensors", .legacy),
        ("superglue_zip.pth", "superglue_expected.safetensors", .zip),
    ]

    @Test(arguments: fullModels.indices)
    func fullModelsMatchTorchLoad(index: Int) throws {
        let (file, expectedName, format) = Self.fullModels[index]
        let checkpoint = try TorchCheckpoint(contentsOf: CheckpointFixtures.url(file))
        let expected = try CheckpointFixtures.expected(expectedName)
        #expect(checkpoint.format == format)
        #expect(Set(checkpoint.names) == Set(expected.keys))
        #expect(checkpoint.names.count == expected.count)
        for (name, tensor) in expected {
            #expect(checkpoint.tensors[name] == tensor, "\(file): \(name)")
        }
    }

    static let variantFiles = ["variants_legacy.pth", "variants_zip.pth", "variants_zip_protocol4.pth", "variants_legacy_protocol4.pth"]

    /// Views, shared storages, every dtype, 'model'/'state_dict' wrappers and 'module.' prefixes.
    @Test(arguments: variantFiles)
    func variantsMatchTorchLoad(file: String) throws {
        let checkpoint = try TorchCheckpoint(contentsOf: CheckpointFixtures.url(file))
        let expected = try CheckpointFixtures.expected("variants_expected.safetensors")
        #expect(Set(checkpoint.names) == Set(expected.keys))
        for (name, tensor) in expected {
            #expect(checkpoint.tensors[name] == tensor, "\(file): \(name)")
        }
        // File order is kept (the generator inserts 'transposed' first).
        #expect(checkpoint.names.first == "transposed")
    }

    /// Storage views as torch < 1.0 wrote them into legacy files.
    @Test func legacyStorageViews() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: CheckpointFixtures.url("legacy_storage_views.pth"))
        let expected = try CheckpointFixtures.expected("legacy_storage_views_expected.safetensors")
        #expect(checkpoint.names == ["whole", "view_tail", "view_tail_again"])
        for (name, tensor) in expected {
            #expect(checkpoint.tensors[name] == tensor, "\(name)")
        }
    }

    @Test func contiguityIgnoresUnitDimensions() {
        #expect(StorageReader.isContiguous(shape: [2, 3], strides: [3, 1]))
        #expect(StorageReader.isContiguous(shape: [1, 3], strides: [99, 1]))
        #expect(!StorageReader.isContiguous(shape: [3, 2], strides: [1, 3]))
        #expect(StorageReader.isContiguous(shape: [], strides: []))
    }
}
