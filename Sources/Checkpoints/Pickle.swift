// A restricted Python pickle reader: it decodes the opcodes torch checkpoints use into a value
// tree and never runs anything. Globals resolve only against an allow-list of names whose
// meaning this file implements itself (building an OrderedDict, rebuilding a tensor record);
// every other global is an error that names it.
//
// Containers live in an arena addressed by index rather than as nested Swift values, so memo
// aliasing (a list appended to after it was memoized) behaves as in Python, self-referencing
// containers cannot leak through reference cycles, and deeply nested input cannot overflow the
// stack when the tree is destroyed.
import Foundation

/// An error while decoding a pickle stream; the message names the byte offset and the reason.
public struct PickleError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A global name from the allow-list, resolved to what this reader knows about it.
public enum PickleGlobal: Sendable, Equatable {
    /// `collections.OrderedDict`: called to make an (ordered) dict.
    case orderedDict
    /// `torch._utils._rebuild_tensor_v2` (torch >= 0.4) or `_rebuild_tensor` (torch 0.3).
    case rebuildTensor(version: Int)
    /// `torch._utils._rebuild_parameter`: an nn.Parameter, which is its tensor here.
    case rebuildParameter
    /// `torch.Size`: a tuple of dimensions.
    case torchSize
    /// A typed storage class such as `torch.FloatStorage`, or a dtype such as `torch.float32`.
    case elementType(DType)

    /// Resolves `module.name` against the allow-list, or nil.
    public static func resolve(module: String, name: String) -> PickleGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensor(version: 2)
        case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor(version: 1)
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch", "Size"): return .torchSize
        case ("torch", _), ("torch.cuda", _):
            if let dtype = storageTypes[name] ?? (module == "torch" ? dtypeNames[name] : nil) { return .elementType(dtype) }
            return nil
        default: return nil
        }
    }

    static let storageTypes: [String: DType] = [
        "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "DoubleStorage": .f64,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]
    static let dtypeNames: [String: DType] = [
        "float32": .f32, "float": .f32, "float16": .f16, "half": .f16, "bfloat16": .bf16,
        "float64": .f64, "double": .f64, "int64": .i64, "long": .i64, "int32": .i32, "int": .i32,
        "int16": .i16, "short": .i16, "int8": .i8, "uint8": .u8, "bool": .bool,
    ]
}

/// A tensor as a checkpoint's pickle describes it: a view into a storage that is read later.
public struct TensorRecord: Sendable, Equatable {
    /// The storage as its persistent id names it.
    public var storage: StorageReference
    /// Offset of the first element, in elements of the storage's type.
    public var storageOffset: Int
    /// Size of each dimension (empty for a 0-d tensor).
    public var shape: [Int]
    /// Step in storage elements along each dimension (torch strides; never negative).
    public var strides: [Int]
}

/// A persistent id `('storage', type, key, location, numel[, (view_key, offset, size)])`.
public struct StorageReference: Sendable, Equatable {
    /// Element type given by the storage class (or dtype) in the id.
    public var dtype: DType
    /// The storage's key: the entry name under `data/` (zip) or its place in the key list (legacy).
    public var key: String
    /// Elements in the whole storage named by `key`.
    public var elementCount: Int
    /// For legacy views: the slice `[viewOffset, viewOffset + viewCount)` of the root storage.
    public var viewOffset: Int = 0
    /// Elements in the legacy view, or nil when the reference is to the whole storage.
    public var viewCount: Int?
}

/// A decoded pickle value. Containers are indices into ``PickleReader/Result/containers``.
public enum PickleValue: Sendable, Equatable {
    /// Python `None`.
    case none
    case bool(Bool)
    /// An integer that fits in Int64.
    case int(Int64)
    /// An integer that does not fit in Int64: little-endian two's complement bytes.
    case bigInt([UInt8])
    case float(Double)
    /// Text (Python 3 `str`, or Python 2 `str` decoded as torch.load does).
    case string(String)
    case bytes([UInt8])
    /// A tuple, list, dict or set: an index into the reader's container arena.
    case container(Int)
    /// An allow-listed global.
    case global(PickleGlobal)
    /// What the persistent-load hook returned for a storage id.
    case storage(StorageReference)
    /// The result of rebuilding a tensor.
    case tensor(TensorRecord)
}

