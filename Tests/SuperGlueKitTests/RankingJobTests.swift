// The ranking job driven in-process by the fake engine: results, faults, cache, resume, shards.
import Foundation
import Testing
@testable import RankTestWorker
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import CLISupport
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

@Suite struct RankingJobTests {
    @Test func resultsAreSortedWithAllColumnsAndBadImagesGetStatusRows() throws {
        let folder = try TemporaryFolder("job")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 12)
        let output = folder.path("results.csv")
        let summary = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: output))
        #expect(summary.total == 15 && summary.processed == 15 && summary.failed == 3 && !summary.interrupted)
        let text = try String(contentsOf: output, encoding: .utf8)
        #expect(text.hasPrefix("score,image,matches,inliers,inlier_ratio,keypoints,status,seconds\n"))
        let rows = try RankingCSV.readResults(output)
        #expect(rows.count == 15)
        #expect(rows.map(\.score) == rows.map(\.score).sorted(by: >))
        #expect(Set(rows.map(\.image)).contains("sub/img001.jpg"))
        #expect(!rows.contains { $0.image.hasSuffix(".txt") })
        let byName = Dictionary(uniqueKeysWithValues: rows.map { ($0.image, $0.fields) })
        for broken in ["notes.jpg", "empty.png", "tiny.png"] {
            let fields = try #require(byName[broken])
            #expect(Double(fields[0]) == 0 && fields[2] == "0" && fields[6] != "ok", "\(broken): \(fields)")
        }
        #expect(byName["tiny.png"]?[6].hasPrefix("too small") == true)
        // Images 0, 3, 6, 9 contain 12 + 7i mod 28 pasted query landmarks; all of those are
        // homography inliers, and they outrank every image without the query.
        for i in [0, 3, 6, 9] {
            let fields = try #require(byName[(i % 4 == 1 ? "sub/" : "") + String(format: "img%03d.jpg", i)])
            let pasted = 12 + (i * 7) % 28
            #expect(Int(fields[3]) ?? 0 >= pasted, "img\(i): \(fields)")
            #expect(fields[6] == "ok")
        }
        let top = rows.prefix(4).map(\.image).sorted()
        #expect(top == ["img000.jpg", "img003.jpg", "img006.jpg", "sub/img009.jpg"])
        // The score is the sum of the valid matches' confidences (checked against the fake engine's rule).
        let imageText = try String(contentsOf: scene.images.appendingPathComponent("img003.jpg"), encoding: .utf8)
        let ids = Set(imageText.split(separator: "\n").dropFirst().compactMap { Int($0.split(separator: " ")[0]) })
        let expected = (1...40).filter(ids.contains).map { Double(FakeRankingEngine.confidence(id: $0)) }.reduce(0, +)
        #expect(abs((Double(byName["img003.jpg"]?[0] ?? "") ?? -1) - expected) < 1e-5)
        #expect(Int(byName["img003.jpg"]?[2] ?? "") == (1...40).filter(ids.contains).count)
    }

    @Test func scoreKeyChoosesTheSortColumn() throws {
        let folder = try TemporaryFolder("job-key")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 9, broken: false)
        for key in RankingScoreKey.allCases {
            let output = folder.path("\(key).csv")
            _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: output, key: key))
            let rows = try RankingCSV.readResults(output)
            let column = key == .confidence ? nil : (key == .matches ? 2 : 3)
            if let column { #expect(rows.allSatisfy { $0.fields[0] == $0.fields[column] }) }
            #expect(rows.map(\.score) == rows.map(\.score).sorted(by: >))
        }
    }

    @Test func unusableQueryOrOutputFailsBeforeAnyWork() throws {
        let folder = try TemporaryFolder("job-fail")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 3)
        let engine = FakeRankingEngine()
        let output = folder.path("results.csv")
        for query in [folder.path("missing.jpg"), scene.images.appendingPathComponent("notes.jpg"), scene.images.appendingPathComponent("tiny.png")] {
            #expect { try RankingJob.run(engine: engine, configuration: RankingTestSupport.configuration(query: query, images: scene.images, output: output)) } throws: {
                guard case RankingJobError.input(let message) = $0 else { return false }
                return message.contains(query.path)
            }
        }
        // A query without keypoints cannot match anything.
        try "FAKEIMG 64 64\n".write(to: folder.path("blank.jpg"), atomically: true, encoding: .utf8)
        #expect { try RankingJob.run(engine: engine, configuration: RankingTestSupport.configuration(query: folder.path("blank.jpg"), images: scene.images, output: output)) } throws: { "\($0)".contains("no keypoints") }
        #expect(engine.featureCalls == 3)  // only the query attempts, never a database image
        // Output folder missing, or a file where the folder should be.
        try "x".write(to: folder.path("file"), atomically: true, encoding: .utf8)
        for bad in [folder.path("nowhere/results.csv"), folder.path("file/results.csv"), folder.url] {
            #expect { try RankingJob.run(engine: engine, configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: bad)) } throws: {
                guard case RankingJobError.output = $0 else { return false }
                return true
            }
        }
        #expect(engine.featureCalls == 3)
        #expect(!FileManager.default.fileExists(atPath: output.path + ".journal"))
        // Images folder missing.
        #expect(throws: RankingJobError.self) {
            try RankingJob.run(engine: engine, configuration: RankingTestSupport.configuration(query: scene.query, images: folder.path("no-images"), output: output))
        }
    }

    @Test(.enabled(if: getuid() != 0, "root ignores directory permissions"))
    func readOnlyOutputFolderFailsBeforeAnyWork() throws {
        let folder = try TemporaryFolder("job-readonly")
        defer {
            _ = chmod(folder.path("locked").path, 0o755)
            folder.cleanup()
        }
        let scene = try FakeScene.write(to: folder.url, count: 3)
        try FileManager.default.createDirectory(at: folder.path("locked"), withIntermediateDirectories: true)
        #expect(chmod(folder.path("locked").path, 0o555) == 0)
        let engine = FakeRankingEngine()
        #expect { try RankingJob.run(engine: engine, configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: folder.path("locked/results.csv"))) } throws: {
            "\($0)".contains("cannot write in the output folder")
        }
        #expect(engine.featureCalls == 0)
    }

    @Test func progressLinesAndDurations() {
        #expect(RankingProgressReporter.duration(5) == "5s")
        #expect(RankingProgressReporter.duration(185) == "3m05s")
        #expect(RankingProgressReporter.duration(3725) == "1h02m")
        #expect(RankingProgressReporter.duration(.infinity) == "?")
    }

    @Test func secondQueryHitsTheFeatureCache() throws {
        let folder = try TemporaryFolder("job-cache")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 10)
        let cache = folder.path("cache")
        let first = FakeRankingEngine()
        let s1 = try RankingJob.run(engine: first, configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: folder.path("a.csv"), cache: cache))
        #expect(s1.cacheHits == 0 && s1.cacheMisses == 13)
        #expect(first.featureCalls == 14)  // query + 13 database images
        // A second query over the same folder: only the query goes through the detector.
        let secondQuery = folder.path("query2.jpg")
        try FakeScene.text(width: 320, height: 240, FakeScene.query(seed: 99)).write(to: secondQuery, atomically: true, encoding: .utf8)
        let second = FakeRankingEngine()
        let s2 = try RankingJob.run(engine: second, configuration: RankingTestSupport.configuration(query: secondQuery, images: scene.images, output: folder.path("b.csv"), cache: cache))
        // The three broken files never produce features, so they are misses again.
        #expect(s2.cacheHits == 10 && s2.cacheMisses == 3)
        #expect(second.featureCalls == 1 + 3)
        // Cached features rank exactly like fresh ones.
        let fresh = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: secondQuery, images: scene.images, output: folder.path("c.csv")))
        #expect(fresh.cacheHits == 0)
        #expect(try RankingTestSupport.resultsWithoutTimings(folder.path("b.csv")) == RankingTestSupport.resultsWithoutTimings(folder.path("c.csv")))
        // Another detector identity never hits these entries.
        let other = FakeRankingEngine(identity: "fake-engine-v2")
        let s3 = try RankingJob.run(engine: other, configuration: RankingTestSupport.configuration(query: secondQuery, images: scene.images, output: folder.path("d.csv"), cache: cache))
        #expect(s3.cacheHits == 0 && !s3.queryFromCache)
        // The first query again (a rerun, the next mini-batch of a parallel job): its features
        // come from the cache too, so only the broken files reach the detector.
        #expect(!s1.queryFromCache && !s2.queryFromCache)
        let rerun = FakeRankingEngine()
        let s4 = try RankingJob.run(engine: rerun, configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: folder.path("e.csv"), cache: cache))
        #expect(s4.queryFromCache && rerun.featureCalls == 3)
        #expect(try RankingTestSupport.resultsWithoutTimings(folder.path("a.csv")) == RankingTestSupport.resultsWithoutTimings(folder.path("e.csv")))
    }

    @Test func corruptCacheEntriesAreRecomputed() throws {
        let folder = try TemporaryFolder("job-cache-bad")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 6, broken: false)
        let cache = folder.path("cache")
        _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: folder.path("a.csv"), cache: cache))
        // Six images and the query are cached; the images' entries are damaged below.
        let queryEntry = try FeatureCache(root: cache, featureIdentity: FakeRankingEngine().featureIdentity)
            .entryURL(key: FeatureCache(root: cache, featureIdentity: FakeRankingEngine().featureIdentity).key(contentDigest: SHA256.hash(Array(try Data(contentsOf: scene.query)))))
        #expect(FileManager.default.fileExists(atPath: queryEntry.path))
        let entries = try FileManager.default.subpathsOfDirectory(atPath: cache.path).filter { $0.hasSuffix(".npz") }.sorted()
            .filter { cache.appendingPathComponent($0).standardizedFileURL != queryEntry.standardizedFileURL }
        #expect(entries.count == 6)
        // Damage three entries three ways: truncated, a flipped payload byte, and swapped with another entry.
        let urls = entries.map { cache.appendingPathComponent($0) }
        let bytes0 = try Data(contentsOf: urls[0])
        try bytes0.prefix(bytes0.count / 2).write(to: urls[0])
        var bytes1 = try Data(contentsOf: urls[1])
        bytes1[bytes1.count - 200] ^= 0x40
        try bytes1.write(to: urls[1])
        try Data(contentsOf: urls[3]).write(to: urls[2])
        let engine = FakeRankingEngine()
        let events = LockedBox<[String]>([])
        let s = try RankingJob.run(engine: engine, configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: folder.path("b.csv"), cache: cache)) { event in
            if case .warning(let message) = event { events.update { $0.append(message) } }
        }
        #expect(s.cacheRejected == 3 && s.cacheHits == 3)
        #expect(engine.featureCalls == 3 && s.queryFromCache)
        #expect(events.get().filter { $0.contains("feature cache") }.count == 3)
        #expect(try RankingTestSupport.resultsWithoutTimings(folder.path("a.csv")) == RankingTestSupport.resultsWithoutTimings(folder.path("b.csv")))
        // The recomputed entries were rewritten: a third run hits everything.
        let again = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: folder.path("c.csv"), cache: cache))
        #expect(again.cacheHits == 6 && again.cacheRejected == 0)
    }

    @Test func stoppedRunResumesToTheSameResult() throws {
        let folder = try TemporaryFolder("job-resume")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 20)
        let reference = try RankingTestSupport.referenceResults(scene, in: folder)
        let output = folder.path("results.csv")
        var runs = 0
        var done = 0
        while true {
            runs += 1
            let stop = RankingStopFlag()
            // Stop after 4 more images, as Ctrl-C would.
            let finishedThisRun = LockedBox(0)
            let summary = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: output, resume: true), stop: stop) { event in
                if case .finished = event, finishedThisRun.update({ $0 += 1; return $0 }) == 4 { stop.requestStop() }
            }
            #expect(summary.resumed == done)
            done += summary.processed
            if !summary.interrupted { break }
            #expect(summary.processed == 4)
            #expect(!FileManager.default.fileExists(atPath: output.path), "no results file while interrupted")
            #expect(runs < 10)
            if runs >= 10 { break }
        }
        #expect(runs == 6 && done == 23)
        #expect(try RankingTestSupport.resultsWithoutTimings(output) == RankingTestSupport.resultsWithoutTimings(reference))
        // Resuming a finished job does nothing and rewrites the same results.
        let finished = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: output, resume: true))
        #expect(finished.processed == 0 && finished.resumed == 23)
        // Without --resume an existing journal is refused rather than silently lost.
        #expect { try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: output)) } throws: { "\($0)".contains("--resume") }
    }

    @Test func detectorLanesLimitConcurrentExtractionsWithoutChangingResults() throws {
        let folder = try TemporaryFolder("job-detector-lanes")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 9)
        let reference = try RankingTestSupport.referenceResults(scene, in: folder)
        for detectorLanes in [1, 2, 4] {
            let output = folder.path("detector\(detectorLanes).csv")
            // The delay keeps every lane inside the detector long enough for the others to arrive.
            let engine = FakeRankingEngine(delay: 0.03)
            var configuration = RankingTestSupport.configuration(query: scene.query, images: scene.images, output: output, lanes: 4)
            configuration.detectorLanes = detectorLanes
            let summary = try RankingJob.run(engine: engine, configuration: configuration)
            #expect(summary.processed == 12 && summary.failed == 3, "detector lanes \(detectorLanes)")
            #expect(try RankingTestSupport.resultsWithoutTimings(output) == RankingTestSupport.resultsWithoutTimings(reference))
            // The query's extraction runs before the lanes start, alone.
            #expect(engine.mostConcurrentFeatureCalls <= detectorLanes, "detector lanes \(detectorLanes)")
            if detectorLanes == 1 { #expect(engine.mostConcurrentFeatureCalls == 1) }
        }
    }

    @Test func lanesGiveTheSameResultsAsOneLane() throws {
        let folder = try TemporaryFolder("job-lanes")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 17)
        let reference = try RankingTestSupport.referenceResults(scene, in: folder)
        for lanes in [2, 3, 64] {
            let output = folder.path("lanes\(lanes).csv")
            let finished = LockedBox(0)
            let summary = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: output, lanes: lanes)) { event in
                if case .finished(_, let done, let total) = event { finished.update { $0 += 1 }; #expect(done <= total) }
            }
            #expect(summary.processed == 20 && summary.failed == 3 && !summary.interrupted, "lanes \(lanes)")
            #expect(finished.get() == 20)
            #expect(try RankingTestSupport.resultsWithoutTimings(output) == RankingTestSupport.resultsWithoutTimings(reference), "lanes \(lanes)")
        }
    }

    @Test func stoppedLanesRecordTheirImagesInFlightAndResume() throws {
        let folder = try TemporaryFolder("job-lanes-stop")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 20)
        let reference = try RankingTestSupport.referenceResults(scene, in: folder)
        let output = folder.path("results.csv")
        let stop = RankingStopFlag()
        let finished = LockedBox(0)
        let first = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: output, lanes: 3), stop: stop) { event in
            if case .finished = event, finished.update({ $0 += 1; return $0 }) == 5 { stop.requestStop() }
        }
        // Images already finished or started in the lanes (at most one waiting and one running
        // per lane) are journaled too: none is lost.
        #expect(first.interrupted && first.processed >= 5 && first.processed <= 5 + 2 * 3, "\(first.processed)")
        let journalLines = try String(contentsOf: output.appendingPathExtension("journal"), encoding: .utf8).split(separator: "\n").count
        #expect(journalLines >= first.processed)
        let second = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: output, resume: true, lanes: 3))
        #expect(second.resumed == first.processed && second.processed == 23 - first.processed && !second.interrupted)
        #expect(try RankingTestSupport.resultsWithoutTimings(output) == RankingTestSupport.resultsWithoutTimings(reference))
    }

    @Test func shardsMergeToTheSingleRunResult() throws {
        let folder = try TemporaryFolder("job-shards")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 30)
        let single = folder.path("single.csv")
        _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: single))
        var shardFiles: [URL] = []
        var sizes: [Int] = []
        for i in 0..<3 {
            let shardFolder = folder.path("shard\(i)")
            try FileManager.default.createDirectory(at: shardFolder, withIntermediateDirectories: true)
            let out = shardFolder.appendingPathComponent("results.csv")
            let s = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: out, shard: try RankingShard(index: i, count: 3)))
            sizes.append(s.total)
            shardFiles.append(out)
        }
        #expect(sizes.reduce(0, +) == 33 && sizes.allSatisfy { $0 > 0 })
        let names = try ImageListing.images(from: .directory(scene.images)).map(\.name)
        let merged = folder.path("merged.csv")
        try RankingMerge.merge(shardFiles.reversed(), into: merged, shardCount: 3, expectedImages: names)
        #expect(try RankingTestSupport.resultsWithoutTimings(merged) == RankingTestSupport.resultsWithoutTimings(single))

        // Detected problems: a shard given twice, a missing shard, a missing image, a file that
        // is not one shard, shards of different queries.
        #expect { try RankingMerge.merge([shardFiles[0], shardFiles[1], shardFiles[0]], into: merged) } throws: { "\($0)".contains("appears in both") }
        #expect { try RankingMerge.merge(Array(shardFiles.prefix(2)), into: merged, shardCount: 3) } throws: { "\($0)".contains("expected 3 shard files") }
        #expect { try RankingMerge.merge(Array(shardFiles.prefix(2)), into: merged, expectedImages: names) } throws: { "\($0)".contains("have no row") }
        #expect { try RankingMerge.merge([single], into: merged, shardCount: 3) } throws: { "\($0)".contains("not the output of one --shard") }
        let otherQuery = folder.path("q2.jpg")
        try FakeScene.text(width: 320, height: 240, FakeScene.query(seed: 5)).write(to: otherQuery, atomically: true, encoding: .utf8)
        _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: otherQuery, images: scene.images, output: shardFiles[2], shard: try RankingShard(index: 2, count: 3), resume: false).with(overwrite: true))
        #expect { try RankingMerge.merge(shardFiles, into: merged, shardCount: 3) } throws: { "\($0)".contains("different queries") }
    }

    @Test func shardMembershipIgnoresListingOrder() throws {
        let folder = try TemporaryFolder("job-shard-order")
        defer { folder.cleanup() }
        let names = (0..<200).map { "photos/\($0 % 7)/image-\($0).jpg" }
        let list = folder.path("list.txt"), reversed = folder.path("reversed.txt")
        try names.joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
        try ("# reversed\n\n" + names.reversed().joined(separator: "\n")).write(to: reversed, atomically: true, encoding: .utf8)
        var union: [String] = []
        for i in 0..<4 {
            let shard = try RankingShard(index: i, count: 4)
            let a = try ImageListing.images(from: .list(list, base: folder.url), shard: shard).map(\.name)
            let b = try ImageListing.images(from: .list(reversed, base: folder.url), shard: shard).map(\.name)
            #expect(a == b)
            #expect(a.count > 25, "shard \(i) has \(a.count) of 200")
            union += a
        }
        #expect(union.sorted() == names.sorted())
        #expect(throws: RankingJobError.self) { try RankingShard(parsing: "4/4") }
        #expect(throws: RankingJobError.self) { try RankingShard(parsing: "1-4") }
        #expect(try RankingShard(parsing: "3/4") == RankingShard(index: 3, count: 4))
    }

    @Test func listFileResolvesAgainstTheImagesFolder() throws {
        let folder = try TemporaryFolder("job-list")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 5, broken: false)
        let list = folder.path("list.txt")
        try "img000.jpg\nsub/img001.jpg\nmissing.jpg\nimg000.jpg\n".write(to: list, atomically: true, encoding: .utf8)
        let output = folder.path("r.csv")
        let summary = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingJobConfiguration(query: scene.query, source: .list(list, base: scene.images), output: output))
        #expect(summary.total == 3 && summary.failed == 1)
        let rows = try RankingCSV.readResults(output)
        #expect(rows.first { $0.image == "missing.jpg" }?.fields[6].hasPrefix("unreadable") == true)
    }
}

