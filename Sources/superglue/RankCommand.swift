// `superglue rank`: rank a folder of images against a query, resumably and shardably.
import ArgumentParser
import Foundation
import SuperGlueKit
import SuperGlueRanking
import CLISupport

extension RankingScoreKey: ExpressibleByArgument {}
extension RankingMerge.MissingImages: ExpressibleByArgument {}

struct RankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rank",
        abstract: "Rank a folder of images by how well they match a query image.",
        discussion: """
            Writes a CSV (score,image,matches,inliers,inlier_ratio,keypoints,status,seconds) sorted by score, \
            descending. Every finished image is appended to OUTPUT.journal first, so an interrupted or killed \
            run continues with --resume. Images that cannot be read get a row with their status and score 0; \
            the exit status is 0 unless the query, the weights or the output cannot be used (1) or the run \
            was interrupted (130). --shard i/n ranks a deterministic 1/n of the images; combine shard \
            outputs with `superglue merge`. --report writes an HTML page of the results when they are \
            written (see `superglue report`). --query-rotations 0,90,180,270 matches every image against the \
            query turned by each angle, keeps the best-scoring one and adds a query_rotation column.
            """)

    @Option(help: ArgumentHelp("The query image.", valueName: "file"))
    var query: String

    @Option(help: ArgumentHelp("Folder of database images (searched recursively); with --list, the base of relative paths.", valueName: "dir"))
    var images: String?

    @Option(help: ArgumentHelp("Text file with one image path per line, instead of listing --images.", valueName: "file"))
    var list: String?

    @Option(help: ArgumentHelp("Results CSV to write.", valueName: "file"))
    var output: String

    @Option(help: ArgumentHelp("Feature cache folder (default: superglue-feature-cache next to the output).", valueName: "dir"))
    var cache: String?

    @Flag(help: "Do not read or write the feature cache.")
    var noCache = false

    @Flag(help: "Continue the journal of an earlier run, skipping images already done.")
    var resume = false

    @Flag(help: "Discard the journal of an earlier run and start over.")
    var overwrite = false

    @Option(help: ArgumentHelp("Rank only shard i of n (0 <= i < n), chosen by a hash of each image's path.", valueName: "i/n"))
    var shard: String?

    @Option(help: "Sort key: confidence (sum of match confidences), matches or inliers.")
    var score: RankingScoreKey = .confidence

    @Option(help: "RANSAC homography reprojection threshold, in pixels of the resized image.")
    var ransacThreshold: Double = 3

    @Option(help: "Seed of the RANSAC sampler (fixed, so reruns agree).")
    var ransacSeed: UInt64 = 0

    @Option(help: ArgumentHelp("Images processed at once, one per thread (default: one per core or SUPERGLUE_NUM_THREADS). Each lane holds its own matcher buffers (the detector's are shared, see --detector-lanes); 1 runs one image at a time on every core.", valueName: "n"))
    var lanes: Int?

    @Option(help: ArgumentHelp("Lanes that may run the detector at the same time (default 1). Each holds the detector's buffers (ALIKED at 1024 px: about 200 MB); the lanes take turns at the detector and match in parallel.", valueName: "n"))
    var detectorLanes: Int = 1

    @Option(help: ArgumentHelp("""
        Query rotations to try, in degrees counter-clockwise (0, 90, 180, 270), comma-separated. Each image is matched \
        against the query turned by each angle and keeps the best score; the CSV gets a query_rotation column. \
        The query is turned exactly before the detector (its features are computed once per rotation); each image \
        costs one match per rotation. Default 0: no rotation, no extra column.
        """, valueName: "angles"))
    var queryRotations: String = "0"

    @Option(help: "Seconds between progress lines when standard error is not a terminal.")
    var logInterval: Double = 10

    @Flag(help: "Print nothing but errors.")
    var quiet = false

    @Option(help: ArgumentHelp("Also write an HTML report here once the results are written (see `superglue report`).", valueName: "file"))
    var report: String?

    @OptionGroup var reportOptions: ReportOptions

    @OptionGroup var matching: MatchingOptions

    func validate() throws {
        guard images != nil || list != nil else {
            throw ValidationError("give --images DIR or --list FILE")
        }
        guard !(resume && overwrite) else { throw ValidationError("--resume and --overwrite exclude each other") }
        guard ransacThreshold.isFinite, ransacThreshold > 0 else { throw ValidationError("--ransac-threshold must be > 0") }
        guard logInterval.isFinite, logInterval > 0 else { throw ValidationError("--log-interval must be > 0") }
        if let lanes, !(1...256).contains(lanes) { throw ValidationError("--lanes must be between 1 and 256") }
        guard (1...256).contains(detectorLanes) else { throw ValidationError("--detector-lanes must be between 1 and 256") }
        if let shard { do { _ = try RankingShard(parsing: shard) } catch { throw ValidationError("--shard: \(error)") } }
        try reportOptions.check()
        do { _ = try RankingQueryRotations(parsing: queryRotations) } catch { throw ValidationError("\(error)") }
    }

    /// The job configuration these options describe.
    func jobConfiguration() throws -> RankingJobConfiguration {
        let outputURL = URL(fileURLWithPath: output)
        let source: RankingImageSource
        if let list {
            source = .list(URL(fileURLWithPath: list), base: images.map { URL(fileURLWithPath: $0, isDirectory: true) })
        } else if let images {
            source = .directory(URL(fileURLWithPath: images, isDirectory: true))
        } else {
            throw ValidationError("give --images DIR or --list FILE")
        }
        let cacheDirectory: URL? = noCache ? nil : (cache.map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? RankingJobConfiguration.defaultCacheDirectory(forOutput: outputURL))
        return RankingJobConfiguration(
            query: URL(fileURLWithPath: query), source: source, output: outputURL, shard: try shard.map(RankingShard.init(parsing:)),
            cacheDirectory: cacheDirectory, resume: resume, overwrite: overwrite, scoreKey: score,
            ransac: HomographyRANSAC(reprojectionThreshold: ransacThreshold, seed: ransacSeed), lanes: lanes, detectorLanes: detectorLanes,
            queryRotations: try RankingQueryRotations(parsing: queryRotations))
    }

    func run() throws {
        let configuration = try jobConfiguration()
        // Cheap checks first, so a bad output path fails before the weights are loaded.
        try RankingJob.checkOutputLocation(configuration.output)
        if let report { try RankingJob.checkOutputLocation(URL(fileURLWithPath: report)) }
        let engine = try makeRankingEngine(options: matching)
        let reporter = RankingProgressReporter(style: RankingProgressReporter.automaticStyle(quiet: quiet), interval: logInterval)
        let interrupts = RankingInterruptHandler(stop: RankingStopFlag(), quiet: quiet)
        let summary: RankingSummary
        do {
            summary = try RankingJob.run(engine: engine, configuration: configuration, stop: interrupts.stop, events: reporter.handle)
        } catch {
            reporter.endLine()
            throw error
        }
        if !quiet { print(Self.describe(summary)) }
        if summary.interrupted { throw ExitCode(130) }
        if let report {
            // From the CSV just written, so the page shows exactly what the file holds.
            let written = try reportOptions.write(
                engine: engine, job: configuration, cacheDirectory: configuration.cacheDirectory, matching: matching,
                to: URL(fileURLWithPath: report), identity: try RankingJob.jobIdentity(engine: engine, configuration: configuration),
                verification: "the settings of this run")
            if !quiet { print(ReportOptions.describe(written, output: report)) }
        }
    }

    /// The end-of-run report: counts, throughput, cache use.
    static func describe(_ s: RankingSummary) -> String {
        var parts = ["rank: \(s.processed) image(s) processed in \(String(format: "%.1f", s.seconds))s (\(String(format: "%.2f", s.imagesPerSecond)) img/s)"]
        if s.resumed > 0 { parts.append("\(s.resumed) resumed from the journal") }
        parts.append("\(s.failed) with errors")
        parts.append("feature cache: \(s.cacheHits) hit(s), \(s.cacheMisses) miss(es)\(s.cacheRejected > 0 ? ", \(s.cacheRejected) corrupt entr(ies) recomputed" : "")"
            + (s.queryFromCache ? ", query from the cache" : ""))
        if s.interrupted {
            parts.append("interrupted: \(s.resumed + s.processed)/\(s.total) done, no results written; rerun with --resume")
        } else if let output = s.output {
            parts.append("wrote \(output.path) (\(s.total) rows)")
        }
        return parts.joined(separator: "; ")
    }
}
