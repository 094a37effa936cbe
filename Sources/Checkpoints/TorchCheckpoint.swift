// Reads the tensors of a PyTorch checkpoint (torch.save output) without Python and without
// executing anything from the file.
//
// Two layouts exist:
// - legacy (torch < 1.6, used by the official 2018/2020 SuperPoint/SuperGlue files): five
//   pickles back to back (magic number, protocol version, system info, the object, the list of
//   storage keys), then for each listed key an int64 element count and the raw storage bytes;
// - zip (torch >= 1.6): `<folder>/data.pkl` holds the object and `<folder>/data/<key>` each
//   storage, stored uncompressed.
// In both the object pickle names storages through persistent ids
// `('storage', storage type, key, location, element count[, legacy view])` and tensors through
// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`.
import Foundation

/// An error reading a checkpoint: one line naming the file and the reason.
public struct CheckpointError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) {
        // Names in messages come from the file; keep the message on one printable line.
        self.description = String(String.UnicodeScalarView(description.unicodeScalars.flatMap { scalar -> [Unicode.Scalar] in
            scalar.value < 0x20 || scalar.value == 0x7f ? Array("\\u{\(String(scalar.value, radix: 16))}".unicodeScalars) : [scalar]
        }))
    }
}

/// The tensors of a PyTorch checkpoint's state dict, converted to contiguous row-major form.
public struct TorchCheckpoint: Sendable {
    /// The serialization layout the file used.
    public enum Format: String, Sendable { case legacy, zip }

    public let format: Format
    /// Tensor names in file order (after unwrapping and removing a `module.` prefix).
    public let names: [String]
    /// Tensors by name, contiguous, in their stored element type.
    public let tensors: [String: RawTensor]

