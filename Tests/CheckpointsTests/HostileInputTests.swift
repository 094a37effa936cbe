import Foundation
import Testing
@testable import Checkpoints
import Networks

/// Broken and malicious files: each must give a thrown one-line error, never a crash, a hang
/// or a huge allocation.
@Suite struct HostileCheckpointTests {
    // MARK: Hand-made legacy files

    /// A legacy checkpoint around hand-written pickles: the header pickles torch writes (magic
    /// number as LONG1, protocol 1001, an empty system-info dict), then `object`, `keys`, `data`.
    static func legacy(object: [UInt8], keys: [UInt8] = [0x80, 0x02, 0x5d, 0x2e], data: [UInt8] = []) -> [UInt8] {
        let magic: [UInt8] = [0x80, 0x02, 0x8a, 0x0a] + TorchCheckpoint.legacyMagic + [0x2e]
        let version: [UInt8] = [0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e]
        let info: [UInt8] = [0x80, 0x02, 0x7d, 0x2e]
        return magic + version + info + object + keys + data
    }

    static func text(_ s: String) -> [UInt8] { Array(s.utf8) }
    /// SHORT_BINUNICODE.
    static func str(_ s: String) -> [UInt8] { [0x8c, UInt8(s.utf8.count)] + Array(s.utf8) }
    static func long1(_ v: Int64) -> [UInt8] { [0x8a, 0x08] + withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func int64LE(_ v: Int64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    /// `{name: _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict())}`.
    static func tensorPickle(name: String = "w", key: String = "0", numel: Int64, offset: Int64 = 0, size: [Int64], stride: [Int64]) -> [UInt8] {
        var p: [UInt8] = [0x80, 0x02, 0x7d, 0x28] + str(name)
        p += text("ctorch._utils\n_rebuild_tensor_v2\n") + [0x28]
        p += [0x28] + str("storage") + text("ctorch\nFloatStorage\n") + str(key) + str("cpu") + long1(numel) + [0x74, 0x51]
        p += long1(offset)
        p += [0x28] + size.flatMap(long1) + [0x74]
        p += [0x28] + stride.flatMap(long1) + [0x74]
        p += [0x89] + text("ccollections\nOrderedDict\n") + [0x29, 0x52]
        p += [0x74, 0x52, 0x75, 0x2e]
        return p
    }

    static func keyList(_ keys: [String]) -> [UInt8] { [0x80, 0x02, 0x5d, 0x28] + keys.flatMap(str) + [0x65, 0x2e] }

    static func floats(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } } }

    /// Runs the reader and returns its error message, recording an issue if it did not throw
    /// a CheckpointError or the message is not one line naming the file.
    static func failure(_ bytes: [UInt8], name: String = "hostile.pth", sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do {
            _ = try TorchCheckpoint(bytes: bytes, name: name)
            Issue.record("no error thrown", sourceLocation: sourceLocation)
            return ""
        } catch let error as CheckpointError {
            #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix(name + ": "), sourceLocation: sourceLocation)
            return error.description
        } catch {
            Issue.record("unexpected error type \(type(of: error)): \(error)", sourceLocation: sourceLocation)
            return ""
        }
    }

    @Test func handMadeLegacyFileIsRead() throws {
        // Sanity check of the builders used below: a valid 2x2 tensor with a transposed view.
        let bytes = Self.legacy(object: Self.tensorPickle(numel: 4, size: [2, 2], stride: [1, 2]),
                                keys: Self.keyList(["0"]), data: Self.int64LE(4) + Self.floats([1, 2, 3, 4]))
        let checkpoint = try TorchCheckpoint(bytes: bytes, name: "valid.pth")
        #expect(checkpoint.tensors["w"] == RawTensor(shape: [2, 2], floats: [1, 3, 2, 4]))
    }

    @Test func emptyFile() {
        #expect(Self.failure([]) == "hostile.pth: empty file")
    }

    @Test func notACheckpoint() {
        #expect(Self.failure(Self.text("hello world")).contains("not a PyTorch checkpoint"))
        var tar = [UInt8](repeating: 0, count: 1024)
        tar.replaceSubrange(257..<262, with: Self.text("ustar"))
        #expect(Self.failure(tar).contains("tar-format"))
    }