extension RankingJobConfiguration {
    func with(overwrite: Bool) -> RankingJobConfiguration {
        var copy = self
        copy.overwrite = overwrite
        return copy
    }
}

@Suite struct RankingListingTests {
    @Test func folderListingFollowsFileLinksAndSkipsHiddenAndOtherFiles() throws {
        let folder = try TemporaryFolder("listing")
        defer { folder.cleanup() }
        let images = folder.path("images")
        try FileManager.default.createDirectory(at: images.appendingPathComponent("a/b"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: images.appendingPathComponent(".hidden"), withIntermediateDirectories: true)
        for name in ["x.JPG", "a/y.png", "a/b/z.jpeg", ".hidden/h.jpg", ".dot.jpg", "a/readme.md"] {
            try Data("x".utf8).write(to: images.appendingPathComponent(name))
        }
        try Data("x".utf8).write(to: folder.path("outside.jpg"))
        try FileManager.default.createSymbolicLink(at: images.appendingPathComponent("linked.jpg"), withDestinationURL: folder.path("outside.jpg"))
        try FileManager.default.createDirectory(at: images.appendingPathComponent("folder.jpg"), withIntermediateDirectories: true)
        let names = try ImageListing.images(from: .directory(images)).map(\.name)
        #expect(names == ["a/b/z.jpeg", "a/y.png", "linked.jpg", "x.JPG"])
    }
}

@Suite struct RankingMeasureTests {
    static let query = Features(keypoints: [0, 0, 10, 0, 0, 10, 10, 10, 5, 5], scores: [1, 1, 1, 1, 1],
                                descriptors: [Float](repeating: 0.5, count: 10), descriptorDim: 2, imageWidth: 20, imageHeight: 20)
    static let image = Features(keypoints: [1, 1, 11, 1, 1, 11, 11, 11, 6, 6, 50, 50], scores: [1, 1, 1, 1, 1, 1],
                                descriptors: [Float](repeating: 0.5, count: 12), descriptorDim: 2, imageWidth: 60, imageHeight: 60)