    /// The magic number the legacy format pickles first (0x1950a86a20f9469cfc6c), little-endian.
    static let legacyMagic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]
    static let legacyProtocolVersion: Int64 = 1001
    /// Output may exceed the input only by views sharing storages; beyond this it is refused.
    static let outputBudgetFactor = 4
    /// How far 'state_dict' / 'model' wrappers are followed.
    static let maxWrapperDepth = 4

    /// Largest checkpoint accepted (the official files are 5 to 12 MB).
    public static let maxFileSize = 1 << 31

    /// Reads a checkpoint file.
    public init(contentsOf url: URL) throws {
        try self.init(bytes: [UInt8](try Self.readFile(url)), name: url.lastPathComponent)
    }

    /// The file's bytes, refusing files over ``maxFileSize`` before reading them.
    static func readFile(_ url: URL) throws -> Data {
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        if let size = (attributes?[.size] as? NSNumber)?.int64Value, size > Int64(maxFileSize) {
            throw CheckpointError("\(url.path): \(size) bytes is larger than the \(maxFileSize)-byte limit for weight files")
        }
        do { return try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw CheckpointError("\(url.path): cannot read file (\(error.localizedDescription))")
        }
    }

    /// Parses a checkpoint image held in memory. `name` prefixes error messages.
    public init(bytes: [UInt8], name: String = "checkpoint") throws {
        do {
            let root: PickleValue
            let containers: [PickleContainer]
            var reader: StorageReader
            if bytes.isEmpty {
                throw CheckpointError("empty file")
            } else if bytes.starts(with: [0x50, 0x4b, 0x03, 0x04]) || bytes.starts(with: [0x50, 0x4b, 0x05, 0x06]) {
                format = .zip
                (root, containers, reader) = try Self.readZip(bytes)
            } else if bytes.count > 262, Array(bytes[257..<262]) == Array("ustar".utf8) {
                throw CheckpointError("tar-format checkpoints (torch < 0.1.10) are not supported")
            } else if bytes[0] == 0x80 {
                format = .legacy
                (root, containers, reader) = try Self.readLegacy(bytes)
            } else {
                let head = bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
                throw CheckpointError("not a PyTorch checkpoint (it starts with bytes \(head))")
            }
            var entries = try Self.stateDict(root, containers)
            if !entries.isEmpty, entries.allSatisfy({ $0.name.hasPrefix("module.") }) {
                // nn.DataParallel prefixes every name with 'module.'.
                entries = entries.map { (String($0.name.dropFirst("module.".count)), $0.record) }
            }
            var tensors: [String: RawTensor] = [:]
            var names: [String] = []
            for (tensorName, record) in entries {
                if tensors[tensorName] == nil { names.append(tensorName) }
                do {
                    tensors[tensorName] = try reader.materialize(record)
                } catch let error as CheckpointError {
                    throw CheckpointError("tensor '\(tensorName)': \(error.description)")
                }
            }
            self.names = names
            self.tensors = tensors
        } catch let error as CheckpointError {
            throw CheckpointError("\(name): \(error.description)")
        } catch let error as PickleError {
            throw CheckpointError("\(name): \(error.description)")
        } catch let error as ZipError {
            throw CheckpointError("\(name): zip archive: \(error.description)")
        }
    }

    // MARK: - Layouts

    private static func readLegacy(_ bytes: [UInt8]) throws -> (PickleValue, [PickleContainer], StorageReader) {
        var magicReader = PickleReader(bytes: bytes)
        let magic = try magicReader.read()
        guard magic.root == .bigInt(legacyMagic) else { throw CheckpointError("wrong magic number; not a legacy torch checkpoint") }
        var protocolReader = PickleReader(bytes: bytes, start: magic.end)
        let version = try protocolReader.read()
        guard version.root == .int(legacyProtocolVersion) else { throw CheckpointError("unsupported legacy protocol version (expected 1001)") }
        var infoReader = PickleReader(bytes: bytes, start: version.end)
        let info = try infoReader.read()
        if case let .dict(entries)? = info.container(info.root),
           let littleEndian = entries.last(where: { $0.key == .string("little_endian") })?.value, littleEndian == .bool(false) {
            throw CheckpointError("big-endian checkpoints are not supported")
        }
        let registry = StorageRegistry(fileSize: bytes.count)
        var objectReader = PickleReader(bytes: bytes, start: info.end, persistentLoad: registry.load)
        let object = try objectReader.read()
        var keysReader = PickleReader(bytes: bytes, start: object.end)
        let keyList = try keysReader.read()
        guard case let .list(keyValues)? = keyList.container(keyList.root) else { throw CheckpointError("storage key list is not a list") }
        var ranges: [String: Range<Int>] = [:]
        var p = keyList.end
        for value in keyValues {
            guard case let .string(key) = value else { throw CheckpointError("storage key list holds a non-string") }
            guard let storage = registry.storages[key] else { throw CheckpointError("storage '\(key)' is listed but never used") }
            guard p <= bytes.count - 8 else { throw CheckpointError("storage '\(key)' starts past the end of the file") }
            let count = Int64(bitPattern: ZipArchive.u64(bytes, p))
            guard count == Int64(storage.elementCount) else {
                throw CheckpointError("storage '\(key)' holds \(count) elements in the file, its reference says \(storage.elementCount)")
            }
            p += 8
            let byteCount = storage.elementCount * storage.dtype.size  // bounded by the file size in load
            guard byteCount <= bytes.count - p else {
                throw CheckpointError("storage '\(key)' (\(byteCount) bytes at offset \(p)) runs past the end of the file")
            }
            ranges[key] = p..<(p + byteCount)
            p += byteCount
        }
        return (object.root, object.containers, StorageReader(bytes: bytes, registry: registry, ranges: ranges))
    }

    private static func readZip(_ bytes: [UInt8]) throws -> (PickleValue, [PickleContainer], StorageReader) {
        let archive = try ZipArchive(bytes: bytes)
        // torch names the single top-level folder after the file it saved to, so any name goes.
        let pickles = archive.entries.filter {
            let parts = $0.name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" && !parts[0].isEmpty
        }
        guard pickles.count == 1, let pickleEntry = pickles.first else {
            throw CheckpointError(pickles.isEmpty ? "zip archive has no <folder>/data.pkl; not a torch checkpoint" : "zip archive has several data.pkl entries")
        }
        let folder = String(pickleEntry.name.dropLast("data.pkl".count))
        if let order = archive.entry(named: folder + "byteorder") {
            let text = String(decoding: try archive.contents(of: order), as: UTF8.self)
            guard text == "little" else { throw CheckpointError("byte order '\(text.prefix(16))' is not supported (only little-endian)") }
        }
        let registry = StorageRegistry(fileSize: bytes.count)
        let pickleBytes = Array(try archive.contents(of: pickleEntry))
        var reader = PickleReader(bytes: pickleBytes, persistentLoad: registry.load)
        let object = try reader.read()
        // Genuine storages are separate entries, so together they fit in the file; checking this
        // first stops a hostile archive from making every storage re-read the same large entry.
        let declared = registry.storages.values.reduce(0) { $0 + $1.elementCount * $1.dtype.size }
        guard declared <= bytes.count else {
            throw CheckpointError("storages declare \(declared) bytes, more than the \(bytes.count)-byte file holds")
        }
        var ranges: [String: Range<Int>] = [:]
        for (key, storage) in registry.storages {
            guard let entry = archive.entry(named: folder + "data/" + key) else {
                throw CheckpointError("storage '\(key)' has no entry \(folder)data/\(key)")
            }
            let slice = try archive.contents(of: entry)
            guard slice.count == storage.elementCount * storage.dtype.size else {
                throw CheckpointError("storage '\(key)' holds \(slice.count) bytes, its reference says \(storage.elementCount) elements of \(storage.dtype.rawValue)")
            }
            ranges[key] = slice.startIndex..<slice.endIndex
        }
        return (object.root, object.containers, StorageReader(bytes: bytes, registry: registry, ranges: ranges))
    }

    // MARK: - State dict

    /// The (name, tensor) entries of the state dict inside `root`, in file order.
    static func stateDict(_ root: PickleValue, _ containers: [PickleContainer]) throws -> [(name: String, record: TensorRecord)] {
        var value = root
        for _ in 0...maxWrapperDepth {
            guard case let .container(index) = value, case let .dict(rawEntries) = containers[index] else {
                throw CheckpointError("the checkpoint does not hold a dict of tensors")
            }
            // Python dicts keep the last value of a repeated key at the first key's position.
            var order: [PickleValue] = []
            var latest: [String: PickleValue] = [:]
            var keys: [String] = []
            for entry in rawEntries {
                guard case let .string(key) = entry.key else { throw CheckpointError("the checkpoint dict has a non-string key") }
                if latest[key] == nil { keys.append(key); order.append(entry.key) }
                latest[key] = entry.value
            }
            let isTensor: (PickleValue?) -> Bool = { if case .tensor? = $0 { return true } else { return false } }
            if let wrapped = ["state_dict", "model", "extractor"].first(where: { key in
                guard let inner = latest[key], case let .container(i) = inner, case .dict = containers[i] else { return false }
                return true
            }), !keys.allSatisfy({ isTensor(latest[$0]) }) {
                value = latest[wrapped] ?? .none
                continue
            }
            guard !keys.isEmpty else { throw CheckpointError("the state dict holds no tensors") }
            var out: [(name: String, record: TensorRecord)] = []
            for key in keys {
                guard case let .tensor(record)? = latest[key] else {
                    let listed = keys.prefix(8).joined(separator: ", ")
                    throw CheckpointError("entry '\(key.prefix(100))' is not a tensor and there is no 'state_dict' or 'model' dict (keys: \(listed.prefix(200)))")
                }
                out.append((key, record))
            }
            return out
        }
        throw CheckpointError("'state_dict' / 'model' wrappers nest deeper than \(maxWrapperDepth) levels")
    }
}

