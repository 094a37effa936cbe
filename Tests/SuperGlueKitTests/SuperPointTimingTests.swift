// Opt-in timing printouts (not assertions):
//   SUPERPOINT_TIMING=1 swift test -c release -Xswiftc -enable-testing --filter SuperPointTimingTests
//   OPENBLAS_NUM_THREADS=1 SUPERPOINT_TIMING=1 swift test -c release -Xswiftc -enable-testing \
//       --filter SuperPointStageTimingTests       (per-stage process CPU time)
import Foundation
import Testing
@testable import SuperGlueKit
import Tensors

@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["SUPERPOINT_TIMING"] != nil))
struct SuperPointTimingTests {
    @Test(arguments: ["astronaut_640x480", "coffee_1024x768"])
    func forwardMedian(_ name: String) throws {
        let golden = try SuperPointFixtures.golden(name)
        let sp = try SuperPoint(weights: SuperPointFixtures.weights.get(), config: .init(maxKeypoints: 1024))
        var times: [Double] = []
        for _ in 0..<11 {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try sp(image: golden.image, width: golden.width, height: golden.height)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        times.removeFirst()  // the first call sizes the workspace
        times.sort()
        print("SuperPoint forward \(name): median \(times[times.count / 2]) s, min \(times[0]) s over \(times.count) runs")
    }
}

/// CPU seconds of this process (robust to other load on a shared machine when OpenBLAS runs
/// one thread: OPENBLAS_NUM_THREADS=1).
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["SUPERPOINT_TIMING"] != nil))
struct SuperPointStageTimingTests {
    @Test func stagesAt640x480() throws {
        let golden = try SuperPointFixtures.golden("astronaut_640x480")
        let sp = try SuperPoint(weights: SuperPointFixtures.weights.get(), config: .init(maxKeypoints: 1024))
        _ = try sp(image: golden.image, width: golden.width, height: golden.height)
        let t0 = processCPUSeconds()
        let reps = 3
        for _ in 0..<reps { _ = try sp(image: golden.image, width: golden.width, height: golden.height) }
        print("whole forward CPU s per call: \((processCPUSeconds() - t0) / Double(reps))")
        let ws = SuperPointWorkspace()
        let (H, W) = (480, 640)
        ws.reserve(width: W, height: H, descriptorDim: 256)
        do {
            func stage(_ label: String, _ body: () -> Void) {
                let s = processCPUSeconds()
                for _ in 0..<reps { body() }
                print("  \(label): \((processCPUSeconds() - s) / Double(reps) * 1000) ms CPU")
            }
            golden.image.withUnsafeBufferPointer { img in
                stage("conv1a whole image, 10-row bands") {
                    var y0 = 0
                    while y0 < H {
                        sp.conv1a.apply(input: MapRows(base: img.baseAddress!, firstRow: 0, validRows: 0..<H), width: W,
                                        rows: y0..<min(y0 + 10, H), output: ws.level1a.base, relu: true, scratch: ws.im2col.base)
                        y0 += 10
                    }
                }
            }
            stage("conv1b+pool (input: garbage band, timing only)") {
                var y0 = 0
                while y0 < H {
                    sp.conv1b.apply(input: MapRows(base: ws.level1a.base, firstRow: max(y0 - 1, 0), validRows: max(y0 - 1, 0)..<min(y0 + 9, H)),
                                    width: W, rows: y0..<min(y0 + 8, H), output: ws.mapA.base + (y0 / 2) * 320 * 64,
                                    relu: true, pool: true, scratch: ws.winograd.base)
                    y0 += 8
                }
            }
            stage("conv2a 320x240") { sp.convolve(sp.conv2a, input: ws.mapA.base, height: 240, width: 320, output: ws.mapB.base, ws: ws) }
            stage("conv2b+pool") { sp.convolvePooled(sp.conv2b, input: ws.mapB.base, height: 240, width: 320, output: ws.mapA.base, ws: ws) }
            stage("conv3a 160x120") { sp.convolve(sp.conv3a, input: ws.mapA.base, height: 120, width: 160, output: ws.mapB.base, ws: ws) }
            stage("conv3b+pool") { sp.convolvePooled(sp.conv3b, input: ws.mapB.base, height: 120, width: 160, output: ws.mapA.base, ws: ws) }
            stage("conv4a 80x60") { sp.convolve(sp.conv4a, input: ws.mapA.base, height: 60, width: 80, output: ws.mapB.base, ws: ws) }
            stage("convPa") { sp.convolve(sp.convPa, input: ws.mapA.base, height: 60, width: 80, output: ws.head.base, ws: ws) }
            stage("convPb") { sp.convolve(sp.convPb, input: ws.head.base, height: 60, width: 80, output: ws.logits.base) }
            stage("softmax+d2s") {
                softmaxChannels(ws.logits.base, pixels: 4800, channels: 65, stride: 65)
                depthToSpace8(ws.logits.base, cellRows: 60, cellColumns: 80, stride: 65, output: ws.scores.base)
            }
            stage("nms") { sp.simpleNMS(ws: ws, height: H, width: W) }
            stage("extract") { _ = sp.extractKeypoints(ws.scores.base, height: H, width: W) }
        }
    }
}
