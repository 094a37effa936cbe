import Testing
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

@Suite struct PairsFileTests {
    @Test func parsesReferenceFormats() throws {
        let text = """
            scene0711_00_frame-001680.jpg scene0711_00_frame-001995.jpg 0 0 1163.45 0. 653.626 0. 1164.79 481.6 0. 0. 1. 1163.45 0. 653.626 0. 1164.79 481.6 0. 0. 1. 0.7 0.1 0.1 0.5 0.1 0.9 0.1 0.3 0.1 0.1 0.9 0.1 0. 0. 0. 1.
            a/b/london.jpg c.d.png 1 3 x

            only two.jpg
            four a.jpg 2 1
            """
        let pairs = try PairsFile.parse(text)
        #expect(pairs.count == 4)
        #expect(pairs[0].matchesFileName == "scene0711_00_frame-001680_scene0711_00_frame-001995_matches.npz")
        #expect(pairs[1] == ImagePair(name0: "a/b/london.jpg", name1: "c.d.png", rotation0: 1, rotation1: 3))
        #expect(pairs[1].matchesFileName == "london_c.d_matches.npz")
        // With four columns the reference ignores the rotations.
        #expect(pairs[3].rotation0 == 0 && pairs[3].rotation1 == 0)
    }

    @Test func readsGroundTruthOfThirtyEightColumns() throws {
        let k = "1163.45 0. 653.626 0. 1164.79 481.6 0. 0. 1."
        let t = "0.78593 -0.35128 0.50884 -1.51061 0.39215 0.91944 0.02904 -0.05367 -0.47805 0.17672 0.86037 0.056 0. 0. 0. 1."
        let text = "a.jpg b.jpg 1 0 \(k) \(k) \(t)\nc.jpg d.jpg 0 0\n"
        let pairs = try PairsFile.parse(text)
        let truth = try #require(pairs[0].groundTruth)
        #expect(pairs[0].rotation0 == 1 && truth.intrinsics0 == [1163.45, 0, 653.626, 0, 1164.79, 481.6, 0, 0, 1])
        #expect(truth.intrinsics1 == truth.intrinsics0 && truth.transform0to1.count == 16)
        #expect(truth.transform0to1[3] == -1.51061 && truth.transform0to1[15] == 1)
        #expect(pairs[1].groundTruth == nil)
        #expect(pairs[0].evaluationFileName == "a_b_evaluation.npz")
        // The evaluation needs it on every line; the error names the line.
        #expect { try PairsFile.parse(text, requireGroundTruth: true) } throws: { "\($0)".contains("pairs file:2") && "\($0)".contains("38 columns") }
        // 38 columns with a word: no ground truth (a plain pairs file stays readable), an error for the evaluation.
        let worded = "a.jpg b.jpg 0 0 \(k) \(k) \(t.replacingOccurrences(of: "0.056", with: "x"))"
        #expect(try PairsFile.parse(worded)[0].groundTruth == nil)
        #expect(throws: PairsFileError.self) { try PairsFile.parse(worded, requireGroundTruth: true) }
    }

    @Test func rejectsBadLines() {
        #expect(throws: PairsFileError.self) { try PairsFile.parse("lonely.jpg\n") }
        #expect(throws: PairsFileError.self) { try PairsFile.parse("a b x y z\n") }
    }

    @Test func stemMatchesPython() {
        #expect(ImagePair.stem("dir/img.final.jpg") == "img.final")
        #expect(ImagePair.stem(".hidden") == ".hidden")
        #expect(ImagePair.stem("noext") == "noext")
    }
}
