import Foundation
import Testing
@testable import Tensors

@Suite struct MapOpsTests {
    @Test func maxPoolDropsOddTrailingRowAndColumn() {
        // 5 rows x 3 columns, 2 channels: channel 0 = 1...15, channel 1 = its negation.
        let input: [Float] = (1...15).flatMap { [Float($0), -Float($0)] }
        var out = [Float](repeating: .nan, count: 2 * 1 * 2)
        input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                maxPool2x2(input: i.baseAddress!, height: 5, width: 3, channels: 2, output: o.baseAddress!)
            }
        }
        // Windows {1,2,4,5} and {7,8,10,11}; row 4 (13..15) and column 2 are dropped.
        #expect(out == [5, -1, 11, -7])
    }

    @Test func softmaxOfEqualLogitsIsUniform() {
        var logits = [Float](repeating: 3.25, count: 65 * 2)
        logits.withUnsafeMutableBufferPointer { softmaxChannels($0.baseAddress!, pixels: 2, channels: 65, stride: 65) }
        for p in logits { #expect(abs(p - 1 / 65) < 1e-7) }
    }

    @Test func softmaxOfLogTwoIsTwoThirds() {
        // e^0 : e^ln2 = 1 : 2; only the first 2 of every 3 values are channels.
        var data: [Float] = [0, Float(log(2.0)), 99, 1000, 1000, 99]
        data.withUnsafeMutableBufferPointer { softmaxChannels($0.baseAddress!, pixels: 2, channels: 2, stride: 3) }
        #expect(abs(data[0] - 1 / 3) < 1e-7 && abs(data[1] - 2 / 3) < 1e-7)
        #expect(data[2] == 99 && data[5] == 99)
        #expect(data[3] == 0.5 && data[4] == 0.5)  // large logits do not overflow
    }

    @Test func depthToSpaceUnfoldsCellsRowMajor() {
        // 1 x 2 cells, stride 65: cell c holds 100 c + k at channel k, dustbin -1.
        var cells = [Float]()
        for c in 0..<2 { cells += (0..<64).map { Float(100 * c + $0) } + [-1] }
        var map = [Float](repeating: .nan, count: 8 * 16)
        cells.withUnsafeBufferPointer { c in
            map.withUnsafeMutableBufferPointer { m in
                depthToSpace8(c.baseAddress!, cellRows: 1, cellColumns: 2, stride: 65, output: m.baseAddress!)
            }
        }
        // Pixel (row r, column x) comes from cell x / 8, channel 8 r + x % 8.
        for r in 0..<8 {
            for x in 0..<16 { #expect(map[r * 16 + x] == Float(100 * (x / 8) + 8 * r + x % 8)) }
        }
    }

    @Test func l2NormalizeRowsAndZeroRows() {
        var data: [Float] = [3, 4, 0, 0, -6, 8]
        data.withUnsafeMutableBufferPointer { l2NormalizeRows($0.baseAddress!, rows: 3, dim: 2) }
        let expected: [Float] = [0.6, 0.8, 0, 0, -0.6, 0.8]
        for (got, want) in zip(data, expected) { #expect(abs(got - want) < 1e-7) }
    }

    @Test func slidingMaxClipsTheWindowAtTheEdges() {
        // 3 x 4 map, radius 1 (3x3 windows), worked out by hand.
        let map: [Float] = [1, 0, 0, 2,
                            0, 0, 0, 0,
                            0, 5, 0, -1]
        var temp = [Float](repeating: 0, count: 12), out = [Float](repeating: 0, count: 12)
        map.withUnsafeBufferPointer { m in
            temp.withUnsafeMutableBufferPointer { t in
                out.withUnsafeMutableBufferPointer { o in
                    slidingMax(m.baseAddress!, height: 3, width: 4, radius: 1, temp: t.baseAddress!, output: o.baseAddress!)
                }
            }
        }
        #expect(out == [1, 1, 2, 2,
                        5, 5, 5, 2,
                        5, 5, 5, 0])
    }

    @Test func seluMatchesTheDefinition() {
        // Lanes and a scalar tail, both signs, zero, large magnitudes.
        var values: [Float] = (0..<203).map { Float($0 - 101) * 0.173 } + [0, -0.0, 1e-6, -1e-6, -90, 50]
        let expected = values.map { x -> Double in
            let v = Double(x)
            return 1.0507009873554804934193349852946 * (v > 0 ? v : 1.6732632423543772848170429916717 * Foundation.expm1(v))
        }
        values.withUnsafeMutableBufferPointer { seluInPlace($0.baseAddress!, count: $0.count) }
        var worst = 0.0
        for (v, e) in zip(values, expected) { worst = max(worst, abs(Double(v) - e) / max(1, abs(e))) }
        print("seluInPlace max error \(worst)")
        #expect(worst < 5e-7)
    }
}