    @Test func wrongMagicNumber() throws {
        var bytes = try CheckpointFixtures.bytes("variants_legacy.pth")
        bytes[5] ^= 0x01  // inside the LONG1 magic number
        #expect(Self.failure(bytes).contains("wrong magic number"))
        // A different integer type in the first pickle is no magic number either.
        #expect(Self.failure([0x80, 0x02, 0x4b, 0x07, 0x2e]).contains("wrong magic number"))
    }

    @Test func unknownGlobalIsNamedAndNothingRuns() {
        // os.system('ls'), as a hostile pickle would spell it.
        let object = [0x80, 0x02] + Self.text("cos\nsystem\n") + Self.str("ls") + [0x85, 0x52, 0x2e]
        let message = Self.failure(Self.legacy(object: object))
        #expect(message.contains("global 'os.system', which is not on the allow-list"))
        // The same through STACK_GLOBAL (protocol 4).
        let stacked = [0x80, 0x04] + Self.str("builtins") + Self.str("eval") + [0x93] + Self.str("1") + [0x85, 0x52, 0x2e]
        #expect(Self.failure(Self.legacy(object: stacked)).contains("global 'builtins.eval'"))
        // A control character in the name is escaped, keeping the message on one line.
        let newline = [0x80, 0x04] + Self.str("os\nx") + Self.str("y") + [0x93, 0x2e]
        #expect(Self.failure(Self.legacy(object: newline)).contains("os\\u{a}x.y"))
    }

    @Test func unknownOpcode() {
        #expect(Self.failure(Self.legacy(object: [0x80, 0x02, 0xff, 0x2e])).contains("unsupported pickle opcode 0xff"))
        // EXT1 (extension registry) and protocol 5 out-of-band buffers are not supported either.
        #expect(Self.failure(Self.legacy(object: [0x80, 0x02, 0x82, 0x01, 0x2e])).contains("unsupported pickle opcode 0x82"))
        #expect(Self.failure(Self.legacy(object: [0x80, 0x05, 0x97, 0x2e])).contains("unsupported pickle opcode 0x97"))
    }

    @Test func absurdSizes() {
        // A storage claiming 2^60 elements is refused before anything is allocated.
        let huge = Self.legacy(object: Self.tensorPickle(numel: 1 << 60, size: [4], stride: [1]),
                               keys: Self.keyList(["0"]), data: Self.int64LE(1 << 60))
        #expect(Self.failure(huge).contains("claims 1152921504606846976 elements"))
        // A tensor whose size reaches past its (small, genuine) storage.
        let past = Self.legacy(object: Self.tensorPickle(numel: 4, size: [1 << 40], stride: [1]),
                               keys: Self.keyList(["0"]), data: Self.int64LE(4) + Self.floats([1, 2, 3, 4]))
        #expect(Self.failure(past).contains("past the 4 of storage '0'"))
        // Sizes whose product overflows Int.
        let overflow = Self.legacy(object: Self.tensorPickle(numel: 4, size: [1 << 40, 1 << 40], stride: [0, 0]),
                                   keys: Self.keyList(["0"]), data: Self.int64LE(4) + Self.floats([1, 2, 3, 4]))
        #expect(Self.failure(overflow).contains("overflows"))
        // A stride-0 expansion of a small storage into a large tensor.
        let expanded = Self.legacy(object: Self.tensorPickle(numel: 4, size: [1 << 20, 1 << 10], stride: [0, 0]),
                                   keys: Self.keyList(["0"]), data: Self.int64LE(4) + Self.floats([1, 2, 3, 4]))
        #expect(Self.failure(expanded).contains("expanded views are not supported"))
        // Length prefixes larger than the input (BINUNICODE8, LONG4).
        let longString = [0x80, 0x04, 0x8d] + Self.int64LE(Int64.max) + [0x2e]
        #expect(Self.failure(Self.legacy(object: longString)).contains("runs past the end of the input"))
        let longInt: [UInt8] = [0x80, 0x02, 0x8b, 0xff, 0xff, 0xff, 0x7f, 0x2e]
        #expect(Self.failure(Self.legacy(object: longInt)).contains("runs past the end of the input"))
    }

