// The one place where the CLI turns matching options into a RankingEngine.
import Foundation
import SuperGlueKit
import SuperGlueRanking

/// The ranking job's view of a ``Matcher``: its detector for `features` (the query turned for
/// its rotations), its matcher (SuperGlue or LightGlue) for `prepare` (once per query rotation)
/// and `match`, and identities that name the weights' content and every option that changes results.
struct MatcherRankingEngine: RankingEngine {
    let matcher: Matcher
    let featureIdentity: String
    let matchIdentity: String

    func features(forImageAt url: URL) throws -> Features {
        try matcher.features(url)
    }

    func features(forImageAt url: URL, quarterTurns: Int) throws -> Features {
        try matcher.features(url, rotation: quarterTurns)
    }

    func match(_ query: Features, _ image: Features) throws -> RankingMatches {
        RankingMatches(try matcher.match(query, image))
    }

    func prepare(query: Features) throws -> PreparedQuery {
        try matcher.prepare(query)
    }

    func match(_ query: PreparedQuery, _ image: Features) throws -> RankingMatches {
        RankingMatches(try matcher.match(query, image))
    }
}

extension RankingMatches {
    /// Image 0's side of a matcher's result.
    init(_ matches: Matches) {
        self.init(matches0: matches.matches0, confidence0: matches.matchingScores0)
    }
}

/// Builds the engine `superglue rank` uses: loads the weights named by `options` and fails with a
/// clear message (missing files, wrong shapes) before any image is processed.
func makeRankingEngine(options: MatchingOptions) throws -> any RankingEngine {
    // A batch job reports a truncated or corrupt JPEG in its status column rather than ranking a
    // partial image, unless --damaged-jpeg accept asks for cv2's behaviour.
    let matcher = try options.makeMatcher(damagedJPEGDefault: .reject)
    // Cache entries and journals are keyed by the weights' content, hashed once per job.
    let digest = { (url: URL?) throws -> String in try url.map { try SHA256.hash(fileAt: $0).hex } ?? "" }
    return MatcherRankingEngine(
        matcher: matcher,
        featureIdentity: try options.featureIdentity(superPointWeightsSHA256: digest(matcher.detectorWeightsURL)),
        matchIdentity: options.matchIdentity(matcherWeightsSHA256: try digest(matcher.matcherWeightsURL)))
}
