// One Matcher shared by 8 concurrent tasks gives exactly the serial results.
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

/// The async entry points compute on threads of their own, not on Swift's cooperative pool.
@Suite struct AsyncEntryPointTests {
    /// More blocking bodies than the cooperative pool has threads, each waiting until all have
    /// started: this finishes only if none of them occupies a pool thread. On the pool (one
    /// thread per core) at most `cores` bodies could run, and the others would never start.
    @Test func blockingBodiesDoNotOccupyTheCooperativePool() async throws {
        let count = 2 * ProcessInfo.processInfo.activeProcessorCount + 2
        let arrivals = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        // Generous: the other suites run in parallel and may hold the pool's threads (blocking
        // synchronous tests) before these tasks even start; only a failure waits this long.
        let patience = DispatchTimeInterval.seconds(120)
        let arrived = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<count {
                group.addTask {
                    try await runOffCooperativePool {
                        arrivals.signal()
                        return release.wait(timeout: .now() + patience) == .success
                    }
                }
            }
            // The test's own waiting is blocking too, so it runs off the pool as well. Released
            // only when every body is running at the same time.
            let all = try await runOffCooperativePool {
                let deadline = DispatchTime.now() + patience
                return (0..<count).allSatisfy { _ in arrivals.wait(timeout: deadline) == .success }
            }
            for _ in 0..<count { release.signal() }
            var finished = 0
            for try await ok in group where ok { finished += 1 }
            return all && finished == count
        }
        #expect(arrived, "\(count) blocking bodies did not all run at once")
    }

    @Test func asyncMatchEqualsSyncMatch() async throws {
        let matcher = try EndToEndParityTests.matcher.get()
        let root = FixtureWeights.fixturesDirectory
        let a = root.appendingPathComponent("ranking/query.jpg"), b = root.appendingPathComponent("ranking/images/photo00.jpg")
        let expected = try MatcherConcurrencyTests.run(matcher, a, b)
        let pair = try await matcher.match(a, b)
        #expect(pair.image0.features.keypoints == expected.keypoints0)
        #expect(pair.matches.matches0 == expected.matches0)
        #expect(pair.matches.matchingScores0 == expected.scores0)
        let features = try await matcher.match(pair.image0.features, pair.image1.features)
        #expect(features == pair.matches)
        let errors = try? await matcher.extract(root.appendingPathComponent("does-not-exist.jpg"))
        #expect(errors == nil)
    }
}
