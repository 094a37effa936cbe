// Fetching official weight files, each from its own pinned URL and verified before it is written,
// so what is converted is byte-for-byte the file the reference implementation loads: the Magic
// Leap files by git blob id at a pinned commit, the others (LightGlue, ALIKED, DISK) by SHA-256.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fetching official pretrained weight files, each pinned by a git blob id or a SHA-256. Which
/// files exist is each network's knowledge (its ``ModelDescription/files``); this type only
/// fetches and verifies.
public enum OfficialWeights {
    /// One official weight file: where it is published and the digest it must have.
    public struct File: Sendable, Equatable {
        /// What the downloaded bytes must hash to.
        public enum Pin: Sendable, Equatable, CustomStringConvertible {
            /// `git hash-object` id (40 hex digits): files of a git repository at a pinned commit.
            case gitBlobID(String)
            /// SHA-256 of the file (64 lowercase hex digits): release assets.
            case sha256(String)

            /// The same kind of digest computed over `data`.
            public func digest<C: Collection>(of data: C) -> String where C.Element == UInt8 {
                switch self {
                case .gitBlobID: return GitBlobID.of(data)
                case .sha256: return SHA256.hash(data).hex
                }
            }

            public func matches<C: Collection>(_ data: C) -> Bool where C.Element == UInt8 {
                switch self {
                case let .gitBlobID(id), let .sha256(id): return digest(of: data) == id
                }
            }

            public var value: String {
                switch self {
                case let .gitBlobID(id), let .sha256(id): return id
                }
            }

            /// `git blob <id>` or `SHA-256 <hex>`.
            public var description: String {
                switch self {
                case let .gitBlobID(id): return "git blob id \(id)"
                case let .sha256(hex): return "SHA-256 \(hex)"
                }
            }
        }

        /// The local file name (what the locator looks for, and what a mirror holds).
        public var name: String
        public var pin: Pin
        public var model: ModelKind
        /// URL prefix the remote name is appended to (ends with `/`): the file's official location.
        public var baseURL: String
        /// The file's name at ``baseURL``: usually ``name``; differs where the publisher's name is
        /// too generic to keep locally (DISK's `depth-save.pth` is kept as `disk-depth-save.pth`).
        public var remoteName: String

        /// A file of magicleap/SuperGluePretrainedNetwork's models/weights/ at ``OfficialWeights/commit``.
        public init(name: String, gitBlobID: String, model: ModelKind) {
            self.init(name: name, pin: .gitBlobID(gitBlobID), model: model, baseURL: OfficialWeights.defaultBaseURL)
        }

        /// A file published at `baseURL + (remoteName ?? name)`, kept locally as `name`.
        public init(name: String, pin: Pin, model: ModelKind, baseURL: String, remoteName: String? = nil) {
            self.name = name
            self.pin = pin
            self.model = model
            self.baseURL = baseURL.hasSuffix("/") ? baseURL : baseURL + "/"
            self.remoteName = remoteName ?? name
        }

        /// The pinned git blob id, for files pinned that way.
        public var gitBlobID: String? {
            if case let .gitBlobID(id) = pin { return id }
            return nil
        }

        /// The pinned SHA-256, for files pinned that way.
        public var sha256: String? {
            if case let .sha256(hex) = pin { return hex }
            return nil
        }

        /// The official URL: ``baseURL`` followed by ``remoteName``.
        public var url: String { baseURL + remoteName }

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

    /// Environment variable that replaces every file's own base URL (a mirror holding all the
    /// files side by side, or a local test server).
    public static let baseURLEnvironmentVariable = "SUPERGLUE_WEIGHTS_BASE_URL"

    /// The base URL to use: `explicit`, else the environment variable, else the Magic Leap default.
    public static func baseURL(explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        try httpURL(explicit ?? environment[baseURLEnvironmentVariable] ?? defaultBaseURL)
    }

    /// The base URL that replaces every file's own: `explicit`, else the environment variable,
    /// else nil (each file comes from its ``File/url``).
    public static func baseURLOverride(explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL? {
        try (explicit ?? environment[baseURLEnvironmentVariable]).map(httpURL)
    }

    private static func httpURL(_ string: String) throws -> URL {
        let text = string.hasSuffix("/") ? string : string + "/"
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            throw DownloadError("'\(text)' is not an http(s) URL")
        }
        return url
    }

    /// How far a download has come: bytes received, and the total when the server announced it.
    public struct Progress: Sendable, Equatable {
        public var file: String
        public var receivedBytes: Int64
        public var expectedBytes: Int64?
    }

