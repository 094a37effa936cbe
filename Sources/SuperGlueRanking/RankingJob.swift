// The batch ranking job: rank every image of a folder (or list, or shard of either) against one
// query, resumably. Used by `superglue rank`; takes any RankingEngine so tests can drive it with a
// deterministic fake.
import Foundation
import SuperGlueKit
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors that stop a ranking job (as opposed to a bad database image, which only gets a status).
public enum RankingJobError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Bad option values.
    case usage(String)
    /// The query or the image listing cannot be used.
    case input(String)
    /// The output, journal or cache location cannot be used or written.
    case output(String)

    public var description: String {
        switch self {
        case .usage(let m), .input(let m), .output(let m): return m
        }
    }
}

/// Everything a ranking job needs besides its engine.
public struct RankingJobConfiguration: Sendable {
    public var query: URL
    public var source: RankingImageSource
    public var shard: RankingShard?
    /// The results CSV; written only when every image is done.
    public var output: URL
    /// Defaults to the output path + `.journal`.
    public var journal: URL?
    /// Feature cache folder; `nil` disables caching.
    public var cacheDirectory: URL?
    /// Continue the journal of an earlier run.
    public var resume: Bool
    /// Discard the journal of an earlier run.
    public var overwrite: Bool
    public var scoreKey: RankingScoreKey
    public var ransac: HomographyRANSAC
    /// Images whose features may be computed ahead of matching (bounded so memory stays flat);
    /// used with a single lane.
    public var prefetch: Int
    /// Images processed at once, each on one thread with the engine's parallel loops kept on that
    /// thread; `nil` means one per worker (``Parallel/workers``: the cores, or
    /// `SUPERGLUE_NUM_THREADS`). With 1, one image at a time uses every worker and the next
    /// image's features are computed while the current one is matched. Several lanes are faster
    /// (no synchronisation inside the networks, each core's cache holds one image) and cost one
    /// more set of network buffers each (README.md gives the measured memory).
    public var lanes: Int?
    /// Lanes that may run the detector at the same time (at least 1, at most the lanes). Each
    /// detector run needs its own buffers, which grow with the image (ALIKED at 1024 px: about
    /// 200 MB; DISK more), while matching needs little; with the default 1 the lanes take turns
    /// at the detector and match in parallel, and since matching takes longer than detection
    /// they rarely wait (README.md gives the measured memory and speed).
    public var detectorLanes: Int
    /// The query's rotations tried against every image (each image keeps its best-scoring one,
    /// and the results get a `query_rotation` column); ``RankingQueryRotations/none`` by default.
    public var queryRotations: RankingQueryRotations

    /// Lanes actually used.
    public var laneCount: Int { max(1, lanes ?? Parallel.workers) }

    public init(query: URL, source: RankingImageSource, output: URL, shard: RankingShard? = nil, journal: URL? = nil,
                cacheDirectory: URL? = nil, resume: Bool = false, overwrite: Bool = false, scoreKey: RankingScoreKey = .confidence,
                ransac: HomographyRANSAC = HomographyRANSAC(), prefetch: Int = 2, lanes: Int? = nil, detectorLanes: Int = 1,
                queryRotations: RankingQueryRotations = .none) {
        self.query = query
        self.source = source
        self.shard = shard
        self.output = output
        self.journal = journal
        self.cacheDirectory = cacheDirectory
        self.resume = resume
        self.overwrite = overwrite
        self.scoreKey = scoreKey
        self.ransac = ransac
        self.prefetch = prefetch
        self.lanes = lanes
        self.detectorLanes = detectorLanes
        self.queryRotations = queryRotations
    }

    /// The journal path actually used.
    public var journalURL: URL { journal ?? output.deletingLastPathComponent().appendingPathComponent(output.lastPathComponent + ".journal") }

    /// The default cache folder: `superglue-feature-cache` next to the output.
    public static func defaultCacheDirectory(forOutput output: URL) -> URL {
        output.deletingLastPathComponent().appendingPathComponent("superglue-feature-cache", isDirectory: true)
    }
}

