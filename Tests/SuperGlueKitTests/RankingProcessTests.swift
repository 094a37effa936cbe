// The ranking job as a process (RankTestWorker with the fake engine): kill -9 at random moments,
// SIGINT, a full disk. Nothing finished may be lost, nothing may be counted twice.
import Foundation
import Testing
@testable import RankTestWorker
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

@Suite(.serialized) struct RankingProcessTests {
    /// Journal records per image name (must be 1 for every journaled image).
    static func journalCounts(_ journal: URL) throws -> [String: Int] {
        let bytes = [UInt8](try Data(contentsOf: journal))
        var counts: [String: Int] = [:]
        for record in RankingCSV.records(bytes).dropFirst(2) where record.fields.count == RankingJournal.columns.count {
            counts[record.fields[0], default: 0] += 1
        }
        return counts
    }

    @Test func killNineLoopLosesAndDuplicatesNothing() throws {
        let folder = try TemporaryFolder("kill9")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 40)
        let reference = try RankingTestSupport.referenceResults(scene, in: folder)
        let output = folder.path("results.csv")
        let arguments = ["--query", scene.query.path, "--images", scene.images.path, "--output", output.path,
                         "--cache", folder.path("cache").path, "--resume", "--delay", "0.05"]
        var rng = FakeScene.Random(seed: 2026)
        var kills = 0, completedEarly = 0
        var previousJournaled = 0
        // 25 runs killed at random moments (during start-up, mid-image, mid-append); each image
        // takes 50-100 ms of fake work, so the 43 images outlast the 25 short runs and a
        // final run is left to finish the job.
        for run in 0..<25 {
            let process = try RankingTestSupport.startWorker(arguments, logs: folder.path("log\(run)"))
            Thread.sleep(forTimeInterval: rng.uniform(0.0, 0.12))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                kills += 1
            } else {
                completedEarly += 1
            }
            process.waitUntilExit()
            let journal = URL(fileURLWithPath: output.path + ".journal")
            if FileManager.default.fileExists(atPath: journal.path) {
                let counts = try Self.journalCounts(journal)
                #expect(counts.values.allSatisfy { $0 == 1 }, "run \(run): duplicated journal records \(counts.filter { $0.value > 1 })")
                #expect(counts.count >= previousJournaled, "run \(run): journal lost records")
                previousJournaled = counts.count
            }
        }
        let (status, stderr) = try RankingTestSupport.runWorker(arguments, logs: folder.path("final"))
        #expect(status == 0, "final run: \(stderr)")
        #expect(kills >= 20, "only \(kills) runs were killed before finishing (\(completedEarly) finished early)")
        #expect(try RankingTestSupport.resultsWithoutTimings(output) == RankingTestSupport.resultsWithoutTimings(reference))
        let counts = try Self.journalCounts(URL(fileURLWithPath: output.path + ".journal"))
        #expect(counts.count == 43 && counts.values.allSatisfy { $0 == 1 })
    }

    @Test func sigintStopsAfterFlushingAndResumeCompletes() throws {
        let folder = try TemporaryFolder("sigint")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 30)
        let reference = try RankingTestSupport.referenceResults(scene, in: folder)
        let output = folder.path("results.csv")
        let arguments = ["--query", scene.query.path, "--images", scene.images.path, "--output", output.path, "--resume", "--delay", "0.02"]
        let process = try RankingTestSupport.startWorker(arguments, logs: folder.path("first"))
        let journal = URL(fileURLWithPath: output.path + ".journal")
        // Interrupt once a few images are journaled.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, ((try? Self.journalCounts(journal))?.count ?? 0) < 3 { Thread.sleep(forTimeInterval: 0.01) }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 130)
        #expect(!FileManager.default.fileExists(atPath: output.path))
        let journaled = try Self.journalCounts(journal)
        #expect(journaled.count >= 3 && journaled.count < 33 && journaled.values.allSatisfy { $0 == 1 })
        let out = (try? String(contentsOfFile: folder.path("first").path + ".out", encoding: .utf8)) ?? ""
        #expect(out.contains("processed=\(journaled.count) ") && out.contains("interrupted=true"), "\(out)")
        let (status, stderr) = try RankingTestSupport.runWorker(arguments, logs: folder.path("second"))
        #expect(status == 0, "\(stderr)")
        let secondOut = (try? String(contentsOfFile: folder.path("second").path + ".out", encoding: .utf8)) ?? ""
        #expect(secondOut.contains("resumed=\(journaled.count) "))
        #expect(try RankingTestSupport.resultsWithoutTimings(output) == RankingTestSupport.resultsWithoutTimings(reference))
    }

    @Test func fullDiskStopsWithAClearErrorAndResumeCompletes() throws {
        let folder = try TemporaryFolder("fulldisk")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 30)
        let reference = try RankingTestSupport.referenceResults(scene, in: folder)
        let output = folder.path("results.csv")
        let arguments = ["--query", scene.query.path, "--images", scene.images.path, "--output", output.path, "--resume"]
        // A file-size limit of 2 KiB makes writes past it fail with EFBIG, as a full disk fails
        // them with ENOSPC; SIGXFSZ is ignored (inherited through exec) so the write returns an
        // error instead of killing the process.
        let (status, stderr) = try RankingTestSupport.runWorker(arguments, shellPrefix: "trap '' XFSZ; ulimit -f 4;", logs: folder.path("limited"))
        #expect(status == 1, "\(stderr)")
        #expect(stderr.contains("cannot append to the journal") || stderr.contains("cannot flush the journal"), "\(stderr)")
        #expect(!FileManager.default.fileExists(atPath: output.path))
        let journaled = try Self.journalCounts(URL(fileURLWithPath: output.path + ".journal"))
        #expect(journaled.count > 0 && journaled.count < 33 && journaled.values.allSatisfy { $0 == 1 })
        let (again, stderr2) = try RankingTestSupport.runWorker(arguments, logs: folder.path("unlimited"))
        #expect(again == 0, "\(stderr2)")
        #expect(try RankingTestSupport.resultsWithoutTimings(output) == RankingTestSupport.resultsWithoutTimings(reference))
    }

    /// Whether this machine lets us mount a private, size-limited tmpfs (root, or a user namespace).
    static let canMountTmpfs: Bool = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        probe.arguments = ["-m", "/bin/sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=8k tmpfs \"$d\" && umount \"$d\" && rmdir \"$d\""]
        probe.standardError = FileHandle.nullDevice
        probe.standardOutput = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }()

    @Test(.enabled(if: canMountTmpfs, "needs unshare -m and mounts"))
    func readOnlyOutputFolderFailsBeforeAnyWork() throws {
        // A read-only bind mount refuses writes even to root (chmod would not).
        let folder = try TemporaryFolder("readonly")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 3)
        let locked = folder.path("locked")
        try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: true)
        let worker = try RankingTestSupport.workerURL()
        let script = """
            set -e
            mount --bind "$1" "$1"
            mount -o remount,bind,ro "$1"
            exec "$2" --query "$3" --images "$4" --output "$1/results.csv"
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["-m", "/bin/sh", "-c", script, "sh", locked.path, worker.path, scene.query.path, scene.images.path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "\(stderr)")
        #expect(stderr.contains("cannot write in the output folder") && stderr.contains("Read-only file system"), "\(stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: locked.path).isEmpty)
    }

    @Test(.enabled(if: canMountTmpfs, "needs unshare -m and tmpfs mounts"))
    func fullDiskAtTheFinalWriteKeepsTheJournal() throws {
        let folder = try TemporaryFolder("fulldisk-final")
        defer { folder.cleanup() }
        let scene = try FakeScene.write(to: folder.url, count: 30, broken: false)
        let stage = folder.path("stage"), small = folder.path("small"), saved = folder.path("saved")
        for f in [stage, small, saved] { try FileManager.default.createDirectory(at: f, withIntermediateDirectories: true) }
        // Every image done and journaled, but the results not yet written (as after a kill just
        // before the final write).
        _ = try RankingJob.run(engine: FakeRankingEngine(), configuration: RankingTestSupport.configuration(query: scene.query, images: scene.images, output: stage.appendingPathComponent("results.csv")))
        try FileManager.default.removeItem(at: stage.appendingPathComponent("results.csv"))
        let journal = try Data(contentsOf: stage.appendingPathComponent("results.csv.journal"))
        // A tmpfs with exactly the pages the journal needs: the results file cannot be written.
        let kib = (journal.count + 4095) / 4096 * 4
        let worker = try RankingTestSupport.workerURL()
        let script = """
            set -e
            mount -t tmpfs -o size=\(kib)k tmpfs "$1"
            cp "$2/results.csv.journal" "$1/"
            set +e
            "$4" --query "$5" --images "$6" --output "$1/results.csv" --resume 2> "$3/stderr"
            status=$?
            ls -a "$1" > "$3/listing"
            cp "$1/results.csv.journal" "$3/"
            exit $status
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["-m", "/bin/sh", "-c", script, "sh", small.path, stage.path, saved.path, worker.path, scene.query.path, scene.images.path]
        try process.run()
        process.waitUntilExit()
        let stderr = (try? String(contentsOf: saved.appendingPathComponent("stderr"), encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 1, "\(stderr)")
        #expect(stderr.contains("No space left on device") && stderr.contains("--resume"), "\(stderr)")
        let listing = (try? String(contentsOf: saved.appendingPathComponent("listing"), encoding: .utf8)) ?? ""
        #expect(!listing.contains("results.csv\n") && !listing.contains(".tmp-"), "\(listing)")
        #expect(try Data(contentsOf: saved.appendingPathComponent("results.csv.journal")) == journal)
    }
}
