// `superglue`: keypoint detection and matching from the command line.
//
// Exit codes: 0 success; 1 an input, the weights or an output failed (one line on stderr naming
// the file and the reason); 2 a usage error; 130 interrupted (rank).
import ArgumentParser
import Foundation
import SuperGlueKit

@main
struct SuperGlueCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "superglue",
        abstract: "Learned keypoint detection and matching (SuperPoint, SuperGlue), parity with the PyTorch references.",
        version: superglueVersion,
        subcommands: [MatchCommand.self, PairsCommand.self, ExtractCommand.self, RankCommand.self, MergeCommand.self, EvaluateCommand.self,
                      ReportCommand.self, BenchmarkCommand.self, QueryBenchmarkCommand.self])

    /// Parses and runs a subcommand. The CLI, not the libraries, owns the process: exit codes
    /// are set here (and by the ranking job's interrupt handler in CLISupport).
    static func main() {
        let arguments = MatchingOptions.normalizingNegativeResize(Array(CommandLine.arguments.dropFirst()))

        // Help is rendered here rather than through fullMessage(for:): with swift-argument-parser 1.8.2
        // built by Swift 6.3 in release mode, the help request reaches fullMessage as an unrecognised
        // error and prints "error: CommandError(...)" instead of the help screen.
        if arguments.contains("--help") || arguments.contains("-h") || arguments.first == "help" {
            let words = arguments.filter { !$0.hasPrefix("-") && $0 != "help" }
            let subcommand = SuperGlueCLI.configuration.subcommands.first { $0.configuration.commandName == words.first }
            print(SuperGlueCLI.helpMessage(for: subcommand ?? SuperGlueCLI.self, includeHidden: false, columns: nil))
            Foundation.exit(0)
        }

        var command: ParsableCommand
        do {
            command = try SuperGlueCLI.parseAsRoot(arguments)
        } catch {
            let code = SuperGlueCLI.exitCode(for: error)
            if code == .success {
                print(SuperGlueCLI.fullMessage(for: error))
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data((SuperGlueCLI.fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
        do {
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch let error as ValidationError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            Foundation.exit(2)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(1)
        }
    }
}
