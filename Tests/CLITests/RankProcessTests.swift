// `superglue rank` and `superglue merge` as processes. The tests that need the real engine are
// enabled automatically once makeRankingEngine is wired and fixture weights exist.
import Foundation
import Testing
import SuperGlueRanking
@testable import SuperGlueKit
@testable import SuperGlueRanking

enum RankCLI {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixture = repository.appendingPathComponent("Tests/Fixtures/ranking")
    /// Converted (random) weights the real engine loads; point this at the shared fixture weights
    /// once they exist (a folder the `--weights` option accepts).
    static let weights = CLIFixtures.weightsDirectory

    /// The built `superglue` executable next to the test bundle.
    static func binary() throws -> URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("superglue")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        throw CLIError(description: "superglue executable not found near \(CommandLine.arguments.first ?? "?")")
    }

    struct CLIError: Error, CustomStringConvertible { var description: String }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The environment a test's `superglue` runs in: this process's, with SUPERGLUE_OFFLINE=1 so
    /// that no test reaches for the official weight URLs; `extra` adds or replaces variables.
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["SUPERGLUE_OFFLINE"] = "1"
        return environment.merging(extra) { _, new in new }
    }

    static func start(_ arguments: [String], in folder: URL, environment: [String: String] = environment()) throws -> (Process, URL) {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        process.environment = environment
        let logs = folder.appendingPathComponent("log-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: logs.path + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: logs.path + ".err", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: logs.path + ".out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logs.path + ".err"))
        try process.run()
        return (process, logs)
    }

    static func run(_ arguments: [String], in folder: URL, environment: [String: String] = environment()) throws -> Result {
        let (process, logs) = try start(arguments, in: folder, environment: environment)
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: (try? String(contentsOfFile: logs.path + ".out", encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: logs.path + ".err", encoding: .utf8)) ?? "")
    }

    static func temporaryFolder(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rank-cli-\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func rankArguments(output: URL, query: String = "query.jpg", extra: [String] = []) -> [String] {
        ["rank", "--query", fixture.appendingPathComponent(query).path, "--images", fixture.appendingPathComponent("images").path,
         "--output", output.path, "--weights", weights.path, "--resize", "320", "240", "--max-keypoints", "256"] + extra
    }

    /// True once `superglue rank` can build its engine from the fixture weights.
    static let engineAvailable: Bool = {
        guard FileManager.default.fileExists(atPath: weights.path), let folder = try? temporaryFolder("probe") else { return false }
        defer { try? FileManager.default.removeItem(at: folder) }
        guard let result = try? run(rankArguments(output: folder.appendingPathComponent("r.csv"), extra: ["--quiet"]), in: folder) else { return false }
        return !result.stderr.contains("not yet wired")
    }()
}

@Suite(.serialized) struct RankProcessTests {
    @Test func unusableOutputFailsBeforeLoadingAnything() throws {
        let folder = try RankCLI.temporaryFolder("out")
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try RankCLI.run(RankCLI.rankArguments(output: folder.appendingPathComponent("missing/results.csv")), in: folder)
        #expect(result.status == 1)
        #expect(result.stderr.contains("output folder") && result.stderr.contains("does not exist"), "\(result.stderr)")
        #expect(!result.stderr.contains("not yet wired"))
    }

    @Test func mergeRefusesDuplicatesAndMergesShards() throws {
        let folder = try RankCLI.temporaryFolder("merge")
        defer { try? FileManager.default.removeItem(at: folder) }
        let header = RankingCSV.line(RankingCSV.header)
        try (header + "2.500000,b.jpg,3,3,1.0000,10,ok,0.100\n").write(to: folder.appendingPathComponent("s0.csv"), atomically: true, encoding: .utf8)
        try (header + "7.000000,a.jpg,9,8,0.8889,10,ok,0.200\n0.000000,c.jpg,0,0,0.0000,0,corrupt,0.010\n")
            .write(to: folder.appendingPathComponent("s1.csv"), atomically: true, encoding: .utf8)
        let out = folder.appendingPathComponent("all.csv")
        let ok = try RankCLI.run(["merge", out.path, folder.appendingPathComponent("s0.csv").path, folder.appendingPathComponent("s1.csv").path], in: folder)
        #expect(ok.status == 0, "\(ok.stderr)")
        let merged = try String(contentsOf: out, encoding: .utf8)
        #expect(merged == header + "7.000000,a.jpg,9,8,0.8889,10,ok,0.200\n2.500000,b.jpg,3,3,1.0000,10,ok,0.100\n0.000000,c.jpg,0,0,0.0000,0,corrupt,0.010\n")
        let duplicate = try RankCLI.run(["merge", out.path, folder.appendingPathComponent("s0.csv").path, folder.appendingPathComponent("s0.csv").path], in: folder)
        #expect(duplicate.status != 0 && duplicate.stderr.contains("appears in both"), "\(duplicate.stderr)")
    }

