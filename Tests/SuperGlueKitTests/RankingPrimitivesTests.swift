// Building blocks of the ranking job: SHA-256, RANSAC homography, features files, CSV, journal.
import Foundation
import Testing
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

@Suite struct RankingSHA256Tests {
    // Expected digests are the FIPS 180-2 / NIST example values.
    @Test func nistVectors() {
        #expect(SHA256.hash("").hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash("abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hex
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)).hex
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalEqualsOneShot() {
        var rng = SplitMix64(seed: 3)
        let bytes = (0..<1000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let oneShot = SHA256.hash(bytes)
        for split in [0, 1, 55, 56, 63, 64, 65, 127, 500, 999, 1000] {
            var hasher = SHA256()
            hasher.update(bytes[0..<split])
            hasher.update(bytes[split...])
            #expect(hasher.finalize() == oneShot, "split at \(split)")
        }
    }

    @Test func agreesWithSha256sum() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum") else { return }
        var rng = SplitMix64(seed: 11)
        let bytes = (0..<100_003).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let folder = try TemporaryFolder("sha")
        defer { folder.cleanup() }
        try Data(bytes).write(to: folder.path("x.bin"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [folder.path("x.bin").path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(output.prefix(64) == Substring(SHA256.hash(bytes).hex))
    }
}

@Suite struct RankingHomographyTests {
    /// A perspective homography and `inlierCount` exact correspondences (plus sub-pixel noise),
    /// then `outlierCount` correspondences displaced by at least 20 pixels.
    static func scene(inlierCount: Int, outlierCount: Int, seed: UInt64) -> (p0: [(x: Double, y: Double)], p1: [(x: Double, y: Double)], truth: [Bool], h: Homography) {
        let h = Homography(entries: [0.9, 0.12, 40, -0.08, 1.1, 25, 0.0004, -0.0003, 1])
        var rng = SplitMix64(seed: seed)
        func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(rng.next() >> 11) / Double(1 << 53) }
        var p0: [(x: Double, y: Double)] = [], p1: [(x: Double, y: Double)] = [], truth: [Bool] = []
        for i in 0..<(inlierCount + outlierCount) {
            let x = uniform(0, 640), y = uniform(0, 480)
            guard let q = h.apply(x, y) else { continue }
            p0.append((x, y))
            if i < inlierCount {
                p1.append((q.x + uniform(-0.5, 0.5), q.y + uniform(-0.5, 0.5)))
                truth.append(true)
            } else {
                let angle = uniform(0, 2 * Double.pi), distance = uniform(20, 200)
                p1.append((q.x + distance * cos(angle), q.y + distance * sin(angle)))
                truth.append(false)
            }
        }
        return (p0, p1, truth, h)
    }

    @Test func recoversKnownInliersAmongOutliers() throws {
        let s = Self.scene(inlierCount: 60, outlierCount: 40, seed: 5)
        let fit = try #require(HomographyRANSAC(reprojectionThreshold: 3).estimate(s.p0, s.p1))
        #expect(fit.inlierMask == s.truth)
        #expect(fit.inlierCount == 60)
        // The fitted homography maps image-0 points to within a pixel of the true mapping.
        for (x, y) in [(0.0, 0.0), (320.0, 240.0), (640.0, 480.0), (100.0, 400.0)] {
            let a = try #require(fit.homography.apply(x, y)), b = try #require(s.h.apply(x, y))
            #expect(abs(a.x - b.x) < 1 && abs(a.y - b.y) < 1, "at (\(x), \(y)): \(a) vs \(b)")
        }
    }

    @Test func mostlyOutliersStillFound() throws {
        let s = Self.scene(inlierCount: 25, outlierCount: 75, seed: 9)
        let fit = try #require(HomographyRANSAC(reprojectionThreshold: 3, maxIterations: 5000).estimate(s.p0, s.p1))
        #expect(fit.inlierMask == s.truth)
    }

    @Test func fixedSeedIsReproducible() {
        let s = Self.scene(inlierCount: 30, outlierCount: 30, seed: 2)
        let a = HomographyRANSAC(seed: 1).estimate(s.p0, s.p1), b = HomographyRANSAC(seed: 1).estimate(s.p0, s.p1)
        #expect(a == b)
    }

    @Test func minimalSetIsExactAndDegenerateSetsAreRefused() throws {
        let s = Self.scene(inlierCount: 4, outlierCount: 0, seed: 4)
        let h = try #require(HomographyRANSAC.directLinearTransform(s.p0, s.p0.map { p in s.h.apply(p.x, p.y) ?? p }))
        for p in s.p0 {
            let a = try #require(h.apply(p.x, p.y)), b = try #require(s.h.apply(p.x, p.y))
            #expect(abs(a.x - b.x) < 1e-6 && abs(a.y - b.y) < 1e-6)
        }
        let minimal = try #require(HomographyRANSAC.minimalSolution(s.p0, s.p0.map { p in s.h.apply(p.x, p.y) ?? p }))
        for (a, b) in zip(minimal.entries, h.entries) { #expect(abs(a - b) < 1e-9 * max(1, abs(b))) }
        let collinear: [(x: Double, y: Double)] = [(0, 0), (1, 1), (2, 2), (5, 0)]
        #expect(HomographyRANSAC.hasCollinearTriple(collinear))
        #expect(HomographyRANSAC().estimate(Array(collinear.prefix(3)), Array(collinear.prefix(3))) == nil)
        #expect(HomographyRANSAC().estimate([(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)], [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)]) == nil)
    }

    @Test func adaptiveIterationCount() {
        // log(1 - 0.99) / log(1 - 0.5^4) = 71.2 -> 72 samples.
        #expect(HomographyRANSAC.iterationsNeeded(inlierFraction: 0.5, confidence: 0.99) == 72)
        #expect(HomographyRANSAC.iterationsNeeded(inlierFraction: 1, confidence: 0.99) == 1)
    }
}

@Suite struct RankingFeaturesIOTests {
    static let sample = Features(keypoints: [1, 2, 3.5, 4.25, 10, 20], scores: [0.5, 0.25, 0.125],
                                 descriptors: (0..<12).map { Float($0) / 12 }, descriptorDim: 4, imageWidth: 640, imageHeight: 480)

    @Test func roundTripAndLayout() throws {
        let folder = try TemporaryFolder("fio")
        defer { folder.cleanup() }
        let url = folder.path("f.npz")
        try FeaturesIO.write(Self.sample, to: url)
        #expect(try FeaturesIO.read(url) == Self.sample)
        let arrays = try NPZ.read(url)
        #expect(arrays["keypoints"]?.shape == [3, 2])
        #expect(arrays["descriptors"]?.shape == [3, 4])
        #expect(try arrays["image_size"]?.int64s() == [640, 480])
        #expect(try arrays["format_version"]?.int64s() == [2])
        #expect(arrays["detector"] == nil)
        let empty = Features(keypoints: [], scores: [], descriptors: [], descriptorDim: 256, imageWidth: 8, imageHeight: 8)
        try FeaturesIO.write(empty, to: url)
        #expect(try FeaturesIO.read(url) == empty)
    }

    @Test func everyFlippedByteIsDetected() throws {
        let folder = try TemporaryFolder("fio-flip")
        defer { folder.cleanup() }
        let url = folder.path("f.npz")
        try FeaturesIO.write(Self.sample, to: url)
        let original = try Data(contentsOf: url)
        var accepted = 0
        for offset in stride(from: 0, to: original.count, by: 3) {
            var damaged = original
            damaged[offset] ^= 0x5A
            try damaged.write(to: url)
            if let back = try? FeaturesIO.read(url), back != Self.sample { accepted += 1 }
        }
        // A flipped byte either leaves the decoded features intact (zip metadata the reader
        // ignores) or is refused; it never yields different features.
        #expect(accepted == 0)
        for length in [0, 10, original.count / 2, original.count - 1] {
            try original.prefix(length).write(to: url)
            #expect(throws: (any Error).self) { try FeaturesIO.read(url) }
        }
    }

    @Test func shapeErrorsNameTheMember() throws {
        let bad: [String: NPYArray] = [
            "format_version": NPYArray(int64: [1], shape: [1]), "keypoints": NPYArray(float32: [1, 2, 3], shape: [3]),
            "scores": NPYArray(float32: [1], shape: [1]), "descriptors": NPYArray(float32: [1, 2], shape: [1, 2]),
            "image_size": NPYArray(int64: [4, 4], shape: [2]),
        ]
        #expect { try FeaturesIO.features(from: bad, name: "x.npz") } throws: { "\($0)".contains("'keypoints'") }
        var future = bad
        future["format_version"] = NPYArray(int64: [3], shape: [1])
        #expect { try FeaturesIO.features(from: future, name: "x.npz") } throws: { "\($0)".contains("format_version 3") }
    }

    /// Version 2 records the detector as a numpy string, covered by the checksum; version 1 files
    /// (no detector member) still read, with the detector unknown.
    @Test func detectorIsRecordedAndVersionOneStillReads() throws {
        let folder = try TemporaryFolder("fio-detector")
        defer { folder.cleanup() }
        var tagged = Self.sample
        tagged.detector = "aliked-n16rot"
        let url = folder.path("f.npz")
        try FeaturesIO.write(tagged, to: url)
        var arrays = try NPZ.read(url)
        #expect(arrays["detector"]?.descr == "<U13")
        #expect(arrays["detector"]?.shape == [])
        #expect(try FeaturesIO.read(url) == tagged)

        // Another detector name under the same checksum is refused.
        arrays["detector"] = NPYArray(string: "disk-n16rot-x")
        #expect { try FeaturesIO.features(from: arrays, name: "x.npz") } throws: { "\($0)".contains("checksum") }

        // A version 1 file: the members of the original format, its checksum over four members.
        let core: [(String, NPYArray)] = [
            ("keypoints", NPYArray(float32: Self.sample.keypoints, shape: [3, 2])),
            ("scores", NPYArray(float32: Self.sample.scores, shape: [3])),
            ("descriptors", NPYArray(float32: Self.sample.descriptors, shape: [3, 4])),
            ("image_size", NPYArray(int64: [640, 480], shape: [2])),
        ]
        var versionOne = Dictionary(uniqueKeysWithValues: core)
        versionOne["format_version"] = NPYArray(int64: [1], shape: [1])
        versionOne["sha256"] = NPYArray(uint8: FeaturesIO.payloadDigest(core).bytes, shape: [32])
        let old = try FeaturesIO.features(from: versionOne, name: "v1.npz")
        #expect(old == Self.sample)
        #expect(old.detector == nil)
    }

    @Test func unicodeStringsRoundTripThroughNPY() throws {
        for text in ["", "superpoint", "ünïcode 日本 😀"] {
            let array = NPYArray(string: text)
            let back = try NPYArray(npy: array.encoded())
            #expect(try back.string() == text)
        }
        #expect(throws: NumPyError.self) { try NPYArray(float32: [1], shape: [1]).string() }
    }
}

@Suite struct RankingCSVTests {
    @Test func quotingRoundTrips() throws {
        let names = ["plain.jpg", "with,comma.jpg", "with \"quote\".jpg", "new\nline.jpg", "ünïcode/日本.png"]
        let rows = names.enumerated().map { i, name in
            RankingResultRow(RankingRecord(image: name, confidenceSum: Double(i), matches: i, inliers: 0, inlierRatio: 0, keypoints: 3,
                                           status: i == 2 ? "corrupt: bad, very bad" : "ok", seconds: 0.5), key: .confidence)
        }
        let folder = try TemporaryFolder("csv")
        defer { folder.cleanup() }
        try RankingCSV.document(rows).write(to: folder.path("r.csv"), atomically: true, encoding: .utf8)
        let back = try RankingCSV.readResults(folder.path("r.csv"))
        #expect(back.map(\.image) == names.reversed())
        #expect(back.first(where: { $0.image.contains("quote") })?.fields[6] == "corrupt: bad, very bad")
    }

    @Test func orderIsScoreThenName() {
        func row(_ name: String, _ score: Double) -> RankingResultRow {
            RankingResultRow(RankingRecord(image: name, confidenceSum: score, matches: 0, inliers: 0, inlierRatio: 0, keypoints: 0, status: "ok", seconds: 0), key: .confidence)
        }
        // 2.0000001 and 2.0000004 print alike, so they tie and fall back to name order.
        let sorted = [row("b", 2.0000004), row("a", 1), row("c", 2.0000001), row("d", 3)].sorted(by: RankingResultRow.inResultsOrder)
        #expect(sorted.map(\.image) == ["d", "b", "c", "a"])
    }

    @Test func truncatedOrForeignFilesAreRefused() throws {
        let folder = try TemporaryFolder("csv-bad")
        defer { folder.cleanup() }
        try "score,image\n1,a\n".write(to: folder.path("a.csv"), atomically: true, encoding: .utf8)
        #expect(throws: RankingCSVError.self) { try RankingCSV.readResults(folder.path("a.csv")) }
        try (RankingCSV.line(RankingCSV.header) + "1.0,a.jpg,1,0,0.0000,5,ok,0.1").write(to: folder.path("b.csv"), atomically: true, encoding: .utf8)
        #expect(throws: RankingCSVError.self) { try RankingCSV.readResults(folder.path("b.csv")) }
    }
}

@Suite struct RankingJournalTests {
    /// Opens a journal only to see what it recovers, and closes it (releasing its lock) at once.
    static func recover(at url: URL, identity: String, mode: RankingJournal.OpenMode) throws -> RankingJournal.Recovered {
        let (journal, recovered) = try RankingJournal.open(at: url, identity: identity, mode: mode)
        journal.close()
        return recovered
    }

    static func record(_ i: Int) -> RankingRecord {
        RankingRecord(image: "dir/img,\(i).jpg", confidenceSum: Double(i) / 3, matches: i, inliers: i / 2, inlierRatio: 0.5,
                      keypoints: 100 + i, status: i == 3 ? "corrupt: \"bad\"" : "ok", seconds: 0.25)
    }

    @Test func recordsSurviveReopen() throws {
        let folder = try TemporaryFolder("journal")
        defer { folder.cleanup() }
        let url = folder.path("r.csv.journal")
        let (journal, empty) = try RankingJournal.open(at: url, identity: "id1", mode: .resume)
        #expect(empty.records.isEmpty)
        for i in 0..<5 { try journal.append(Self.record(i)) }
        journal.close()
        let recovered = try Self.recover(at: url, identity: "id1", mode: .resume)
        #expect(recovered.records.count == 5)
        #expect(recovered.records["dir/img,3.jpg"] == Self.record(3))
        #expect(recovered.discardedLines == 0)
    }

    @Test func tornLastLineAtEveryOffsetIsDroppedAndCut() throws {
        let folder = try TemporaryFolder("journal-torn")
        defer { folder.cleanup() }
        let url = folder.path("r.csv.journal")
        let (journal, _) = try RankingJournal.open(at: url, identity: "id", mode: .resume)
        for i in 0..<3 { try journal.append(Self.record(i)) }
        journal.close()
        let complete = try Data(contentsOf: url)
        let lastLine = Data(RankingJournal.line(for: Self.record(3)).utf8)
        for cut in 0..<lastLine.count {
            try (complete + lastLine.prefix(cut)).write(to: url)
            let (reopened, recovered) = try RankingJournal.open(at: url, identity: "id", mode: .resume)
            #expect(recovered.records.count == 3, "cut at \(cut)")
            #expect(recovered.records["dir/img,3.jpg"] == nil)
            #expect(try Data(contentsOf: url) == complete, "torn tail not cut at \(cut)")
            try reopened.append(Self.record(3))
            reopened.close()
            let again = try Self.recover(at: url, identity: "id", mode: .resume)
            #expect(again.records.count == 4 && again.discardedLines == 0)
        }
    }

    @Test func corruptLineIsDiscarded() throws {
        let folder = try TemporaryFolder("journal-crc")
        defer { folder.cleanup() }
        let url = folder.path("r.csv.journal")
        let (journal, _) = try RankingJournal.open(at: url, identity: "id", mode: .resume)
        for i in 0..<3 { try journal.append(Self.record(i)) }
        journal.close()
        var text = try String(contentsOf: url, encoding: .utf8)
        text = text.replacingOccurrences(of: "dir/img,1.jpg\",0.333", with: "dir/img,1.jpg\",0.334")
        try text.write(to: url, atomically: true, encoding: .utf8)
        let recovered = try Self.recover(at: url, identity: "id", mode: .resume)
        #expect(recovered.records.count == 2 && recovered.discardedLines == 1)
        #expect(recovered.records["dir/img,1.jpg"] == nil)
    }

    @Test func secondWriterIsRefused() throws {
        let folder = try TemporaryFolder("journal-lock")
        defer { folder.cleanup() }
        let url = folder.path("r.csv.journal")
        let (journal, _) = try RankingJournal.open(at: url, identity: "id", mode: .resume)
        try journal.append(Self.record(0))
        #expect { try RankingJournal.open(at: url, identity: "id", mode: .resume) } throws: { "\($0)".contains("another process") }
        journal.close()
        let recovered = try Self.recover(at: url, identity: "id", mode: .resume)
        #expect(recovered.records.count == 1)
    }

    @Test func identityAndModeAreEnforced() throws {
        let folder = try TemporaryFolder("journal-id")
        defer { folder.cleanup() }
        let url = folder.path("r.csv.journal")
        let (journal, _) = try RankingJournal.open(at: url, identity: "id-a", mode: .fresh)
        try journal.append(Self.record(0))
        journal.close()
        #expect { try RankingJournal.open(at: url, identity: "id-b", mode: .resume) } throws: { "\($0)".contains("different query") }
        #expect { try RankingJournal.open(at: url, identity: "id-a", mode: .fresh) } throws: { "\($0)".contains("--resume") }
        let overwritten = try Self.recover(at: url, identity: "id-b", mode: .overwrite)
        #expect(overwritten.records.isEmpty)
        try "name,score\nx,1\n".write(to: url, atomically: true, encoding: .utf8)
        #expect { try RankingJournal.open(at: url, identity: "id-b", mode: .resume) } throws: { "\($0)".contains("not a ranking journal") }
    }
}
