// `superglue match`, `pairs` and `extract` run as processes on fixture images and weights.
import Foundation
import Testing
@testable import SuperGlueKit
@testable import SuperGlueRanking

@Suite(.serialized) struct MatchCLITests {
    let image0 = CLIFixtures.images.appendingPathComponent("chelsea_baseline.jpg").path
    let image1 = CLIFixtures.images.appendingPathComponent("coffee_444.jpg").path
    var common: [String] { ["--weights", CLIFixtures.weightsDirectory.path, "--resize", "320", "240", "--max-keypoints", "200"] }

    @Test func matchWritesNumpyOutputsPlotAndJSON() throws {
        let folder = try CLIFixtures.temporaryFolder("match")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("sub/pair.npz"), png = folder.appendingPathComponent("pair.png")
        let result = try RankCLI.run(["match", image0, image1, "--output", out.path, "--viz", png.path, "--json"] + common, in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let arrays = try NPZ.read(out)
        let n0 = try #require(arrays["keypoints0"]?.shape.first), n1 = try #require(arrays["keypoints1"]?.shape.first)
        #expect(n0 > 0 && n0 <= 200 && n1 > 0 && n1 <= 200)
        #expect(arrays["keypoints0"]?.descr == "<f4" && arrays["keypoints0"]?.shape == [n0, 2])
        #expect(arrays["matches"]?.descr == "<i8" && arrays["matches"]?.shape == [n0])
        #expect(arrays["match_confidence"]?.descr == "<f4" && arrays["match_confidence"]?.shape == [n0])
        #expect(arrays["descriptors0"]?.shape == [n0, 256] && arrays["descriptors1"]?.shape == [n1, 256])
        #expect(arrays["scores0"]?.shape == [n0] && arrays["scores1"]?.shape == [n1])
        for m in try #require(arrays["matches"]).int64s() { #expect(m >= -1 && m < Int64(n1)) }
        // Keypoints live in the 320x240 resized image.
        let kp = try #require(arrays["keypoints0"]).floats()
        #expect(kp.enumerated().allSatisfy { $0.offset % 2 == 0 ? $0.element < 320 : $0.element < 240 })
        let pngBytes = try Data(contentsOf: png)
        #expect(Array(pngBytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["keypoints0"] as? Int == n0 && summary["output"] as? String == out.path)
        if CLIFixtures.numpyAvailable {
            let status = try CLIFixtures.python("""
                import numpy, sys
                d = numpy.load(sys.argv[1])
                assert d['matches'].dtype == numpy.int64 and d['keypoints0'].dtype == numpy.float32
                assert d['descriptors0'].shape[1] == 256
                """, [out.path])
            #expect(status == 0)
        }
    }

    @Test func errorsHaveExitCodesAndNameTheFile() throws {
        let folder = try CLIFixtures.temporaryFolder("errors")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("x.npz").path
        let missing = try RankCLI.run(["match", image0, "/nonexistent/img.jpg", "--output", out] + common, in: folder)
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent/img.jpg"), "\(missing.stderr)")
        #expect(!missing.stderr.contains("Stack") && !missing.stderr.contains("Fatal"))
        let notImage = try RankCLI.run(["match", image0, CLIFixtures.images.appendingPathComponent("README.md").path, "--output", out] + common, in: folder)
        #expect(notImage.status == 1, "\(notImage.stderr)")
        let noWeights = try RankCLI.run(["match", image0, image1, "--output", out, "--weights", folder.appendingPathComponent("empty").path],
                                        in: folder)
        #expect(noWeights.status == 1 && noWeights.stderr.contains("superpoint_v1") && noWeights.stderr.contains("convert-weights download"),
                "\(noWeights.stderr)")
        let usage = try RankCLI.run(["match", image0], in: folder)
        #expect(usage.status == 2, "\(usage.stderr)")
        let badOption = try RankCLI.run(["match", image0, image1, "--output", out, "--superglue", "attic"], in: folder)
        #expect(badOption.status == 2, "\(badOption.stderr)")
        let badResize = try RankCLI.run(["match", image0, image1, "--output", out, "--resize", "0"], in: folder)
        #expect(badResize.status == 2, "\(badResize.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func helpPrintsUsageAndExitsZero() throws {
        let folder = try CLIFixtures.temporaryFolder("help")
        defer { try? FileManager.default.removeItem(at: folder) }
        for (arguments, expected) in [(["--help"], "SUBCOMMANDS"), (["match", "--help"], "--max-keypoints"),
                                      (["rank", "-h"], "--resume"), (["help", "pairs"], "--overwrite")] {
            let result = try RankCLI.run(arguments, in: folder)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(result.stdout.contains("USAGE") && result.stdout.contains(expected), "\(arguments): \(result.stdout)")
            #expect(!result.stdout.contains("CommandError") && result.stderr.isEmpty, "\(arguments): \(result.stderr)")
        }
    }

