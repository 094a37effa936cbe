// `superglue`: SuperPoint + SuperGlue matching from the command line.
//
// Exit codes: 0 success; 1 an input, the weights or an output failed (one line on stderr naming
// the file and the reason); 2 a usage error; 130 interrupted (rank).
import ArgumentParser
import Foundation
import SuperGlueKit

struct SuperGlueCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "superglue",
        abstract: "SuperPoint + SuperGlue feature matching (a Swift port of SuperGluePretrainedNetwork).",
        subcommands: [MatchCommand.self, PairsCommand.self, ExtractCommand.self, RankCommand.self, MergeCommand.self, BenchmarkCommand.self])
}

let arguments = MatchingOptions.normalizingNegativeResize(Array(CommandLine.arguments.dropFirst()))
var command: ParsableCommand
do {
    command = try SuperGlueCLI.parseAsRoot(arguments)
} catch {
    let code = SuperGlueCLI.exitCode(for: error)
    if code == .success {
        print(SuperGlueCLI.fullMessage(for: error))
        exit(0)
    }
    FileHandle.standardError.write(Data((SuperGlueCLI.fullMessage(for: error) + "\n").utf8))
    exit(2)
}
do {
    try command.run()
} catch let exit as ExitCode {
    Foundation.exit(exit.rawValue)
} catch let error as ValidationError {
    FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
    exit(2)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
