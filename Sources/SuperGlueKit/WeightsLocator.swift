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