/// The storages a checkpoint's persistent ids declared, keyed by storage key.
final class StorageRegistry {
    struct Storage {
        var dtype: DType
        var elementCount: Int
    }

    private(set) var storages: [String: Storage] = [:]
    let fileSize: Int

    init(fileSize: Int) { self.fileSize = fileSize }

    /// The persistent-load hook: validates `('storage', type, key, location, numel[, view])`.
    func load(_ id: PickleValue, _ containers: [PickleContainer]) throws -> PickleValue {
        guard case let .container(index) = id, case let .tuple(items) = containers[index] else {
            throw PickleError("persistent id is not a tuple")
        }
        guard items.count == 5 || items.count == 6, items[0] == .string("storage") else {
            throw PickleError("persistent id is not a ('storage', ...) tuple")
        }
        guard case let .global(.elementType(dtype)) = items[1] else { throw PickleError("storage type is not a known torch storage or dtype") }
        guard case let .string(key) = items[2], !key.isEmpty, key.utf8.count <= 256, !key.contains("/") else {
            throw PickleError("storage key is not a plain string")
        }
        guard case .string = items[3] else { throw PickleError("storage '\(key)' location is not a string") }
        guard case let .int(numel) = items[4], numel >= 0 else { throw PickleError("storage '\(key)' element count is not a valid integer") }
        // A storage larger than the whole file cannot be backed by it; checked before any allocation.
        guard numel <= Int64(fileSize / dtype.size) else {
            throw PickleError("storage '\(key)' claims \(numel) elements of \(dtype.rawValue), more than the \(fileSize)-byte file holds")
        }
        let count = Int(numel)
        if let existing = storages[key] {
            // torch reinterprets a storage referenced with another type when the byte sizes agree.
            guard existing.elementCount * existing.dtype.size == count * dtype.size else {
                throw PickleError("storage '\(key)' is referenced with conflicting sizes")
            }
        } else {
            storages[key] = Storage(dtype: dtype, elementCount: count)
        }
        var reference = StorageReference(dtype: dtype, key: key, elementCount: count)
        if items.count == 6, items[5] != .none {
            // Legacy storage view (torch < 1.0): (view key, offset, size) into the root storage.
            guard case let .container(v) = items[5], case let .tuple(view) = containers[v], view.count == 3,
                  case .string = view[0], case let .int(offset) = view[1], case let .int(size) = view[2],
                  offset >= 0, size >= 0, offset <= numel, size <= numel - offset
            else { throw PickleError("storage '\(key)' has an invalid view") }
            reference.viewOffset = Int(offset)
            reference.viewCount = Int(size)
        }
        return .storage(reference)
    }
}

