// Named-weight access with prefixes that mirror state_dict keys, strict shape checks, and a final
// check that every stored tensor was consumed (candle's VarBuilder, ggml's sam.cpp loader).
import Foundation

/// Errors raised while binding checkpoint tensors to a model.
public enum WeightError: Error, CustomStringConvertible, Sendable, Equatable {
    case missing(name: String, expected: [Int])
    case wrongShape(name: String, expected: [Int], found: [Int])
    case unexpected(name: String, shape: [Int])
    case nonFinite(name: String)
    case invalid(String)

    public var description: String {
        switch self {
        case let .missing(name, expected): return "missing tensor '\(name)' (expected shape \(expected))"
        case let .wrongShape(name, expected, found): return "tensor '\(name)' has shape \(found), expected \(expected)"
        case let .unexpected(name, shape): return "unexpected tensor '\(name)' with shape \(shape)"
        case let .nonFinite(name): return "tensor '\(name)' contains NaN or infinity"
        case let .invalid(message): return message
        }
    }
}

/// Hands out Float32 tensors by state_dict name, checking shapes and recording what was used.
///
/// `store.scoped("gnn.layers.0.attn").tensor("merge.weight", [256, 256, 1])` reads
/// `gnn.layers.0.attn.merge.weight`. ``finish()`` throws on any tensor never read.
public final class WeightStore: @unchecked Sendable {
    // Mutable bookkeeping only; a store is used by one loader on one thread.
    private let tensors: [String: RawTensor]
    private var used: Set<String> = []
    private let lock = NSLock()

    public let metadata: [String: String]

    public init(tensors: [String: RawTensor], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public convenience init(file: SafeTensorsFile) {
        self.init(tensors: file.tensors, metadata: file.metadata)
    }

    /// All stored tensor names.
    public var names: [String] { tensors.keys.sorted() }

    /// Shape of a stored tensor, or nil.
    public func shape(of name: String) -> [Int]? { tensors[name]?.shape }

    /// A view that prefixes every name with `prefix.`.
    public func scoped(_ prefix: String) -> Scope { Scope(store: self, prefix: prefix) }

    /// Reads a tensor as Float32, requiring exactly `shape`; refuses NaN and infinity.
    public func tensor(_ name: String, _ shape: [Int]) throws -> [Float] {
        guard let raw = tensors[name] else { throw WeightError.missing(name: name, expected: shape) }
        guard raw.shape == shape else { throw WeightError.wrongShape(name: name, expected: shape, found: raw.shape) }
        let values = raw.floatValues()
        guard values.count == raw.count else { throw WeightError.invalid("tensor '\(name)' is truncated") }
        for v in values where !v.isFinite { throw WeightError.nonFinite(name: name) }
        lock.lock(); used.insert(name); lock.unlock()
        return values
    }

    /// Marks a tensor as deliberately ignored (e.g. BatchNorm num_batches_tracked).
    public func ignore(_ name: String) {
        lock.lock(); used.insert(name); lock.unlock()
    }

    /// Throws on the first (sorted) tensor that no loader read.
    public func finish() throws {
        lock.lock(); defer { lock.unlock() }
        for name in tensors.keys.sorted() where !used.contains(name) {
            throw WeightError.unexpected(name: name, shape: tensors[name]?.shape ?? [])
        }
    }

    /// A name prefix over a ``WeightStore``.
    public struct Scope: Sendable {
        public let store: WeightStore
        public let prefix: String

        public func scoped(_ sub: String) -> Scope { Scope(store: store, prefix: prefix.isEmpty ? sub : prefix + "." + sub) }
        public func name(_ leaf: String) -> String { prefix.isEmpty ? leaf : prefix + "." + leaf }
        public func tensor(_ leaf: String, _ shape: [Int]) throws -> [Float] { try store.tensor(name(leaf), shape) }
        public func has(_ leaf: String) -> Bool { store.shape(of: name(leaf)) != nil }
        public func shape(of leaf: String) -> [Int]? { store.shape(of: name(leaf)) }
        public func ignore(_ leaf: String) { store.ignore(name(leaf)) }
    }

    /// Root scope (no prefix).
    public var root: Scope { Scope(store: self, prefix: "") }
}