    @Test func scoreIsTheSumOfValidConfidences() {
        // Query keypoints 0-3 match image keypoints 0-3 (a translation by (1, 1)); keypoint 4
        // is unmatched. Reference's sum(matches * conf) would be 0*0.5 + 1*0.25 + 2*0.125 + 3*1 = 3.5.
        let matches = RankingMatches(matches0: [0, 1, 2, 3, -1], confidence0: [0.5, 0.25, 0.125, 1, 0])
        let r = RankingPipeline.measure(image: "x", query: Self.query, features: Self.image, matches: matches, ransac: HomographyRANSAC())
        #expect(r.status == "ok" && r.confidenceSum == 1.875 && r.matches == 4 && r.inliers == 4 && r.inlierRatio == 1 && r.keypoints == 6)
        let none = RankingPipeline.measure(image: "x", query: Self.query, features: Self.image,
                                           matches: RankingMatches(matches0: [-1, -1, -1, -1, -1], confidence0: [0, 0, 0, 0, 0]), ransac: HomographyRANSAC())
        #expect(none.status == "ok" && none.confidenceSum == 0 && none.matches == 0 && none.inlierRatio == 0)
    }

    @Test func brokenEngineOutputBecomesAStatusNotAScore() {
        let cases: [(RankingMatches, String)] = [
            (RankingMatches(matches0: [0, 1, 2, 3, -1], confidence0: [0.5, .nan, 0.1, 1, 0]), "non-finite"),
            (RankingMatches(matches0: [0, 1], confidence0: [0.5, 0.5]), "2 matches for 5"),
            (RankingMatches(matches0: [0, 1, 2, 9, -1], confidence0: [0.5, 0.5, 0.5, 0.5, 0]), "index 9"),
        ]
        for (matches, reason) in cases {
            let r = RankingPipeline.measure(image: "x", query: Self.query, features: Self.image, matches: matches, ransac: HomographyRANSAC())
            #expect(r.status.contains(reason) && r.confidenceSum == 0 && r.matches == 0, "\(r.status)")
        }
        var nanFeatures = Self.image
        nanFeatures.descriptors[3] = .nan
        #expect(RankingPipeline.inconsistency(of: nanFeatures)?.contains("non-finite") == true)
        var short = Self.image
        short.keypoints.removeLast()
        #expect(RankingPipeline.inconsistency(of: short)?.contains("inconsistent") == true)
    }
}
