// The seam between the ranking job and the networks: the job only needs "features of an image"
// and "match two feature sets", so it can be tested with a deterministic stand-in and driven by
// the real SuperPoint + SuperGlue matcher in production.
import Foundation
import SuperGlueKit

/// What the ranking job needs from a feature extractor and matcher.
///
/// The real implementation is the SuperPoint + SuperGlue `Matcher`; tests use a deterministic fake.
/// The job calls ``features(forImageAt:)`` and ``match(_:_:)`` from several threads at once (one
/// per lane, see ``RankingJobConfiguration/lanes``; with one lane, feature extraction of the next
/// images overlaps matching of the current one), so conforming types must be safe to use
/// concurrently.
public protocol RankingEngine: Sendable {
    /// Decodes the image file, resizes it and runs the keypoint detector on it.
    ///
    /// Throws for files that cannot be decoded or are too small; the job records the error's
    /// description as the image's status, so it should be short and name the reason.
    func features(forImageAt url: URL) throws -> Features

    /// ``features(forImageAt:)`` of the image turned by `quarterTurns` x 90 degrees
    /// counter-clockwise before the detector (the job's query rotations). The default supports
    /// no rotation.
    func features(forImageAt url: URL, quarterTurns: Int) throws -> Features

    /// Matches the query's features against one database image's features.
    func match(_ query: Features, _ image: Features) throws -> RankingMatches

    /// Does the matcher's query-only work once per job (``FeatureMatcher/prepare(_:)``). The
    /// default keeps the features as they are.
    func prepare(query: Features) throws -> PreparedQuery

    /// Matches a prepared query; must give the same result as the `match` of plain features on
    /// `query.features`. The default calls that.
    func match(_ query: PreparedQuery, _ image: Features) throws -> RankingMatches

    /// Identifies everything that changes ``features(forImageAt:)``'s output: the weights' content
    /// and every detector option (resize, keypoint count, threshold, NMS radius). Feature-cache
    /// entries are keyed by it, so two engines with equal identities must produce equal features.
    var featureIdentity: String { get }

    /// Identifies everything that changes ``match(_:_:)``'s output on top of ``featureIdentity``
    /// (matcher weights, Sinkhorn iterations, match threshold). A journal made under one identity
    /// is never resumed under another.
    var matchIdentity: String { get }
}

extension RankingEngine {
    public func features(forImageAt url: URL, quarterTurns: Int) throws -> Features {
        guard quarterTurns % 4 == 0 else { throw RankingJobError.usage("this ranking engine cannot rotate images") }
        return try features(forImageAt: url)
    }

    public func prepare(query: Features) throws -> PreparedQuery { PreparedQuery(features: query) }

    public func match(_ query: PreparedQuery, _ image: Features) throws -> RankingMatches {
        try match(query.features, image)
    }
}

/// The result of matching a query (image 0) against a database image (image 1).
public struct RankingMatches: Sendable, Equatable {
    /// For each query keypoint, the index of its match in the database image, or -1.
    public var matches0: [Int]
    /// For each query keypoint, the confidence of its match (0 where unmatched).
    public var confidence0: [Float]

    public init(matches0: [Int], confidence0: [Float]) {
        self.matches0 = matches0
        self.confidence0 = confidence0
    }
}
