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

    /// The allocator policy of this process. glibc serves large blocks from its heap once a
    /// large block has been freed (its mmap threshold adapts upwards, to 32 MB), and a heap keeps
    /// freed memory: each image's decoded pixels and network inputs then stay resident beside the
    /// networks' workspaces. A fixed threshold returns every block of 256 KB or more to the system
    /// when freed, which keeps the ranking job's resident size near its working set; the
    /// workspaces themselves are allocated once and are not affected. MALLOC_MMAP_THRESHOLD_ in the
    /// environment still wins.
    static func limitRetainedMemory() {
        #if os(Linux)
        // mallopt(M_MMAP_THRESHOLD = -3, bytes); <malloc.h> is not in the Glibc module, so it is
        // looked up by name (absent with other C libraries, which then keep their own policy).
        guard ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil,
              let symbol = dlsym(nil, "mallopt") else { return }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        _ = unsafeBitCast(symbol, to: Mallopt.self)(-3, 256 * 1024)
        #endif
    }

    /// Parses and runs a subcommand. The CLI, not the libraries, owns the process: exit codes
    /// are set here (and by the ranking job's interrupt handler in CLISupport).
    static func main() {
        limitRetainedMemory()
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