    @Test func storagePastEndOfFile() {
        // 40 floats fit in the file's size, but only 3 follow the count.
        let bytes = Self.legacy(object: Self.tensorPickle(numel: 40, size: [40], stride: [1]),
                                keys: Self.keyList(["0"]), data: Self.int64LE(40) + Self.floats([1, 2, 3]))
        #expect(Self.failure(bytes).contains("runs past the end of the file"))
        let countMismatch = Self.legacy(object: Self.tensorPickle(numel: 3, size: [3], stride: [1]),
                                        keys: Self.keyList(["0"]), data: Self.int64LE(2) + Self.floats([1, 2, 3]))
        #expect(Self.failure(countMismatch).contains("holds 2 elements in the file"))
        let unlisted = Self.legacy(object: Self.tensorPickle(numel: 3, size: [3], stride: [1]),
                                   keys: Self.keyList([]), data: [])
        #expect(Self.failure(unlisted).contains("has no data"))
    }

    @Test func deepNesting() {
        // 100 000 nested lists, nested tuples, and unclosed MARKs.
        let lists = [0x80, 0x02] + [UInt8](repeating: 0x5d, count: 100_000) + [UInt8](repeating: 0x61, count: 99_999) + [0x2e]
        #expect(Self.failure(Self.legacy(object: lists)).contains("nest deeper than 64 levels"))
        let tuples = [0x80, 0x02, 0x4e] + [UInt8](repeating: 0x85, count: 100_000) + [0x2e]
        #expect(Self.failure(Self.legacy(object: tuples)).contains("nest deeper than 64 levels"))
        let marks = [0x80, 0x02] + [UInt8](repeating: 0x28, count: 100_000) + [0x4e, 0x2e]
        #expect(Self.failure(Self.legacy(object: marks)).contains("STOP with"))
        // A list containing itself is not a state dict, and nothing walks it forever.
        let cycle: [UInt8] = [0x80, 0x02, 0x5d, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2e]
        #expect(Self.failure(Self.legacy(object: cycle)).contains("does not hold a dict of tensors"))
    }

    @Test func memoAndStackMisuse() {
        #expect(Self.failure(Self.legacy(object: [0x80, 0x02, 0x6a, 0xff, 0xff, 0xff, 0x7f, 0x2e])).contains("unknown memo entry"))
        #expect(Self.failure(Self.legacy(object: [0x80, 0x02, 0x61, 0x2e])).contains("stack underflow"))
        #expect(Self.failure(Self.legacy(object: [0x80, 0x02, 0x4e, 0x28, 0x61, 0x2e])).contains("stack underflow"))
        #expect(Self.failure(Self.legacy(object: [0x80, 0x02, 0x4e, 0x4e], keys: [])).contains("input ends before the STOP opcode"))
        // REDUCE on a non-callable, and calling a storage type.
        #expect(Self.failure(Self.legacy(object: [0x80, 0x02, 0x4e, 0x29, 0x52, 0x2e])).contains("not an allowed global"))
        let callStorage = [0x80, 0x02] + Self.text("ctorch\nFloatStorage\n") + [0x29, 0x52, 0x2e]
        #expect(Self.failure(Self.legacy(object: callStorage)).contains("cannot be called"))
    }

    @Test func truncatedAtEveryOffset() throws {
        // Every strict prefix of a checkpoint is broken: the legacy layout ends with storage data,
        // the zip layout with its end-of-central-directory record.
        for name in ["variants_legacy.pth", "variants_zip.pth", "variants_zip_protocol4.pth", "legacy_storage_views.pth"] {
            let bytes = try CheckpointFixtures.bytes(name)
            for length in 0..<bytes.count {
                _ = Self.failure(Array(bytes[..<length]), name: name)
            }
        }
        // The full-size files at a coarser stride.
        let big = try CheckpointFixtures.bytes("superglue_legacy.pth")
        for length in stride(from: 0, to: big.count, by: big.count / 37) {
            _ = Self.failure(Array(big[..<length]), name: "superglue_legacy.pth")
        }
    }

