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
        abstract: "Convert SuperPoint, SuperGlue and LightGlue PyTorch checkpoints to safetensors, without Python.",
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
    /// What `download` fetches without `--model`: the Magic Leap SuperPoint and SuperGlue files,
    /// as before other networks had official files.
    static let defaultModels: [ModelKind] = [.superpoint, .superglue]

    static var filesByModel: String {
        ModelCatalog.standard.models.filter { !$0.files.isEmpty }.map { model in
            "\(model.kind.rawValue): " + model.files.map { "\($0.url) (\($0.pin))" }.joined(separator: ", ")
        }.joined(separator: "; ")
    }

    static let configuration = CommandConfiguration(
        abstract: "Download official weights (pinned URLs, verified git blob ids or SHA-256) and convert them.",
        discussion: """
            Files by model: \(filesByModel). Without --model: \(defaultModels.map(\.rawValue).joined(separator: ", ")) \
            (the Magic Leap files, from \(OfficialWeights.repository) at \(OfficialWeights.commit)). \
            --base-url or \(OfficialWeights.baseURLEnvironmentVariable) replaces every file's own location.
            """
    )

    @Option(name: .customLong("output-dir"), help: "Directory for the .pth and .safetensors files.")
    var outputDirectory: String = "Weights"

    @Option(name: .customLong("base-url"), help: "URL prefix the file names are appended to, for every file (default: each file's pinned URL).")
    var baseURL: String?

    @Option(name: .customLong("model"),
            help: ArgumentHelp("Download the official files of this model (repeatable; \(ModelCatalog.standard.models.filter { !$0.files.isEmpty }.map(\.kind.rawValue).joined(separator: ", ")), or all). Default: \(defaultModels.map(\.rawValue).joined(separator: " and ")).", valueName: "kind"))
    var models: [String] = []

    @Option(name: .customLong("file"),
            help: ArgumentHelp("Download this official file only (repeatable, e.g. disk_lightglue.pth); combines with --model.", valueName: "name"))
    var files: [String] = []

    /// The files `--model` and `--file` select, in catalog order.
    func selection() throws -> [OfficialWeights.File] {
        let all = ModelCatalog.standard.files
        if models.contains("all") { return all }
        for name in files where !all.contains(where: { $0.name == name }) {
            throw ValidationError("--file \(name): not an official file; choose from \(all.map(\.name).joined(separator: ", "))")
        }
        let kinds = models.isEmpty && files.isEmpty ? Self.defaultModels.map(\.rawValue) : models
        for kind in kinds where !all.contains(where: { $0.model.rawValue == kind }) {
            let known = ModelCatalog.standard.models.filter { !$0.files.isEmpty }.map(\.kind.rawValue) + ["all"]
            throw ValidationError("--model \(kind): no official files; choose from \(known.joined(separator: ", "))")
        }
        return all.filter { kinds.contains($0.model.rawValue) || files.contains($0.name) }
    }

    func validate() throws { _ = try selection() }

    func run() async throws {
        let base = try OfficialWeights.baseURLOverride(explicit: baseURL)
        try await OfficialWeights.downloadAndConvert(selection(), from: base, into: URL(fileURLWithPath: outputDirectory)) { print($0) }
    }
}
