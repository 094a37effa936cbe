import ArgumentParser
import Checkpoints

struct ConvertWeights: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "convert-weights", abstract: "Convert PyTorch checkpoints to safetensors.")
}
ConvertWeights.main()
