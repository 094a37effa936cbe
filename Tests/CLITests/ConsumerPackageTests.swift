// Examples/check-consumer.sh as a test, so the README's single test command proves that a package
// depending on SuperGlueKit by version (`from:`) builds the README's Library example.
import Foundation
import Testing

@Suite struct ConsumerPackageTests {
    /// The script needs `git` and `swift`; without them the test is skipped, saying so.
    static let toolsOnPath: Bool = ["git", "swift"].allSatisfy { tool in
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)")
        }
    }

    @Test(.enabled(if: toolsOnPath, "git and swift must be on PATH to build Examples/Consumer"),
          .timeLimit(.minutes(20)))
    func consumerBuildsByVersion() throws {
        let script = CLIFixtures.repository.appendingPathComponent("Examples/check-consumer.sh")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("check-consumer-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", script.path]
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try output.close()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "Examples/check-consumer.sh failed:\n\(text.suffix(6000))")
    }
}
