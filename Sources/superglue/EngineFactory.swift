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
func makeRankingEngine(options: MatchingOptions) throws -> any RankingEngine {
    throw EngineNotWiredError()
}
