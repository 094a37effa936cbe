// `superglue rank` / `superglue merge` option parsing, and the Azure ML specs' command lines.
import ArgumentParser
import Foundation
import Testing
@testable import superglue
@testable import SuperGlueKit
@testable import SuperGlueRanking

@Suite struct RankCommandOptionTests {
    static let required = ["--query", "q.jpg", "--images", "photos", "--output", "out/results.csv", "--weights", "weights"]

    @Test func defaultsMatchTheReference() throws {
        let command = try RankCommand.parse(Self.required)
        // The reference match_pairs.py defaults: 640x480, indoor, 1024 keypoints, threshold
        // 0.005, NMS radius 4, 20 Sinkhorn iterations, match threshold 0.2.
        #expect(try command.matching.resizeSpec() == .exact(width: 640, height: 480))
        #expect(command.matching.superglue == .indoor)
        #expect(command.matching.maxKeypoints == 1024)
        #expect(command.matching.keypointThreshold == 0.005)
        #expect(command.matching.nmsRadius == 4)
        #expect(command.matching.sinkhornIterations == 20)
        #expect(command.matching.matchThreshold == 0.2)
        #expect(command.score == .confidence && command.ransacThreshold == 3 && !command.resume)
        #expect(command.matching.weightsDirectory?.path == URL(fileURLWithPath: "weights").path)
        #expect(try RankCommand.parse(Array(Self.required.dropLast(2))).matching.weightsDirectory == nil)
        let configuration = try command.jobConfiguration()
        #expect(configuration.cacheDirectory?.path == URL(fileURLWithPath: "out/superglue-feature-cache").path)
        #expect(configuration.journalURL.path == URL(fileURLWithPath: "out/results.csv.journal").path)
        #expect(configuration.source == .directory(URL(fileURLWithPath: "photos", isDirectory: true)))
    }

    @Test func resizeForms() throws {
        #expect(try RankCommand.parse(Self.required + ["--resize=-1"]).matching.resizeSpec() == ResizeSpec.none)
        #expect(try RankCommand.parse(Self.required + ["--resize", "800"]).matching.resizeSpec() == .longestSide(800))
        #expect(try RankCommand.parse(Self.required + ["--resize", "320", "240"]).matching.resizeSpec() == .exact(width: 320, height: 240))
        let normalized = MatchingOptions.normalizingNegativeResize(["rank", "--resize", "-1", "--query", "q"])
        #expect(normalized == ["rank", "--resize=-1", "--query", "q"])
        let separated = MatchingOptions.normalizingNegativeResize(Self.required + ["--resize", "-1"])
        #expect(try RankCommand.parse(separated).matching.resizeSpec() == ResizeSpec.none)
        for bad in [["--resize", "0"], ["--resize", "1", "2", "3"], ["--resize=-2"]] {
            #expect(throws: (any Error).self, "\(bad)") { try RankCommand.parse(Self.required + bad) }
        }
    }

    @Test func invalidCombinationsAreRejected() throws {
        let noSource = ["--query", "q.jpg", "--output", "o.csv", "--weights", "w"]
        #expect(throws: (any Error).self) { try RankCommand.parse(Self.required + ["--weights", ""]) }
        #expect(throws: (any Error).self) { try RankCommand.parse(noSource) }
        for extra in [["--shard", "4/4"], ["--shard", "x"], ["--resume", "--overwrite"], ["--match-threshold", "2"],
                      ["--max-keypoints", "0"], ["--ransac-threshold", "0"], ["--score", "best"], ["--superglue", "city"]] {
            #expect(throws: (any Error).self, "\(extra)") { try RankCommand.parse(Self.required + extra) }
        }
        let listed = try RankCommand.parse(noSource + ["--list", "l.txt", "--images", "base", "--no-cache", "--shard", "2/5"])
        let configuration = try listed.jobConfiguration()
        #expect(configuration.source == .list(URL(fileURLWithPath: "l.txt"), base: URL(fileURLWithPath: "base", isDirectory: true)))
        #expect(configuration.cacheDirectory == nil)
        #expect(configuration.shard == (try RankingShard(index: 2, count: 5)))
    }

