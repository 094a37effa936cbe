import Foundation
import SuperGlueKit

let matcher = try Matcher(weightsDirectory: URL(fileURLWithPath: "Weights"),
                          config: MatcherConfig(superGlue: SuperGlueConfig(weights: .outdoor, sinkhornIterations: 20)))
let pair = try matcher.match(URL(fileURLWithPath: "a.jpg"), URL(fileURLWithPath: "b.jpg"))
for (i, j) in pair.matches.matches0.enumerated() where j >= 0 {
    let (p, q) = (pair.image0.features.keypoint(i), pair.image1.features.keypoint(j))
    print(p, q, pair.matches.matchingScores0[i])
}
// Extract once, match many times; `Matcher` is Sendable and safe to share between tasks.
let query = try matcher.extract(URL(fileURLWithPath: "poster.jpg")).features
// Prepared once, the query skips its own part of the matcher in every later match (same results).
let preparedQuery = try matcher.prepare(query)
let photo = try matcher.extract(URL(fileURLWithPath: "photo.jpg")).features
print(try matcher.match(preparedQuery, photo).count, "matches")

// In async functions the same calls are awaited: they compute on threads of their own and never
// block Swift's cooperative thread pool.
func matchCount(_ matcher: Matcher, _ query: Features, _ photo: URL) async throws -> Int {
    let features = try await matcher.extract(photo).features
    return try await matcher.match(query, features).count
}
print(try await matchCount(matcher, query, URL(fileURLWithPath: "photo.jpg")), "matches")
