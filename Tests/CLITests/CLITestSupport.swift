// Shared helpers of the process-level CLI tests.
import Foundation

enum CLIFixtures {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let images = repository.appendingPathComponent("Tests/Fixtures/images")

    /// A weights folder holding only official-style `.pth` files (random weights with the official
    /// names: full SuperPoint, a one-layer SuperGlue as indoor and outdoor), so the first CLI run
    /// exercises conversion on first use. Created once per test process.
    static let weightsDirectory: URL = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("superglue-cli-weights-\(UUID().uuidString)", isDirectory: true)
        let checkpoints = repository.appendingPathComponent("Tests/Fixtures/checkpoints")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: checkpoints.appendingPathComponent("superpoint_legacy.pth"), to: folder.appendingPathComponent("superpoint_v1.pth"))
            try FileManager.default.copyItem(at: checkpoints.appendingPathComponent("superglue_legacy.pth"), to: folder.appendingPathComponent("superglue_indoor.pth"))
            try FileManager.default.copyItem(at: checkpoints.appendingPathComponent("superglue_zip.pth"), to: folder.appendingPathComponent("superglue_outdoor.pth"))
        } catch {
            // The tests that use the folder fail with the loader's own message.
        }
        return folder
    }()

    static func temporaryFolder(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// True when `python3 -c "import numpy"` works here.
    static let numpyAvailable: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import numpy"]
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    /// Runs a Python snippet with arguments; returns its exit status.
    static func python(_ code: String, _ arguments: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", code] + arguments
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
}