    @Test func zipDamage() throws {
        let bytes = try CheckpointFixtures.bytes("variants_zip.pth")
        let archive = try ZipArchive(bytes: bytes)
        guard let storage = archive.entries.first(where: { $0.name.hasSuffix("/data/0") }) else {
            Issue.record("fixture has no data/0 entry"); return
        }
        // A flipped bit inside stored data fails the CRC.
        var flipped = bytes
        let dataStart = storage.localHeaderOffset + 30 + Int(ZipArchive.u16(bytes, storage.localHeaderOffset + 26))
            + Int(ZipArchive.u16(bytes, storage.localHeaderOffset + 28))
        flipped[dataStart] ^= 0x10
        #expect(Self.failure(flipped).contains("fails its CRC-32 check"))
        // A compressed entry (method 8 in its central-directory record) is refused.
        guard let eocd = (0...(bytes.count - 22)).reversed().first(where: { ZipArchive.u32(bytes, $0) == 0x0605_4b50 }) else {
            Issue.record("no end record"); return
        }
        var compressed = bytes
        let directory = Int(ZipArchive.u32(bytes, eocd + 16))
        compressed[directory + 10] = 8
        #expect(Self.failure(compressed).contains("is compressed (method 8)"))
        // A big-endian byte-order record is refused.
        if let order = archive.entry(named: String(storage.name.dropLast("data/0".count)) + "byteorder") {
            var big = bytes
            let start = order.localHeaderOffset + 30 + Int(ZipArchive.u16(bytes, order.localHeaderOffset + 26))
                + Int(ZipArchive.u16(bytes, order.localHeaderOffset + 28))
            big.replaceSubrange(start..<(start + 6), with: Self.text("bigxxx"))
            #expect(Self.failure(big).contains("CRC-32"))  // the record is CRC-protected too
        }
    }

    // MARK: Mutation fuzzing

    /// SplitMix64: a small seeded generator so failures reproduce.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    static func mutate(_ input: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        let interesting: [UInt8] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x2e, 0x28, 0x71, 0x68, 0x8a, 0x95, 0x63]
        for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
            case 1: bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 2: bytes[at] = interesting[Int.random(in: 0..<interesting.count, using: &rng)]
            case 3: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...16, using: &rng)))
            case 4: bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
            case 5:  // duplicate a chunk elsewhere
                let end = min(bytes.count, at + Int.random(in: 1...32, using: &rng))
                let chunk = Array(bytes[at..<end])
                bytes.insert(contentsOf: chunk, at: Int.random(in: 0...bytes.count, using: &rng))
            default: bytes.removeSubrange(at...)
            }
        }
        return bytes
    }

    /// Thousands of mutated fixtures: each parses or throws a CheckpointError, nothing else.
    @Test func mutatedFilesOnlyThrow() throws {
        var rng = SeededGenerator(state: 0x5eed_c0de)
        var outcomes = (parsed: 0, rejected: 0)
        let start = Date()
        // Tools/fuzz.sh sets a time budget (and a seed) to run the same loop for much longer.
        let environment = ProcessInfo.processInfo.environment
        let budget = environment["SUPERGLUE_FUZZ_SECONDS"].flatMap(Double.init)
        if let seed = environment["SUPERGLUE_FUZZ_SEED"].flatMap(UInt64.init) { rng = SeededGenerator(state: seed) }
        var slowest = 0.0
        let names = ["variants_legacy.pth", "variants_legacy_protocol4.pth", "legacy_storage_views.pth", "variants_zip.pth", "variants_zip_protocol4.pth"]
        var round = 0
        repeat {
          round += 1
          for name in names {
            let original = try CheckpointFixtures.bytes(name)
            for _ in 0..<1000 {
                let mutated = Self.mutate(original, &rng)
                let inputStart = Date()
                defer { slowest = max(slowest, Date().timeIntervalSince(inputStart)) }
                do {
                    let checkpoint = try TorchCheckpoint(bytes: mutated, name: name)
                    #expect(checkpoint.names.count == checkpoint.tensors.count)
                    outcomes.parsed += 1
                } catch let error as CheckpointError {
                    #expect(!error.description.contains("\n"))
                    outcomes.rejected += 1
                }
            }
          }
        } while budget.map { Date().timeIntervalSince(start) < $0 } ?? false
        // No input may hang: each is parsed or refused well within a second.
        #expect(slowest < 1.0, "slowest input took \(slowest) s")
        // The zip layout's CRC hides most pickle damage; mutate its data.pkl directly as well.
        let archive = try ZipArchive(bytes: try CheckpointFixtures.bytes("variants_zip_protocol4.pth"))
        guard let entry = archive.entries.first(where: { $0.name.hasSuffix("/data.pkl") }) else {
            Issue.record("no data.pkl"); return
        }
        let pickle = Array(try archive.contents(of: entry))
        for _ in 0..<1000 {
            let registry = StorageRegistry(fileSize: 1 << 20)
            var reader = PickleReader(bytes: Self.mutate(pickle, &rng), persistentLoad: registry.load)
            do {
                let result = try reader.read()
                _ = try TorchCheckpoint.stateDict(result.root, result.containers)
                outcomes.parsed += 1
            } catch is PickleError {
                outcomes.rejected += 1
            } catch is CheckpointError {
                outcomes.rejected += 1
            }
        }
        let seconds = Date().timeIntervalSince(start)
        // Both outcomes occur, so the mutations neither always break nor never touch the parse.
        #expect(outcomes.parsed > 100 && outcomes.rejected > 1000)
        print("mutation test: \(round) round(s), \(outcomes.parsed) parsed, \(outcomes.rejected) rejected in \(String(format: "%.2f", seconds)) s, slowest input \(String(format: "%.3f", slowest)) s")
    }
}

