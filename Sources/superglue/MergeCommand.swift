// `superglue merge`: combine the results of `rank --shard i/n` jobs.
import ArgumentParser
import Foundation
import SuperGlueKit
import SuperGlueRanking

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge shard results of `superglue rank --shard i/n` into one sorted CSV.",
        discussion: """
            Fails if an image appears in two files, if the shards' journals show different queries or \
            options, and — when given — if the files are not exactly shards 0..n-1 of --shards n, or \
            their images differ from --images/--list.
            """)

    @Argument(help: ArgumentHelp("Merged results CSV to write.", valueName: "out.csv"))
    var output: String

    @Argument(help: ArgumentHelp("Shard results CSVs.", valueName: "shard.csv"))
    var shardFiles: [String]

    @Option(name: .customLong("shards"), help: ArgumentHelp("Number of shards the job was split into; checks that every shard is present once.", valueName: "n"))
    var shardCount: Int?

    @Option(help: ArgumentHelp("The images folder of the job; checks that every image has exactly one row.", valueName: "dir"))
    var images: String?

    @Option(help: ArgumentHelp("The image list of the job; checks that every image has exactly one row.", valueName: "file"))
    var list: String?

    @Flag(help: "The inputs are rows without a header line, as an Azure ML parallel job appends them; records whose first field starts with # are comments.")
    var noHeader = false

    @Option(help: ArgumentHelp("Images of --images/--list without a row: fail, or write a row with score 0 and a 'missing' status.", valueName: "fail|row"))
    var missing: RankingMerge.MissingImages = .fail

    func validate() throws {
        guard !shardFiles.isEmpty else { throw ValidationError("give at least one shard CSV") }
        if let n = shardCount, n < 1 { throw ValidationError("--shards must be >= 1") }
        if missing == .row, images == nil, list == nil { throw ValidationError("--missing row needs the listing: give --images or --list") }
    }

    func run() throws {
        var expected: [String]?
        if let list {
            expected = try ImageListing.images(from: .list(URL(fileURLWithPath: list), base: images.map { URL(fileURLWithPath: $0, isDirectory: true) })).map(\.name)
        } else if let images {
            expected = try ImageListing.images(from: .directory(URL(fileURLWithPath: images, isDirectory: true))).map(\.name)
        }
        let summary = try RankingMerge.merge(shardFiles.map { URL(fileURLWithPath: $0) }, into: URL(fileURLWithPath: output),
                                             shardCount: shardCount, expectedImages: expected, headerless: noHeader, missing: missing)
        print("merge: \(summary.rows) rows from \(summary.files) file(s) written to \(output)"
              + (summary.missingRows > 0 ? "; warning: \(summary.missingRows) image(s) had no row and got a '\(RankingMerge.missingStatus)' row" : ""))
    }
}
