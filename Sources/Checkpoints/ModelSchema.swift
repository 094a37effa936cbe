// Weight schemas (the tensor names and shapes a network's state dict has) and the catalog of
// networks that converter, loader and downloader share. Each network describes its own weights
// in its folder under Sources/Networks. Validation against a schema happens before any weight is
// used, so a wrong or damaged file fails with the first offending tensor named.
import Foundation

/// Which network a weight file holds: `superpoint`, `superglue`, ... Each network declares its
/// kind in its ``ModelDescription``; the known ones form a ``ModelCatalog``.
public struct ModelKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// What the loader, the converter and the downloader know about one network's weights: how to
/// recognise its tensor names, the schema a file's names imply, and its official files.
public struct ModelDescription: Sendable {
    public let kind: ModelKind
    /// Human-readable name and an example tensor, for messages ("SuperPoint (conv1a.weight ...)").
    public let summary: String
    /// True for a tensor name only this model has.
    public let recognizes: @Sendable (String) -> Bool
    /// The schema for a file with these tensors (name -> shape): the names give, for instance, the
    /// layer count; the shapes tell variants apart that share every name (ALIKED's widths).
    public let schema: @Sendable (_ shapes: [String: [Int]]) throws -> WeightSchema
    /// The official files holding these weights.
    public let files: [OfficialWeights.File]

    public init(kind: ModelKind, summary: String, files: [OfficialWeights.File] = [],
                recognizes: @escaping @Sendable (String) -> Bool,
                schema: @escaping @Sendable (_ shapes: [String: [Int]]) throws -> WeightSchema) {
        self.kind = kind
        self.summary = summary
        self.files = files
        self.recognizes = recognizes
        self.schema = schema
    }
}

/// The networks a converter or loader knows, in one list.
public struct ModelCatalog: Sendable {
    public let models: [ModelDescription]

    public init(_ models: [ModelDescription]) { self.models = models }

    /// The description of `kind`; throws for a kind not in the catalog.
    public func description(of kind: ModelKind) throws -> ModelDescription {
        guard let model = models.first(where: { $0.kind == kind }) else {
            throw WeightError.invalid("unknown model '\(kind)'; known: \(models.map(\.kind.rawValue).joined(separator: ", "))")
        }
        return model
    }

    /// Detects the model from tensor names; throws when none or several models match.
    public func detect<S: Sequence>(names: S) throws -> ModelKind where S.Element == String {
        var found: [ModelDescription] = []
        for name in names {
            for model in models where !found.contains(where: { $0.kind == model.kind }) && model.recognizes(name) { found.append(model) }
        }
        switch found.count {
        case 1: return found[0].kind
        case 0: throw WeightError.invalid("tensor names match none of \(models.map(\.summary).joined(separator: ", "))")
        default: throw WeightError.invalid("tensor names mix \(found.map(\.kind.rawValue).joined(separator: " and ")) layers; pass the model kind explicitly")
        }
    }

    /// The schema for a file's tensors (name -> shape): the model kind given or detected.
    public func schema(forTensors shapes: [String: [Int]], kind: ModelKind? = nil) throws -> WeightSchema {
        let resolved = try kind ?? detect(names: shapes.keys.sorted())
        return try description(of: resolved).schema(shapes)
    }

    /// Every official file of every model, in catalog order.
    public var files: [OfficialWeights.File] { models.flatMap(\.files) }
}

/// The expected tensors of one model: names, shapes, and which ones may be absent.
public struct WeightSchema: Sendable, Equatable {
    /// One expected tensor.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        /// BatchNorm `num_batches_tracked` counters: written by torch >= 0.4.1, absent from older
        /// files and from converted safetensors; never used for inference.
        public var optional: Bool

        public init(name: String, shape: [Int], optional: Bool = false) {
            self.name = name
            self.shape = shape
            self.optional = optional
        }
    }

    public let kind: ModelKind
    public var entries: [Entry]
    /// Values the schema read from the names that a converted file records in its metadata
    /// (for instance `gnn_layers`).
    public let metadata: [String: String]

    public init(kind: ModelKind, entries: [Entry], metadata: [String: String] = [:]) {
        self.kind = kind
        self.entries = entries
        self.metadata = metadata
    }

    /// Appends `<name>.weight` `[output, input, kernel...]` and `<name>.bias` `[output]`.
    public mutating func addConvolution(_ name: String, input: Int, output: Int, kernel: [Int]) {
        entries.append(Entry(name: name + ".weight", shape: [output, input] + kernel))
        entries.append(Entry(name: name + ".bias", shape: [output]))
    }

    /// Appends a BatchNorm's four tensors and its optional `num_batches_tracked` counter.
    public mutating func addBatchNorm(_ name: String, channels: Int) {
        for leaf in ["weight", "bias", "running_mean", "running_var"] {
            entries.append(Entry(name: "\(name).\(leaf)", shape: [channels]))
        }
        entries.append(Entry(name: name + ".num_batches_tracked", shape: [], optional: true))
    }

    /// The highest `N` in names `<prefix>N.` (e.g. `gnn.layers.`), or nil when none has it.
    /// Throws for an index of `limit` or more, so a hostile file cannot ask for huge schemas.
    public static func highestIndex<C: Collection>(in names: C, prefix: String, limit: Int) throws -> Int? where C.Element == String {
        var highest: Int?
        for name in names where name.hasPrefix(prefix) {
            let digits = name.dropFirst(prefix.count).prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 6, let index = Int(digits) else { continue }
            guard index < limit else {
                throw WeightError.invalid("tensor '\(name.prefix(100))' names layer \(index); at most \(limit) layers are supported")
            }
            highest = max(highest ?? index, index)
        }
        return highest
    }

    /// Checks every tensor: throws for the first expected tensor missing or wrongly shaped (in
    /// schema order), then for the first tensor the schema does not know (in `order`, else sorted).
    public func validate(shapes: [String: [Int]], order: [String]? = nil) throws {
        var known = Set<String>()
        for entry in entries {
            known.insert(entry.name)
            guard let found = shapes[entry.name] else {
                if entry.optional { continue }
                throw WeightError.missing(name: entry.name, expected: entry.shape)
            }
            guard found == entry.shape else { throw WeightError.wrongShape(name: entry.name, expected: entry.shape, found: found) }
        }
        for name in order ?? shapes.keys.sorted() where !known.contains(name) {
            throw WeightError.unexpected(name: name, shape: shapes[name] ?? [])
        }
    }

    /// Checks the tensors of a safetensors file (see ``validate(shapes:order:)``).
    public func validate(_ file: SafeTensorsFile) throws {
        try validate(shapes: file.tensors.mapValues(\.shape))
    }
}
