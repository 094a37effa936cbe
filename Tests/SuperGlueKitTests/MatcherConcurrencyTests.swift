// Issue 8: one Matcher shared by 8 concurrent tasks gives exactly the serial results.
import Foundation
import Testing
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

@Suite struct MatcherConcurrencyTests {
    struct Outcome: Equatable, Sendable {
        var keypoints0: [Float], keypoints1: [Float], descriptors0: [Float]
        var matches0: [Int], scores0: [Float]
    }

    static func run(_ matcher: Matcher, _ a: URL, _ b: URL) throws -> Outcome {
        let pair = try matcher.match(a, b)
        return Outcome(keypoints0: pair.image0.features.keypoints, keypoints1: pair.image1.features.keypoints,
                       descriptors0: pair.image0.features.descriptors,
                       matches0: pair.matches.matches0, scores0: pair.matches.matchingScores0)
    }

    @Test func eightTasksMatchSerialResults() async throws {
        let matcher = try EndToEndParityTests.matcher.get()
        let root = FixtureWeights.fixturesDirectory
        let inputs = [
            ("ranking/query.jpg", "ranking/images/photo00.jpg"), ("ranking/query.jpg", "ranking/images/photo03.jpg"),
            ("images/coffee_444.jpg", "images/rocket.jpg"), ("ranking/images/photo06.jpg", "ranking/query.jpg"),
        ].map { (root.appendingPathComponent($0.0), root.appendingPathComponent($0.1)) }
        let serial = try inputs.map { try Self.run(matcher, $0.0, $0.1) }
        let concurrent = try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
            for task in 0..<8 {
                let (a, b) = inputs[task % inputs.count]
                group.addTask { (task, try Self.run(matcher, a, b)) }
            }
            var results: [(Int, Outcome)] = []
            for try await r in group { results.append(r) }
            return results
        }
        #expect(concurrent.count == 8)
        for (task, outcome) in concurrent {
            #expect(outcome == serial[task % inputs.count], "task \(task) differs from the serial result")
        }
        #expect(serial.contains { $0.matches0.contains { $0 >= 0 } })
    }
}
