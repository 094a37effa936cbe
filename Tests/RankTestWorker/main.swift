// Test-only driver of the ranking job with the fake engine, run as a separate process by the
// ranking tests so they can kill -9 it, interrupt it, or run it under a file-size limit.
//
// Usage: RankTestWorker --query Q --images DIR --output OUT [--resume] [--overwrite] [--cache DIR]
//                       [--shard i/n] [--delay SECONDS] [--score KEY] [--verbose]
import Foundation
import SuperGlueKit
import SuperGlueRanking
import CLISupport

func runWorker() -> Int32 {
    var options: [String: String] = [:]
    var flags = Set<String>()
    var arguments = CommandLine.arguments.dropFirst()
    while let argument = arguments.popFirst() {
        if ["--resume", "--overwrite", "--verbose"].contains(argument) { flags.insert(argument); continue }
        guard let value = arguments.popFirst() else { FileHandle.standardError.write(Data("missing value for \(argument)\n".utf8)); return 64 }
        options[argument] = value
    }
    guard let query = options["--query"], let images = options["--images"], let output = options["--output"] else {
        FileHandle.standardError.write(Data("need --query, --images and --output\n".utf8))
        return 64
    }
    do {
        let configuration = RankingJobConfiguration(
            query: URL(fileURLWithPath: query), source: .directory(URL(fileURLWithPath: images, isDirectory: true)),
            output: URL(fileURLWithPath: output), shard: try options["--shard"].map(RankingShard.init(parsing:)),
            cacheDirectory: options["--cache"].map { URL(fileURLWithPath: $0, isDirectory: true) },
            resume: flags.contains("--resume"), overwrite: flags.contains("--overwrite"),
            scoreKey: options["--score"].flatMap(RankingScoreKey.init(rawValue:)) ?? .confidence)
        let engine = FakeRankingEngine(delay: options["--delay"].flatMap(Double.init) ?? 0)
        let verbose = flags.contains("--verbose")
        let interrupts = RankingInterruptHandler(stop: RankingStopFlag(), quiet: !verbose)
        let reporter = RankingProgressReporter(style: RankingProgressReporter.automaticStyle(quiet: !verbose), interval: 0.5)
        let summary = try RankingJob.run(engine: engine, configuration: configuration, stop: interrupts.stop, events: reporter.handle)
        print("processed=\(summary.processed) resumed=\(summary.resumed) interrupted=\(summary.interrupted) hits=\(summary.cacheHits)")
        return summary.interrupted ? 130 : 0
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        return 1
    }
}

exit(runWorker())
