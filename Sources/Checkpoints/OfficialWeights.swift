// Fetching the official Magic Leap weight files, pinned by commit and by git blob id, so what is
// converted is byte-for-byte the file the reference implementation loads.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fetching official pretrained weight files, pinned by git blob id. Which files exist is each
/// network's knowledge (its ``ModelDescription/files``); this type only fetches and verifies.
public enum OfficialWeights {
    /// One weight file of magicleap/SuperGluePretrainedNetwork.
    public struct File: Sendable, Equatable {
        public var name: String
        /// `git hash-object` id of the file at ``commit``.
        public var gitBlobID: String
        public var model: ModelKind

        public init(name: String, gitBlobID: String, model: ModelKind) {
            self.name = name
            self.gitBlobID = gitBlobID
            self.model = model
        }

        /// `superpoint_v1.safetensors` for `superpoint_v1.pth`.
        public var convertedName: String { OfficialWeights.convertedName(of: name) }
    }

    /// `superpoint_v1.safetensors` for `superpoint_v1.pth`.
    public static func convertedName(of pthName: String) -> String {
        (pthName.hasSuffix(".pth") ? String(pthName.dropLast(4)) : pthName) + ".safetensors"
    }

    public static let repository = "https://github.com/magicleap/SuperGluePretrainedNetwork"
    public static let commit = "ddcf11f42e7e0732a0c4607648f9448ea8d73590"


    /// Raw-file URL prefix of models/weights/ at ``commit``.
    public static let defaultBaseURL = "https://raw.githubusercontent.com/magicleap/SuperGluePretrainedNetwork/\(commit)/models/weights/"

    /// Environment variable that replaces ``defaultBaseURL`` (a mirror, or a local test server).
    public static let baseURLEnvironmentVariable = "SUPERGLUE_WEIGHTS_BASE_URL"

    /// The base URL to use: `explicit`, else the environment variable, else the default.
    public static func baseURL(explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        var text = explicit ?? environment[baseURLEnvironmentVariable] ?? defaultBaseURL
        if !text.hasSuffix("/") { text += "/" }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            throw DownloadError("'\(text)' is not an http(s) URL")
        }
        return url
    }

    /// Downloads `file` from `baseURL` into `directory` unless a copy with the right blob id is
    /// already there. The bytes are checked against the pinned blob id before they are written,
    /// written to a temporary name and renamed, so a failed or mismatching download never leaves
    /// a file under the final name.
    /// - Returns: the path of the verified file.
    @discardableResult
    public static func download(_ file: File, from baseURL: URL, into directory: URL, session: URLSession = .shared) async throws -> URL {
        let destination = directory.appendingPathComponent(file.name)
        if let existing = try? Data(contentsOf: destination, options: .mappedIfSafe), GitBlobID.of(existing) == file.gitBlobID {
            return destination
        }
        let source = baseURL.appendingPathComponent(file.name)
        var request = URLRequest(url: source)
        request.timeoutInterval = 120
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw DownloadError("\(file.name): download from \(source.absoluteString) failed (\(error.localizedDescription))")
        }
        if let http = response as? HTTPURLResponse, http.statusCode != 200 {
            throw DownloadError("\(file.name): \(source.absoluteString) answered HTTP \(http.statusCode)")
        }
        if response.expectedContentLength >= 0, Int64(data.count) != response.expectedContentLength {
            throw DownloadError("\(file.name): received \(data.count) of \(response.expectedContentLength) bytes; the connection was cut")
        }
        let id = GitBlobID.of(data)
        guard id == file.gitBlobID else {
            throw DownloadError("\(file.name): git blob id \(id) does not match the pinned \(file.gitBlobID); refusing the file")
        }
        try writeAtomically(data, to: destination)
        return destination
    }

    /// Downloads each file, verifies it and converts it to `<name>.safetensors` in `directory`.
    /// - Parameter progress: called with one line per step.
    /// - Returns: the converted files' paths.
    @discardableResult
    public static func downloadAndConvert(_ selection: [File], catalog: ModelCatalog, from baseURL: URL, into directory: URL,
                                          session: URLSession = .shared,
                                          progress: @Sendable (String) -> Void = { _ in }) async throws -> [URL] {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw DownloadError("\(directory.path): cannot create directory (\(error.localizedDescription))")
        }
        var outputs: [URL] = []
        for file in selection {
            progress("fetching \(file.name)")
            let checkpoint = try await download(file, from: baseURL, into: directory, session: session)
            progress("verified \(file.name) (git blob \(file.gitBlobID))")
            let output = directory.appendingPathComponent(file.convertedName)
            try WeightConversion.convertFile(at: checkpoint, to: output, model: file.model, catalog: catalog)
            progress("wrote \(output.path)")
            outputs.append(output)
        }
        return outputs
    }

    /// Writes `data` under a temporary name in the destination's directory, then renames it.
    static func writeAtomically(_ data: Data, to destination: URL) throws {
        let temporary = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).\(UUID().uuidString).partial")
        do {
            try data.write(to: temporary)
            if FileManager.default.fileExists(atPath: destination.path) {
                _ = try FileManager.default.replaceItemAt(destination, withItemAt: temporary)
            } else {
                try FileManager.default.moveItem(at: temporary, to: destination)
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw DownloadError("\(destination.path): cannot write file (\(error.localizedDescription))")
        }
    }
}

/// A failed or refused download.
public struct DownloadError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