    @Test func benchmarkTimesOnlyTheSelectedStages() throws {
        let folder = try CLIFixtures.temporaryFolder("benchmark")
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try RankCLI.run(["benchmark", "--image0", image0, "--image1", image1, "--random-weights", "--json",
                                      "--runs", "2", "--warmup", "0", "--resize", "160", "120", "--superglue-keypoints", "64",
                                      "--stages", "superpoint,superglue_20"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect((json["superpoint_ms"] as? [Double])?.count == 2 && (json["superglue_20_ms"] as? [Double])?.count == 2)
        #expect(json["pair_ms"] == nil && json["superglue_100_ms"] == nil && json["sinkhorn_iteration_ms"] == nil)
        #expect(json["keypoints"] as? [Int] == [64, 64])
        let unknown = try RankCLI.run(["benchmark", "--image0", image0, "--image1", image1, "--random-weights", "--stages", "pair,nms"], in: folder)
        #expect(unknown.status == 2 && unknown.stderr.contains("nms"), "\(unknown.stderr)")
    }

    @Test func queryBenchmarkTimesPlainAndPreparedMatchesAndComparesThem() throws {
        let folder = try CLIFixtures.temporaryFolder("benchmark-query")
        defer { try? FileManager.default.removeItem(at: folder) }
        let images = folder.appendingPathComponent("images", isDirectory: true)
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        for name in ["coffee_444.jpg", "rocket.jpg", "chelsea_progressive.jpg"] {
            try FileManager.default.copyItem(at: CLIFixtures.images.appendingPathComponent(name), to: images.appendingPathComponent(name))
        }
        let result = try RankCLI.run(["benchmark-query", "--query", image0, "--images", images.path, "--random-weights", "--limit", "2",
                                      "--repeats", "2", "--resize", "160", "120", "--superglue-keypoints", "64"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect((json["plain_ms"] as? [Double])?.count == 2 && (json["prepared_ms"] as? [Double])?.count == 2)
        #expect(json["keypoints"] as? [Int] == [64, 64] && json["query_keypoints"] as? Int == 64)
        #expect(json["identical"] as? Bool == true)
        #expect((json["ratio_median"] as? Double).map { $0 > 0 } == true && json["prepare_ms"] is Double)
    }

    @Test func pairsSkipsDoneWorkAndOverwrites() throws {
        let folder = try CLIFixtures.temporaryFolder("pairs")
        defer { try? FileManager.default.removeItem(at: folder) }
        let list = folder.appendingPathComponent("pairs.txt")
        try """
            chelsea_baseline.jpg coffee_444.jpg
            chelsea_baseline.jpg rocket.jpg 1 0 extra
            missing.jpg rocket.jpg
            """.write(to: list, atomically: true, encoding: .utf8)
        let outDir = folder.appendingPathComponent("out")
        let args = ["pairs", "--pairs", list.path, "--input-dir", CLIFixtures.images.path, "--output-dir", outDir.path] + common
        let first = try RankCLI.run(args, in: folder)
        // One pair names a missing image: reported, the others written, exit status 1.
        #expect(first.status == 1 && first.stderr.contains("missing.jpg"), "\(first.stderr)")
        #expect(first.stdout.contains("2 matched"), "\(first.stdout)")
        let a = outDir.appendingPathComponent("chelsea_baseline_coffee_444_matches.npz")
        let b = outDir.appendingPathComponent("chelsea_baseline_rocket_matches.npz")
        let arrays = try NPZ.read(a)
        #expect(Set(arrays.keys) == ["keypoints0", "keypoints1", "matches", "match_confidence"])
        #expect(FileManager.default.fileExists(atPath: b.path))
        let before = try Data(contentsOf: a)
        let second = try RankCLI.run(args, in: folder)
        #expect(second.stdout.contains("2 skipped"), "\(second.stdout)")
        try Data("stale".utf8).write(to: a)
        let third = try RankCLI.run(args + ["--overwrite"], in: folder)
        #expect(third.stdout.contains("2 matched"), "\(third.stdout)")
        #expect(try Data(contentsOf: a) == before)
    }

    @Test func extractedFeaturesMatchLikeImages() throws {
        let folder = try CLIFixtures.temporaryFolder("extract")
        defer { try? FileManager.default.removeItem(at: folder) }
        let images = folder.appendingPathComponent("imgs")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: image0, toPath: images.appendingPathComponent("a.jpg").path)
        try FileManager.default.copyItem(atPath: image1, toPath: images.appendingPathComponent("b.jpg").path)
        let feats = folder.appendingPathComponent("feats")
        let extract = try RankCLI.run(["extract", "--images", images.path, "--output", feats.path] + common, in: folder)
        #expect(extract.status == 0, "\(extract.stderr)")
        let fromImages = folder.appendingPathComponent("i.npz"), fromFeatures = folder.appendingPathComponent("f.npz")
        #expect(try RankCLI.run(["match", images.appendingPathComponent("a.jpg").path, images.appendingPathComponent("b.jpg").path,
                                 "--output", fromImages.path] + common, in: folder).status == 0)
        let viaFeatures = try RankCLI.run(["match", feats.appendingPathComponent("a.npz").path, feats.appendingPathComponent("b.npz").path,
                                           "--output", fromFeatures.path] + common, in: folder)
        #expect(viaFeatures.status == 0, "\(viaFeatures.stderr)")
        let x = try NPZ.read(fromImages), y = try NPZ.read(fromFeatures)
        #expect(x["matches"] == y["matches"] && x["keypoints0"] == y["keypoints0"] && x["match_confidence"] == y["match_confidence"])

        // The files record their detector; one re-tagged as DISK's is refused, the file named.
        let a = try FeaturesIO.read(feats.appendingPathComponent("a.npz"))
        #expect(a.detector == "superpoint")
        var retagged = a
        retagged.detector = "disk"
        let foreign = folder.appendingPathComponent("disk.npz")
        try FeaturesIO.write(retagged, to: foreign)
        let refused = try RankCLI.run(["match", foreign.path, feats.appendingPathComponent("b.npz").path,
                                       "--output", folder.appendingPathComponent("r.npz").path] + common, in: folder)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("\(foreign.path) holds disk features"), "\(refused.stderr)")
    }
}