@Suite struct HostileSafeTensorsTests {
    static func file(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
        let json = Array(header.utf8)
        let length = declaredLength ?? UInt64(json.count)
        return Data(withUnsafeBytes(of: length.littleEndian) { Array($0) } + json + data)
    }

    static func failure(_ data: Data, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do {
            _ = try SafeTensorsFile(data: data, name: "bad.safetensors")
            Issue.record("no error thrown", sourceLocation: sourceLocation)
            return ""
        } catch let error as SafeTensorsError {
            #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix("bad.safetensors: "), sourceLocation: sourceLocation)
            return error.description
        } catch {
            Issue.record("unexpected error type \(type(of: error))", sourceLocation: sourceLocation)
            return ""
        }
    }

    @Test func hostileHeaders() {
        #expect(Self.failure(Data()).contains("too short"))
        #expect(Self.failure(Self.file(header: "{}", declaredLength: UInt64.max)).contains("header length"))
        #expect(Self.failure(Self.file(header: "{}", declaredLength: 1 << 40)).contains("header length"))
        #expect(Self.failure(Self.file(header: "[1, 2]")).contains("not a JSON object"))
        #expect(Self.failure(Self.file(header: "{not json")).contains("not valid JSON"))
        #expect(Self.failure(Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8))).contains("outside"))
        #expect(Self.failure(Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,0]}}"#, data: [UInt8](repeating: 0, count: 8))).contains("outside"))
        #expect(Self.failure(Self.file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))).contains("need 12"))
        #expect(Self.failure(Self.file(header: #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))).contains("shape"))
        #expect(Self.failure(Self.file(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))).contains("invalid shape"))
        #expect(Self.failure(Self.file(header: #"{"a":{"dtype":"F32","shape":[1e30],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))).contains("invalid shape"))
        #expect(Self.failure(Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,1e30]}}"#, data: [UInt8](repeating: 0, count: 8))).contains("outside"))
        #expect(Self.failure(Self.file(header: #"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))).contains("unsupported dtype"))
        #expect(Self.failure(Self.file(header: #"{"__metadata__":{"k":1}}"#)).contains("not a string"))
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(!Self.failure(Self.file(header: #"{"a":"# + deep + "}")).isEmpty)
    }

    @Test func truncatedAndMutatedConvertedFiles() throws {
        var file = SafeTensorsFile(metadata: ["model": "superpoint"])
        file.tensors["a"] = RawTensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        file.tensors["b"] = RawTensor(shape: [], floats: [7])
        let bytes = [UInt8](try file.serialized())
        for length in 0..<bytes.count { _ = Self.failure(Data(bytes[..<length])) }
        var rng = HostileCheckpointTests.SeededGenerator(state: 42)
        for _ in 0..<2000 {
            let mutated = HostileCheckpointTests.mutate(bytes, &rng)
            do { _ = try SafeTensorsFile(data: Data(mutated), name: "bad.safetensors") } catch is SafeTensorsError {}
        }
    }
}
