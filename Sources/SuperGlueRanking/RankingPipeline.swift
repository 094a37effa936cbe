// How the ranking job keeps the cores busy. Several lanes (the default on multi-core machines):
// each lane thread takes the next image and does all of its work with the networks' parallel
// loops kept on that thread, so no layer waits on a fork-join and each core's cache holds one
// image. One lane: a two-stage pipeline where a producer thread reads, hashes and extracts (or
// loads from the cache) the features of the next images while the calling thread matches the
// current one with every worker. Bounded queues keep memory flat in both.
import Foundation
import SuperGlueKit
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking FIFO with a capacity, closable by the producer and cancellable by the consumer.
final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    // @unchecked: all state is guarded by `condition`.
    private let condition = NSCondition()
    private var items: [Element] = []
    private let capacity: Int
    private var closed = false
    private var cancelled = false

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Blocks while full; returns false (dropping `item`) once the consumer has cancelled.
    func put(_ item: Element) -> Bool {
        condition.lock(); defer { condition.unlock() }
        while items.count >= capacity, !cancelled { condition.wait() }
        guard !cancelled else { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// Blocks while empty; `nil` once the producer has closed the queue and it is drained, or after cancel.
    func take() -> Element? {
        condition.lock(); defer { condition.unlock() }
        while items.isEmpty, !closed, !cancelled { condition.wait() }
        guard !cancelled, !items.isEmpty else { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }

    /// No more items will be put.
    func close() { condition.lock(); closed = true; condition.broadcast(); condition.unlock() }

    /// The consumer is gone: wake and release the producer.
    func cancel() { condition.lock(); cancelled = true; items.removeAll(); condition.broadcast(); condition.unlock() }

    var isCancelled: Bool { condition.lock(); defer { condition.unlock() }; return cancelled }
}

/// Features of one image, or why there are none.
struct PreparedRankingImage: Sendable {
    var image: RankingImage
    var features: Features?
    var failure: String?
    var seconds: Double
}

/// Cache counters of the producer.
struct CacheCounters: Sendable {
    var hits = 0, misses = 0, rejected = 0

    mutating func add(_ other: CacheCounters) {
        hits += other.hits
        misses += other.misses
        rejected += other.rejected
    }
}

/// The query in one rotation, prepared once per job.
struct RankingQuery: Sendable {
    /// Degrees counter-clockwise.
    var rotation: Int
    var prepared: PreparedQuery
    var features: Features { prepared.features }
}

struct RankingPipeline: Sendable {
    let engine: any RankingEngine
    let cache: FeatureCache?
    /// One per query rotation, in increasing angle (the first of equal scores wins).
    let queries: [RankingQuery]
    let scoreKey: RankingScoreKey
    let ransac: HomographyRANSAC
    let events: @Sendable (RankingEvent) -> Void

    struct Outcome {
        var cacheHits = 0, cacheMisses = 0, cacheRejected = 0
        var error: (any Error)?

        init(_ counters: CacheCounters, error: (any Error)?) {
            cacheHits = counters.hits
            cacheMisses = counters.misses
            cacheRejected = counters.rejected
            self.error = error
        }
    }

    /// Processes `images`, handing each finished record to `record` on the calling thread.
    /// Stops early when `stop` is set (after the images being matched) or `record` throws.
    func run(_ images: [RankingImage], prefetch: Int, lanes: Int = 1, detectorLanes: Int = 1, stop: RankingStopFlag,
             record: (RankingRecord) throws -> Void) -> Outcome {
        if lanes > 1 {
            return runLanes(images, lanes: min(lanes, max(1, images.count)), detectorLanes: detectorLanes, stop: stop, record: record)
        }
        let queue = BoundedQueue<PreparedRankingImage>(capacity: prefetch)
        let producerDone = DispatchSemaphore(value: 0)
        let counters = LockedBox(CacheCounters())
        let producer = self
        let thread = Thread {
            var local = CacheCounters()
            for image in images {
                if stop.isStopRequested || queue.isCancelled { break }
                let prepared = producer.prepare(image, counters: &local)
                if !queue.put(prepared) { break }
            }
            counters.set(local)
            queue.close()
            producerDone.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()

        var failure: (any Error)?
        while !stop.isStopRequested, let prepared = queue.take() {
            do { try record(finish(prepared)) } catch {
                failure = error
                break
            }
        }
        // Release the producer (it may be blocked on a full queue) and wait for it, so no thread
        // keeps using the engine after the job returns.
        queue.cancel()
        producerDone.wait()
        return Outcome(counters.get(), error: failure)
    }

    /// One thread per lane takes the next image and runs all of its work (read, features,
    /// matching, measurement) with the engine's parallel loops kept on that thread
    /// (``Parallel/serially(_:)``); the finished records come back to the calling thread. At
    /// most `detectorLanes` lanes run the detector at once, so the detector's buffers (the
    /// largest a lane holds) exist that many times, not once per lane.
    func runLanes(_ images: [RankingImage], lanes: Int, detectorLanes: Int, stop: RankingStopFlag,
                  record: (RankingRecord) throws -> Void) -> Outcome {
        let detectorGate = Self.detectorGate(detectorLanes: detectorLanes, lanes: lanes)
        let results = BoundedQueue<RankingRecord>(capacity: lanes)
        let next = LockedBox(0)
        let counters = LockedBox(CacheCounters())
        let group = DispatchGroup()
        let pipeline = self
        for _ in 0..<lanes {
            group.enter()
            let thread = Thread {
                var local = CacheCounters()
                while !stop.isStopRequested, !results.isCancelled {
                    let index = next.update { value -> Int in defer { value += 1 }; return value }
                    guard index < images.count else { break }
                    let result = Parallel.serially {
                        pipeline.finish(pipeline.prepare(images[index], counters: &local, detectorGate: detectorGate))
                    }
                    if !results.put(result) { break }
                }
                counters.update { $0.add(local) }
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        // Closes the queue once every lane is done, so the loop below ends.
        let closer = Thread { group.wait(); results.close() }
        closer.start()

        // After a stop request the lanes start no new image; the images in flight are still
        // recorded, so no finished work is lost.
        var failure: (any Error)?
        while let result = results.take() {
            do { try record(result) } catch {
                failure = error
                break
            }
        }
        results.cancel()
        group.wait()
        return Outcome(counters.get(), error: failure)
    }

    /// The semaphore that lets at most `detectorLanes` of `lanes` threads run the detector at
    /// once; nil when every lane may.
    static func detectorGate(detectorLanes: Int, lanes: Int) -> DispatchSemaphore? {
        detectorLanes < lanes ? DispatchSemaphore(value: max(1, detectorLanes)) : nil
    }

    /// Reads the file and gets its features from the cache or the engine (the engine only while
    /// holding `detectorGate`, when given).
    func prepare(_ image: RankingImage, counters: inout CacheCounters, detectorGate: DispatchSemaphore? = nil) -> PreparedRankingImage {
        let start = DispatchTime.now()
        func done(_ features: Features?, _ failure: String?) -> PreparedRankingImage {
            PreparedRankingImage(image: image, features: features, failure: failure, seconds: Self.seconds(since: start))
        }
        let bytes: [UInt8]
        do { bytes = try readFile(image.url) } catch { return done(nil, "unreadable: " + Self.statusText(error, image: image)) }
        var key: String?
        if let cache {
            let k = cache.key(contentDigest: SHA256.hash(bytes))
            key = k
            switch cache.lookup(key: k) {
            case .hit(let features) where features.descriptorDim == queries[0].features.descriptorDim:
                counters.hits += 1
                return done(features, nil)
            case .hit:
                counters.rejected += 1
            case .rejected(let reason):
                counters.rejected += 1
                events(.warning("feature cache: recomputing \(image.name): \(reason)"))
            case .miss:
                counters.misses += 1
            }
        }
        let features: Features
        do {
            detectorGate?.wait()
            defer { detectorGate?.signal() }
            features = try engine.features(forImageAt: image.url)
        } catch { return done(nil, Self.statusText(error, image: image)) }
        if let problem = Self.inconsistency(of: features) { return done(nil, problem) }
        if let cache, let key {
            do { try cache.store(features, key: key) } catch {
                events(.warning("feature cache: cannot store \(image.name): \(error)"))
            }
        }
        return done(features, nil)
    }

    /// Matches prepared features against the query in each rotation and measures the result of
    /// the best-scoring rotation.
    func finish(_ prepared: PreparedRankingImage) -> RankingRecord {
        guard let features = prepared.features else {
            return .failure(image: prepared.image.name, status: prepared.failure ?? "failed", seconds: prepared.seconds)
        }
        let start = DispatchTime.now()
        var record: RankingRecord
        do {
            record = try bestRotation(image: prepared.image.name, features: features)
        } catch {
            record = .failure(image: prepared.image.name, status: "matching failed: " + Self.statusText(error), keypoints: features.count, seconds: 0)
        }
        record.seconds = prepared.seconds + Self.seconds(since: start)
        return record
    }

    /// The record of the rotation with the highest score (by ``scoreKey``; the smallest angle
    /// among equal scores). The homography is fitted for every rotation only when inliers are
    /// the score; otherwise for the winner alone.
    private func bestRotation(image: String, features: Features) throws -> RankingRecord {
        let fitsEach = queries.count == 1 || scoreKey == .inliers
        var best: (record: RankingRecord, query: RankingQuery, matches: RankingMatches)?
        for query in queries {
            let matches = try engine.match(query.prepared, features)
            var record = Self.measure(image: image, query: query.features, features: features, matches: matches, ransac: fitsEach ? ransac : nil)
            guard record.status == RankingRecord.okStatus else { return record }
            record.queryRotation = query.rotation
            if let current = best, Self.score(record, scoreKey) <= Self.score(current.record, scoreKey) { continue }
            best = (record, query, matches)
        }
        guard let best else { return .failure(image: image, status: "no query rotation", keypoints: features.count, seconds: 0) }
        if fitsEach { return best.record }
        var record = Self.measure(image: image, query: best.query.features, features: features, matches: best.matches, ransac: ransac)
        record.queryRotation = best.query.rotation
        return record
    }

    /// The value a record is ranked by.
    static func score(_ record: RankingRecord, _ key: RankingScoreKey) -> Double {
        switch key {
        case .confidence: return record.confidenceSum
        case .matches: return Double(record.matches)
        case .inliers: return Double(record.inliers)
        }
    }

    /// Score, match count and homography inliers of one match result (inliers 0 without `ransac`).
    static func measure(image: String, query: Features, features: Features, matches: RankingMatches, ransac: HomographyRANSAC?) -> RankingRecord {
        guard matches.matches0.count == query.count, matches.confidence0.count == query.count else {
            return .failure(image: image, status: "engine returned \(matches.matches0.count) matches for \(query.count) query keypoints", keypoints: features.count, seconds: 0)
        }
        var sum = 0.0
        var from: [(x: Double, y: Double)] = [], to: [(x: Double, y: Double)] = []
        for (i, j) in matches.matches0.enumerated() where j >= 0 {
            guard j < features.count else {
                return .failure(image: image, status: "engine returned match index \(j) for \(features.count) keypoints", keypoints: features.count, seconds: 0)
            }
            let confidence = matches.confidence0[i]
            guard confidence.isFinite else {
                return .failure(image: image, status: "non-finite match confidence", keypoints: features.count, seconds: 0)
            }
            // The score is the sum of the confidences of valid matches. (The reference script
            // summed matches * confidence, weighting each confidence by a keypoint index.)
            sum += Double(confidence)
            let p = query.keypoint(i), q = features.keypoint(j)
            from.append((Double(p.x), Double(p.y)))
            to.append((Double(q.x), Double(q.y)))
        }
        let inliers = ransac?.estimate(from, to)?.inlierCount ?? 0
        return RankingRecord(image: image, confidenceSum: sum, matches: from.count, inliers: inliers,
                             inlierRatio: from.isEmpty ? 0 : Double(inliers) / Double(from.count),
                             keypoints: features.count, status: RankingRecord.okStatus, seconds: 0)
    }

    /// Why features are unusable, or `nil`.
    static func inconsistency(of f: Features) -> String? {
        guard f.keypoints.count == 2 * f.count, f.descriptorDim > 0, f.descriptors.count == f.count * f.descriptorDim else {
            return "detector returned inconsistent feature arrays"
        }
        guard f.keypoints.allSatisfy(\.isFinite), f.scores.allSatisfy(\.isFinite), f.descriptors.allSatisfy(\.isFinite) else {
            return "detector produced non-finite values"
        }
        return nil
    }

    /// A one-line status for an error (the CSV quotes it; newlines and long texts are trimmed).
    static func statusText(_ error: any Error) -> String {
        let text = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
        return text.count > 200 ? String(text.prefix(199)) + "…" : text
    }

    /// ``statusText(_:)`` with the image's path shortened to its name in the results, so a status
    /// reads the same wherever the folder is (a mini-batch's scratch folder, another node).
    static func statusText(_ error: any Error, image: RankingImage) -> String {
        let path = image.url.path
        let text = String(describing: error)
        return statusText(RankingStatusMessage(path.isEmpty ? text : text.replacingOccurrences(of: path, with: image.name)))
    }

    static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}

/// An error's text as given (for ``RankingPipeline/statusText(_:)``).
private struct RankingStatusMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A value shared between threads under a lock.
package final class LockedBox<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value: Value
    package init(_ value: Value) { self.value = value }
    package func get() -> Value { lock.lock(); defer { lock.unlock() }; return value }
    package func set(_ newValue: Value) { lock.lock(); value = newValue; lock.unlock() }
    package func update<R>(_ body: (inout Value) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
}

/// A file read failure with the system's reason.
struct FileReadError: Error, CustomStringConvertible {
    var description: String
}

/// The bytes of a file, with `strerror` reasons (e.g. "Permission denied", "Is a directory").
func readFile(_ url: URL) throws -> [UInt8] {
    let fd = posixOpen(url.path, O_RDONLY | O_CLOEXEC, 0)
    guard fd >= 0 else { throw FileReadError(description: errnoDescription()) }
    defer { posixClose(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw FileReadError(description: errnoDescription())
        }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return out
}
