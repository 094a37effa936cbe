import Testing
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

@Suite struct MatchPlotTests {
    @Test func jetEndpoints() {
        #expect(jetColor(0) == (0, 0, 128))   // dark blue
        #expect(jetColor(0.5) == (128, 255, 128))
        #expect(jetColor(1) == (128, 0, 0))   // dark red
    }

    @Test func drawsMatchLineInConfidenceColour() {
        let black = GrayImage(width: 40, height: 30, pixels: [UInt8](repeating: 0, count: 1200))
        var plot = MatchPlot(image0: black, image1: black, keypoints0: [10, 20, 5, 5], keypoints1: [10, 20, 30, 5],
                             matches0: [0, -1], confidence0: [1, 0], text: [])
        plot.showKeypoints = false
        let canvas = plot.render()
        #expect(canvas.width == 40 + MatchPlot.margin + 40 && canvas.height == 30)
        // Midpoint of the horizontal line from (10,20) to (10+50, 20) is red (confidence 1).
        let o = 3 * (20 * canvas.width + 35)
        #expect(Array(canvas.pixels[o..<(o + 3)]) == [128, 0, 0])
        // The margin column stays white, the unmatched keypoint draws nothing.
        let m = 3 * (2 * canvas.width + 42)
        #expect(Array(canvas.pixels[m..<(m + 3)]) == [255, 255, 255])
        let u = 3 * (5 * canvas.width + 5)
        #expect(Array(canvas.pixels[u..<(u + 3)]) == [0, 0, 0])
    }
}
