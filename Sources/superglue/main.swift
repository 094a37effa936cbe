import ArgumentParser
import SuperGlueKit

struct SuperGlueCLI: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "superglue", abstract: "SuperPoint + SuperGlue matching.")
}
SuperGlueCLI.main()
