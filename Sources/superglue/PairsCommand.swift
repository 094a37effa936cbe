// `superglue pairs`: match_pairs.py without --eval, over a pairs list.
import ArgumentParser
import Foundation
import SuperGlueKit
#if canImport(Glibc)
import Glibc
#endif

struct PairsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pairs",
        abstract: "Match every pair of a pairs list (match_pairs.py's format), one {stem0}_{stem1}_matches.npz per pair.",
        discussion: """
            Each line holds two image paths relative to --input-dir; further columns are accepted, and \
            with five or more columns the 3rd and 4th are rotations (quarter turns) applied after resizing, \
            as match_pairs.py does. Pairs whose outputs exist are skipped unless --overwrite. Every image is \
            decoded and its features extracted once per run. A pair whose image cannot be read is reported \
            and the run goes on; the exit status is then 1.
            """)

    @Option(help: "Pairs list file.") var pairs: String
    @Option(help: "Folder the image names are relative to.") var inputDir: String
    @Option(help: "Folder for the .npz (and .png) outputs.") var outputDir: String
    @Flag(help: "Also write {stem0}_{stem1}_matches.png plots.") var viz = false
    @Flag(help: "Recompute pairs whose outputs already exist.") var overwrite = false
    @Option(help: "Only the first N pairs (-1: all).") var maxLength: Int = -1
    @Flag(help: "No progress bar.") var quiet = false
    @OptionGroup var matching: MatchingOptions

    func run() throws {
        var list = try PairsFile.read(URL(fileURLWithPath: pairs))
        if maxLength > -1 { list = Array(list.prefix(maxLength)) }
        let inputDirectory = URL(fileURLWithPath: inputDir, isDirectory: true)
        let outputDirectory = URL(fileURLWithPath: outputDir, isDirectory: true)
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        let matcher = try matching.makeMatcher()

        struct Key: Hashable { var name: String; var rotation: Int }
        var cache: [Key: CLIInput] = [:]
        var failures: [String] = []
        var timings = (extract: 0.0, match: 0.0, write: 0.0)
        var done = 0, skipped = 0, extracted = 0
        let progress = PairsProgress(total: list.count, enabled: !quiet && isatty(STDERR_FILENO) == 1)
        let start = Date()

        func input(_ name: String, _ rotation: Int) throws -> CLIInput {
            let key = Key(name: name, rotation: rotation)
            if let hit = cache[key] { return hit }
            let loaded = try CLIInput.load(inputDirectory.appendingPathComponent(name).path, rotation: rotation, matcher: matcher)
            timings.extract += loaded.seconds
            extracted += 1
            // Plots need the grey image; otherwise keep only the features to bound memory.
            cache[key] = viz ? loaded : CLIInput(features: loaded.features, image: nil, seconds: loaded.seconds)
            return loaded
        }

        for (index, pair) in list.enumerated() {
            defer { progress.update(index + 1) }
            let npz = outputDirectory.appendingPathComponent(pair.matchesFileName)
            let png = outputDirectory.appendingPathComponent(pair.plotFileName)
            let fm = FileManager.default
            if !overwrite && fm.fileExists(atPath: npz.path) && (!viz || fm.fileExists(atPath: png.path)) {
                skipped += 1
                continue
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
                done += 1
            } catch {
                progress.clearLine()
                let message = "pair \(index + 1) (\(pair.name0) \(pair.name1)): \(error)"
                FileHandle.standardError.write(Data("error: \(message)\n".utf8))
                failures.append(message)
            }
        }
        progress.finish()
        let total = Date().timeIntervalSince(start)
        if !quiet {
            let per = { (t: Double, n: Int) in n > 0 ? String(format: "%.1f ms", 1000 * t / Double(n)) : "-" }
            print("pairs: \(done) matched, \(skipped) skipped (outputs exist), \(failures.count) failed, in \(String(format: "%.1f", total)) s")
            print("timing: extract \(per(timings.extract, extracted)) per image (\(extracted) images), match \(per(timings.match, done)) per pair, write \(per(timings.write, done)) per pair")
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