    @Test func mergeOptions() throws {
        let merge = try MergeCommand.parse(["all.csv", "a.csv", "b.csv", "--shards", "2", "--images", "photos"])
        #expect(merge.output == "all.csv" && merge.shardFiles == ["a.csv", "b.csv"] && merge.shardCount == 2)
        #expect(throws: (any Error).self) { try MergeCommand.parse(["all.csv"]) }
    }
}

/// Reads the few YAML constructs the Azure ML specs use: top-level keys, nested maps by
/// indentation, and folded (`>-`) block scalars.
enum MiniYAML {
    /// The text of a block scalar or plain value at `path` (keys separated by `.`).
    static func value(at path: String, in text: String) -> String? {
        let keys = path.split(separator: ".").map(String.init)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var depth = 0, indent = -1, i = 0
        while i < lines.count {
            let line = lines[i]
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let lineIndent = line.prefix { $0 == " " }.count
            if trimmed.isEmpty || trimmed.hasPrefix("#") { i += 1; continue }
            if depth > 0, lineIndent <= indent { return nil }  // left the parent map
            if trimmed.hasPrefix(keys[depth] + ":"), lineIndent > indent {
                let rest = trimmed.dropFirst(keys[depth].count + 1).trimmingCharacters(in: .whitespaces)
                if depth == keys.count - 1 {
                    guard rest.hasPrefix(">") || rest.hasPrefix("|") else { return rest }
                    var block: [String] = []
                    var j = i + 1
                    while j < lines.count, lines[j].trimmingCharacters(in: .whitespaces).isEmpty || lines[j].prefix(while: { $0 == " " }).count > lineIndent {
                        block.append(lines[j].trimmingCharacters(in: .whitespaces))
                        j += 1
                    }
                    return block.joined(separator: rest.hasPrefix(">") ? " " : "\n").trimmingCharacters(in: .whitespaces)
                }
                depth += 1
                indent = lineIndent
            }
            i += 1
        }
        return nil
    }

    /// Splits a command line on whitespace after replacing every `${{...}}` placeholder with a
    /// value of the right shape for the option it follows.
    static func arguments(_ command: String, placeholder: (String) -> String) -> [String] {
        var text = command
        while let start = text.range(of: "${{"), let end = text.range(of: "}}", range: start.upperBound..<text.endIndex) {
            text.replaceSubrange(start.lowerBound..<end.upperBound, with: placeholder(String(text[start.upperBound..<end.lowerBound])))
        }
        return text.split(whereSeparator: \.isWhitespace).map(String.init)
    }
}

