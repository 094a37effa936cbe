// `superglue report`: the HTML report of a results CSV (also written by `rank --report`).
import ArgumentParser
import Foundation
import SuperGlueKit
import SuperGlueRanking

/// The version `superglue --version` prints and reports record.
let superglueVersion = "0.1.0"

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the HTML report of a results CSV of `superglue rank` (or of `superglue merge`).",
        discussion: """
            One self-contained page (no network access: styles, script and pictures are inline): the top images \
            as thumbnails with their match plots (each matched again against the query; features come from the \
            feature cache when present), the score histogram with the decision threshold, every row in a \
            scrollable, sortable table, the settings and a link to the CSV. Give the query, the images and the \
            matching options the job used: when the CSV's journal is next to it, its identity is checked and a \
            mismatch is an error.
            """)

    @Option(help: ArgumentHelp("Results CSV written by `superglue rank` or `superglue merge`.", valueName: "file"))
    var results: String

    @Option(help: ArgumentHelp("HTML file to write.", valueName: "file"))
    var output: String

    @Option(help: ArgumentHelp("The query image of the job.", valueName: "file"))
    var query: String

    @Option(help: ArgumentHelp("The images folder of the job (with --list, the base of relative paths).", valueName: "dir"))
    var images: String?

    @Option(help: ArgumentHelp("The image list of the job.", valueName: "file"))
    var list: String?

    @Option(help: ArgumentHelp("Feature cache folder of the job (default: superglue-feature-cache next to the CSV).", valueName: "dir"))
    var cache: String?

    @Flag(help: "Do not read the feature cache.")
    var noCache = false

    @Option(help: ArgumentHelp("The --score the job used.", valueName: "key"))
    var score: RankingScoreKey = .confidence

    @Option(help: "RANSAC reprojection threshold the job used (part of the journal identity).")
    var ransacThreshold: Double = 3

    @Option(help: "RANSAC seed the job used (part of the journal identity).")
    var ransacSeed: UInt64 = 0

    @OptionGroup var report: ReportOptions

    @OptionGroup var matching: MatchingOptions

    func validate() throws {
        guard images != nil || list != nil else { throw ValidationError("give --images DIR or --list FILE") }
        try report.check()
    }

    func run() throws {
        let resultsURL = URL(fileURLWithPath: results)
        let source: RankingImageSource = list.map { .list(URL(fileURLWithPath: $0), base: images.map { URL(fileURLWithPath: $0, isDirectory: true) }) }
            ?? .directory(URL(fileURLWithPath: images ?? ".", isDirectory: true))
        let cacheDirectory: URL? = noCache ? nil : (cache.map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? RankingJobConfiguration.defaultCacheDirectory(forOutput: resultsURL))
        try RankingJob.checkOutputLocation(URL(fileURLWithPath: output))
        let engine = try makeRankingEngine(options: matching)
        let job = RankingJobConfiguration(query: URL(fileURLWithPath: query), source: source, output: resultsURL, scoreKey: score,
                                          ransac: HomographyRANSAC(reprojectionThreshold: ransacThreshold, seed: ransacSeed))
        let identity = try RankingJob.jobIdentity(engine: engine, configuration: job)
        let recorded = RankingMerge.journalIdentity(of: resultsURL)
        if let recorded, recorded != identity {
            throw RankingJobError.input("""
                report: \(resultsURL.path)'s journal was written with another query, other weights or options \
                (identity \(recorded.prefix(12))…, these options give \(identity.prefix(12))…); give the options the job used
                """)
        }
        let verification = recorded == nil
            ? "not checked: no journal next to the CSV (merged or moved results); the settings below are those given to `superglue report`"
            : "checked: the journal's identity equals these settings'"
        let summary = try report.write(engine: engine, job: job, cacheDirectory: cacheDirectory, matching: matching,
                                       to: URL(fileURLWithPath: output), identity: identity, verification: verification)
        print(ReportOptions.describe(summary, output: output))
    }
}

/// The options of the report, shared by `report` and `rank --report`.
struct ReportOptions: ParsableArguments {
    @Option(name: .customLong("report-top"), help: ArgumentHelp("Ranked images shown with a thumbnail and a match plot in the report.", valueName: "n"))
    var top: Int = 50

    @Option(help: ArgumentHelp("Decision threshold on the score, drawn on the report's histogram (default: chosen with Otsu's method on log(1 + score), and marked as such).", valueName: "score"))
    var threshold: Double?

