// Query rotations in the ranking job, with the fake engine (which turns "images" exactly and
// matches keypoints only in equal orientations, as a detector without rotation invariance):
// each image keeps its best-scoring rotation and the CSV says which; the query is prepared once
// per rotation; rotations are part of the job's identity; rotation CSVs merge.
import Foundation
import Testing
@testable import RankTestWorker
@testable import SuperGlueKit
@testable import SuperGlueRanking

/// The fake engine, counting how the job calls it.
private final class CountingEngine: RankingEngine, @unchecked Sendable {
    // @unchecked: the counters are guarded by `lock`; `inner` is thread-safe.
    let inner = FakeRankingEngine()
    private let lock = NSLock()
    private var counts = (prepares: 0, preparedMatches: 0, plainMatches: 0)

    var featureIdentity: String { inner.featureIdentity }
    var matchIdentity: String { inner.matchIdentity }
    var calls: (prepares: Int, preparedMatches: Int, plainMatches: Int) { lock.lock(); defer { lock.unlock() }; return counts }

    func features(forImageAt url: URL) throws -> Features { try inner.features(forImageAt: url) }
    func features(forImageAt url: URL, quarterTurns: Int) throws -> Features { try inner.features(forImageAt: url, quarterTurns: quarterTurns) }

    func match(_ query: Features, _ image: Features) throws -> RankingMatches {
        lock.lock(); counts.plainMatches += 1; lock.unlock()
        return try inner.match(query, image)
    }

    func prepare(query: Features) throws -> PreparedQuery {
        lock.lock(); counts.prepares += 1; lock.unlock()
        return PreparedQuery(features: query)
    }

    func match(_ query: PreparedQuery, _ image: Features) throws -> RankingMatches {
        lock.lock(); counts.preparedMatches += 1; lock.unlock()
        return try inner.match(query.features, image)
    }
}

enum RotatedScene {
    /// The query of ``FakeScene`` and, for each quarter turn k, `paste<k>.jpg`: 12 + 5k of its
    /// landmarks warped into a 640x480 image with clutter, then the image turned k times
    /// counter-clockwise; `upright<k>.jpg` is the same image not turned; `clutter<i>.jpg` have no
    /// query landmarks (in orientations 0 and 1).
    static func write(to root: URL) throws -> (query: URL, images: URL) {
        let images = root.appendingPathComponent("images", isDirectory: true)
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let query = FakeScene.query(seed: 7)
        let queryURL = root.appendingPathComponent("query.jpg")
        try FakeScene.text(width: 320, height: 240, query).write(to: queryURL, atomically: true, encoding: .utf8)
        for k in 0..<4 {
            let landmarks = FakeScene.image(query: query, pasted: 12 + 5 * k, clutter: 25, seed: 50 + UInt64(k))
            try FakeScene.text(width: 640, height: 480, landmarks).write(to: images.appendingPathComponent("upright\(k).jpg"), atomically: true, encoding: .utf8)
            try text(landmarks, quarterTurns: k).write(to: images.appendingPathComponent("paste\(k).jpg"), atomically: true, encoding: .utf8)
        }
        for i in 0..<3 {
            let landmarks = FakeScene.image(query: query, pasted: 0, clutter: 30, seed: 90 + UInt64(i))
            try text(landmarks, quarterTurns: i % 2).write(to: images.appendingPathComponent("clutter\(i).jpg"), atomically: true, encoding: .utf8)
        }
        return (queryURL, images)
    }

    /// A 640x480 fake image turned `quarterTurns` times: positions moved as np.rot90 moves
    /// pixels, the orientation recorded in the header.
    static func text(_ landmarks: [FakeScene.Landmark], quarterTurns k: Int) -> String {
        let (width, height) = k % 2 == 0 ? (640, 480) : (480, 640)
        return "FAKEIMG \(width) \(height) \(k)\n" + landmarks.map { l in
            let p = FakeRankingEngine.turned(x: Float(l.x), y: Float(l.y), width: 640, height: 480, quarterTurns: k)
            return "\(l.id) \(p[0]) \(p[1])\n"
        }.joined()
    }
}

@Suite struct RankingRotationTests {
    static let all = try! RankingQueryRotations(parsing: "0,90,180,270")