/// Copies tensors out of the storages of one checkpoint image.
struct StorageReader {
    let bytes: [UInt8]
    let registry: StorageRegistry
    let ranges: [String: Range<Int>]
    private var outputBytes = 0

    init(bytes: [UInt8], registry: StorageRegistry, ranges: [String: Range<Int>]) {
        self.bytes = bytes
        self.registry = registry
        self.ranges = ranges
    }

    /// The tensor as a contiguous row-major copy.
    mutating func materialize(_ record: TensorRecord) throws -> RawTensor {
        let reference = record.storage
        guard let range = ranges[reference.key] else { throw CheckpointError("storage '\(reference.key)' has no data in the file") }
        let dtype = reference.dtype
        let size = dtype.size
        // The elements this reference can address: the whole storage or a legacy view of it.
        let available = reference.viewCount ?? (range.count / size)
        let base = reference.viewOffset
        var count = 1
        for n in record.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow else { throw CheckpointError("shape \(record.shape) overflows") }
            count = product
        }
        if count == 0 { return RawTensor(dtype: dtype, shape: record.shape, bytes: []) }
        var last = record.storageOffset
        for (n, s) in zip(record.shape, record.strides) {
            let (span, overflow1) = (n - 1).multipliedReportingOverflow(by: s)
            let (sum, overflow2) = last.addingReportingOverflow(span)
            guard !overflow1, !overflow2 else { throw CheckpointError("size \(record.shape) and stride \(record.strides) overflow") }
            last = sum
        }
        guard last < available else {
            throw CheckpointError("size \(record.shape), stride \(record.strides) and offset \(record.storageOffset) reach element \(last), past the \(available) of storage '\(reference.key)'")
        }
        // Stride-0 (expanded) views could make a huge tensor out of a tiny storage.
        guard count <= available else {
            throw CheckpointError("has \(count) elements but its storage only \(available); expanded views are not supported")
        }
        outputBytes += count * size
        guard outputBytes <= TorchCheckpoint.outputBudgetFactor * bytes.count + (1 << 20) else {
            throw CheckpointError("tensors would need more than \(TorchCheckpoint.outputBudgetFactor)x the file size; refusing")
        }
        let start = range.lowerBound + (base + record.storageOffset) * size
        if Self.isContiguous(shape: record.shape, strides: record.strides) {
            return RawTensor(dtype: dtype, shape: record.shape, bytes: Array(bytes[start..<(start + count * size)]))
        }
        let shape = record.shape, strides = record.strides
        var index = [Int](repeating: 0, count: shape.count)
        var out = [UInt8](repeating: 0, count: count * size)
        out.withUnsafeMutableBufferPointer { o in
            bytes.withUnsafeBufferPointer { b in
                var source = start
                for element in 0..<count {
                    for k in 0..<size { o[element * size + k] = b[source + k] }
                    // Advance the multi-index like an odometer, last dimension fastest.
                    var d = shape.count - 1
                    while d >= 0 {
                        index[d] += 1
                        source += strides[d] * size
                        if index[d] < shape[d] { break }
                        source -= strides[d] * size * shape[d]
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return RawTensor(dtype: dtype, shape: record.shape, bytes: out)
    }

    /// Row-major contiguity, ignoring the strides of size-1 dimensions as torch does.
    static func isContiguous(shape: [Int], strides: [Int]) -> Bool {
        var expected = 1
        for (n, s) in zip(shape, strides).reversed() where n != 1 {
            if s != expected { return false }
            expected *= n
        }
        return true
    }
}
