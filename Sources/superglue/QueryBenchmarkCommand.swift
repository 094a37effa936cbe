// `superglue benchmark-query`: what preparing the query once saves per database image. Each
// image is matched against the query plainly and with the prepared query, alternating which goes
// first, on one thread (as in the ranking job's lanes), timing thread CPU time, so that other
// processes on the machine distort the ratio as little as possible. The two results are compared
// bit for bit as well.
import ArgumentParser
import Foundation
import SuperGlueKit
import SuperGlueKitTestSupport
import SuperGlueRanking
import Tensors
#if canImport(Glibc)
import Glibc
#endif

struct QueryBenchmarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benchmark-query",
        abstract: "Time matching a query against images with and without preparing it once.",
        discussion: """
            Prints JSON: prepare_ms (median CPU ms of preparing the query), per image the median CPU ms of a \
            plain match and of a prepared match, their sums, the median and the sum ratio plain / prepared, \
            LightGlue's stop layers, and whether every prepared match equalled the plain one bit for bit. \
            With --random-weights: SuperPoint and SuperGlue (18 layers) with seeded random weights, every \
            feature set cut or padded to --superglue-keypoints (the matcher's time depends on the counts only).
            """,
        shouldDisplay: false)

    @Option(help: "The query image.") var query: String
    @Option(help: "Folder of database images (the first --limit in listing order are used).") var images: String
    @Option(help: "Database images used.") var limit: Int = 20
    @Option(help: "Timed matches per image and variant.") var repeats: Int = 3
    @Flag(help: "SuperPoint and SuperGlue with random weights instead of weight files.") var randomWeights = false
    @Option(help: "Keypoints per image with --random-weights.") var superglueKeypoints: Int = 1024
    @OptionGroup var matching: MatchingOptions

    func run() throws {
        guard limit > 0, repeats > 0, superglueKeypoints > 0 else { throw ValidationError("--limit, --repeats and --superglue-keypoints must be positive") }
        let config = try matching.matcherConfig()
        let matcher: Matcher
        if randomWeights {
            matcher = try Matcher(superPoint: SuperPoint(weights: RandomWeights.superPoint(seed: 1), config: config.superPoint),
                                  superGlue: SuperGlue(weights: RandomWeights.superGlue(layers: 18, seed: 2), config: config.superGlue), config: config)
        } else {
            matcher = try matching.makeMatcher()
        }
        func features(_ url: URL, seed: UInt64) throws -> Features {
            let f = try matcher.extract(url).features
            return randomWeights ? BenchmarkCommand.exactly(superglueKeypoints, f, seed: seed) : f
        }
        let listing = try ImageListing.images(from: .directory(URL(fileURLWithPath: images, isDirectory: true))).prefix(limit)
        let queryFeatures = try features(URL(fileURLWithPath: query), seed: 3)
        let database = try listing.enumerated().map { index, image in try features(image.url, seed: 4 + UInt64(index)) }

        var prepareMs: [Double] = [], plainMs: [Double] = [], preparedMs: [Double] = [], stopLayers: [Int] = []
        var identical = true
        try Parallel.serially {
            var prepared = try matcher.prepare(queryFeatures)
            for _ in 0..<repeats {
                prepareMs.append(try Self.cpuMilliseconds { prepared = try matcher.prepare(queryFeatures) })
            }
            for (index, image) in database.enumerated() {
                var plain: [Double] = [], reused: [Double] = []
                var plainResult: Matches?, reusedResult: Matches?
                for repeat_ in 0..<(repeats + 1) {  // the first round warms up and is not timed
                    let timePlain = { plainResult = try matcher.match(queryFeatures, image) }
                    let timeReused = { reusedResult = try matcher.match(prepared, image) }
                    let first = (index + repeat_) % 2 == 0
                    let a = try Self.cpuMilliseconds(first ? timePlain : timeReused)
                    let b = try Self.cpuMilliseconds(first ? timeReused : timePlain)
                    guard repeat_ > 0 else { continue }
                    plain.append(first ? a : b)
                    reused.append(first ? b : a)
                }
                if let p = plainResult, let r = reusedResult {
                    identical = identical && p.matches0 == r.matches0 && p.matches1 == r.matches1
                        && p.matchingScores0.map(\.bitPattern) == r.matchingScores0.map(\.bitPattern)
                        && p.matchingScores1.map(\.bitPattern) == r.matchingScores1.map(\.bitPattern)
                }
                plainMs.append(BenchmarkCommand.median(plain))
                preparedMs.append(BenchmarkCommand.median(reused))
                if let lightGlue = matcher.featureMatcher as? LightGlue {
                    stopLayers.append(try lightGlue.matchDetailed(prepared, image).stopLayer)
                }
            }
        }
        let ratios = zip(plainMs, preparedMs).map { $0 / $1 }
        let result: [String: Any] = [
            "matcher": "\(matcher.detector.name)+\(matcher.featureMatcher.name)", "weights": randomWeights ? "random" : "files",
            "query_keypoints": queryFeatures.count, "keypoints": database.map(\.count), "repeats": repeats,
            "prepare_ms": BenchmarkCommand.median(prepareMs), "plain_ms": plainMs, "prepared_ms": preparedMs,
            "plain_total_ms": plainMs.reduce(0, +), "prepared_total_ms": preparedMs.reduce(0, +),
            "ratio_median": BenchmarkCommand.median(ratios), "ratio_total": plainMs.reduce(0, +) / max(preparedMs.reduce(0, +), 1e-9),
            "stop_layers": stopLayers, "identical": identical,
        ]
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// CPU time of the calling thread spent in `body`, in milliseconds.
    static func cpuMilliseconds(_ body: () throws -> Void) throws -> Double {
        func now() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
            return Double(t.tv_sec) * 1e3 + Double(t.tv_nsec) / 1e6
        }
        let start = now()
        try body()
        return now() - start
    }
}