    static func configuration(_ scene: (query: URL, images: URL), output: URL, rotations: RankingQueryRotations = all,
                              key: RankingScoreKey = .confidence, resume: Bool = false, lanes: Int = 1,
                              shard: RankingShard? = nil) -> RankingJobConfiguration {
        var c = RankingTestSupport.configuration(query: scene.query, images: scene.images, output: output, shard: shard, resume: resume, key: key, lanes: lanes)
        c.queryRotations = rotations
        return c
    }

    /// A temporary folder holding a ``RotatedScene``.
    static func scene(_ label: String) throws -> (TemporaryFolder, (query: URL, images: URL)) {
        let folder = try TemporaryFolder(label)
        return (folder, try RotatedScene.write(to: folder.url))
    }

    /// Rows by image name, without the timing column.
    static func rows(_ url: URL) throws -> [String: [String]] {
        Dictionary(uniqueKeysWithValues: zip(try RankingCSV.readResults(url).map(\.image), try RankingTestSupport.resultsWithoutTimings(url)))
    }

    @Test func eachImageKeepsItsBestRotationAndTheCSVSaysWhich() throws {
        let (folder, scene) = try Self.scene("rotations")
        defer { folder.cleanup() }
        let engine = CountingEngine()
        let output = folder.path("turned.csv")
        let summary = try RankingJob.run(engine: engine, configuration: Self.configuration(scene, output: output))
        #expect(summary.processed == 11 && summary.failed == 0)
        // The query is prepared once per rotation; every image is matched once per rotation.
        let calls = engine.calls
        #expect(calls.prepares == 4 && calls.preparedMatches == 44 && calls.plainMatches == 0, "\(calls)")
        let text = try String(contentsOf: output, encoding: .utf8)
        #expect(text.hasPrefix(RankingCSV.rotationHeader.joined(separator: ",") + "\n"))

        let plainOutput = folder.path("plain.csv")
        _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: plainOutput, rotations: .none))
        #expect(try String(contentsOf: plainOutput, encoding: .utf8).hasPrefix(RankingCSV.header.joined(separator: ",") + "\n"))
        let turned = try Self.rows(output), plain = try Self.rows(plainOutput)
        for k in 0..<4 {
            let row = try #require(turned["paste\(k).jpg"])
            #expect(row.last == String(90 * k), "paste\(k): \(row)")
            // Turned back, the image matches as the upright one does without rotations.
            let upright = try #require(plain["upright\(k).jpg"])
            #expect(row[0] == upright[0] && row[2] == upright[2] && Array(row[5...6]) == Array(upright[5...6]), "paste\(k): \(row) vs \(upright)")
            #expect(Int(row[3]) ?? 0 >= 12 + 5 * k, "every pasted landmark is an inlier: \(row)")
            if k > 0 { #expect(Int(try #require(plain["paste\(k).jpg"])[2]) == 0, "missed without rotations") }
        }
        // The four pastes and their upright twins outrank the clutter images.
        let ranked = try RankingCSV.readResults(output).map(\.image)
        #expect(Set(ranked.prefix(8)) == Set((0..<4).flatMap { ["paste\($0).jpg", "upright\($0).jpg"] }))
    }

    /// With every score key, an image's row is the row of its best single-rotation job (the
    /// smallest angle among equal scores), and lanes do not change it.
    @Test(arguments: RankingScoreKey.allCases)
    func theWinnerIsTheBestSingleRotation(key: RankingScoreKey) throws {
        let (folder, scene) = try Self.scene("rotations-\(key)")
        defer { folder.cleanup() }
        let singles = try RankingQueryRotations.allowed.map { angle -> [String: [String]] in
            let output = folder.path("single\(angle).csv")
            _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: output, rotations: try RankingQueryRotations(degrees: [angle]), key: key))
            // A job with rotation 0 alone is a job without rotations: no rotation column.
            return try Self.rows(output).mapValues { angle == 0 ? $0 + ["0"] : $0 }
        }
        for lanes in [1, 2] {
            let output = folder.path("all-\(lanes).csv")
            _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: output, key: key, lanes: lanes))
            for (image, row) in try Self.rows(output) {
                let candidates = singles.compactMap { $0[image] }
                let best = candidates.reduce(candidates[0]) { Double($1[0])! > Double($0[0])! ? $1 : $0 }
                #expect(row == best, "\(key), \(lanes) lane(s), \(image): \(row) vs \(best)")
            }
        }
    }

    @Test func rotationsArePartOfTheJobIdentityAndSurviveResume() throws {
        let (folder, scene) = try Self.scene("rotations-resume")
        defer { folder.cleanup() }
        let reference = folder.path("reference.csv")
        _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: reference))

        // Interrupted after 3 images, then resumed: the rotations come back from the journal.
        let output = folder.path("results.csv")
        let stop = RankingStopFlag()
        let finished = LockedBox(0)
        let first = try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: output, resume: true), stop: stop) { event in
            if case .finished = event, finished.update({ $0 += 1; return $0 }) == 3 { stop.requestStop() }
        }
        #expect(first.interrupted && first.processed == 3)
        let journal = try String(contentsOf: folder.path("results.csv.journal"), encoding: .utf8)
        #expect(journal.split(separator: "\n")[1] == "image,confidence,matches,inliers,inlier_ratio,keypoints,status,seconds,query_rotation,crc32")
        // Other rotations are another job: refused, whichever way.
        for other in [RankingQueryRotations.none, try RankingQueryRotations(parsing: "0,180")] {
            #expect { try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: output, rotations: other, resume: true)) } throws: {
                "\($0)".contains("different query, weights or options")
            }
        }
        let second = try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: output, resume: true))
        #expect(second.resumed == 3 && second.processed == 8 && !second.interrupted)
        #expect(try Self.rows(output) == Self.rows(reference))
        // The order of the angles does not matter: 270,0,180,90 is the same job.
        let same = try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: output, rotations: try RankingQueryRotations(parsing: "270,0,180,90"), resume: true))
        #expect(same.processed == 0 && same.resumed == 11)

        // A journal without rotations (written before they existed) is refused by a rotation job.
        let plain = folder.path("plain.csv")
        _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: plain, rotations: .none))
        #expect { try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: plain, resume: true)) } throws: {
            "\($0)".contains("different query, weights or options")
        }
    }

    @Test func rotationShardsMergeAndDoNotMixWithPlainResults() throws {
        let (folder, scene) = try Self.scene("rotations-merge")
        defer { folder.cleanup() }
        let single = folder.path("single.csv")
        _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: single))
        let shards = try (0..<2).map { index -> URL in
            let output = folder.path("shard\(index).csv")
            _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: output, shard: try RankingShard(parsing: "\(index)/2")))
            return output
        }
        let merged = folder.path("merged.csv")
        try RankingMerge.merge(shards, into: merged, shardCount: 2)
        #expect(try RankingCSV.readTable(merged).header == RankingCSV.rotationHeader)
        #expect(try Self.rows(merged) == Self.rows(single))

        let plainShard = folder.path("plain-shard1.csv")
        _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: Self.configuration(scene, output: plainShard, rotations: .none, shard: try RankingShard(parsing: "1/2")))
        #expect { try RankingMerge.merge([shards[0], plainShard], into: merged) } throws: { "\($0)".contains("different columns") }
    }

    @Test func rotationListsAreCheckedAndNormalised() throws {
        #expect(try RankingQueryRotations(parsing: "180, 0").degrees == [0, 180])
        #expect(try RankingQueryRotations(parsing: "0").isNone)
        #expect(try RankingQueryRotations(parsing: "270,90").description == "90,270")
        for bad in ["", "45", "0,90,90", "-90", "0,,90", "ninety", "360"] {
            #expect(throws: RankingJobError.self, "'\(bad)'") { try RankingQueryRotations(parsing: bad) }
        }
        // An engine that cannot turn images fails the job before any image, naming the query.
        struct Upright: RankingEngine {
            let fake = FakeRankingEngine()
            var featureIdentity: String { fake.featureIdentity }
            var matchIdentity: String { fake.matchIdentity }
            func features(forImageAt url: URL) throws -> Features { try fake.features(forImageAt: url) }
            func match(_ query: Features, _ image: Features) throws -> RankingMatches { try fake.match(query, image) }
        }
        let (folder, scene) = try Self.scene("rotations-upright")
        defer { folder.cleanup() }
        #expect { try RankingJob.run(engine: Upright(), configuration: Self.configuration(scene, output: folder.path("x.csv"))) } throws: {
            "\($0)".contains("turned by 90 degrees") && "\($0)".contains("cannot rotate")
        }
    }
}
