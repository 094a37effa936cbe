// Writing the HTML report of a finished ranking job from its results CSV: the top images are
// matched again against the query (their features usually come from the feature cache) to draw
// their match plots, so the page needs nothing the CSV does not name.
import Foundation
import SuperGlueKit
import Tensors

/// What ``RankingReport/write(engine:configuration:)`` needs besides the engine.
public struct RankingReportConfiguration: Sendable {
    /// The results CSV the report shows (and links to).
    public var results: URL
    /// The HTML file to write.
    public var output: URL
    public var query: URL
    /// Where the images named in the CSV are.
    public var source: RankingImageSource
    /// Feature cache of the job, if any: the top images' features are read from it.
    public var cacheDirectory: URL?
    /// Ranked images shown with thumbnails and match plots.
    public var topCount: Int
    /// Decision threshold on the score; nil chooses one (``RankingReport/automaticThreshold(_:)``).
    public var threshold: Double?
    /// The `--score` the job used (checked against the CSV for `matches` and `inliers`).
    public var scoreKey: RankingScoreKey
    /// Run settings listed on the page, in order.
    public var settings: [RankingReportSetting]
    /// Images rendered at once (default: one per worker).
    public var lanes: Int?
    /// Renderings that may run the detector at once (for images not in the feature cache), as
    /// ``RankingJobConfiguration/detectorLanes``.
    public var detectorLanes: Int
    /// Longest side of a thumbnail, in pixels.
    public var thumbnailSize: Int
    /// Each image of a match plot fits in `plotSize` x `plotSize * 3 / 4` pixels.
    public var plotSize: Int
    /// JPEG quality of thumbnails and plots (1...100).
    public var jpegQuality: Int

    public init(results: URL, output: URL, query: URL, source: RankingImageSource, cacheDirectory: URL? = nil, topCount: Int = 50,
                threshold: Double? = nil, scoreKey: RankingScoreKey = .confidence, settings: [RankingReportSetting] = [],
                lanes: Int? = nil, detectorLanes: Int = 1, thumbnailSize: Int = 160, plotSize: Int = 360, jpegQuality: Int = 85) {
        self.results = results
        self.output = output
        self.query = query
        self.source = source
        self.cacheDirectory = cacheDirectory
        self.topCount = topCount
        self.threshold = threshold
        self.scoreKey = scoreKey
        self.settings = settings
        self.lanes = lanes
        self.detectorLanes = detectorLanes
        self.thumbnailSize = thumbnailSize
        self.plotSize = plotSize
        self.jpegQuality = jpegQuality
    }
}

/// What a written report holds.
public struct RankingReportSummary: Sendable, Equatable {
    public var rows = 0
    /// Top images shown.
    public var visuals = 0
    /// Top images whose thumbnail or plot could not be drawn (their card says why).
    public var incompleteVisuals = 0
    /// Top images whose match count when matched again differs from the CSV's.
    public var disagreements = 0
    public var bytes = 0
    public var threshold: RankingReportThreshold = .none
}

extension RankingReport {
    /// What the score column measures, for the page.
    public static func scoreMeaning(_ key: RankingScoreKey) -> String {
        switch key {
        case .confidence: return "sum of the confidences of the valid matches"
        case .matches: return "number of valid matches"
        case .inliers: return "number of matches consistent with the RANSAC homography"
        }
    }

