// Shared helpers of the ranking tests: temporary folders, running the job with the fake engine,
// and running the RankTestWorker process.
import Foundation
import Testing
@testable import RankTestWorker
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

/// A fresh temporary folder, removed by `cleanup()`.
struct TemporaryFolder {
    let url: URL
    init(_ label: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("ranking-\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> URL { url.appendingPathComponent(name) }
}

enum RankingTestSupport {
    /// The results CSV without the `seconds` column (timings differ between runs).
    static func resultsWithoutTimings(_ url: URL) throws -> [[String]] {
        let seconds = RankingCSV.header.firstIndex(of: "seconds")!
        return try RankingCSV.readResults(url).map { row in row.fields.enumerated().filter { $0.offset != seconds }.map(\.element) }
    }

    /// The job configuration for a folder scene (one lane unless told: stop tests count images).
    static func configuration(query: URL, images: URL, output: URL, cache: URL? = nil, shard: RankingShard? = nil,
                              resume: Bool = false, key: RankingScoreKey = .confidence, lanes: Int = 1) -> RankingJobConfiguration {
        RankingJobConfiguration(query: query, source: .directory(images), output: output, shard: shard, cacheDirectory: cache,
                                resume: resume, scoreKey: key, lanes: lanes)
    }

    /// Runs the scene once, uninterrupted, with the fake engine; returns its results CSV.
    static func referenceResults(_ scene: (query: URL, images: URL), in folder: TemporaryFolder) throws -> URL {
        let reference = folder.path("reference.csv")
        _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: configuration(query: scene.query, images: scene.images, output: reference))
        return reference
    }

    /// The RankTestWorker executable next to the test bundle.
    static func workerURL() throws -> URL {
        var candidates: [URL] = []
        if let argument0 = CommandLine.arguments.first {
            var folder = URL(fileURLWithPath: argument0).deletingLastPathComponent()
            for _ in 0..<4 {
                candidates.append(folder.appendingPathComponent("RankTestWorker"))
                folder = folder.deletingLastPathComponent()
            }
        }
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("RankTestWorker"))
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("RankTestWorker"))
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw FakeImageError(description: "RankTestWorker not found near \(CommandLine.arguments.first ?? "?"); build it with `swift build --product RankTestWorker`")
        }
        return found
    }

    /// Starts the worker; stdout/stderr go to files in `logs`.
    static func startWorker(_ arguments: [String], shellPrefix: String? = nil, logs: URL) throws -> Process {
        let process = Process()
        let worker = try workerURL()
        if let shellPrefix {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", shellPrefix + " exec \"$0\" \"$@\"", worker.path] + arguments
        } else {
            process.executableURL = worker
            process.arguments = arguments
        }
        _ = FileManager.default.createFile(atPath: logs.path + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: logs.path + ".err", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: logs.path + ".out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logs.path + ".err"))
        try process.run()
        return process
    }

    static func runWorker(_ arguments: [String], shellPrefix: String? = nil, logs: URL) throws -> (status: Int32, stderr: String) {
        let process = try startWorker(arguments, shellPrefix: shellPrefix, logs: logs)
        process.waitUntilExit()
        let stderr = (try? String(contentsOfFile: logs.path + ".err", encoding: .utf8)) ?? ""
        return (process.terminationStatus, stderr)
    }
}