    func check() throws {
        guard (0...10_000).contains(top) else { throw ValidationError("--report-top must be between 0 and 10000") }
        if let threshold, !threshold.isFinite { throw ValidationError("--threshold must be a number") }
    }

    /// Writes the report of `job.output` (the results CSV) to `output`.
    func write(engine: any RankingEngine, job: RankingJobConfiguration, cacheDirectory: URL?, matching: MatchingOptions,
               to output: URL, identity: String, verification: String) throws -> RankingReportSummary {
        let configuration = RankingReportConfiguration(
            results: job.output, output: output, query: job.query, source: job.source, cacheDirectory: cacheDirectory,
            topCount: top, threshold: threshold, scoreKey: job.scoreKey,
            settings: Self.settings(engine: engine, job: job, matching: matching, identity: identity, verification: verification),
            lanes: job.lanes, detectorLanes: job.detectorLanes)
        return try RankingReport.write(engine: engine, configuration: configuration)
    }

    /// The settings table: what ran, with which options, weights and versions.
    static func settings(engine: any RankingEngine, job: RankingJobConfiguration, matching: MatchingOptions,
                         identity: String, verification: String) -> [RankingReportSetting] {
        var out: [RankingReportSetting] = [
            .init("superglue", "\(superglueVersion) (\(ProcessInfo.processInfo.operatingSystemVersionString))"),
            .init("report generated", ISO8601DateFormatter().string(from: Date())),
        ]
        if let modified = (try? FileManager.default.attributesOfItem(atPath: job.output.path))?[.modificationDate] as? Date {
            out.append(.init("results written", ISO8601DateFormatter().string(from: modified)))
        }
        out.append(.init("query", job.query.path))
        switch job.source {
        case .directory(let folder): out.append(.init("images", folder.path))
        case .list(let file, let base): out.append(.init("images", "list \(file.path)" + (base.map { ", relative to \($0.path)" } ?? "")))
        }
        if let shard = job.shard { out.append(.init("shard", shard.description)) }
        out.append(.init("detector", matching.features.rawValue))
        out.append(.init("matcher", matching.matcher.rawValue))
        let resize = (try? matching.resizeSpec()).map(\.description) ?? matching.resize.map(String.init).joined(separator: " ")
        out.append(.init("resize", resize))
        out.append(.init("max keypoints", String(matching.maxKeypoints)))
        if matching.features == .superpoint {
            out.append(.init("keypoint threshold", String(matching.keypointThreshold)))
            out.append(.init("NMS radius", String(matching.nmsRadius)))
        }
        switch matching.matcher {
        case .superglue:
            out.append(.init("SuperGlue weights", matching.superglue.rawValue))
            out.append(.init("Sinkhorn iterations", String(matching.sinkhornIterations)))
            out.append(.init("match threshold", String(matching.matchThreshold)))
        case .lightglue:
            let c = matching.lightGlueConfig
            out.append(.init("LightGlue depth / width confidence", "\(c.depthConfidence) / \(c.widthConfidence)"))
            out.append(.init("LightGlue filter threshold", String(c.filterThreshold)))
        }
        out.append(.init("score", "\(job.scoreKey.rawValue): \(RankingReport.scoreMeaning(job.scoreKey))"))
        out.append(.init("RANSAC", "reprojection threshold \(job.ransac.reprojectionThreshold) px, seed \(job.ransac.seed)"))
        out.append(.init("feature identity (detector, options, weights SHA-256)", engine.featureIdentity))
        out.append(.init("match identity (matcher, options, weights SHA-256)", engine.matchIdentity))
        out.append(.init("job identity", identity))
        out.append(.init("settings", verification))
        return out
    }

    static func describe(_ summary: RankingReportSummary, output: String) -> String {
        var text = "report: wrote \(output) (\(summary.rows) rows, \(summary.visuals) pictured, \(summary.bytes / 1024) KB"
        switch summary.threshold {
        case .given(let t): text += ", threshold \(t)"
        case .automatic(let t): text += ", threshold \(String(format: "%.4g", t)) (automatic)"
        case .none: break
        }
        if summary.incompleteVisuals > 0 { text += "; \(summary.incompleteVisuals) picture(s) could not be drawn, see their cards" }
        if summary.disagreements > 0 { text += "; warning: \(summary.disagreements) image(s) matched again differ from the CSV" }
        return text + ")"
    }
}
