import Foundation
import Testing
@testable import Checkpoints
import Networks

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

/// The pickle forms Python 2 wrote (the official 2018 SuperPoint file may predate Python 3):
/// SHORT_BINSTRING text, OrderedDict built from a list of [key, value] lists, `_metadata` set
/// through BUILD, and a CUDA location. Hand-assembled, as no Python 2 is available.
@Suite struct Python2PickleTests {
    static func bstr(_ s: String) -> [UInt8] { [0x55, UInt8(s.utf8.count)] + Array(s.utf8) }

    @Test func python2StyleLegacyFile() throws {
        let t = HostileCheckpointTests.text
        var tensor: [UInt8] = t("ctorch._utils\n_rebuild_tensor_v2\n") + [0x28]
        tensor += [0x28] + Self.bstr("storage") + t("ctorch\nHalfStorage\n") + Self.bstr("140301") + Self.bstr("cuda:0") + [0x4b, 0x06, 0x4e, 0x74, 0x51]
        tensor += [0x4b, 0x00, 0x4b, 0x02, 0x4b, 0x03, 0x86, 0x4b, 0x03, 0x4b, 0x01, 0x86]  // offset 0, size (2, 3), stride (3, 1)
        tensor += [0x89] + t("ccollections\nOrderedDict\n") + [0x29, 0x52, 0x74, 0x52]
        var object: [UInt8] = [0x80, 0x02] + t("ccollections\nOrderedDict\n") + [0x71, 0x00]
        object += [0x5d, 0x28, 0x5d, 0x28] + Self.bstr("module.conv.weight") + tensor + [0x65, 0x65, 0x85, 0x52]
        object += [0x7d] + Self.bstr("_metadata") + [0x68, 0x00, 0x29, 0x52, 0x73, 0x62, 0x2e]  // {'_metadata': OrderedDict()} BUILD
        let halves: [UInt16] = [0x3c00, 0x4000, 0x4200, 0xbc00, 0x0001, 0x7bff]  // 1, 2, 3, -1, 2^-24, 65504
        let data = HostileCheckpointTests.int64LE(6) + halves.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        let bytes = HostileCheckpointTests.legacy(object: object, keys: [0x80, 0x02, 0x5d, 0x71, 0x00] + Self.bstr("140301") + [0x61, 0x2e], data: data)
        let checkpoint = try TorchCheckpoint(bytes: bytes, name: "py2.pth")
        #expect(checkpoint.names == ["conv.weight"])
        let weight = try #require(checkpoint.tensors["conv.weight"])
        #expect(weight.dtype == .f16 && weight.shape == [2, 3])
        #expect(weight.floatValues() == [1, 2, 3, -1, Float(sign: .plus, exponent: -24, significand: 1), 65504])
    }
}

/// Zip layouts torch could write or a damaged file could have, built with a small stored-zip writer.
@Suite struct ZipLayoutTests {
    static func failure(_ bytes: [UInt8]) -> String { HostileCheckpointTests.failure(bytes) }

    @Test func anyFolderNameIsAccepted() throws {
        let original = try CheckpointFixtures.bytes("variants_zip.pth")
        let renamed = StoredZipWriter.archive(try StoredZipWriter.entries(of: original, renamingFolderTo: "my weights.v2"))
        let checkpoint = try TorchCheckpoint(bytes: renamed, name: "renamed.pth")
        let reference = try TorchCheckpoint(bytes: original, name: "variants_zip.pth")
        #expect(checkpoint.names == reference.names)
        #expect(checkpoint.tensors == reference.tensors)
    }

    @Test func brokenLayouts() throws {
        let entries = try StoredZipWriter.entries(of: try CheckpointFixtures.bytes("variants_zip.pth"), renamingFolderTo: "w")
        let bigEndian = entries.map { $0.name == "w/byteorder" ? ($0.name, Array("big".utf8)) : $0 }
        #expect(Self.failure(StoredZipWriter.archive(bigEndian)).contains("byte order 'big' is not supported"))
        let noData = entries.filter { $0.name != "w/data/0" }
        #expect(Self.failure(StoredZipWriter.archive(noData)).contains("has no entry w/data/0"))
        let noPickle = entries.filter { $0.name != "w/data.pkl" }
        #expect(Self.failure(StoredZipWriter.archive(noPickle)).contains("no <folder>/data.pkl"))
        let twoPickles = entries + entries.filter { $0.name == "w/data.pkl" }.map { ("v/data.pkl", $0.data) }
        #expect(Self.failure(StoredZipWriter.archive(twoPickles)).contains("several data.pkl"))
        let shortData = entries.map { $0.name == "w/data/0" ? ($0.name, Array($0.data.dropLast(4))) : $0 }
        #expect(Self.failure(StoredZipWriter.archive(shortData)).contains("holds"))
    }

    /// Storages that each fit in the file but together exceed it (as when many directory entries
    /// point at one large local entry) are refused before their data is read.
    @Test func storagesLargerThanTheFileTogether() throws {
        let t = HostileCheckpointTests.text, str = HostileCheckpointTests.str, long1 = HostileCheckpointTests.long1
        func tensor(_ key: String) -> [UInt8] {
            t("ctorch._utils\n_rebuild_tensor_v2\n") + [0x28, 0x28] + str("storage") + t("ctorch\nFloatStorage\n") + str(key) + str("cpu")
                + long1(1000) + [0x74, 0x51] + long1(0) + [0x28] + long1(1000) + [0x74, 0x28] + long1(1) + [0x74]
                + [0x89] + t("ccollections\nOrderedDict\n") + [0x29, 0x52, 0x74, 0x52]
        }
        let pickle: [UInt8] = [0x80, 0x02, 0x7d, 0x28] + str("a") + tensor("0") + str("b") + tensor("1") + [0x75, 0x2e]
        let zip = StoredZipWriter.archive([("w/data.pkl", pickle), ("w/data/0", [UInt8](repeating: 0, count: 4000)), ("w/data/1", [0, 0, 0, 0])])
        #expect(zip.count < 8000)
        #expect(Self.failure(zip).contains("storages declare 8000 bytes"))
    }
}
