// The one place where the CLI turns matching options into a RankingEngine.
import Foundation
import SuperGlueKit

/// Thrown until the SuperPoint + SuperGlue matcher is wired in.
struct EngineNotWiredError: Error, CustomStringConvertible {
    var description: String {
        "the SuperPoint + SuperGlue engine is not yet wired into `superglue rank` (makeRankingEngine in Sources/superglue/EngineFactory.swift)"
    }
}

/// Builds the engine `superglue rank` uses: loads the weights named by `options` and fails with a
/// clear message (missing files, wrong shapes) before any image is processed.
///
/// To wire the matcher: make it conform to ``RankingEngine`` (it is called from two threads at
/// once), and take its identities from ``MatchingOptions/featureIdentity(superPointWeightsSHA256:)``
/// and ``MatchingOptions/matchIdentity(superGlueWeightsSHA256:)`` with `SHA256.hash(fileAt:)` of
/// the weights files, so feature-cache entries and journals never mix weights or options.
func makeRankingEngine(options: MatchingOptions) throws -> any RankingEngine {
    throw EngineNotWiredError()
}
