// `superglue benchmark`: per-stage timings of this engine on one pair, as JSON for
// Tools/bench/compare.py (which times the PyTorch reference and ONNX Runtime in the same run).
import ArgumentParser
import Foundation
import SuperGlueKit
import SuperGlueKitTestSupport
import Tensors
#if canImport(Glibc)
import Glibc
#endif

struct BenchmarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benchmark",
        abstract: "Time a detector, SuperGlue (1024 x 1024, 20 and 100 iterations) and a whole pair.",
        discussion: """
            Prints per-run milliseconds under superpoint_ms, superglue_20_ms, superglue_100_ms, \
            sinkhorn_iteration_ms (one iteration on a (keypoints + 1)^2 matrix: (t21 - t1) / 20), pair_ms \
            (decode + resize + SuperPoint x2 + SuperGlue with --sinkhorn-iterations) and peak_rss_mb (peak \
            resident size right after the pair stage, which runs first). With --random-weights no weight files are needed: \
            timings do not depend on the values, only on shapes (SuperGlue is always given exactly \
            --superglue-keypoints per side).
            With --features aliked-* or disk: detector_ms (and detector_cpu_ms, the process's CPU time) is \
            the detector alone on image0's network input (decoded and resized outside the timing), pair_ms \
            the whole pair with LightGlue; --layers adds each stage's median wall and CPU milliseconds and \
            GFLOP/s (direct-evaluation flops over the median time) under "layers".
            """)

    @Option(help: "First image.") var image0: String
    @Option(help: "Second image.") var image1: String
    @Option(help: "Timed runs per stage.") var runs: Int = 10
    @Option(help: "Untimed warm-up runs per stage.") var warmup: Int = 2
    @Option(help: "Keypoints per side for the SuperGlue stages.") var superglueKeypoints: Int = 1024
    @Flag(help: "Use random weights in the official layout (18 GNN layers) instead of weight files.") var randomWeights = false
    @Flag(help: "Print JSON only.") var json = false
    @Option(help: ArgumentHelp("Stages to time, comma-separated or repeated (default: all).",
                               valueName: "pair,superpoint,superglue_20,superglue_100,sinkhorn_iteration,detector"))
    var stages: [StageList] = []
    @Flag(help: "Also profile the detector stage by stage (ALIKED and DISK): median ms and GFLOP/s per layer.") var layers = false
    @OptionGroup var matching: MatchingOptions

    /// A timed stage, named as in the JSON output (`<stage>_ms`).
    enum Stage: String, CaseIterable {
        case pair, superpoint, superglue_20, superglue_100, sinkhorn_iteration, detector, lightglue

        /// The stages that exist for SuperPoint + SuperGlue, and for the other detectors.
        static let superPointStages: [Stage] = [.pair, .superpoint, .superglue_20, .superglue_100, .sinkhorn_iteration]
        static let detectorStages: [Stage] = [.pair, .detector, .lightglue]
    }

    /// One `--stages` value: stage names separated by commas.
    struct StageList: ExpressibleByArgument {
        var stages: [Stage]
        init(_ stages: [Stage]) { self.stages = stages }
        init?(argument: String) {
            let names = argument.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let parsed = names.compactMap(Stage.init(rawValue:))
            guard !parsed.isEmpty, parsed.count == names.count else { return nil }
            stages = parsed
        }
        static var allValueStrings: [String] { Stage.allCases.map(\.rawValue) }
    }

    func run() throws {
        guard runs > 0, warmup >= 0, superglueKeypoints > 0 else { throw ValidationError("--runs and --superglue-keypoints must be positive") }
        if matching.features != .superpoint { return try runDetector() }
        let selected = Set((stages.isEmpty ? Stage.superPointStages : stages.flatMap(\.stages)).map(\.rawValue))
        guard !selected.contains("detector") else { throw ValidationError("the detector stage is for --features aliked-* or disk") }
        let config = try matching.matcherConfig()
        let superPoint: SuperPoint
        // The SuperGlue tensors are (re)loaded for each instance built rather than held for the
        // whole run, so the pair stage sees the memory a `superglue match` process has.
        let superGlueWeights: () throws -> SafeTensorsFile
        if randomWeights {
            superPoint = try SuperPoint(weights: RandomWeights.superPoint(seed: 1), config: config.superPoint)
            superGlueWeights = { RandomWeights.superGlue(layers: 18, seed: 2) }
        } else {
            let m = try matching.makeMatcher()  // resolves and converts weights, fails early
            guard let network = m.detector as? SuperPoint, let url = m.matcherWeightsURL else {
                throw ValidationError("superglue benchmark times SuperPoint + SuperGlue")
            }
            superPoint = network
            superGlueWeights = { try WeightConversion.loadWeights(at: url, model: .superglue) }
        }
        func superGlue(_ iterations: Int) throws -> SuperGlue {
            var c = config.superGlue
            c.sinkhornIterations = iterations
            return try SuperGlue(weights: superGlueWeights(), config: c)
        }
        let matcher = try Matcher(superPoint: superPoint, superGlue: try superGlue(config.superGlue.sinkhornIterations), config: config)
        let url0 = URL(fileURLWithPath: image0), url1 = URL(fileURLWithPath: image1)

        // The pair runs first and the peak resident size is read right after it, while the
        // process holds what `superglue match` holds (one SuperPoint, one SuperGlue, the weights);
        // the stages below add two more SuperGlue instances that a pair run does not have.
        var result: [String: Any] = ["weights": randomWeights ? "random" : "files"]
        if selected.contains("pair") {
            result["pair_ms"] = try time { _ = try matcher.match(url0, url1) }
            result["peak_rss_mb"] = Self.peakResidentMB()
        }

        let prepared = try ImageLoader.prepare(contentsOf: url0, options: PreprocessingOptions(resize: config.resize, decoding: config.decoding))
        result["image_size"] = [prepared.width, prepared.height]
        if selected.contains("superpoint") {
            result["superpoint_ms"] = try time { _ = try matcher.extract(prepared) }
        }
        if selected.contains("superglue_20") || selected.contains("superglue_100") {
            let f0 = Self.exactly(superglueKeypoints, try matcher.extract(url0).features, seed: 3)
            let f1 = Self.exactly(superglueKeypoints, try matcher.extract(url1).features, seed: 4)
            result["keypoints"] = [f0.count, f1.count]
            for iterations in [20, 100] where selected.contains("superglue_\(iterations)") {
                let sg = try superGlue(iterations)
                result["superglue_\(iterations)_ms"] = try time { _ = try sg.match(f0, f1) }
            }
        }
        if selected.contains("sinkhorn_iteration") {
            result["sinkhorn_iteration_ms"] = try sinkhornIterationMs(size: superglueKeypoints)
        }
        if !json {
            for key in ["superpoint_ms", "superglue_20_ms", "superglue_100_ms", "sinkhorn_iteration_ms", "pair_ms"] {
                if let v = result[key] as? [Double] { print(String(format: "%-22@ median %8.2f ms", key as NSString, Self.median(v))) }
            }
        }
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// The stages of an RGB detector (ALIKED, DISK) with LightGlue: its real weights only.
    private func runDetector() throws {
        let selected = Set((stages.isEmpty ? Stage.detectorStages : stages.flatMap(\.stages)).map(\.rawValue))
        let unsupported = selected.subtracting(Stage.detectorStages.map(\.rawValue))
        guard unsupported.isEmpty else {
            throw ValidationError("with --features \(matching.features.rawValue) the stages are pair, detector and lightglue; got \(unsupported.sorted().joined(separator: ", "))")
        }
        guard !randomWeights else { throw ValidationError("--random-weights applies to superpoint only") }
        let matcher = try matching.makeMatcher()
        let url0 = URL(fileURLWithPath: image0), url1 = URL(fileURLWithPath: image1)
        var result: [String: Any] = ["weights": "files", "features": matching.features.rawValue, "threads": Parallel.workers]
        if selected.contains("pair") {
            result["pair_ms"] = try time { _ = try matcher.match(url0, url1) }
            result["peak_rss_mb"] = Self.peakResidentMB()
        }
        let (input, _) = try matcher.colorInput(ImageDecoder.decodeRGB(contentsOf: url0, options: matcher.config.decoding).image)
        result["image_size"] = [input.width, input.height]
        if selected.contains("detector") {
            var cpu: [Double] = []
            var keypoints = 0
            result["detector_ms"] = try time {
                let start = LayerProfile.processCPUSeconds()
                keypoints = try matcher.detector.detect(input).count
                cpu.append((LayerProfile.processCPUSeconds() - start) * 1e3)
            }
            result["detector_cpu_ms"] = Array(cpu.suffix(runs))
            result["keypoints"] = keypoints
        }
        if selected.contains("lightglue") { try timeLightGlue(matcher, url0, url1, into: &result) }
        if layers && selected.contains("detector") {
            guard let network = matcher.detector as? any ProfilableDetector else {
                throw ValidationError("\(matcher.detector.name) has no per-layer profile")
            }
            for _ in 0..<warmup { _ = try network.detect(input) }
            let profile = LayerProfile()
            for _ in 0..<runs { _ = try network.detect(input, profile: profile) }
            result["layers"] = profile.stages.map { stage -> [String: Any] in
                var row: [String: Any] = ["name": stage.name, "ms": (LayerProfile.Stage.median(stage.wallSeconds) ?? 0) * 1e3,
                                          "cpu_ms": (LayerProfile.Stage.median(stage.cpuSeconds) ?? 0) * 1e3,
                                          "gflop": stage.flops / 1e9]
                if let rate = stage.gflops { row["gflops"] = rate }
                return row
            }
            if !json { Self.printProfile(profile, runs: runs) }
        }
        if !json {
            for key in ["detector_ms", "detector_cpu_ms", "lightglue_ms", "lightglue_cpu_ms", "pair_ms"] {
                if let v = result[key] as? [Double] { print(String(format: "%-22@ median %8.2f ms", key as NSString, Self.median(v))) }
            }
        }
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// LightGlue alone, as the ranking job runs it: image 0 prepared once (``LightGlue/prepare(_:)``),
    /// then matched against image 1's features; with --layers, its parts summed over the layers.
    private func timeLightGlue(_ matcher: Matcher, _ url0: URL, _ url1: URL, into result: inout [String: Any]) throws {
        guard let lightGlue = matcher.featureMatcher as? LightGlue else { throw ValidationError("the lightglue stage needs the LightGlue matcher") }
        let features0 = try matcher.extract(url0).features, features1 = try matcher.extract(url1).features
        let query = try lightGlue.prepare(features0)
        var cpu: [Double] = []
        var stopLayer = 0, matchCount = 0
        result["lightglue_ms"] = try time {
            let start = LayerProfile.processCPUSeconds()
            let detailed = try lightGlue.matchDetailed(query, features1)
            cpu.append((LayerProfile.processCPUSeconds() - start) * 1e3)
            stopLayer = detailed.stopLayer
            matchCount = detailed.matches.matches0.filter { $0 >= 0 }.count
        }
        result["lightglue_cpu_ms"] = Array(cpu.suffix(runs))
        result["lightglue_keypoints"] = [features0.count, features1.count]
        result["lightglue_stop_layer"] = stopLayer
        result["lightglue_matches"] = matchCount
        guard layers else { return }
        let profile = LayerProfile()
        for _ in 0..<runs { _ = try lightGlue.matchDetailed(query, features1, profile: profile) }
        result["lightglue_layers"] = Self.perPass(profile, runs: runs).map { row -> [String: Any] in
            ["name": row.name, "calls": row.calls, "ms": row.wallMs, "cpu_ms": row.cpuMs, "gflop": row.gflop]
        }
        if !json { Self.printTotals(profile, runs: runs, title: "LightGlue, \(features0.count) x \(features1.count) keypoints, stop layer \(stopLayer)") }
    }

    /// Per pass (the mean over `runs` passes), each stage's calls and total wall ms, CPU ms and
    /// GFLOP: for stages that run several times per pass with different sizes.
    static func perPass(_ profile: LayerProfile, runs: Int) -> [(name: String, calls: Int, wallMs: Double, cpuMs: Double, gflop: Double)] {
        profile.stages.map { stage in
            (stage.name, stage.wallSeconds.count / runs, stage.wallSeconds.reduce(0, +) / Double(runs) * 1e3,
             stage.cpuSeconds.reduce(0, +) / Double(runs) * 1e3, stage.totalFlops / Double(runs) / 1e9)
        }
    }

    /// ``perPass(_:runs:)`` as a table, with GFLOP/s over the wall and over the CPU time.
    static func printTotals(_ profile: LayerProfile, runs: Int, title: String) {
        let rows = perPass(profile, runs: runs)
        let totalWall = rows.reduce(0) { $0 + $1.wallMs }, totalCPU = rows.reduce(0) { $0 + $1.cpuMs }
        let width = max(20, rows.map(\.name.count).max() ?? 0)
        print("\(title): mean of \(runs) profiled runs (wall ms, process CPU ms over all threads; \(Parallel.workers) workers)")
        print("stage".padding(toLength: width, withPad: " ", startingAt: 0) + " calls   wall ms    cpu ms  share   GFLOP  GFLOP/s  per cpu-s")
        for (name, calls, wall, cpu, gflop) in rows {
            let rate = gflop > 0 && wall > 0 ? String(format: "%8.1f", gflop / (wall / 1e3)) : "       -"
            let perCPU = gflop > 0 && cpu > 0 ? String(format: "%10.1f", gflop / (cpu / 1e3)) : "         -"
            print(name.padding(toLength: width, withPad: " ", startingAt: 0)
                  + String(format: " %5d %9.2f %9.2f %5.1f%% %7.2f ", calls, wall, cpu,
                           totalCPU > 0 ? 100 * cpu / totalCPU : 0, gflop) + rate + " " + perCPU)
        }
        print("total".padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "       %9.2f %9.2f", totalWall, totalCPU))
    }

    /// A table of the profile's stages: median wall and CPU ms, share of the total, GFLOP, GFLOP/s
    /// over the wall time and over the CPU time (per core busy: meaningful on a loaded machine).
    static func printProfile(_ profile: LayerProfile, runs: Int) {
        let rows = profile.stages.map { stage in
            (stage, (LayerProfile.Stage.median(stage.wallSeconds) ?? 0) * 1e3, (LayerProfile.Stage.median(stage.cpuSeconds) ?? 0) * 1e3)
        }
        let totalWall = rows.reduce(0) { $0 + $1.1 }, totalCPU = rows.reduce(0) { $0 + $1.2 }
        let width = max(20, rows.map(\.0.name.count).max() ?? 0)
        print("median of \(runs) profiled runs (wall ms, process CPU ms over all threads; \(Parallel.workers) workers)")
        print("stage".padding(toLength: width, withPad: " ", startingAt: 0) + "   wall ms    cpu ms  share   GFLOP  GFLOP/s  per cpu-s")
        for (stage, wall, cpu) in rows {
            let rate = stage.gflops.map { String(format: "%8.1f", $0) } ?? "       -"
            let perCPU = stage.flops > 0 && cpu > 0 ? String(format: "%10.1f", stage.flops / 1e9 / (cpu / 1e3)) : "         -"
            let flop = stage.flops > 0 ? String(format: "%7.2f", stage.flops / 1e9) : "      -"
            print(stage.name.padding(toLength: width, withPad: " ", startingAt: 0)
                  + String(format: " %9.2f %9.2f %5.1f%% ", wall, cpu, totalCPU > 0 ? 100 * cpu / totalCPU : 0) + flop + " " + rate + " " + perCPU)
        }
        print("total".padding(toLength: width, withPad: " ", startingAt: 0) + String(format: " %9.2f %9.2f", totalWall, totalCPU))
    }

    /// One Sinkhorn iteration on a `(size + 1)^2` coupling matrix, as compare.py measures the
    /// reference: (time of 1 + 20 iterations - time of 1 iteration) / 20, back to back per run.
    private func sinkhornIterationMs(size: Int) throws -> [Double] {
        var generator = SplitMix64(seed: 5)
        let scores = (0..<((size + 1) * (size + 1))).map { _ in Float(generator.unit() * 8 - 4) }
        var couplings = scores
        let workspace = SinkhornWorkspace()
        func solve(_ iterations: Int) -> Double {
            couplings.withUnsafeMutableBufferPointer { c in
                scores.withUnsafeBufferPointer { s in c.baseAddress!.update(from: s.baseAddress!, count: s.count) }
                let start = DispatchTime.now().uptimeNanoseconds
                logOptimalTransport(couplings: c.baseAddress!, rows: size, columns: size, binScore: 1,
                                    iterations: iterations, workspace: workspace)
                return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            }
        }
        for _ in 0..<warmup { _ = solve(1); _ = solve(21) }
        return (0..<runs).map { _ in
            let one = solve(1)
            return (solve(21) - one) / 20
        }
    }

    private static func peakResidentMB() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024  // KiB on Linux
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / 1_048_576  // bytes on macOS
        #endif
    }

    private func time(_ body: () throws -> Void) throws -> [Double] {
        for _ in 0..<warmup { try body() }
        var out: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            out.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return out
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
    }

    /// Truncates to the `n` first keypoints, or pads with random keypoints and unit descriptors.
    static func exactly(_ n: Int, _ f: Features, seed: UInt64) -> Features {
        var out = f
        let d = f.descriptorDim
        if f.count >= n {
            out.keypoints = Array(f.keypoints.prefix(2 * n))
            out.scores = Array(f.scores.prefix(n))
            out.descriptors = Array(f.descriptors.prefix(n * d))
            return out
        }
        let padding = Features.random(count: n - f.count, descriptorDim: d, imageWidth: f.imageWidth,
                                      imageHeight: f.imageHeight, seed: seed)
        out.keypoints += padding.keypoints
        out.scores += padding.scores
        out.descriptors += padding.descriptors
        return out
    }
}