/// Progress notifications, delivered from the job's threads (handlers must be thread-safe).
public enum RankingEvent: Sendable {
    /// Work is about to start: `total` images in this job, `alreadyDone` of them from the journal.
    case started(total: Int, alreadyDone: Int)
    /// One more image is journaled; `done` counts journaled images of this job so far.
    case finished(RankingRecord, done: Int, total: Int)
    /// Something worth telling the user that does not stop the job.
    case warning(String)
}

/// What a finished (or stopped) job did.
public struct RankingSummary: Sendable, Equatable {
    /// Images in the job (after sharding).
    public var total = 0
    /// Images taken from the journal of an earlier run.
    public var resumed = 0
    /// True when the query's features came from the feature cache.
    public var queryFromCache = false
    /// Images processed by this run.
    public var processed = 0
    /// Images of this job whose status is not `ok` (resumed ones included).
    public var failed = 0
    public var cacheHits = 0
    public var cacheMisses = 0
    /// Cache entries that existed but were corrupt and were recomputed.
    public var cacheRejected = 0
    /// Journal lines dropped on resume (torn by a kill, or failing their checksum).
    public var journalLinesDiscarded = 0
    /// Wall time of the processing loop.
    public var seconds = 0.0
    /// True when the job was stopped before finishing; no results file was written.
    public var interrupted = false
    /// The results file, when written.
    public var output: URL?

    /// Images processed by this run per second of processing.
    public var imagesPerSecond: Double { seconds > 0 ? Double(processed) / seconds : 0 }
}

/// A thread-safe flag that asks a running job to stop after the image it is matching.
public final class RankingStopFlag: @unchecked Sendable {
    // @unchecked: the only state is `stopped`, guarded by `lock`.
    private let lock = NSLock()
    private var stopped = false
    public init() {}
    /// Asks the job to stop after the image in hand.
    public func requestStop() { lock.lock(); stopped = true; lock.unlock() }
    public var isStopRequested: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
}

