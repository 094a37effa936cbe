// convert-weights: PyTorch checkpoints of the package's networks -> safetensors, and a download
// mode for the official files. The logic lives in Checkpoints; which networks exist, how to
// recognise them and their files come from the network catalog (Networks/Catalog.swift).
import ArgumentParser
import Checkpoints
import Foundation
import Networks

@main
struct ConvertWeights: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert-weights",
        abstract: "Convert SuperPoint/SuperGlue PyTorch checkpoints to safetensors, without Python.",
        subcommands: [Convert.self, Download.self],
        defaultSubcommand: Convert.self
    )
}

extension ModelKind: ExpressibleByArgument {
    public init?(argument: String) {
        guard ModelCatalog.standard.models.contains(where: { $0.kind.rawValue == argument }) else { return nil }
        self.init(rawValue: argument)
    }
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert one checkpoint (legacy or zip torch.save format) to a Float32 safetensors file."
    )

    @Argument(help: "PyTorch checkpoint (.pth).")
    var input: String

    @Argument(help: "Output safetensors file.")
    var output: String

    @Option(help: ArgumentHelp("Model kind (\(ModelCatalog.standard.models.map(\.kind.rawValue).joined(separator: " or "))); detected from the tensor names when omitted.", valueName: "kind"))
    var model: ModelKind?

    func run() throws {
        let file = try WeightConversion.convertFile(at: URL(fileURLWithPath: input), to: URL(fileURLWithPath: output), model: model)
        let kind = file.metadata[WeightConversion.MetadataKey.model] ?? "?"
        let layers = file.metadata[SuperGlue.gnnLayersMetadataKey].map { $0 == "1" ? ", 1 GNN layer" : ", \($0) GNN layers" } ?? ""
        print("\(output): \(kind)\(layers), \(file.tensors.count) tensors")
    }
}

struct Download: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download the official weights (pinned commit, verified git blob ids) and convert them.",
        discussion: "Files: \(OfficialWeights.files.map(\.name).joined(separator: ", ")) from \(OfficialWeights.repository) at \(OfficialWeights.commit). The base URL can also be set with \(OfficialWeights.baseURLEnvironmentVariable)."
    )

    @Option(name: .customLong("output-dir"), help: "Directory for the .pth and .safetensors files.")
    var outputDirectory: String = "Weights"

    @Option(name: .customLong("base-url"), help: "URL prefix the file names are appended to (default: the pinned GitHub raw URL).")
    var baseURL: String?

    func run() async throws {
        let base = try OfficialWeights.baseURL(explicit: baseURL)
        try await OfficialWeights.downloadAndConvert(from: base, into: URL(fileURLWithPath: outputDirectory)) { print($0) }
    }
}
