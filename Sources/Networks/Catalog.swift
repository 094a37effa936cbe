// The networks this package knows. Adding one means a folder beside SuperPoint/ and SuperGlue/
// and one line here.
import Checkpoints
import Foundation

extension ModelCatalog {
    /// Every network of the package: what `convert-weights` detects, validates and downloads.
    public static let standard = ModelCatalog([
        SuperPoint.modelDescription,
        SuperGlue.modelDescription,
        LightGlue.modelDescription,
        ALIKED.modelDescription,
        DISK.modelDescription,
    ])
}

extension OfficialWeights {
    /// The official files of every network in ``ModelCatalog/standard``.
    public static var files: [File] { ModelCatalog.standard.files }

    /// Downloads, verifies and converts `selection` (default: every official file), from
    /// `baseURL` when given, else from each file's own URL.
    @discardableResult
    public static func downloadAndConvert(_ selection: [File] = files, from baseURL: URL? = nil, into directory: URL,
                                          progress: @Sendable (String) -> Void = { _ in }) async throws -> [URL] {
        try await downloadAndConvert(selection, catalog: .standard, from: baseURL, into: directory, progress: progress)
    }
}

extension WeightConversion {
    /// ``convertFile(at:to:model:catalog:)`` with the package's networks.
    @discardableResult
    public static func convertFile(at input: URL, to output: URL, model: ModelKind? = nil) throws -> SafeTensorsFile {
        try convertFile(at: input, to: output, model: model, catalog: .standard)
    }

    /// ``loadWeights(at:model:catalog:)`` with the package's networks.
    public static func loadWeights(at url: URL, model: ModelKind? = nil) throws -> SafeTensorsFile {
        try loadWeights(at: url, model: model, catalog: .standard)
    }

    /// ``convert(checkpointBytes:name:model:catalog:)`` with the package's networks.
    public static func convert(checkpointBytes bytes: [UInt8], name: String, model: ModelKind? = nil) throws -> SafeTensorsFile {
        try convert(checkpointBytes: bytes, name: name, model: model, catalog: .standard)
    }
}
