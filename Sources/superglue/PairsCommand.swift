// `superglue pairs`: match_pairs.py over a pairs list, with its pose evaluation (--eval).
import ArgumentParser
import Foundation
import SuperGlueKit
#if canImport(Glibc)
import Glibc
#endif

struct PairsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pairs",
        abstract: "Match every pair of a pairs list (match_pairs.py's format), one {stem0}_{stem1}_matches.npz per pair; --eval evaluates the relative pose.",
        discussion: """
            Each line holds two image paths relative to --input-dir; further columns are accepted, and \
            with five or more columns the 3rd and 4th are rotations (quarter turns) applied after resizing, \
            as match_pairs.py does. Pairs whose outputs exist are skipped unless --overwrite. Every image is \
            decoded and its features extracted once per run. A pair whose image cannot be read is reported \
            and the run goes on; the exit status is then 1.

            --eval runs match_pairs.py's evaluation: every line needs 38 columns (name0 name1 rot0 rot1, K0 \
            and K1 as 9 numbers each, T_0to1 as 16, row-major; the reference's ScanNet and YFCC pairs files). \
            Per pair it writes {stem0}_{stem1}_evaluation.npz (error_t, error_R in degrees, precision, \
            matching_score, num_correct, epipolar_errors) and at the end prints AUC@5/10/20 of the pose \
            error max(error_t, error_R), the mean precision (epipolar distance < 5e-4) and matching score. \
            The essential matrix is estimated by RANSAC (five-point, 1 px at the network input, confidence \
            0.99999) with samples drawn from --seed, so reruns give the same numbers. Existing matches \
            without an evaluation file are evaluated as they are (delete the *_evaluation.npz files to \
            evaluate again, e.g. with another --seed).
            """)

    @Option(help: "Pairs list file.") var pairs: String
    @Option(help: "Folder the image names are relative to.") var inputDir: String
    @Option(help: "Folder for the .npz (and .png) outputs.") var outputDir: String
    @Flag(help: "Also write {stem0}_{stem1}_matches.png plots.") var viz = false
    @Flag(help: "Recompute pairs whose outputs already exist.") var overwrite = false
    @Option(help: "Only the first N pairs (-1: all).") var maxLength: Int = -1
    @Flag(help: "No progress bar.") var quiet = false
    @Flag(name: .customLong("eval"), help: "Evaluate the relative pose against the pairs file's intrinsics and poses (38 columns per line).")
    var evaluate = false
    @Option(help: "Seed of the RANSAC samples of --eval (each pair starts from it).") var seed: UInt64 = 0
    @OptionGroup var matching: MatchingOptions

    func run() throws {
        var list = try PairsFile.read(URL(fileURLWithPath: pairs), requireGroundTruth: evaluate)
        if maxLength > -1 { list = Array(list.prefix(maxLength)) }
        let inputDirectory = URL(fileURLWithPath: inputDir, isDirectory: true)
        let outputDirectory = URL(fileURLWithPath: outputDir, isDirectory: true)
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        let matcher = try matching.makeMatcher()

        struct Key: Hashable { var name: String; var rotation: Int }
        var cache: [Key: CLIInput] = [:]
        var failures: [String] = []
        var timings = (extract: 0.0, match: 0.0, write: 0.0, evaluate: 0.0)
        var evaluations: [(poseError: Double, precision: Double, matchingScore: Double)] = []
        var done = 0, skipped = 0, extracted = 0, reevaluated = 0
        let progress = PairsProgress(total: list.count, enabled: !quiet && isatty(STDERR_FILENO) == 1)
        let start = Date()

        func input(_ name: String, _ rotation: Int) throws -> CLIInput {
            let key = Key(name: name, rotation: rotation)
            if let hit = cache[key] { return hit }
            let loaded = try CLIInput.load(inputDirectory.appendingPathComponent(name).path, rotation: rotation, matcher: matcher)
            timings.extract += loaded.seconds
            extracted += 1
            // Plots need the grey image; otherwise keep only the features to bound memory.
            cache[key] = viz ? loaded : CLIInput(features: loaded.features, image: nil, seconds: loaded.seconds, frame: loaded.frame)
            return loaded
        }

        func reportFailure(_ index: Int, _ pair: ImagePair, _ error: any Error) {
            progress.clearLine()
            let message = "pair \(index + 1) (\(pair.name0) \(pair.name1)): \(error)"
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            failures.append(message)
        }

        /// Evaluates a pair's matches, writes its evaluation file and keeps its summary values.
        func evaluatePair(_ pair: ImagePair, keypoints0: [Float], keypoints1: [Float], matches0: [Int],
                          frames: (EvaluationFrame, EvaluationFrame), to url: URL) throws {
            let started = Date()
            let result = PairEvaluation.evaluate(try PairEvaluation.groundTruth(pair), keypoints0: keypoints0, keypoints1: keypoints1,
                                                 matches0: matches0, frames: frames, seed: seed)
            try PairEvaluation.write(result, to: url)
            evaluations.append((result.poseError, result.precision, result.matchingScore))
            timings.evaluate += Date().timeIntervalSince(started)
        }

        for (index, pair) in list.enumerated() {
            defer { progress.update(index + 1) }
            let npz = outputDirectory.appendingPathComponent(pair.matchesFileName)
            let png = outputDirectory.appendingPathComponent(pair.plotFileName)
            let evaluationFile = outputDirectory.appendingPathComponent(pair.evaluationFileName)
            let fm = FileManager.default
            if !overwrite && fm.fileExists(atPath: npz.path) && (!viz || fm.fileExists(atPath: png.path)) {
                if !evaluate {
                    skipped += 1
                    continue
                }
                if let values = try? PairEvaluation.readSummaryValues(evaluationFile) {
                    evaluations.append(values)
                    skipped += 1
                    continue
                }
                // Matches without (a readable) evaluation: evaluate them as they are, as
                // match_pairs.py --cache does; matches that cannot be read are recomputed below.
                if let saved = try? PairEvaluation.readMatches(npz) {
                    do {
                        let frames = (try EvaluationFrame.load(inputDirectory.appendingPathComponent(pair.name0), rotation: pair.rotation0, matcher: matcher),
                                      try EvaluationFrame.load(inputDirectory.appendingPathComponent(pair.name1), rotation: pair.rotation1, matcher: matcher))
                        try evaluatePair(pair, keypoints0: saved.keypoints0, keypoints1: saved.keypoints1, matches0: saved.matches0,
                                         frames: frames, to: evaluationFile)
                        reevaluated += 1
                    } catch {
                        reportFailure(index, pair, error)
                    }
                    continue
                }
            }
            do {
                let a = try input(pair.name0, pair.rotation0)
                let b = try input(pair.name1, pair.rotation1)
                let t0 = Date()
                let m = try matcher.match(a.features, b.features)
                let t1 = Date()
                try CLIOutput.writeMatches(a.features, b.features, m, to: npz, withFeatures: false)
                if viz, let g0 = (cache[Key(name: pair.name0, rotation: pair.rotation0)]?.image ?? a.image)?.gray,
                   let g1 = (cache[Key(name: pair.name1, rotation: pair.rotation1)]?.image ?? b.image)?.gray {
                    try CLIOutput.writePlot(g0, g1, a.features, b.features, m, options: matching,
                                            names: (pair.name0, pair.name1), to: png)
                }
                timings.match += t1.timeIntervalSince(t0)
                timings.write += Date().timeIntervalSince(t1)
                if evaluate {
                    guard let frame0 = a.frame, let frame1 = b.frame else {
                        throw ValidationError("--eval needs images: a features file does not record how the image was resized")
                    }
                    try evaluatePair(pair, keypoints0: a.features.keypoints, keypoints1: b.features.keypoints, matches0: m.matches0,
                                     frames: (frame0, frame1), to: evaluationFile)
                }
                done += 1
            } catch {
                reportFailure(index, pair, error)
            }
        }
        progress.finish()
        let total = Date().timeIntervalSince(start)
        if !quiet {
            let per = { (t: Double, n: Int) in n > 0 ? String(format: "%.1f ms", 1000 * t / Double(n)) : "-" }
            print("pairs: \(done) matched, \(skipped) skipped (outputs exist)"
                  + (evaluate ? ", \(reevaluated) evaluated from existing matches" : "")
                  + ", \(failures.count) failed, in \(String(format: "%.1f", total)) s")
            print("timing: extract \(per(timings.extract, extracted)) per image (\(extracted) images), match \(per(timings.match, done)) per pair, write \(per(timings.write, done)) per pair"
                  + (evaluate ? ", evaluate \(per(timings.evaluate, done + reevaluated)) per pair" : ""))
        }
        if evaluate {
            print(PairEvaluation.summary(poseErrors: evaluations.map(\.poseError), precisions: evaluations.map(\.precision),
                                         matchingScores: evaluations.map(\.matchingScore)))
            if !failures.isEmpty { print("(\(failures.count) failed pairs are not in the evaluation)") }
        }
        if !failures.isEmpty { throw ExitCode(1) }
    }
}

/// A one-line progress bar on standard error, redrawn at most ten times a second.
final class PairsProgress {
    private let total: Int
    private let enabled: Bool
    private let start = Date()
    private var last = Date.distantPast
    private var visible = false

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled
    }

    func update(_ done: Int) {
        guard enabled, Date().timeIntervalSince(last) >= 0.1 || done == total else { return }
        last = Date()
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30, filled = total > 0 ? width * done / total : width
        let line = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + "\(done)/\(total) pairs, \(String(format: "%.2f", rate)) pairs/s, ETA \(Int(eta.rounded()))s  "
        FileHandle.standardError.write(Data(("\r" + line).utf8))
        visible = true
    }

    func clearLine() {
        if visible { FileHandle.standardError.write(Data("\n".utf8)); visible = false }
    }

    func finish() { clearLine() }
}