@Suite struct AzureMLSpecTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tools/azureml")

    static func read(_ name: String) throws -> String {
        try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    }

    /// Default values of a component's inputs, so placeholders get values the options accept.
    static func placeholderValue(_ name: String, component: String) -> String {
        let key = name.split(separator: ".").last.map(String.init) ?? name
        if name.hasPrefix("inputs."), let value = MiniYAML.value(at: "inputs.\(key).default", in: component) {
            return value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }
        return "/mnt/azureml/\(key)"
    }

    @Test func rankComponentCommandIsAcceptedByRank() throws {
        let component = try Self.read("rank-component.yml")
        #expect(MiniYAML.value(at: "type", in: component) == "command")
        #expect(MiniYAML.value(at: "inputs.images.type", in: component) == "uri_folder")
        #expect(MiniYAML.value(at: "inputs.query.type", in: component) == "uri_file")
        #expect(MiniYAML.value(at: "outputs.results.type", in: component) == "uri_folder")
        #expect(MiniYAML.value(at: "environment.build.dockerfile_path", in: component) == "Tools/azureml/Dockerfile")
        let command = try #require(MiniYAML.value(at: "command", in: component))
        let arguments = MiniYAML.arguments(command) { Self.placeholderValue($0, component: component) }
        #expect(Array(arguments.prefix(2)) == ["superglue", "rank"])
        let parsed = try RankCommand.parse(Array(arguments.dropFirst(2)))
        #expect(parsed.resume, "pipeline retries must continue the journal")
        #expect(parsed.output.hasSuffix("/results.csv"))
        // Every declared input is used by the command line.
        for input in ["images", "query", "weights", "shard", "superglue", "max_keypoints", "match_threshold", "score"] {
            #expect(command.contains("${{inputs.\(input)}}"), "input \(input) unused")
        }
    }

    @Test func mergeComponentCommandIsAcceptedByMerge() throws {
        let component = try Self.read("merge-component.yml")
        let command = try #require(MiniYAML.value(at: "command", in: component))
        let arguments = MiniYAML.arguments(command) { Self.placeholderValue($0, component: component) }
        #expect(Array(arguments.prefix(2)) == ["superglue", "merge"])
        let parsed = try MergeCommand.parse(Array(arguments.dropFirst(2)))
        #expect(parsed.shardFiles.count == 4 && parsed.shardCount == 4)
    }

    @Test func pipelineRunsEveryShardOnceAndMergesThem() throws {
        let pipeline = try Self.read("rank-sharded-pipeline.yml")
        #expect(MiniYAML.value(at: "type", in: pipeline) == "pipeline")
        var shards: [String] = []
        for i in 0..<4 {
            #expect(MiniYAML.value(at: "jobs.shard_\(i).component", in: pipeline) == "./rank-component.yml")
            if let shard = MiniYAML.value(at: "jobs.shard_\(i).inputs.shard", in: pipeline) { shards.append(shard.trimmingCharacters(in: CharacterSet(charactersIn: "\""))) }
            #expect(MiniYAML.value(at: "jobs.merge.inputs.shard_\(i)", in: pipeline) == "${{parent.jobs.shard_\(i).outputs.results}}")
        }
        #expect(shards == ["0/4", "1/4", "2/4", "3/4"])
        for shard in shards { #expect(throws: Never.self) { try RankingShard(parsing: shard) } }
    }
}

@Suite struct MatchingIdentityTests {
    @Test func identitiesChangeWithEveryRelevantOption() throws {
        let base = ["--query", "q", "--images", "d", "--output", "o.csv", "--weights", "w"]
        func identities(_ extra: [String]) throws -> (String, String) {
            let options = try RankCommand.parse(base + extra).matching
            return (try options.featureIdentity(superPointWeightsSHA256: "sp"), options.matchIdentity(matcherWeightsSHA256: "sg"))
        }
        let reference = try identities([])
        for extra in [["--resize", "320", "240"], ["--max-keypoints", "512"], ["--keypoint-threshold", "0.01"], ["--nms-radius", "3"]] {
            let other = try identities(extra)
            #expect(other.0 != reference.0, "\(extra) must change the feature identity")
        }
        for extra in [["--superglue", "outdoor"], ["--sinkhorn-iterations", "10"], ["--match-threshold", "0.3"]] {
            let other = try identities(extra)
            #expect(other.0 == reference.0 && other.1 != reference.1, "\(extra) must change only the match identity")
        }
        let options = try RankCommand.parse(base).matching
        #expect(try options.featureIdentity(superPointWeightsSHA256: "other") != reference.0)
        // The matcher's name and each LightGlue option change only the match identity.
        let lightGlue = try identities(["--matcher", "lightglue"])
        #expect(lightGlue.0 == reference.0 && lightGlue.1 != reference.1 && lightGlue.1.hasPrefix("lightglue"))
        var seen: Set<String> = [reference.1, lightGlue.1]
        for extra in [["--depth-confidence", "-1"], ["--width-confidence", "0.9"], ["--filter-threshold", "0.2"]] {
            let other = try identities(["--matcher", "lightglue"] + extra)
            #expect(other.0 == reference.0 && seen.insert(other.1).inserted, "\(extra) must change only the match identity")
        }
    }

    @Test func fileDigestMatchesInMemoryDigest() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        let bytes = (0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        try Data(bytes).write(to: url)
        #expect(try SHA256.hash(fileAt: url) == SHA256.hash(bytes))
    }
}
