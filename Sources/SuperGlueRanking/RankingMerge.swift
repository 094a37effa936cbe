// Merging the results of shard jobs into one results file.
import Foundation
import SuperGlueKit

/// What ``RankingMerge/merge(_:into:shardCount:expectedImages:)`` checked and wrote.
public struct RankingMergeSummary: Sendable, Equatable {
    public var files = 0
    public var rows = 0
}

/// Merges shard CSVs into one sorted results CSV, refusing inconsistent inputs.
public enum RankingMerge {
    /// Merges `shards` into `output` (written atomically).
    ///
    /// Fails when a file is not a results CSV, the files' columns differ (with and without the
    /// query rotation), an image appears twice, the shards' journals (when
    /// present next to them) show different queries or options, or — when given — the files do
    /// not form shards `0..<shardCount` (each file's images must all belong to one shard, each
    /// shard to one file) or the images differ from `expectedImages`.
    @discardableResult
    public static func merge(_ shards: [URL], into output: URL, shardCount: Int? = nil, expectedImages: [String]? = nil) throws -> RankingMergeSummary {
        guard !shards.isEmpty else { throw RankingJobError.usage("merge: no shard files given") }
        var rows: [RankingResultRow] = []
        var source: [String: String] = [:]
        var identities: [String: String] = [:]
        var shardOfFile: [Int: String] = [:]
        var header: (columns: [String], file: String)?
        for file in shards {
            let fileRows: [RankingResultRow], columns: [String]
            do { (columns, fileRows) = try RankingCSV.readTable(file) } catch { throw RankingJobError.input("merge: \(error)") }
            if let first = header, first.columns != columns {
                throw RankingJobError.input("merge: \(first.file) and \(file.path) have different columns (one job used --query-rotations, the other not)")
            }
            header = header ?? (columns, file.path)
            for row in fileRows {
                if let earlier = source[row.image] {
                    throw RankingJobError.input("merge: \(row.image) appears in both \(earlier) and \(file.path)")
                }
                source[row.image] = file.path
            }
            if let identity = journalIdentity(of: file) { identities[file.path] = identity }
            if let n = shardCount {
                let indices = Set(fileRows.map { RankingShard.index(of: $0.image, count: n) })
                guard indices.count <= 1 else {
                    throw RankingJobError.input("merge: \(file.path) holds images of shards \(indices.sorted().map { "\($0)/\(n)" }.joined(separator: ", ")); it is not the output of one --shard i/\(n) job")
                }
                if let index = indices.first {
                    if let other = shardOfFile[index] {
                        throw RankingJobError.input("merge: \(other) and \(file.path) are both shard \(index)/\(n)")
                    }
                    shardOfFile[index] = file.path
                }
            }
            rows.append(contentsOf: fileRows)
        }
        if Set(identities.values).count > 1 {
            let listing = identities.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.prefix(12))…" }.joined(separator: ", ")
            throw RankingJobError.input("merge: the shards were ranked with different queries, weights or options (journal identities \(listing))")
        }
        if let n = shardCount, shards.count != n {
            throw RankingJobError.input("merge: expected \(n) shard files, got \(shards.count)")
        }
        if let expected = expectedImages {
            let expectedSet = Set(expected)
            let missing = expectedSet.subtracting(source.keys).sorted()
            let unexpected = Set(source.keys).subtracting(expectedSet).sorted()
            guard missing.isEmpty else {
                throw RankingJobError.input("merge: \(missing.count) image(s) of the listing have no row, e.g. \(missing.prefix(5).joined(separator: ", "))")
            }
            guard unexpected.isEmpty else {
                throw RankingJobError.input("merge: \(unexpected.count) row(s) are not in the listing, e.g. \(unexpected.prefix(5).joined(separator: ", "))")
            }
        }
        try RankingJob.writeAtomically(RankingCSV.document(rows, header: header?.columns ?? RankingCSV.header), to: output)
        return RankingMergeSummary(files: shards.count, rows: rows.count)
    }

    /// The identity recorded in the journal next to a shard's results, if there is one.
    static func journalIdentity(of results: URL) -> String? {
        let journal = results.deletingLastPathComponent().appendingPathComponent(results.lastPathComponent + ".journal")
        guard let handle = try? FileHandle(forReadingFrom: journal) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 200),
              let line = String(decoding: head, as: UTF8.self).split(separator: "\n").first,
              line.hasPrefix(RankingJournal.magic + " identity=") else { return nil }
        return String(line.dropFirst(RankingJournal.magic.count + " identity=".count))
    }
}