    /// Reads the results CSV, draws the top images and writes the page atomically.
    @discardableResult
    public static func write(engine: any RankingEngine, configuration c: RankingReportConfiguration) throws -> RankingReportSummary {
        guard c.topCount >= 0 else { throw RankingJobError.usage("report: the number of top images must be >= 0") }
        guard (1...100).contains(c.jpegQuality), c.thumbnailSize > 0, c.plotSize > 0 else {
            throw RankingJobError.usage("report: thumbnail and plot sizes must be positive and the JPEG quality in 1...100")
        }
        try RankingJob.checkOutputLocation(c.output)
        let rows: [RankingResultRow]
        do { rows = try RankingCSV.readResults(c.results) } catch { throw RankingJobError.input("report: \(error)") }
        try checkScoreColumn(rows, key: c.scoreKey, file: c.results)
        var cache: FeatureCache?
        if let folder = c.cacheDirectory, FileManager.default.fileExists(atPath: folder.path) {
            cache = try? FeatureCache(root: folder, featureIdentity: engine.featureIdentity)
        }
        let query = try RankingJob.queryFeatures(engine: engine, url: c.query, cache: cache)
        let status = RankingCSV.header.firstIndex(of: "status")
        let top = Array(rows.enumerated().filter { entry in status.map { entry.element.fields[$0] == RankingRecord.okStatus } ?? true }
            .prefix(c.topCount))
        let renderer = VisualRenderer(engine: engine, cache: cache, query: query, configuration: c,
                                      queryImage: try? decodeForDisplay(c.query))
        let visuals = renderer.render(top.map { ($0.offset, $0.element) })

        let scores = rankedScores(rows)
        let threshold: RankingReportThreshold = c.threshold.map { .given($0) } ?? (automaticThreshold(scores).map { .automatic($0) } ?? .none)
        let queryThumbnail = renderer.queryImage.map { $0.downscaled(toFitWidth: 240, height: 180) }.flatMap {
            try? encodeJPEG(rgb: $0.pixels, width: $0.width, height: $0.height, quality: c.jpegQuality)
        }
        let content = RankingReportContent(
            queryName: c.query.lastPathComponent, queryThumbnail: queryThumbnail, rows: rows, scoreMeaning: scoreMeaning(c.scoreKey),
            threshold: threshold, resultsLink: relativeLink(from: c.output.deletingLastPathComponent(), to: c.results),
            resultsName: c.results.lastPathComponent, settings: c.settings, visuals: visuals, generated: Date())
        let page = try html(content)
        try RankingJob.writeAtomically(page, to: c.output)
        var summary = RankingReportSummary()
        summary.rows = rows.count
        summary.visuals = visuals.count
        summary.incompleteVisuals = visuals.filter { $0.thumbnail == nil || $0.plot == nil }.count
        summary.disagreements = zip(top, visuals).filter { entry, visual in
            guard let count = visual.plotMatches, let column = RankingCSV.header.firstIndex(of: "matches") else { return false }
            return String(count) != entry.element.fields[column]
        }.count
        summary.bytes = page.utf8.count
        summary.threshold = threshold
        return summary
    }

    /// For `--score matches` or `inliers` the score column must equal that column; a CSV ranked
    /// with another key would otherwise be described wrongly.
    static func checkScoreColumn(_ rows: [RankingResultRow], key: RankingScoreKey, file: URL) throws {
        let name: String
        switch key {
        case .confidence: return
        case .matches: name = "matches"
        case .inliers: name = "inliers"
        }
        guard let c = RankingCSV.header.firstIndex(of: name) else { return }
        if let row = rows.first(where: { Double($0.fields[c]) != $0.score }) {
            throw RankingJobError.input("report: \(file.path) was not ranked by \(name) (row \(row.image): score \(row.fields[0]), \(name) \(row.fields[c])); pass the --score the job used")
        }
    }

    /// An image decoded for display: colour, EXIF orientation applied (as the detector saw it),
    /// partly damaged JPEGs accepted.
    static func decodeForDisplay(_ url: URL) throws -> RGBImage {
        var options = ImageDecodingOptions()
        options.acceptsDamagedJPEG = true
        return try ImageDecoder.decodeRGB(contentsOf: url, options: options).image
    }
}

/// Draws thumbnails and match plots of the top images, several at once.
struct VisualRenderer: Sendable {
    let engine: any RankingEngine
    let cache: FeatureCache?
    let query: Features
    let configuration: RankingReportConfiguration
    let queryImage: RGBImage?

    func render(_ top: [(index: Int, row: RankingResultRow)]) -> [RankingReportVisual] {
        let results = LockedBox([RankingReportVisual?](repeating: nil, count: top.count))
        let next = LockedBox(0)
        let lanes = max(1, min(configuration.lanes ?? Parallel.workers, top.count))
        let detectorGate = RankingPipeline.detectorGate(detectorLanes: configuration.detectorLanes, lanes: lanes)
        let renderer = self
        DispatchQueue.concurrentPerform(iterations: lanes) { _ in
            while true {
                let i = next.update { value -> Int in defer { value += 1 }; return value }
                guard i < top.count else { break }
                let visual = Parallel.serially { renderer.visual(top[i].row, detectorGate: detectorGate) }
                results.update { $0[i] = visual }
            }
        }
        return results.get().enumerated().map { $1 ?? RankingReportVisual(image: top[$0].row.image, note: "not rendered") }
    }

