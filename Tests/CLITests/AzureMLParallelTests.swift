// The Azure ML parallel component: its entry script's init() and run() driven locally by
// Tools/azureml/run_parallel_locally.py (mini-batches, retries, appended rows, the merge step),
// compared with a single `superglue rank`; and validate.py with the azure-ai-ml SDK when a Python
// with it is found (skipped with a message otherwise).
import Foundation
import Testing
@testable import superglue
@testable import SuperGlueKit
@testable import SuperGlueRanking

enum AzureMLTools {
    static let folder = CLIFixtures.repository.appendingPathComponent("Tools/azureml")

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The JSON summary the script prints last.
        var summary: [String: Any] {
            guard let line = stdout.split(separator: "\n").last,
                  let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return [:] }
            return object
        }
    }

    static func python(_ executable: String, _ arguments: [String], in folder: URL) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.currentDirectoryURL = folder
        let out = folder.appendingPathComponent("py-\(UUID().uuidString).out"), err = folder.appendingPathComponent("py-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// A Python that imports azure.ai.ml: $AZUREML_PYTHON, the venv `.ci/run` makes, or python3.
    static let sdkPython: String? = {
        let candidates = [ProcessInfo.processInfo.environment["AZUREML_PYTHON"],
                          CLIFixtures.repository.appendingPathComponent(".tmp/azureml-venv/bin/python").path, "python3"].compactMap { $0 }
        for candidate in candidates where !candidate.isEmpty {
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            probe.arguments = [candidate, "-c", "import azure.ai.ml"]
            probe.standardOutput = FileHandle.nullDevice
            probe.standardError = FileHandle.nullDevice
            guard (try? probe.run()) != nil else { continue }
            probe.waitUntilExit()
            if probe.terminationStatus == 0 { return candidate }
        }
        print("validate.py test skipped: no Python with azure-ai-ml (pip install azure-ai-ml, then set AZUREML_PYTHON, or let .ci/run make .tmp/azureml-venv)")
        return nil
    }()

    /// The fixture's images plus files a uri_folder input also delivers and a single run ignores.
    static func imagesFolder(in folder: URL) throws -> URL {
        let images = folder.appendingPathComponent("photos", isDirectory: true)
        try FileManager.default.copyItem(at: RankCLI.fixture.appendingPathComponent("images"), to: images)
        try "not an image".write(to: images.appendingPathComponent("README.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: images.appendingPathComponent("photo00.jpg"), to: images.appendingPathComponent(".hidden.jpg"))
        try FileManager.default.copyItem(at: images.appendingPathComponent("photo02.jpg"), to: images.appendingPathComponent("sub/with, comma \"quoted\".jpg"))
        return images
    }

    /// Options of the fixture runs: small images, few keypoints (random weights), or ALIKED.
    static let smallSuperPoint = ["--resize", "320", "240", "--max-keypoints", "256"]
    static let aliked = ["--features", "aliked-n16", "--resize", "320"]

    /// The entry script's options for the fixture.
    static func entryArguments(images: URL, weights: URL, cache: URL, work: URL, matching: [String] = smallSuperPoint) throws -> [String] {
        ["--query", RankCLI.fixture.appendingPathComponent("query.jpg").path, "--images", images.path, "--weights", weights.path,
         "--cache", cache.path, "--work-dir", work.path, "--superglue-bin", try RankCLI.binary().path] + matching
    }

    /// Ranks the folder once with `superglue rank` and once through the entry script in mini-batches
    /// of 4 on two workers; returns both results without timings, the run and the rows file.
    static func singleAndParallel(weights: URL, matching: [String], in folder: URL) throws -> (single: [[String]], parallel: [[String]], run: Run, rows: String) {
        let images = try imagesFolder(in: folder)
        let reference = folder.appendingPathComponent("single.csv")
        let single = try RankCLI.run(["rank", "--query", RankCLI.fixture.appendingPathComponent("query.jpg").path, "--images", images.path,
                                      "--output", reference.path, "--weights", weights.path, "--no-cache", "--quiet"] + matching, in: folder)
        #expect(single.status == 0, "\(single.stderr)")
        let merged = folder.appendingPathComponent("merged.csv")
        let entry = try entryArguments(images: images, weights: weights, cache: folder.appendingPathComponent("cache"),
                                       work: folder.appendingPathComponent("work"), matching: matching)
        let run = try python("python3", [AzureMLTools.folder.appendingPathComponent("run_parallel_locally.py").path,
                                         "--output", merged.path, "--mini-batch-size", "4", "--workers", "2", "--"] + entry, in: folder)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let seconds = RankingCSV.header.firstIndex(of: "seconds")!
        let withoutTimings = { (url: URL) in
            try RankingCSV.readResults(url).map { $0.fields.enumerated().filter { $0.offset != seconds }.map(\.element) }
        }
        return (try withoutTimings(reference), try withoutTimings(merged), run,
                try String(contentsOf: URL(fileURLWithPath: merged.path + ".rows"), encoding: .utf8))
    }
}

@Suite(.serialized) struct AzureMLParallelTests {
    @Test func entryScriptRunLocallyEqualsASingleRank() throws {
        let folder = try RankCLI.temporaryFolder("parallel")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (single, parallel, run, rows) = try AzureMLTools.singleAndParallel(weights: RankCLI.weights, matching: AzureMLTools.smallSuperPoint, in: folder)
        let summary = run.summary
        // 16 files (13 images, the README, a hidden copy, a name with a comma and quotes) in 4 mini-batches.
        #expect(summary["files"] as? Int == 16 && summary["mini_batches"] as? Int == 4 && summary["items"] as? Int == 16, "\(summary)")
        #expect((summary["failed_mini_batches"] as? [Int])?.isEmpty == true && summary["attempts"] as? Int == 4)
        // Same rows, statuses and scores as one machine (timings aside), in the same order.
        #expect(parallel == single)
        #expect(single.count == 14 && single.contains { $0[1] == "sub/with, comma \"quoted\".jpg" })
        // The two files the CLI does not rank are notes in the rows file, not rows.
        #expect(rows.contains("#skipped,README.txt") && rows.contains("#skipped,.hidden.jpg"))
        // The query was detected by the first mini-batch only; every later one read it from the cache.
        #expect(HTMLCheck.count("query from the cache", in: run.stdout) == 3, "\(run.stdout)")
    }

    /// Query rotations pass through the entry script: the rows carry the query_rotation column and
    /// the merge keeps it.
    @Test func entryScriptPassesQueryRotations() throws {
        let folder = try RankCLI.temporaryFolder("parallel-rotations")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (single, parallel, _, _) = try AzureMLTools.singleAndParallel(
            weights: RankCLI.weights, matching: AzureMLTools.smallSuperPoint + ["--query-rotations", "0,180"], in: folder)
        #expect(parallel == single)
        #expect(single.count == 14 && single.allSatisfy { $0.count == RankingCSV.rotationHeader.count - 1 })
        #expect(single.allSatisfy { ["0", "180"].contains($0.last ?? "") }, "\(single)")
    }

    /// With real weights the scores are not all 0: the comparison then covers real rankings.
    @Test(.enabled(if: ColorCLIFixtures.available))
    func entryScriptEqualsASingleRankWithRealWeights() throws {
        let folder = try RankCLI.temporaryFolder("parallel-aliked")
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try ColorCLIFixtures.linkedWeights(in: folder)
        let (single, parallel, _, _) = try AzureMLTools.singleAndParallel(weights: weights, matching: AzureMLTools.aliked, in: folder)
        #expect(parallel == single)
        #expect(single.filter { (Double($0[0]) ?? 0) > 0 }.count >= 4, "\(single)")
    }

    @Test func failingMiniBatchesAreRetriedThenMissing() throws {
        let folder = try RankCLI.temporaryFolder("parallel-fail")
        defer { try? FileManager.default.removeItem(at: folder) }
        let images = try AzureMLTools.imagesFolder(in: folder)
        let emptyWeights = folder.appendingPathComponent("no-weights", isDirectory: true)
        try FileManager.default.createDirectory(at: emptyWeights, withIntermediateDirectories: true)
        let entry = try AzureMLTools.entryArguments(images: images, weights: emptyWeights, cache: folder.appendingPathComponent("cache"),
                                                    work: folder.appendingPathComponent("work"))
        let script = AzureMLTools.folder.appendingPathComponent("run_parallel_locally.py").path
        let merged = folder.appendingPathComponent("merged.csv")
        // Within the threshold: the job succeeds and every image gets a "missing" row.
        let tolerated = try AzureMLTools.python("python3", [script, "--output", merged.path, "--mini-batch-size", "8", "--max-retries", "1", "--"] + entry, in: folder)
        #expect(tolerated.status == 0, "\(tolerated.stdout)\n\(tolerated.stderr)")
        #expect(tolerated.summary["failed_mini_batches"] as? [Int] == [0, 1] && tolerated.summary["attempts"] as? Int == 4)
        #expect(tolerated.stderr.contains("superglue rank failed with status 1") && tolerated.stderr.contains("no-weights"), "\(tolerated.stderr)")
        let rows = try RankingCSV.readResults(merged)
        #expect(rows.count == 14 && rows.allSatisfy { $0.fields[6] == RankingMerge.missingStatus && $0.score == 0 })
        // Beyond it, the job fails before merging.
        let refused = try AzureMLTools.python("python3", [script, "--output", folder.appendingPathComponent("m2.csv").path, "--mini-batch-size", "8",
                                                         "--max-retries", "0", "--mini-batch-error-threshold", "1", "--"] + entry, in: folder)
        #expect(refused.status == 1 && (refused.summary["error"] as? String)?.contains("threshold") == true, "\(refused.stdout)")
    }

    @Test func mergeOfHeaderlessRows() throws {
        let folder = try RankCLI.temporaryFolder("merge-rows")
        defer { try? FileManager.default.removeItem(at: folder) }
        let rows = folder.appendingPathComponent("rows.csv")
        try ("2.500000,b.jpg,3,3,1.0000,10,ok,0.100\n#skipped,notes.txt\n\"7.000000\",\"a, b.jpg\",9,8,0.8889,10,ok,0.200\n")
            .write(to: rows, atomically: true, encoding: .utf8)
        let out = folder.appendingPathComponent("all.csv")
        let merged = try RankingMerge.merge([rows], into: out, expectedImages: ["a, b.jpg", "b.jpg", "c.jpg"], headerless: true, missing: .row)
        #expect(merged.rows == 3 && merged.missingRows == 1)
        #expect(try String(contentsOf: out, encoding: .utf8) == RankingCSV.line(RankingCSV.header)
            + "7.000000,\"a, b.jpg\",9,8,0.8889,10,ok,0.200\n2.500000,b.jpg,3,3,1.0000,10,ok,0.100\n"
            + "0.000000,c.jpg,0,0,0.0000,0,\(RankingMerge.missingStatus),0.000\n")
        #expect(throws: RankingJobError.self) { try RankingMerge.merge([rows], into: out, expectedImages: ["a, b.jpg", "b.jpg", "c.jpg"], headerless: true) }
        #expect(throws: RankingJobError.self) { try RankingMerge.merge([rows], into: out) }  // a header is expected by default
        let cli = try RankCLI.run(["merge", out.path, rows.path, "--no-header", "--missing", "row"], in: folder)
        #expect(cli.status == 2 && cli.stderr.contains("--missing row needs the listing"), "\(cli.stderr)")
    }

    @Test func parallelSpecsPassTheirInputsToTheCLI() throws {
        let component = try AzureMLSpecTests.read("rank-parallel-component.yml")
        #expect(MiniYAML.value(at: "type", in: component) == "parallel")
        #expect(MiniYAML.value(at: "task.entry_script", in: component) == "rank_entry.py")
        #expect(MiniYAML.value(at: "task.append_row_to", in: component) == "${{outputs.rows}}")
        let arguments = try #require(MiniYAML.value(at: "task.program_arguments", in: component))
        for input in ["images", "query", "weights", "features", "superglue", "max_keypoints", "match_threshold", "score"] {
            #expect(arguments.contains("${{inputs.\(input)}}"), "input \(input) unused")
        }
        let merge = try AzureMLSpecTests.read("merge-parallel-component.yml")
        let command = try #require(MiniYAML.value(at: "command", in: merge))
        let parsed = try MergeCommand.parse(Array(MiniYAML.arguments(command) { AzureMLSpecTests.placeholderValue($0, component: merge) }.dropFirst(2)))
        #expect(parsed.noHeader && parsed.missing == .row && parsed.images != nil)
    }

    @Test(.enabled(if: AzureMLTools.sdkPython != nil, "no Python with azure-ai-ml"))
    func validateLoadsEverySpecWithTheSDK() throws {
        let folder = try RankCLI.temporaryFolder("validate")
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try AzureMLTools.python(try #require(AzureMLTools.sdkPython), [AzureMLTools.folder.appendingPathComponent("validate.py").path], in: folder)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("component superglue_rank_parallel v1 (parallel)") && run.stdout.hasSuffix("ok\n"), "\(run.stdout)")
    }
}
