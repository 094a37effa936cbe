// End to end, from image files: one pair through Matcher (decode, resize to 640x480, SuperPoint
// with 1024 keypoints on each image, SuperGlue with 20 Sinkhorn iterations), and the ranking job
// (RankingJob with a Matcher-backed engine) over 8 database images against one query.
//
// Inputs are synthetic textured images written at start-up as baseline grey JPEGs (libjpeg, see
// Support/CJPEGWriter) to a temporary folder; the database images are 640x480 too, so resizing
// is a copy. Weights are RandomWeights (official shapes, not trained values): run time depends
// on the shapes, and random weights keep the full 1024 keypoints per image.
//
// Peak resident memory is package-benchmark's .peakMemoryResident: the whole benchmark process's
// resident set (harness, weights, workspaces), sampled while the benchmark runs.
import Benchmark
import BenchmarkSupport
import Foundation
import SuperGlueKit
import SuperGlueKitTestSupport
import SuperGlueRanking
import Tensors

/// The matcher with the reference's defaults: 640x480, 1024 keypoints, 20 iterations.
func makeMatcher() throws -> Matcher {
    let config = MatcherConfig()
    return try Matcher(superPoint: try Networks.SuperPoint(weights: RandomWeights.superPoint(seed: 1), config: config.superPoint),
                   superGlue: try SuperGlue(weights: RandomWeights.superGlue(layers: 18, seed: 2), config: config.superGlue),
                   config: config)
}

/// The ranking job's view of a Matcher (what `superglue rank` runs), with fixed identities.
struct BenchmarkRankingEngine: RankingEngine {
    let matcher: Matcher
    var featureIdentity: String { "benchmark-random-weights" }
    var matchIdentity: String { "benchmark-random-weights" }

    func features(forImageAt url: URL) throws -> Features { try matcher.extract(url).features }

    func match(_ query: Features, _ image: Features) throws -> RankingMatches {
        let m = try matcher.match(query, image)
        return RankingMatches(matches0: m.matches0, confidence0: m.matchingScores0)
    }
}

struct PairState: Sendable {
    let matcher: Matcher
    let image0: URL, image1: URL
}

struct RankingState: Sendable {
    let engine: BenchmarkRankingEngine
    let configuration: RankingJobConfiguration
}

/// Database images of the ranking job.
let databaseSize = 8

/// Images per second of the ranking job's processing loop, times 100 (metrics are integers).
let imagesPerSecond = BenchmarkMetric.custom("images/s x100", polarity: .prefersLarger, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, .mallocCountTotal],
        timeUnits: .milliseconds,
        maxDuration: .seconds(5),
        maxIterations: 8
    )

    Benchmark("pair 640x480 JPEG, 1024 keypoints, 20 iterations") { (benchmark: Benchmark, state: PairState) in
        for _ in benchmark.scaledIterations {
            blackHole(try? state.matcher.match(state.image0, state.image1))
        }
    } setup: {
        let folder = try temporaryFolder("pair")
        let image0 = folder.appendingPathComponent("image0.jpg"), image1 = folder.appendingPathComponent("image1.jpg")
        try writeJPEG(syntheticImage(width: 640, height: 480, seed: 1), to: image0)
        try writeJPEG(syntheticImage(width: 640, height: 480, seed: 1, shift: (24, 16)), to: image1)
        let state = PairState(matcher: try makeMatcher(), image0: image0, image1: image1)
        _ = try state.matcher.match(image0, image1)  // grow the workspaces
        return state
    } teardown: {
        try? FileManager.default.removeItem(at: temporaryFolderURL("pair"))
    }

    // Default lanes (one image per worker) and a single lane (one image at a time on every worker,
    // next image's features computed during matching), the two modes of RankingJobConfiguration.lanes.
    for lanes in [nil, 1] as [Int?] {
        Benchmark("ranking job, cached query, \(databaseSize) images, \(lanes.map { "\($0) lane" } ?? "default lanes")",
                  configuration: .init(metrics: [.wallClock, .cpuTotal, .peakMemoryResident, imagesPerSecond],
                                       warmupIterations: 0, maxIterations: 4)) { (benchmark: Benchmark, state: RankingState) in
            for _ in benchmark.scaledIterations {
                guard let summary = try? RankingJob.run(engine: state.engine, configuration: state.configuration),
                      summary.processed == databaseSize else {
                    benchmark.error("the ranking job failed")
                    return
                }
                benchmark.measurement(imagesPerSecond, Int((summary.imagesPerSecond * 100).rounded()))
            }
        } setup: {
            let folder = try temporaryFolder("ranking")
            let database = folder.appendingPathComponent("database", isDirectory: true)
            try FileManager.default.createDirectory(at: database, withIntermediateDirectories: true)
            let query = folder.appendingPathComponent("query.jpg")
            try writeJPEG(syntheticImage(width: 640, height: 480, seed: 1), to: query)
            // Half of the database overlaps the query (shifted views), half is unrelated.
            for i in 0..<databaseSize {
                let image = i % 2 == 0
                    ? syntheticImage(width: 640, height: 480, seed: 1, shift: (8 * i + 8, 4 * i))
                    : syntheticImage(width: 640, height: 480, seed: UInt64(100 + i))
                try writeJPEG(image, to: database.appendingPathComponent("image\(i).jpg"))
            }
            // No feature cache: every database image is decoded and run through SuperPoint in every
            // run. The query's features are computed once per job, outside the processing loop that
            // images per second are measured over. overwrite: each run starts a fresh journal.
            let configuration = RankingJobConfiguration(
                query: query, source: .directory(database), output: folder.appendingPathComponent("results.csv"),
                cacheDirectory: nil, overwrite: true, lanes: lanes)
            // Warm up here (one extraction and one match grow the workspaces) rather than with a
            // whole untimed job.
            let engine = BenchmarkRankingEngine(matcher: try makeMatcher())
            let queryFeatures = try engine.features(forImageAt: query)
            _ = try engine.match(queryFeatures, queryFeatures)
            return RankingState(engine: engine, configuration: configuration)
        } teardown: {
            try? FileManager.default.removeItem(at: temporaryFolderURL("ranking"))
        }
    }
}