/// The mutable containers a pickle builds.
public enum PickleContainer: Sendable, Equatable {
    case tuple([PickleValue])
    case list([PickleValue])
    /// Dicts keep insertion order, as Python's do.
    case dict([(key: PickleValue, value: PickleValue)])
    case set([PickleValue])

    /// Structural equality (dict entries compared in order).
    public static func == (a: PickleContainer, b: PickleContainer) -> Bool {
        switch (a, b) {
        case let (.tuple(x), .tuple(y)), let (.list(x), .list(y)), let (.set(x), .set(y)): return x == y
        case let (.dict(x), .dict(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }
}

/// Decodes one pickle (up to and including its STOP opcode).
public struct PickleReader {
    /// The decoded root value, the container arena, and where the pickle ended.
    public struct Result: Sendable {
        /// The value STOP returned.
        public var root: PickleValue
        /// Every container the pickle built; ``PickleValue/container(_:)`` indexes it.
        public var containers: [PickleContainer]
        /// Offset just past the STOP opcode.
        public var end: Int

        /// The container a value refers to, if it is one.
        public func container(_ value: PickleValue) -> PickleContainer? {
            if case let .container(index) = value { return containers[index] }
            return nil
        }
    }

    /// Deepest container nesting accepted; state dicts nest a handful of levels.
    public static let maxNesting = 64

    private let bytes: [UInt8]
    private var position: Int
    private let end: Int
    private let persistentLoad: (PickleValue, [PickleContainer]) throws -> PickleValue

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var containers: [PickleContainer] = []
    /// Nesting depth of each container (1 for one holding no containers).
    private var depths: [Int] = []

    /// - Parameters:
    ///   - bytes: the buffer holding the pickle.
    ///   - start: offset of its first opcode; `end` bounds it.
    ///   - persistentLoad: maps a persistent id to a value; it sees the arena to read tuples.
    public init(bytes: [UInt8], start: Int = 0, end: Int? = nil,
                persistentLoad: @escaping (PickleValue, [PickleContainer]) throws -> PickleValue = { _, _ in
                    throw PickleError("persistent ids are not expected here")
                }) {
        self.bytes = bytes
        self.position = start
        self.end = min(end ?? bytes.count, bytes.count)
        self.persistentLoad = persistentLoad
    }

    /// Decodes opcodes until STOP.
    public mutating func read() throws -> Result {
        while true {
            let offset = position
            let opcode = try byte()
            do {
                if try execute(opcode) {
                    guard stack.count == 1, marks.isEmpty, let root = stack.first else {
                        throw PickleError("STOP with \(stack.count) values on the stack")
                    }
                    return Result(root: root, containers: containers, end: position)
                }
            } catch let error as PickleError where !error.description.hasPrefix("pickle byte ") {
                throw PickleError("pickle byte \(offset) (opcode 0x\(String(opcode, radix: 16))): \(error.description)")
            }
        }
    }

    // MARK: - Input

    private mutating func byte() throws -> UInt8 {
        guard position < end else { throw PickleError("pickle byte \(position): input ends before the STOP opcode") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= end - position else {
            throw PickleError("a \(count)-byte argument runs past the end of the input (\(end - position) bytes left)")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private mutating func littleEndian(_ count: Int) throws -> UInt64 {
        var value: UInt64 = 0
        for (i, b) in try take(count).enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        return value
    }

    /// A length prefix, checked against the bytes left so a bogus length cannot allocate.
    private mutating func length(_ count: Int) throws -> Int {
        let value = try littleEndian(count)
        guard value <= UInt64(end - position) else {
            throw PickleError("length \(value) runs past the end of the input (\(end - position) bytes left)")
        }
        return Int(value)
    }

    private mutating func line() throws -> String {
        guard let newline = bytes[position..<end].firstIndex(of: 0x0a) else { throw PickleError("unterminated text argument") }
        defer { position = newline + 1 }
        return String(decoding: bytes[position..<newline], as: UTF8.self)
    }

    // MARK: - Stack

    private mutating func pop() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let value = stack.popLast() else { throw PickleError("stack underflow") }
        return value
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw PickleError("no MARK on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func top() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let value = stack.last else { throw PickleError("stack underflow") }
        return value
    }

    private func depth(of value: PickleValue) -> Int {
        if case let .container(index) = value { return depths[index] }
        return 0
    }

    private mutating func newContainer(_ container: PickleContainer, children: [PickleValue]) throws -> PickleValue {
        let nesting = 1 + children.reduce(0) { max($0, depth(of: $1)) }
        guard nesting <= Self.maxNesting else { throw PickleError("containers nest deeper than \(Self.maxNesting) levels") }
        containers.append(container)
        depths.append(nesting)
        return .container(containers.count - 1)
    }

    /// Adds items to the list, dict or set `target` refers to (APPEND(S), SETITEM(S), ADDITEMS).
    private mutating func extend(_ target: PickleValue, with items: [PickleValue], pairs: Bool) throws {
        guard case let .container(index) = target else { throw PickleError("cannot add items to a non-container") }
        let childDepth = items.reduce(0) { max($0, depth(of: $1)) }
        guard childDepth + 1 <= Self.maxNesting else { throw PickleError("containers nest deeper than \(Self.maxNesting) levels") }
        depths[index] = max(depths[index], childDepth + 1)
        switch containers[index] {
        case var .list(values) where !pairs:
            containers[index] = .list([])  // keep the array uniquely referenced while appending
            values.append(contentsOf: items)
            containers[index] = .list(values)
        case var .set(values) where !pairs:
            containers[index] = .set([])
            values.append(contentsOf: items)
            containers[index] = .set(values)
        case var .dict(entries) where pairs:
            guard items.count % 2 == 0 else { throw PickleError("SETITEMS with an odd number of values") }
            containers[index] = .dict([])
            // Repeated keys are kept in order; readers apply Python's last-one-wins rule, which
            // keeps a hostile stream of duplicate keys linear here.
            for i in stride(from: 0, to: items.count, by: 2) { entries.append((items[i], items[i + 1])) }
            containers[index] = .dict(entries)
        default:
            throw PickleError(pairs ? "SETITEM on a value that is not a dict" : "APPEND on a value that is not a list or set")
        }
    }

    // MARK: - Opcodes

    /// Runs one opcode; returns true at STOP.
    private mutating func execute(_ opcode: UInt8) throws -> Bool {
        switch opcode {
        case 0x80:  // PROTO
            let version = try byte()
            guard version <= 5 else { throw PickleError("unsupported pickle protocol \(version)") }
        case 0x95:  // FRAME: a length hint only; opcodes are read from the buffer either way
            _ = try length(8)
        case 0x2e:  // STOP
            return true
        case 0x28:  // MARK
            marks.append(stack.count)
        case 0x30:  // POP
            if let mark = marks.last, mark == stack.count { marks.removeLast() } else { _ = try pop() }
        case 0x31:  // POP_MARK
            _ = try popMark()
        case 0x32:  // DUP
            stack.append(try top())
        case 0x4e:  // NONE
            stack.append(.none)
        case 0x88: stack.append(.bool(true))  // NEWTRUE
        case 0x89: stack.append(.bool(false))  // NEWFALSE
        case 0x4a:  // BININT
            stack.append(.int(Int64(Int32(truncatingIfNeeded: try littleEndian(4)))))
        case 0x4b:  // BININT1
            stack.append(.int(Int64(try byte())))
        case 0x4d:  // BININT2
            stack.append(.int(Int64(try littleEndian(2))))
        case 0x8a:  // LONG1
            stack.append(Self.integer(Array(try take(Int(try byte())))))
        case 0x8b:  // LONG4
            stack.append(Self.integer(Array(try take(try length(4)))))
        case 0x49:  // INT (protocol 0 text; "00"/"01" are False/True)
            let text = try line()
            if text == "00" { stack.append(.bool(false)) } else if text == "01" { stack.append(.bool(true)) } else {
                guard let value = Int64(text) else { throw PickleError("bad INT argument '\(text.prefix(40))'") }
                stack.append(.int(value))
            }
        case 0x4c:  // LONG (protocol 0 text)
            var text = try line()
            if text.hasSuffix("L") { text.removeLast() }
            guard let value = Int64(text) else { throw PickleError("LONG argument '\(text.prefix(40))' is not a 64-bit integer") }
            stack.append(.int(value))
        case 0x47:  // BINFLOAT (big-endian)
            var bits: UInt64 = 0
            for b in try take(8) { bits = bits << 8 | UInt64(b) }
            stack.append(.float(Double(bitPattern: bits)))
        case 0x46:  // FLOAT (protocol 0 text)
            let text = try line()
            guard let value = Double(text) else { throw PickleError("bad FLOAT argument '\(text.prefix(40))'") }
            stack.append(.float(value))
        case 0x58:  // BINUNICODE
            stack.append(try utf8(try take(try length(4))))
        case 0x8c:  // SHORT_BINUNICODE
            stack.append(try utf8(try take(Int(try byte()))))
        case 0x8d:  // BINUNICODE8
            stack.append(try utf8(try take(try length(8))))
        case 0x56:  // UNICODE (protocol 0, raw-unicode-escape; ASCII is all torch writes)
            stack.append(.string(try line()))
        case 0x54:  // BINSTRING: Python 2 str; torch.load decodes these as text
            stack.append(Self.legacyString(try take(try length(4))))
        case 0x55:  // SHORT_BINSTRING
            stack.append(Self.legacyString(try take(Int(try byte()))))
        case 0x42:  // BINBYTES
            stack.append(.bytes(Array(try take(try length(4)))))
        case 0x43:  // SHORT_BINBYTES
            stack.append(.bytes(Array(try take(Int(try byte())))))
        case 0x8e, 0x96:  // BINBYTES8, BYTEARRAY8
            stack.append(.bytes(Array(try take(try length(8)))))
        case 0x29:  // EMPTY_TUPLE
            stack.append(try newContainer(.tuple([]), children: []))
        case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
            var items: [PickleValue] = []
            for _ in 0..<Int(opcode - 0x84) { items.insert(try pop(), at: 0) }
            stack.append(try newContainer(.tuple(items), children: items))
        case 0x74:  // TUPLE
            let items = try popMark()
            stack.append(try newContainer(.tuple(items), children: items))
        case 0x5d:  // EMPTY_LIST
            stack.append(try newContainer(.list([]), children: []))
        case 0x6c:  // LIST
            let items = try popMark()
            stack.append(try newContainer(.list(items), children: items))
        case 0x61:  // APPEND
            let item = try pop()
            try extend(try top(), with: [item], pairs: false)
        case 0x65:  // APPENDS
            let items = try popMark()
            try extend(try top(), with: items, pairs: false)
        case 0x7d:  // EMPTY_DICT
            stack.append(try newContainer(.dict([]), children: []))
        case 0x64:  // DICT
            let items = try popMark()
            let dict = try newContainer(.dict([]), children: [])
            try extend(dict, with: items, pairs: true)
            stack.append(dict)
        case 0x73:  // SETITEM
            let value = try pop()
            let key = try pop()
            try extend(try top(), with: [key, value], pairs: true)
        case 0x75:  // SETITEMS
            let items = try popMark()
            try extend(try top(), with: items, pairs: true)
        case 0x8f:  // EMPTY_SET
            stack.append(try newContainer(.set([]), children: []))
        case 0x90:  // ADDITEMS
            let items = try popMark()
            try extend(try top(), with: items, pairs: false)
        case 0x91:  // FROZENSET
            let items = try popMark()
            stack.append(try newContainer(.set(items), children: items))
        case 0x63:  // GLOBAL "module\nname\n"
            let module = try line()
            let name = try line()
            stack.append(try global(module: module, name: name))
        case 0x93:  // STACK_GLOBAL
            let name = try pop()
            let module = try pop()
            guard case let .string(m) = module, case let .string(n) = name else {
                throw PickleError("STACK_GLOBAL needs two strings")
            }
            stack.append(try global(module: m, name: n))
        case 0x52:  // REDUCE
            let arguments = try pop()
            let callable = try pop()
            stack.append(try call(callable, arguments))
        case 0x81:  // NEWOBJ: cls.__new__(cls, *args); only OrderedDict is allowed as a class
            let arguments = try pop()
            let cls = try pop()
            guard case .global(.orderedDict) = cls else { throw PickleError("NEWOBJ on something other than OrderedDict") }
            stack.append(try call(cls, arguments))
        case 0x62:  // BUILD: sets instance state
            _ = try pop()
            let target = try top()
            // An OrderedDict state_dict carries `_metadata` (per-module versions) as instance
            // state; nothing the weights need, so it is accepted and dropped. Anything else
            // would need setstate semantics this reader does not implement.
            guard case let .container(index) = target, case .dict = containers[index] else {
                throw PickleError("BUILD on a value other than a dict")
            }
        case 0x50:  // PERSID (protocol 0 text id)
            stack.append(try persistentLoad(.string(try line()), containers))
        case 0x51:  // BINPERSID
            stack.append(try persistentLoad(try pop(), containers))
        case 0x70:  // PUT (text index)
            let text = try line()
            guard let index = Int(text), index >= 0 else { throw PickleError("bad PUT index '\(text.prefix(20))'") }
            memo[index] = try top()
        case 0x71:  // BINPUT
            memo[Int(try byte())] = try top()
        case 0x72:  // LONG_BINPUT
            memo[Int(try littleEndian(4))] = try top()
        case 0x94:  // MEMOIZE
            memo[memo.count] = try top()
        case 0x67:  // GET (text index)
            let text = try line()
            guard let index = Int(text), let value = memo[index] else { throw PickleError("GET of an unknown memo entry '\(text.prefix(20))'") }
            stack.append(value)
        case 0x68:  // BINGET
            let index = Int(try byte())
            guard let value = memo[index] else { throw PickleError("BINGET of unknown memo entry \(index)") }
            stack.append(value)
        case 0x6a:  // LONG_BINGET
            let index = Int(try littleEndian(4))
            guard let value = memo[index] else { throw PickleError("LONG_BINGET of unknown memo entry \(index)") }
            stack.append(value)
        default:
            throw PickleError("unsupported pickle opcode 0x\(String(opcode, radix: 16))")
        }
        return false
    }

    private func utf8(_ slice: ArraySlice<UInt8>) throws -> PickleValue {
        guard let text = String(validating: slice, as: UTF8.self) else { throw PickleError("string is not valid UTF-8") }
        return .string(text)
    }

    /// Python 2 `str`: torch.load decodes it as UTF-8; bytes that are not UTF-8 fall back to
    /// Latin-1 so no input is rejected merely for its encoding.
    private static func legacyString(_ slice: ArraySlice<UInt8>) -> PickleValue {
        if let text = String(validating: slice, as: UTF8.self) { return .string(text) }
        return .string(String(slice.map { Character(Unicode.Scalar($0)) }))
    }

    /// Little-endian two's complement integer bytes (LONG1/LONG4).
    static func integer(_ raw: [UInt8]) -> PickleValue {
        if raw.isEmpty { return .int(0) }
        if raw.count > 8 {
            // Drop redundant sign-extension bytes so equal numbers compare equal.
            var trimmed = raw
            while trimmed.count > 1, let last = trimmed.last,
                  (last == 0 && trimmed[trimmed.count - 2] & 0x80 == 0) || (last == 0xff && trimmed[trimmed.count - 2] & 0x80 != 0) {
                trimmed.removeLast()
            }
            if trimmed.count <= 8 {
                let fill: UInt8 = trimmed[trimmed.count - 1] & 0x80 != 0 ? 0xff : 0
                return integer(trimmed + [UInt8](repeating: fill, count: 8 - trimmed.count))
            }
            return .bigInt(trimmed)
        }
        var value: UInt64 = 0
        for (i, b) in raw.enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        if raw.count < 8, raw[raw.count - 1] & 0x80 != 0 { value |= ~0 << (8 * UInt64(raw.count)) }
        return .int(Int64(bitPattern: value))
    }

    private func global(module: String, name: String) throws -> PickleValue {
        guard let resolved = PickleGlobal.resolve(module: module, name: name) else {
            throw PickleError("pickle references global '\(module.prefix(80)).\(name.prefix(80))', which is not on the allow-list")
        }
        return .global(resolved)
    }

    private func tupleItems(_ value: PickleValue) -> [PickleValue]? {
        if case let .container(index) = value, case let .tuple(items) = containers[index] { return items }
        return nil
    }

    /// The calls an allow-listed global may make.
    private mutating func call(_ callable: PickleValue, _ arguments: PickleValue) throws -> PickleValue {
        guard case let .global(function) = callable else { throw PickleError("REDUCE on a value that is not an allowed global") }
        guard let args = tupleItems(arguments) else { throw PickleError("REDUCE arguments are not a tuple") }
        switch function {
        case .orderedDict:
            // Python 3 pickles OrderedDict() and adds items with SETITEMS; Python 2 passes the
            // items as one list of [key, value] pairs.
            let dict = try newContainer(.dict([]), children: [])
            if let first = args.first, args.count == 1, case let .container(index) = first {
                var items: [PickleValue] = []
                switch containers[index] {
                case let .list(pairs), let .tuple(pairs):
                    for pair in pairs {
                        guard case let .container(p) = pair else { throw PickleError("OrderedDict items are not key/value pairs") }
                        switch containers[p] {
                        case let .list(kv) where kv.count == 2, let .tuple(kv) where kv.count == 2: items += kv
                        default: throw PickleError("OrderedDict items are not key/value pairs")
                        }
                    }
                case let .dict(entries):
                    for entry in entries { items += [entry.key, entry.value] }
                case .set:
                    throw PickleError("OrderedDict built from a set")
                }
                try extend(dict, with: items, pairs: true)
            } else if !args.isEmpty {
                throw PickleError("OrderedDict called with \(args.count) arguments")
            }
            return dict
        case .torchSize:
            guard args.count == 1, let dims = tupleItems(args[0]) else { throw PickleError("torch.Size expects one tuple") }
            return try newContainer(.tuple(dims), children: dims)
        case .rebuildParameter:
            // (data, requires_grad, backward_hooks): the parameter is its tensor.
            guard args.count == 3, case .tensor = args[0] else { throw PickleError("_rebuild_parameter expects (tensor, requires_grad, hooks)") }
            return args[0]
        case let .rebuildTensor(version):
            // v2: (storage, offset, size, stride, requires_grad, backward_hooks[, metadata]);
            // v1 (torch 0.3): (storage, offset, size, stride).
            let counts = version == 2 ? 6...7 : 4...4
            guard counts.contains(args.count) else {
                throw PickleError("tensor rebuild expects \(counts.lowerBound) arguments, got \(args.count)")
            }
            guard case let .storage(storage) = args[0] else { throw PickleError("tensor rebuild without a storage") }
            guard case let .int(offset) = args[1], offset >= 0, offset < Int64(1) << 50 else {
                throw PickleError("tensor storage offset is not a valid integer")
            }
            let shape = try dimensions(args[2], what: "size")
            let strides = try dimensions(args[3], what: "stride")
            guard shape.count == strides.count else {
                throw PickleError("tensor size \(shape) and stride \(strides) differ in rank")
            }
            return .tensor(TensorRecord(storage: storage, storageOffset: Int(offset), shape: shape, strides: strides))
        case .elementType:
            throw PickleError("storage and dtype objects cannot be called")
        }
    }

    private func dimensions(_ value: PickleValue, what: String) throws -> [Int] {
        guard let items = tupleItems(value), items.count <= 32 else { throw PickleError("tensor \(what) is not a tuple of at most 32 integers") }
        return try items.map {
            guard case let .int(n) = $0, n >= 0, n < Int64(1) << 50 else { throw PickleError("tensor \(what) holds an invalid entry") }
            return Int(n)
        }
    }
}