/// A truncated JPEG is used as cv2.imread uses it (parity), with a warning naming the file.
@Suite struct DamagedJPEGWarningTests {
    @Test(arguments: ["match", "extract", "pairs"])
    func truncatedJPEGIsAcceptedWithAWarningNamingIt(_ command: String) throws {
        let folder = try CLIFixtures.temporaryFolder("damaged-\(command)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let clean = CLIFixtures.images.appendingPathComponent("coffee_444.jpg")
        let bytes = try Data(contentsOf: clean)
        let damaged = folder.appendingPathComponent("cut.jpg"), intact = folder.appendingPathComponent("whole.jpg")
        try bytes.prefix(bytes.count * 2 / 3).write(to: damaged)
        try bytes.write(to: intact)
        let common = ["--weights", CLIFixtures.weightsDirectory.path, "--resize", "160", "120", "--max-keypoints", "50"]
        let arguments: [String]
        switch command {
        case "match": arguments = ["match", damaged.path, intact.path, "--output", folder.appendingPathComponent("m.npz").path]
        case "extract": arguments = ["extract", "--images", folder.path, "--output", folder.appendingPathComponent("features").path]
        default:
            try "cut.jpg whole.jpg\n".write(to: folder.appendingPathComponent("pairs.txt"), atomically: true, encoding: .utf8)
            arguments = ["pairs", "--pairs", folder.appendingPathComponent("pairs.txt").path, "--input-dir", folder.path,
                         "--output-dir", folder.appendingPathComponent("dump").path]
        }
        let result = try RankCLI.run(arguments + common, in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let warnings = result.stderr.split(separator: "\n").filter { $0.hasPrefix("warning:") }
        #expect(warnings.count == 1, "\(result.stderr)")
        #expect(warnings.first?.contains(damaged.lastPathComponent) == true, "\(result.stderr)")
        #expect(!result.stderr.contains(intact.lastPathComponent), "the intact file must not be warned about: \(result.stderr)")
    }
}
