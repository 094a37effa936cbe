// `superglue match|pairs|rank --matcher lightglue` as processes, on the random-weight LightGlue
// fixture for SuperPoint features (Tests/Fixtures/lightglue/lightglue_superpoint.safetensors, two
// layers) and the random SuperPoint of the other CLI tests. Random weights: the checks are that
// the outputs are well formed and consistent, not that the matches are good.
import Foundation
import Testing
@testable import SuperGlueKit
@testable import SuperGlueRanking

enum LightGlueCLIFixtures {
    /// The shared CLI weights folder plus `superpoint_lightglue.safetensors`: the fixture's int8
    /// tensors expanded to float32 (see Tests/Fixtures/lightglue/README.md).
    static let weightsDirectory: URL = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("superglue-cli-lightglue-\(UUID().uuidString)", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let shared = CLIFixtures.weightsDirectory
            for name in try FileManager.default.contentsOfDirectory(atPath: shared.path) where name.hasPrefix("superpoint_v1.") {
                try FileManager.default.copyItem(at: shared.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            }
            let fixture = try SafeTensorsFile(contentsOf: CLIFixtures.repository.appendingPathComponent("Tests/Fixtures/lightglue/lightglue_superpoint.safetensors"))
            var expanded = SafeTensorsFile(metadata: fixture.metadata)
            for (name, tensor) in fixture.tensors where !name.hasSuffix(":scale") {
                if let scale = fixture.tensors[name + ":scale"]?.floatValues().first {
                    expanded.tensors[name] = RawTensor(shape: tensor.shape, floats: tensor.floatValues().map { $0 * scale })
                } else {
                    expanded.tensors[name] = tensor
                }
            }
            try expanded.write(to: folder.appendingPathComponent("superpoint_lightglue.safetensors"))
        } catch {
            // The tests that use the folder fail with the loader's own message.
        }
        return folder
    }()
}

@Suite(.serialized) struct LightGlueCLITests {
    let image0 = CLIFixtures.images.appendingPathComponent("chelsea_baseline.jpg").path
    let image1 = CLIFixtures.images.appendingPathComponent("coffee_444.jpg").path
    var common: [String] {
        ["--weights", LightGlueCLIFixtures.weightsDirectory.path, "--resize", "320", "240", "--max-keypoints", "200", "--matcher", "lightglue"]
    }