    /// Downloads `file` into `directory` (as its ``File/name``) unless a copy matching its pin is
    /// already there, from `baseURL` + its name when a base URL is given (a mirror holding the
    /// files under their local names), else from its own ``File/url``.
    /// The bytes are checked against the pin (git blob id or SHA-256) before they are written,
    /// written to a temporary name and renamed, so a failed or mismatching download never leaves
    /// a file under the final name.
    /// - Parameter progress: called as bytes arrive (from a URLSession delegate queue).
    /// - Returns: the path of the verified file.
    @discardableResult
    public static func download(_ file: File, from baseURL: URL? = nil, into directory: URL,
                                progress: (@Sendable (Progress) -> Void)? = nil) async throws -> URL {
        let destination = directory.appendingPathComponent(file.name)
        if let existing = try? Data(contentsOf: destination, options: .mappedIfSafe), file.pin.matches(existing) {
            return destination
        }
        let source: URL
        if let baseURL {
            source = baseURL.appendingPathComponent(file.name)
        } else {
            guard let url = URL(string: file.url) else { throw DownloadError("\(file.name): '\(file.url)' is not a URL") }
            source = url
        }
        var request = URLRequest(url: source)
        request.timeoutInterval = 120
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await StreamingFetch.fetch(request) { received, expected in
                progress?(Progress(file: file.name, receivedBytes: received, expectedBytes: expected))
            }
        } catch {
            throw DownloadError("\(file.name): download from \(source.absoluteString) failed (\(error.localizedDescription))")
        }
        if let http = response as? HTTPURLResponse, http.statusCode != 200 {
            throw DownloadError("\(file.name): \(source.absoluteString) answered HTTP \(http.statusCode)")
        }
        if response.expectedContentLength >= 0, Int64(data.count) != response.expectedContentLength {
            throw DownloadError("\(file.name): received \(data.count) of \(response.expectedContentLength) bytes; the connection was cut")
        }
        let digest = file.pin.digest(of: data)
        guard digest == file.pin.value else {
            let kind = file.gitBlobID == nil ? "SHA-256" : "git blob id"
            throw DownloadError("\(file.name): \(kind) \(digest) does not match the pinned \(file.pin.value); refusing the file")
        }
        try writeAtomically(data, to: destination)
        return destination
    }

    /// Downloads each file (from `baseURL` when given, else from its own URL), verifies it and
    /// converts it to `<name>.safetensors` in `directory`.
    /// - Parameter progress: called with one line per step.
    /// - Returns: the converted files' paths.
    @discardableResult
    public static func downloadAndConvert(_ selection: [File], catalog: ModelCatalog, from baseURL: URL?, into directory: URL,
                                          progress: @Sendable (String) -> Void = { _ in }) async throws -> [URL] {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw DownloadError("\(directory.path): cannot create directory (\(error.localizedDescription))")
        }
        var outputs: [URL] = []
        for file in selection {
            progress("fetching \(file.name)")
            let checkpoint = try await download(file, from: baseURL, into: directory)
            progress("verified \(file.name) (\(file.pin))")
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

/// One GET whose body arrives through a URLSession delegate, so progress can be reported while it
/// downloads (`URLSession.data(for:)` reports nothing until the end). The body is kept in memory:
/// the largest official file is under 50 MB, and it must be hashed whole before it is written.
private final class StreamingFetch: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    // Touched only on the session's serial delegate queue.
    private var body = Data()
    private var response: URLResponse?
    private let onProgress: @Sendable (Int64, Int64?) -> Void
    private let continuation: CheckedContinuation<(Data, URLResponse), any Error>

    private init(onProgress: @escaping @Sendable (Int64, Int64?) -> Void, continuation: CheckedContinuation<(Data, URLResponse), any Error>) {
        self.onProgress = onProgress
        self.continuation = continuation
    }

    static func fetch(_ request: URLRequest, onProgress: @escaping @Sendable (Int64, Int64?) -> Void) async throws -> (Data, URLResponse) {
        try await withCheckedThrowingContinuation { continuation in
            let delegate = StreamingFetch(onProgress: onProgress, continuation: continuation)
            let queue = OperationQueue()
            queue.maxConcurrentOperationCount = 1
            let session = URLSession(configuration: .ephemeral, delegate: delegate, delegateQueue: queue)
            session.dataTask(with: request).resume()
            session.finishTasksAndInvalidate()
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        self.response = response
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        body.append(data)
        let expected = response?.expectedContentLength ?? -1
        onProgress(Int64(body.count), expected >= 0 ? expected : nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        if let error {
            continuation.resume(throwing: error)
        } else if let response = response ?? task.response {
            continuation.resume(returning: (body, response))
        } else {
            continuation.resume(throwing: URLError(.badServerResponse))
        }
    }
}