/// The ranking job.
public enum RankingJob {
    /// Ranks the images of `configuration` against its query with `engine`.
    ///
    /// Fails before any image is processed if the output location, the query or the listing
    /// cannot be used. Afterwards only journal write failures (e.g. a full disk) stop the job;
    /// an image that cannot be ranked gets a row whose status says why.
    ///
    /// - Parameters:
    ///   - stop: checked between images; when set, the job journals the image being matched,
    ///     stops, and returns a summary with `interrupted == true` without writing the results.
    ///   - events: progress notifications (called from the job's threads).
    public static func run(engine: any RankingEngine, configuration: RankingJobConfiguration, stop: RankingStopFlag = RankingStopFlag(),
                           events: @escaping @Sendable (RankingEvent) -> Void = { _ in }) throws -> RankingSummary {
        try checkOutputLocation(configuration.output)
        var cache: FeatureCache?
        if let folder = configuration.cacheDirectory {
            do { cache = try FeatureCache(root: folder, featureIdentity: engine.featureIdentity) } catch {
                events(.warning("\(error); continuing without a feature cache"))
            }
        }
        var summary = RankingSummary()
        // Prepared as the images will be matched (on one worker in lanes, on every worker in one
        // lane), so every image gets bit for bit the result of matching the plain features there.
        let (queries, queryFromCache) = try configuration.laneCount > 1
            ? Parallel.serially { try preparedQueries(engine: engine, url: configuration.query, rotations: configuration.queryRotations, cache: cache) }
            : preparedQueries(engine: engine, url: configuration.query, rotations: configuration.queryRotations, cache: cache)
        summary.queryFromCache = queryFromCache
        let images = try ImageListing.images(from: configuration.source, shard: configuration.shard)
        let identity = try jobIdentity(engine: engine, configuration: configuration)
        let mode: RankingJournal.OpenMode = configuration.overwrite ? .overwrite : (configuration.resume ? .resume : .fresh)
        let reportsRotation = !configuration.queryRotations.isNone
        let (journal, recovered) = try RankingJournal.open(at: configuration.journalURL, identity: identity, mode: mode,
                                                           queryRotation: reportsRotation)
        defer { journal.close() }

        summary.total = images.count
        summary.journalLinesDiscarded = recovered.discardedLines
        if recovered.discardedLines > 0 {
            events(.warning("journal: dropped \(recovered.discardedLines) torn or corrupt line(s); those images are redone"))
        }
        let names = Set(images.map(\.name))
        var records = recovered.records.filter { names.contains($0.key) }
        if records.count < recovered.records.count {
            events(.warning("journal: ignoring \(recovered.records.count - records.count) record(s) of images not in this job's listing"))
        }
        summary.resumed = records.count
        let pending = images.filter { records[$0.name] == nil }
        events(.started(total: images.count, alreadyDone: records.count))

        let pipeline = RankingPipeline(engine: engine, cache: cache, queries: queries, scoreKey: configuration.scoreKey,
                                       ransac: configuration.ransac, events: events)
        let start = DispatchTime.now()
        let outcome = pipeline.run(pending, prefetch: max(1, configuration.prefetch), lanes: configuration.laneCount,
                                   detectorLanes: configuration.detectorLanes, stop: stop) { record in
            try journal.append(record)
            records[record.image] = record
            summary.processed += 1
            events(.finished(record, done: records.count, total: images.count))
        }
        summary.seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        summary.cacheHits = outcome.cacheHits
        summary.cacheMisses = outcome.cacheMisses
        summary.cacheRejected = outcome.cacheRejected
        summary.failed = records.values.filter { $0.status != RankingRecord.okStatus }.count
        if let error = outcome.error { throw error }
        guard records.count == images.count else {
            summary.interrupted = true
            return summary
        }
        let rows = images.compactMap { records[$0.name] }.map { RankingResultRow($0, key: configuration.scoreKey, queryRotation: reportsRotation) }
        try writeAtomically(RankingCSV.document(rows, header: reportsRotation ? RankingCSV.rotationHeader : RankingCSV.header),
                            to: configuration.output)
        summary.output = configuration.output
        return summary
    }

    /// Fails unless a file can be created next to `output` (the results are renamed into place from there).
    public static func checkOutputLocation(_ output: URL) throws {
        let folder = output.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else {
            throw RankingJobError.output("output folder \(folder.path) does not exist")
        }
        guard isDirectory.boolValue else { throw RankingJobError.output("output folder \(folder.path) is not a folder") }
        if FileManager.default.fileExists(atPath: output.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw RankingJobError.output("output \(output.path) is a folder; expected a CSV file path")
        }
        let probe = folder.appendingPathComponent(".\(output.lastPathComponent).probe-\(ProcessInfo.processInfo.processIdentifier)")
        let fd = posixOpen(probe.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RankingJobError.output("cannot write in the output folder \(folder.path): \(errnoDescription())") }
        posixClose(fd)
        try? FileManager.default.removeItem(at: probe)
    }

    /// The query's features (unturned): from the feature cache when it holds them (the same key
    /// as a database image with the same content, so a query is detected once per cache: by every
    /// later job, mini-batch or report over it), else from the engine, then stored.
    static func queryFeatures(engine: any RankingEngine, url: URL, cache: FeatureCache? = nil) throws -> Features {
        var fromCache = false
        return try queryFeatures(engine: engine, url: url, cache: cache, fromCache: &fromCache)
    }