    /// The thumbnail and the match plot of one row; what fails is named in the note.
    func visual(_ row: RankingResultRow, detectorGate: DispatchSemaphore? = nil) -> RankingReportVisual {
        let c = configuration
        let url = c.source.url(forImageNamed: row.image)
        var visual = RankingReportVisual(image: row.image, link: RankingReport.relativeLink(from: c.output.deletingLastPathComponent(), to: url))
        let image: RGBImage
        do { image = try RankingReport.decodeForDisplay(url) } catch {
            visual.note = "cannot read the image: \(RankingPipeline.statusText(error))"
            return visual
        }
        let thumbnail = image.downscaled(toFitWidth: c.thumbnailSize, height: c.thumbnailSize)
        visual.thumbnail = try? encodeJPEG(rgb: thumbnail.pixels, width: thumbnail.width, height: thumbnail.height, quality: c.jpegQuality)
        guard let queryImage else {
            visual.note = "cannot read the query image for the match plot"
            return visual
        }
        // Only the pipeline's feature lookup is used here (cache, then detector); the plot shows
        // the unturned query.
        let pipeline = RankingPipeline(engine: engine, cache: cache, queries: [RankingQuery(rotation: 0, prepared: PreparedQuery(features: query))],
                                       scoreKey: c.scoreKey, ransac: HomographyRANSAC(), events: { _ in })
        var counters = CacheCounters()
        let prepared = pipeline.prepare(RankingImage(name: row.image, url: url), counters: &counters, detectorGate: detectorGate)
        guard let features = prepared.features else {
            visual.note = "no features for the match plot: \(prepared.failure ?? "unknown")"
            return visual
        }
        let matches: RankingMatches
        do { matches = try engine.match(query, features) } catch {
            visual.note = "matching for the plot failed: \(RankingPipeline.statusText(error))"
            return visual
        }
        let count = matches.matches0.filter { $0 >= 0 }.count
        visual.plotMatches = count
        if let csvMatches = RankingCSV.header.firstIndex(of: "matches").map({ row.fields[$0] }), csvMatches != String(count) {
            visual.note = "matched again for this plot: \(count) matches, the CSV has \(csvMatches) (features or options changed since the run?)"
        }
        let box = (width: c.plotSize, height: c.plotSize * 3 / 4)
        let left = queryImage.downscaled(toFitWidth: box.width, height: box.height)
        let right = image.downscaled(toFitWidth: box.width, height: box.height)
        var plot = MatchPlot(image0: left.luma, image1: right.luma,
                             keypoints0: Self.displayKeypoints(query, width: left.width, height: left.height),
                             keypoints1: Self.displayKeypoints(features, width: right.width, height: right.height),
                             matches0: matches.matches0, confidence0: matches.confidence0, text: ["Matches: \(count)"])
        plot.showKeypoints = false
        let canvas = plot.render()
        visual.plot = try? encodeJPEG(rgb: canvas.pixels, width: canvas.width, height: canvas.height, quality: c.jpegQuality)
        return visual
    }

    /// Keypoints moved from the frame the detector reported them in (``Features/imageWidth`` x
    /// ``Features/imageHeight``) to a displayed image of `width` x `height` showing the same
    /// picture, pixel centres kept aligned.
    static func displayKeypoints(_ features: Features, width: Int, height: Int) -> [Float] {
        let sx = Float(width) / Float(max(features.imageWidth, 1)), sy = Float(height) / Float(max(features.imageHeight, 1))
        var out = features.keypoints
        for i in stride(from: 0, to: out.count - 1, by: 2) {
            out[i] = (out[i] + 0.5) * sx - 0.5
            out[i + 1] = (out[i + 1] + 0.5) * sy - 0.5
        }
        return out
    }
}
