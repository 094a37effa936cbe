import Foundation
import Testing
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

@Suite struct WeightsLocatorTests {
    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func searchOrderAndMissingMessage() throws {
        let root = try tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let explicit = root.appendingPathComponent("explicit"), env = root.appendingPathComponent("env")
        let home = root.appendingPathComponent("home"), cwd = root.appendingPathComponent("cwd")
        for d in [explicit, env, home, cwd] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        let locator = WeightsLocator(explicit: explicit, environment: ["SUPERGLUE_WEIGHTS": env.path, "HOME": home.path], currentDirectory: cwd)
        #expect(locator.directories.map(\.lastPathComponent) == ["explicit", "env", "Weights", "superglue-kit"])
        do {
            _ = try locator.locate(SuperPoint.officialFile) { _, _ in Issue.record("nothing to convert") }
            Issue.record("expected WeightsNotFound")
        } catch let error as WeightsNotFound {
            #expect(error.description.contains("superpoint_v1.safetensors"))
            #expect(error.description.contains(explicit.path) && error.description.contains(env.path))
            #expect(error.description.contains("convert-weights download"))
        }
        // The env directory wins over ./Weights when the explicit one lacks the file.
        try Data().write(to: env.appendingPathComponent("superglue_indoor.safetensors"))
        let found = try locator.locate(SuperGlue.officialFile(.indoor)) { _, _ in }
        #expect(found == env.appendingPathComponent("superglue_indoor.safetensors"))
    }

    @Test func convertsPthOnceNextToIt() throws {
        let root = try tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        try Data([1, 2, 3]).write(to: root.appendingPathComponent("superpoint_v1.pth"))
        let locator = WeightsLocator(explicit: root, environment: ["HOME": root.appendingPathComponent("home").path], currentDirectory: root)
        var conversions = 0
        let convert: (URL, URL) throws -> Void = { _, out in conversions += 1; try Data([9]).write(to: out) }
        let first = try locator.locate(SuperPoint.officialFile, convert: convert)
        let second = try locator.locate(SuperPoint.officialFile, convert: convert)
        #expect(first == root.appendingPathComponent("superpoint_v1.safetensors"))
        #expect(second == first)
        #expect(conversions == 1)
    }
}
