// Fetching the official weights a command needs on first use, with a progress line on stderr.
// The library fetches and verifies; drawing and blocking the synchronous command belong here.
import Foundation
import SuperGlueKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum WeightsFetch {
    /// Downloads whichever of `files` no weights folder holds (into `--weights` DIR, else
    /// ~/.cache/superglue-kit), unless SUPERGLUE_OFFLINE is set; a mirror may replace the official
    /// URLs through SUPERGLUE_WEIGHTS_BASE_URL. Blocks until done.
    static func ensure(_ files: [OfficialWeights.File], locator: WeightsLocator,
                       environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let missing = files.filter { !locator.contains($0) }
        guard !missing.isEmpty else { return }
        let offline = WeightsLocator.isOffline(environment)
        let baseURL = try OfficialWeights.baseURLOverride(environment: environment)
        if !offline {
            for file in missing where file.gitBlobID != nil {
                note("note: \(file.name) is Magic Leap's SuperPoint/SuperGlue weights: noncommercial research use only (see Weights/README.md)")
            }
        }
        let line = ProgressLine(interactive: isatty(STDERR_FILENO) == 1)
        let outcome = ResultBox()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                for file in missing {
                    let source = baseURL.map { $0.appendingPathComponent(file.name).absoluteString } ?? file.url
                    if !offline { note("fetching \(file.name) from \(source) into \(locator.downloadDirectory.path)") }
                    let fetched = try await locator.fetchMissing([file], baseURL: baseURL, offline: offline) { line.update($0) }
                    line.finish()
                    if let url = fetched.first {
                        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
                        note("fetched \(file.name): \(ProgressLine.megabytes(Int64(size))), \(file.pin) verified")
                    }
                }
                outcome.set(nil)
            } catch {
                line.finish()
                outcome.set(error)
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw error }
    }

    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// One self-overwriting stderr line on a terminal (at most ten updates a second); on a pipe or a
/// log, a line per quarter of the file, so batch logs stay short.
private final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private let interactive: Bool
    private var lastDraw = DispatchTime(uptimeNanoseconds: 0)
    private var lastQuarter = 0
    private var drawn = false

    init(interactive: Bool) { self.interactive = interactive }

    static func megabytes(_ bytes: Int64) -> String { String(format: "%.1f MB", Double(bytes) / 1_000_000) }

    func update(_ p: OfficialWeights.Progress) {
        lock.lock()
        defer { lock.unlock() }
        let total = p.expectedBytes.map { " of " + Self.megabytes($0) } ?? ""
        let percent = p.expectedBytes.map { $0 > 0 ? Int(100 * p.receivedBytes / $0) : 100 }
        let text = "  \(p.file): \(Self.megabytes(p.receivedBytes))\(total)" + (percent.map { " (\($0) %)" } ?? "")
        if interactive {
            let now = DispatchTime.now()
            guard now.uptimeNanoseconds - lastDraw.uptimeNanoseconds > 100_000_000 || percent == 100 else { return }
            lastDraw = now
            FileHandle.standardError.write(Data(("\r" + text + "\u{1B}[K").utf8))
            drawn = true
        } else if let percent, percent / 25 > lastQuarter {
            lastQuarter = percent / 25
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
        lastQuarter = 0
    }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var error: (any Error)?
    func set(_ error: (any Error)?) { lock.lock(); self.error = error; lock.unlock() }
}
