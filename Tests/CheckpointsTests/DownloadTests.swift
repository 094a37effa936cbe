import Foundation
import Testing
@testable import Checkpoints
import Networks

/// The download path against a server on 127.0.0.1 (these machines have no internet): files are
/// pinned by blob ids computed here from the fixtures the server sends.
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

    /// The pinned table matches the ids and the commit in the default URL.
    @Test func pinnedFiles() {
        #expect(OfficialWeights.files.map(\.name) == ["superpoint_v1.pth", "superglue_indoor.pth", "superglue_outdoor.pth"])
        #expect(OfficialWeights.files.map(\.model) == [.superpoint, .superglue, .superglue])
        #expect(OfficialWeights.defaultBaseURL.contains(OfficialWeights.commit))
        #expect(OfficialWeights.files.allSatisfy { $0.gitBlobID.count == 40 })
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
