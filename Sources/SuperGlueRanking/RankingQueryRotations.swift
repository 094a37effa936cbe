// The rotations of the query a ranking job tries (`--query-rotations`): detectors such as
// SuperPoint and ALIKED-n16 are not rotation invariant, so a photo turned by more than about 45
// degrees is missed unless the query is turned with it.
import Foundation

/// The query rotations of a job, in degrees counter-clockwise, each a multiple of 90 degrees.
///
/// Each database image is matched against the query turned by each angle (the image turned
/// exactly, before the detector) and keeps the best-scoring one. Kept sorted and distinct, so
/// that `90,0` and `0,90` are the same job (and the first of equal scores is the smallest angle).
public struct RankingQueryRotations: Sendable, Equatable, CustomStringConvertible {
    /// The angles a rotation may have.
    public static let allowed = [0, 90, 180, 270]

    /// Sorted, distinct, non-empty.
    public let degrees: [Int]

    /// No rotation: the job's behaviour and files are those of a job without the option.
    public static let none = RankingQueryRotations(checked: [0])

    private init(checked degrees: [Int]) { self.degrees = degrees }

    /// Throws ``RankingJobError/usage(_:)`` unless every angle is 0, 90, 180 or 270 and none repeats.
    public init(degrees: [Int]) throws {
        guard !degrees.isEmpty else { throw RankingJobError.usage("--query-rotations: give at least one angle") }
        for angle in degrees where !Self.allowed.contains(angle) {
            throw RankingJobError.usage("--query-rotations: \(angle) is not 0, 90, 180 or 270 (degrees counter-clockwise)")
        }
        guard Set(degrees).count == degrees.count else { throw RankingJobError.usage("--query-rotations: an angle is repeated in \(degrees)") }
        self.degrees = degrees.sorted()
    }

    /// Parses a comma-separated list such as `0,90,180,270`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var angles: [Int] = []
        for part in parts {
            guard let angle = Int(part) else { throw RankingJobError.usage("--query-rotations: '\(part)' is not an angle in degrees (e.g. 0,90,180,270)") }
            angles.append(angle)
        }
        try self.init(degrees: angles)
    }

    /// True for `[0]`: no rotation column, identity as before rotations existed.
    public var isNone: Bool { degrees == [0] }

    /// `0,90,180,270`.
    public var description: String { degrees.map(String.init).joined(separator: ",") }
}