    // MARK: With the real engine (enabled once makeRankingEngine is wired and fixture weights exist)

    @Test(.enabled(if: RankCLI.engineAvailable, "needs the wired engine and Tests/Fixtures/weights"))
    func rankRealImagesWithBadFiles() throws {
        let folder = try RankCLI.temporaryFolder("real")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("results.csv")
        let result = try RankCLI.run(RankCLI.rankArguments(output: output), in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try RankingCSV.readResults(output)
        #expect(rows.count == 13)
        for broken in ["truncated.jpg", "notes.jpg", "empty.png"] {
            let row = try #require(rows.first { $0.image == broken })
            #expect(row.fields[6] != "ok" && row.score == 0, "\(row.fields)")
        }
        #expect(rows.filter { $0.fields[6] == "ok" }.count == 10)
        #expect(result.stdout.contains("img/s"))
        // A second query over the same folder reuses every database image's features.
        let second = try RankCLI.run(RankCLI.rankArguments(output: folder.appendingPathComponent("second.csv"), query: "query2.png", extra: ["--cache", folder.appendingPathComponent("superglue-feature-cache").path]), in: folder)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("feature cache: 10 hit(s)"), "\(second.stdout)")
    }

    @Test(.enabled(if: RankCLI.engineAvailable, "needs the wired engine and Tests/Fixtures/weights"))
    func unusableQueryOrWeightsFailWithExitOne() throws {
        let folder = try RankCLI.temporaryFolder("bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("results.csv")
        let badQuery = try RankCLI.run(RankCLI.rankArguments(output: output, query: "images/notes.jpg"), in: folder)
        #expect(badQuery.status == 1 && badQuery.stderr.contains("notes.jpg"), "\(badQuery.stderr)")
        var arguments = RankCLI.rankArguments(output: output)
        if let i = arguments.firstIndex(of: "--weights") { arguments[i + 1] = folder.appendingPathComponent("no-weights").path }
        let badWeights = try RankCLI.run(arguments, in: folder)
        #expect(badWeights.status == 1 && badWeights.stderr.contains("no-weights"), "\(badWeights.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output.path + ".journal"))
    }

    @Test(.enabled(if: RankCLI.engineAvailable, "needs the wired engine and Tests/Fixtures/weights"))
    func detectorLanesAreCheckedAndDoNotChangeResults() throws {
        let folder = try RankCLI.temporaryFolder("detector-lanes")
        defer { try? FileManager.default.removeItem(at: folder) }
        let bad = try RankCLI.run(RankCLI.rankArguments(output: folder.appendingPathComponent("bad.csv"), extra: ["--detector-lanes", "0"]), in: folder)
        #expect(bad.status == 2 && bad.stderr.contains("--detector-lanes"), "\(bad.stderr)")
        var results: [[[String]]] = []
        for detectorLanes in ["1", "2"] {
            let output = folder.appendingPathComponent("lanes\(detectorLanes).csv")
            let run = try RankCLI.run(RankCLI.rankArguments(output: output, extra: ["--no-cache", "--lanes", "2", "--detector-lanes", detectorLanes]), in: folder)
            #expect(run.status == 0, "\(run.stderr)")
            let seconds = RankingCSV.header.firstIndex(of: "seconds")!
            results.append(try RankingCSV.readResults(output).map { $0.fields.enumerated().filter { $0.offset != seconds }.map(\.element) })
        }
        #expect(results[0] == results[1] && !results[0].isEmpty)
    }

    @Test(.enabled(if: RankCLI.engineAvailable, "needs the wired engine and Tests/Fixtures/weights"))
    func killNineLoopOfTheRealProcess() throws {
        let folder = try RankCLI.temporaryFolder("kill")
        defer { try? FileManager.default.removeItem(at: folder) }
        let reference = folder.appendingPathComponent("reference.csv")
        #expect(try RankCLI.run(RankCLI.rankArguments(output: reference, extra: ["--no-cache"]), in: folder).status == 0)
        let output = folder.appendingPathComponent("results.csv")
        var seed: UInt64 = 12345
        var kills = 0
        for _ in 0..<20 {
            let (process, _) = try RankCLI.start(RankCLI.rankArguments(output: output, extra: ["--resume", "--no-cache", "--quiet"]), in: folder)
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            Thread.sleep(forTimeInterval: Double(seed >> 40) / Double(1 << 24) * 1.5)
            if process.isRunning { kill(process.processIdentifier, SIGKILL); kills += 1 }
            process.waitUntilExit()
        }
        let final = try RankCLI.run(RankCLI.rankArguments(output: output, extra: ["--resume", "--no-cache"]), in: folder)
        #expect(final.status == 0, "\(final.stderr)")
        #expect(kills > 0)
        let strip: (URL) throws -> [[String]] = { try RankingCSV.readResults($0).map { Array($0.fields.dropLast()) } }
        #expect(try strip(output) == strip(reference))
    }
}
