// Finding the converted weight files, and converting the official .pth files on first use.
import Foundation
import Checkpoints
import Networks

extension OfficialWeights.File {
    /// The converted file name, e.g. `superpoint_v1.safetensors`.
    public var safetensorsName: String { convertedName }
    /// The official PyTorch file name, e.g. `superpoint_v1.pth`.
    public var pthName: String { name }
}

/// A weight file that could not be found, with every place that was searched.
public struct WeightsNotFound: Error, CustomStringConvertible, Sendable {
    /// The official `.pth` name looked for, e.g. `superpoint_v1.pth`.
    public var pthName: String
    /// The converted name looked for first, e.g. `superpoint_v1.safetensors`.
    public var safetensorsName: String
    public var searched: [String]

    public var description: String {
        """
        weight file \(safetensorsName) (or \(pthName)) not found; looked in: \(searched.joined(separator: ", ")).
        Download and convert the official weights with: swift run -c release convert-weights download --output-dir Weights
        (or pass --weights DIR / set SUPERGLUE_WEIGHTS to a directory holding them).
        """
    }
}

/// Resolves weight files in this order: an explicit directory (`--weights`), the
/// `SUPERGLUE_WEIGHTS` environment variable, `./Weights`, then `~/.cache/superglue-kit`.
///
/// When only the official `.pth` is present, it is converted once and the `.safetensors` result is
/// written next to it, or into the cache directory when that directory is read-only.
public struct WeightsLocator: Sendable {
    /// Directories searched, in order.
    public var directories: [URL]
    /// Where conversions go when the `.pth` file's own directory is not writable.
    public var cacheDirectory: URL
    /// Where ``fetchMissing(_:baseURL:offline:progress:)`` puts files: the explicit directory
    /// when one was given, else ``cacheDirectory``.
    public var downloadDirectory: URL

    public init(explicit: URL? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
                currentDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
        var dirs: [URL] = []
        if let explicit { dirs.append(explicit) }
        if let env = environment["SUPERGLUE_WEIGHTS"], !env.isEmpty { dirs.append(URL(fileURLWithPath: env)) }
        dirs.append(currentDirectory.appendingPathComponent("Weights"))
        let home = environment["HOME"].map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser
        let cache = home.appendingPathComponent(".cache/superglue-kit")
        dirs.append(cache)
        self.directories = dirs
        self.cacheDirectory = cache
        self.downloadDirectory = explicit ?? cache
    }

    /// The `.safetensors` file for `file`, converting an official `.pth` when that is all there is.
    ///
    /// - Parameter convert: turns a `.pth` at the first URL into safetensors at the second.
    public func locate(_ file: OfficialWeights.File, convert: (URL, URL) throws -> Void) throws -> URL {
        try locate(pthName: file.pthName, convert: convert)
    }

    /// The `.safetensors` file for the weight file named `pthName` (e.g. `superpoint_lightglue.pth`,
    /// whose converted name is `superpoint_lightglue.safetensors`), converting the `.pth` when
    /// that is all there is. For files that are not (or not yet) in the download manifest.
    public func locate(pthName: String, convert: (URL, URL) throws -> Void) throws -> URL {
        let safetensorsName = OfficialWeights.convertedName(of: pthName)
        let fm = FileManager.default
        for dir in directories {
            let converted = dir.appendingPathComponent(safetensorsName)
            if fm.isReadableFile(atPath: converted.path) { return converted }
            let pth = dir.appendingPathComponent(pthName)
            guard fm.isReadableFile(atPath: pth.path) else { continue }
            // A conversion cached earlier for a read-only directory.
            let cached = cacheDirectory.appendingPathComponent(safetensorsName)
            if dir != cacheDirectory, fm.isReadableFile(atPath: cached.path) { return cached }
            let target = fm.isWritableFile(atPath: dir.path) ? converted : cached
            try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try convert(pth, target)
            return target
        }
        throw WeightsNotFound(pthName: pthName, safetensorsName: safetensorsName, searched: directories.map(\.path))
    }

    /// The weight file named `name` as is (no conversion), for the networks that read the
    /// official `.pth` directly (ALIKED, DISK): per directory in order, its converted
    /// `.safetensors` (written by `convert-weights`) if there, else the file itself.
    public func find(_ name: String) throws -> URL {
        let convertedName = OfficialWeights.convertedName(of: name)
        for dir in directories {
            for candidate in [convertedName, name] {
                let url = dir.appendingPathComponent(candidate)
                if FileManager.default.isReadableFile(atPath: url.path) { return url }
            }
        }
        throw WeightsNotFound(pthName: name, safetensorsName: convertedName, searched: directories.map(\.path))
    }
}

// MARK: - Fetching on first use

/// An official weight file that is missing and may not or could not be fetched, with what to do.
public struct WeightsUnavailable: Error, CustomStringConvertible, Sendable {
    public var file: OfficialWeights.File
    /// Why it was not fetched: offline mode, or the download's error.
    public var reason: String
    public var searched: [String]
    public var downloadDirectory: String

    public var description: String {
        """
        weight file \(file.name) not found (looked in: \(searched.joined(separator: ", "))) and not fetched: \(reason).
        It is published at \(file.url) (\(file.pin)). Fetch it where there is internet with:
          swift run -c release convert-weights download --file \(file.name) --output-dir \(downloadDirectory)
        or download that URL to \(downloadDirectory)/\(file.name) (or pass --weights DIR / set SUPERGLUE_WEIGHTS to a folder holding it).
        """
    }
}

extension WeightsLocator {
    /// Environment variable that forbids fetching weights on first use (`1`, `true` or `yes`).
    public static let offlineEnvironmentVariable = "SUPERGLUE_OFFLINE"

    /// Whether `environment` asks for offline mode.
    public static func isOffline(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment[offlineEnvironmentVariable]?.lowercased() else { return false }
        return ["1", "true", "yes"].contains(value)
    }

    /// True when `file` (its `.pth` or its converted `.safetensors`) is in one of ``directories``.
    public func contains(_ file: OfficialWeights.File) -> Bool {
        (try? find(file.name)) != nil
    }

    /// Downloads the files of `files` that are not present into ``downloadDirectory``, each from
    /// its official URL (or `baseURL`, a mirror) and verified against its pin before it is
    /// written under its final name. Nothing is converted here: the loader converts on first use.
    /// - Parameters:
    ///   - offline: refuse to fetch; a missing file throws ``WeightsUnavailable`` naming its URL.
    ///   - progress: called as bytes arrive, for the caller to draw.
    /// - Returns: the files fetched (empty when every file was present).
    @discardableResult
    public func fetchMissing(_ files: [OfficialWeights.File], baseURL: URL? = nil, offline: Bool,
                             progress: (@Sendable (OfficialWeights.Progress) -> Void)? = nil) async throws -> [URL] {
        var fetched: [URL] = []
        for file in files where !contains(file) {
            func unavailable(_ reason: String) -> WeightsUnavailable {
                WeightsUnavailable(file: file, reason: reason, searched: directories.map(\.path), downloadDirectory: downloadDirectory.path)
            }
            if offline { throw unavailable("\(Self.offlineEnvironmentVariable) is set") }
            do {
                try FileManager.default.createDirectory(at: downloadDirectory, withIntermediateDirectories: true)
                fetched.append(try await OfficialWeights.download(file, from: baseURL, into: downloadDirectory, progress: progress))
            } catch let error as DownloadError {
                throw unavailable(error.description)
            } catch {
                throw unavailable("\(downloadDirectory.path): \(error.localizedDescription)")
            }
        }
        return fetched
    }
}
