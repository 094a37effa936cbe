// The result every matcher produces.

/// Correspondences between the keypoints of two images.
public struct Matches: Sendable, Equatable {
    /// For each keypoint of image 0, the index of its match in image 1, or -1.
    public var matches0: [Int]
    /// For each keypoint of image 1, the index of its match in image 0, or -1.
    public var matches1: [Int]
    /// For each keypoint of image 0, the confidence of its mutual best match (0 when the best
    /// matches are not mutual). It can be positive for a keypoint left unmatched by the threshold.
    public var matchingScores0: [Float]
    /// For each keypoint of image 1, the confidence of its mutual best match, or 0.
    public var matchingScores1: [Float]

    public init(matches0: [Int], matches1: [Int], matchingScores0: [Float], matchingScores1: [Float]) {
        self.matches0 = matches0
        self.matches1 = matches1
        self.matchingScores0 = matchingScores0
        self.matchingScores1 = matchingScores1
    }

    /// Result for images where at least one side has no keypoints: nothing matches.
    public static func unmatched(count0: Int, count1: Int) -> Matches {
        Matches(matches0: Array(repeating: -1, count: count0), matches1: Array(repeating: -1, count: count1),
                matchingScores0: Array(repeating: 0, count: count0), matchingScores1: Array(repeating: 0, count: count1))
    }

    /// Number of keypoints of image 0 with a match.
    public var count: Int { matches0.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
}
