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