    /// matches/match_confidence of a match .npz, checked for the invariants of any LightGlue result
    /// (`filterThreshold` nil: -1, every mutual best match kept).
    func checkMatches(_ url: URL, filterThreshold: Float?) throws -> (n0: Int, n1: Int, matched: Int) {
        let arrays = try NPZ.read(url)
        let n0 = try #require(arrays["keypoints0"]?.shape.first), n1 = try #require(arrays["keypoints1"]?.shape.first)
        #expect(n0 > 0 && n0 <= 200 && n1 > 0 && n1 <= 200)
        if let descriptors = arrays["descriptors0"] { #expect(descriptors.shape == [n0, 256]) }
        let matches = try #require(arrays["matches"]).int64s(), confidence = try #require(arrays["match_confidence"]).floats()
        #expect(matches.count == n0 && confidence.count == n0)
        var targets = Set<Int64>()
        for (m, c) in zip(matches, confidence) {
            #expect(m >= -1 && m < Int64(n1))
            #expect(c.isFinite && c >= 0 && c <= 1)
            if m >= 0 {
                #expect(targets.insert(m).inserted, "matches must be one-to-one")
                if let filterThreshold { #expect(c > filterThreshold) }
            } else {
                // As in the reference, a mutual best match under the threshold keeps its score.
                #expect(c <= (filterThreshold ?? 0))
            }
        }
        return (n0, n1, targets.count)
    }

    @Test func matchWithLightGlueWritesConsistentMatches() throws {
        let folder = try CLIFixtures.temporaryFolder("lg-match")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("pair.npz"), all = folder.appendingPathComponent("all.npz")
        let result = try RankCLI.run(["match", image0, image1, "--output", out.path, "--json"] + common, in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let adaptive = try checkMatches(out, filterThreshold: 0.1)
        // Full depth, no pruning, no score filter: every mutual best match is kept, so at least
        // as many as the adaptive, filtered run keeps is not guaranteed, but some must be.
        let full = try RankCLI.run(["match", image0, image1, "--output", all.path, "--depth-confidence", "-1", "--width-confidence", "-1",
                                    "--filter-threshold", "-1"] + common, in: folder)
        #expect(full.status == 0, "\(full.stderr)")
        let unfiltered = try checkMatches(all, filterThreshold: nil)
        #expect(unfiltered.n0 == adaptive.n0 && unfiltered.n1 == adaptive.n1, "same keypoints whatever the matcher options")
        #expect(unfiltered.matched > 0)
    }

    @Test func lightGlueOptionsAreValidated() throws {
        let folder = try CLIFixtures.temporaryFolder("lg-usage")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("x.npz").path
        for bad in [["--depth-confidence", "1.5"], ["--depth-confidence", "0"], ["--width-confidence", "-0.5"],
                    ["--filter-threshold", "2"], ["--filter-threshold", "nan"], ["--matcher", "lightglue", "--depth-confidence", "-2"]] {
            let result = try RankCLI.run(["match", image0, image1, "--output", out, "--matcher", "lightglue"] + bad, in: folder)
            #expect(result.status == 2, "\(bad): \(result.stderr)")
        }
        // LightGlue's options with SuperGlue are refused rather than ignored.
        let misplaced = try RankCLI.run(["match", image0, image1, "--output", out, "--filter-threshold", "0.2"], in: folder)
        #expect(misplaced.status == 2 && misplaced.stderr.contains("--matcher lightglue"), "\(misplaced.stderr)")
        // Without superpoint_lightglue weights, the error names the file.
        let noWeights = try RankCLI.run(["match", image0, image1, "--output", out, "--matcher", "lightglue",
                                         "--weights", CLIFixtures.weightsDirectory.path], in: folder)
        #expect(noWeights.status == 1 && noWeights.stderr.contains("superpoint_lightglue"), "\(noWeights.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func pairsWithLightGlue() throws {
        let folder = try CLIFixtures.temporaryFolder("lg-pairs")
        defer { try? FileManager.default.removeItem(at: folder) }
        let list = folder.appendingPathComponent("pairs.txt"), outDir = folder.appendingPathComponent("dump")
        try "chelsea_baseline.jpg coffee_444.jpg\ncoffee_444.jpg rocket.jpg\n".write(to: list, atomically: true, encoding: .utf8)
        let result = try RankCLI.run(["pairs", "--pairs", list.path, "--input-dir", CLIFixtures.images.path, "--output-dir", outDir.path,
                                      "--filter-threshold", "0.05"] + common, in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        for name in ["chelsea_baseline_coffee_444_matches.npz", "coffee_444_rocket_matches.npz"] {
            _ = try checkMatches(outDir.appendingPathComponent(name), filterThreshold: 0.05)
        }
    }

    @Test func rankWithLightGlueAndItsOwnJournalIdentity() throws {
        let folder = try CLIFixtures.temporaryFolder("lg-rank")
        defer { try? FileManager.default.removeItem(at: folder) }
        let images = folder.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        for name in ["chelsea_baseline.jpg", "coffee_444.jpg", "rocket.jpg"] {
            try FileManager.default.copyItem(at: CLIFixtures.images.appendingPathComponent(name), to: images.appendingPathComponent(name))
        }
        let csv = folder.appendingPathComponent("results.csv")
        let args = ["rank", "--query", CLIFixtures.images.appendingPathComponent("chelsea_baseline.jpg").path, "--images", images.path,
                    "--output", csv.path] + common
        let result = try RankCLI.run(args, in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(rows.count == 3)
        for row in rows {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            let score = Double(fields[0]) ?? -1, matches = Int(fields[2]) ?? -1
            #expect(score >= 0 && matches >= 0 && fields.contains("ok"), "\(row)")
        }
        // The query against itself: LightGlue matches it to itself more than to anything else.
        #expect(rows.first?.contains("chelsea_baseline.jpg") == true, "\(rows)")
        // A journal written by LightGlue is not resumed by SuperGlue (the match identity names the matcher).
        #expect(FileManager.default.fileExists(atPath: csv.path + ".journal"))
        do {
            let superglue = try RankCLI.run(["rank", "--query", CLIFixtures.images.appendingPathComponent("chelsea_baseline.jpg").path,
                                             "--images", images.path, "--output", csv.path, "--resume", "--weights", CLIFixtures.weightsDirectory.path,
                                             "--resize", "320", "240", "--max-keypoints", "200"], in: folder)
            #expect(superglue.status == 1 && superglue.stderr.contains("different query, weights or options"), "\(superglue.stderr)")
        }
    }
}

/// `convert-weights download` model selection (the download itself is tested against a local
/// server in CheckpointsTests' DownloadTests).
@Suite struct ConvertWeightsDownloadCLITests {
    static func run(_ arguments: [String], in folder: URL) throws -> RankCLI.Result {
        let process = Process()
        process.executableURL = try RankCLI.binary().deletingLastPathComponent().appendingPathComponent("convert-weights")
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return RankCLI.Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                              stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func modelSelection() throws {
        let folder = try CLIFixtures.temporaryFolder("cw-download")
        defer { try? FileManager.default.removeItem(at: folder) }
        let help = try Self.run(["download", "--help"], in: folder)
        #expect(help.status == 0 && help.stdout.contains("--model"), "\(help.stderr)")
        #expect(help.stdout.replacingOccurrences(of: "\n", with: " ").contains("lightglue"), "\(help.stdout)")
        // A usage error: ArgumentParser's exit status (EX_USAGE); unlike superglue, convert-weights keeps it.
        let bogus = try Self.run(["download", "--model", "sift", "--output-dir", folder.appendingPathComponent("w").path], in: folder)
        #expect(bogus.status == 64 && bogus.stderr.contains("sift"), "\(bogus.stderr)")
        let badFile = try Self.run(["download", "--file", "sift_lightglue.pth", "--output-dir", folder.appendingPathComponent("w").path], in: folder)
        #expect(badFile.status == 64 && badFile.stderr.contains("sift_lightglue.pth"), "\(badFile.stderr)")
        // One file by name, from an unreachable mirror: only that file is tried.
        let one = try Self.run(["download", "--file", "disk_lightglue.pth", "--base-url", "http://127.0.0.1:9/",
                                "--output-dir", folder.appendingPathComponent("w").path], in: folder)
        #expect(one.status == 1 && one.stdout.contains("fetching disk_lightglue.pth") && !one.stdout.contains("superpoint"), "\(one.stdout) \(one.stderr)")
        // LightGlue's files from an unreachable mirror: the first one fails and nothing is written.
        let output = folder.appendingPathComponent("w")
        let unreachable = try Self.run(["download", "--model", "lightglue", "--base-url", "http://127.0.0.1:9/", "--output-dir", output.path], in: folder)
        #expect(unreachable.status == 1 && unreachable.stderr.contains("superpoint_lightglue.pth"), "\(unreachable.stdout) \(unreachable.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: output.path)) ?? []).isEmpty)
    }
}
