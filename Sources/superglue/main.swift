import ArgumentParser
import SuperGlueKit

struct SuperGlueCLI: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "superglue", abstract: "SuperPoint + SuperGlue matching.", subcommands: [RankCommand.self, MergeCommand.self])
}
SuperGlueCLI.main()