    static func queryFeatures(engine: any RankingEngine, url: URL, cache: FeatureCache?, fromCache: inout Bool) throws -> Features {
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw RankingJobError.input("cannot read the query image \(url.path)")
        }
        let key = try cache.map { cache in
            do { return cache.key(contentDigest: SHA256.hash(try readFile(url))) } catch {
                throw RankingJobError.input("cannot read the query image \(url.path): \(error)")
            }
        }
        if let cache, let key, case .hit(let features) = cache.lookup(key: key),
           features.count > 0, RankingPipeline.inconsistency(of: features) == nil {
            fromCache = true
            return features
        }
        let features: Features
        do { features = try engine.features(forImageAt: url) } catch {
            throw RankingJobError.input("cannot use the query image \(url.path): \(error)")
        }
        guard features.count > 0 else {
            throw RankingJobError.input("the query image \(url.path) has no keypoints (blank, constant or too small?); nothing can match it")
        }
        if let cache, let key, RankingPipeline.inconsistency(of: features) == nil { try? cache.store(features, key: key) }
        return features
    }

    /// The query's features in each rotation, prepared for matching (the matcher's query-only
    /// work done once here rather than once per image). The unturned query's features come from
    /// the feature cache when it has them (second value true).
    static func preparedQueries(engine: any RankingEngine, url: URL, rotations: RankingQueryRotations,
                                cache: FeatureCache? = nil) throws -> ([RankingQuery], Bool) {
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw RankingJobError.input("cannot read the query image \(url.path)")
        }
        var fromCache = false
        let queries = try rotations.degrees.map { degrees in
            let turned = degrees == 0 ? "" : " turned by \(degrees) degrees"
            let features: Features
            if degrees == 0 {
                features = try queryFeatures(engine: engine, url: url, cache: cache, fromCache: &fromCache)
            } else {
                do { features = try engine.features(forImageAt: url, quarterTurns: degrees / 90) } catch {
                    throw RankingJobError.input("cannot use the query image \(url.path)\(turned): \(error)")
                }
                guard features.count > 0 else {
                    throw RankingJobError.input("the query image \(url.path)\(turned) has no keypoints (blank, constant or too small?); nothing can match it")
                }
            }
            do { return RankingQuery(rotation: degrees, prepared: try engine.prepare(query: features)) } catch {
                throw RankingJobError.input("cannot use the query image \(url.path)\(turned): \(error)")
            }
        }
        return (queries, fromCache)
    }

    /// Identity of everything that determines the journal's records: query content, engine,
    /// RANSAC settings and query rotations.
    public static func jobIdentity(engine: any RankingEngine, configuration: RankingJobConfiguration) throws -> String {
        let queryBytes: Data
        do { queryBytes = try Data(contentsOf: configuration.query) } catch {
            throw RankingJobError.input("cannot read the query image \(configuration.query.path): \(error.localizedDescription)")
        }
        let r = configuration.ransac
        var parts = [
            "superglue-rank v1", "query=" + SHA256.hash(queryBytes).hex, "features=" + engine.featureIdentity, "match=" + engine.matchIdentity,
            "ransac=\(r.reprojectionThreshold),\(r.confidence),\(r.maxIterations),\(r.seed)",
        ]
        // Absent without rotations, so journals of jobs from before rotations existed resume.
        if !configuration.queryRotations.isNone { parts.append("query_rotations=\(configuration.queryRotations)") }
        return SHA256.hash(parts.joined(separator: "\n")).hex
    }

    /// Writes `text` to a temporary file next to `url`, flushes it, and renames it over `url`.
    public static func writeAtomically(_ text: String, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        let fd = posixOpen(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RankingJobError.output("cannot create \(temporary.path): \(errnoDescription())") }
        var failure: String?
        Array(text.utf8).withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count, let base = buffer.baseAddress {
                let written = posixWrite(fd, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errnoDescription(); return
                }
                offset += written
            }
            if fsync(fd) != 0 { failure = errnoDescription() }
        }
        posixClose(fd)
        if let failure {
            try? FileManager.default.removeItem(at: temporary)
            throw RankingJobError.output("cannot write \(url.path): \(failure) (finished images are safe in the journal; rerun with --resume)")
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = errnoDescription()
            try? FileManager.default.removeItem(at: temporary)
            throw RankingJobError.output("cannot rename \(temporary.path) to \(url.path): \(reason)")
        }
        try syncDirectory(of: url)
    }
}
