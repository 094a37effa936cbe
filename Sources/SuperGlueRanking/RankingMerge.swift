// Merging the results of shard jobs into one results file.
import Foundation
import SuperGlueKit

/// What ``RankingMerge/merge(_:into:shardCount:expectedImages:headerless:missing:)`` checked and wrote.
public struct RankingMergeSummary: Sendable, Equatable {
    public var files = 0
    public var rows = 0
    /// Rows written for listed images that no file had (``RankingMerge/MissingImages/row``).
    public var missingRows = 0
}

/// Merges shard CSVs into one sorted results CSV, refusing inconsistent inputs.
public enum RankingMerge {
    /// What to do with images of the expected listing that no file has a row for.
    public enum MissingImages: String, Sendable, CaseIterable {
        /// Refuse to merge (a shard or mini-batch was lost).
        case fail
        /// Write a row with score 0 and status ``missingStatus`` for each, so the merged file has
        /// one row per image and says which ones have no result (an Azure ML parallel job that
        /// stayed within its error threshold).
        case row
    }

    /// The status of a row written for a missing image.
    public static let missingStatus = "missing: no result (its shard or mini-batch failed)"

    /// Merges `shards` into `output` (written atomically).
    ///
    /// Fails when a file is not a results CSV (or, with `headerless`, a file of rows without a
    /// header, as an Azure ML parallel job appends them), the files' columns differ (with and
    /// without the query rotation), an image appears twice, the shards' journals (when present
    /// next to them) show different queries or options, or — when given — the files do not form
    /// shards `0..<shardCount` (each file's images must all belong to one shard, each shard to
    /// one file) or the images differ from `expectedImages` (images without a row get a
    /// ``missingStatus`` row instead with `missing: .row`).
    @discardableResult
    public static func merge(_ shards: [URL], into output: URL, shardCount: Int? = nil, expectedImages: [String]? = nil,
                             headerless: Bool = false, missing: MissingImages = .fail) throws -> RankingMergeSummary {
        guard !shards.isEmpty else { throw RankingJobError.usage("merge: no shard files given") }
        var rows: [RankingResultRow] = []
        var source: [String: String] = [:]
        var identities: [String: String] = [:]
        var shardOfFile: [Int: String] = [:]
        var header: (columns: [String], file: String)?
        for file in shards {
            let fileRows: [RankingResultRow], columns: [String]
            do {
                if headerless {
                    fileRows = try RankingCSV.readHeaderlessRows(file)
                    columns = fileRows.first.map { $0.fields.count == RankingCSV.rotationHeader.count ? RankingCSV.rotationHeader : RankingCSV.header }
                        ?? header?.columns ?? RankingCSV.header
                } else {
                    (columns, fileRows) = try RankingCSV.readTable(file)
                }
            } catch { throw RankingJobError.input("merge: \(error)") }
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
        var missingRows = 0
        if let expected = expectedImages {
            let expectedSet = Set(expected)
            let absent = expectedSet.subtracting(source.keys).sorted()
            let unexpected = Set(source.keys).subtracting(expectedSet).sorted()
            guard unexpected.isEmpty else {
                throw RankingJobError.input("merge: \(unexpected.count) row(s) are not in the listing, e.g. \(unexpected.prefix(5).joined(separator: ", "))")
            }
            if !absent.isEmpty {
                guard missing == .row else {
                    throw RankingJobError.input("merge: \(absent.count) image(s) of the listing have no row, e.g. \(absent.prefix(5).joined(separator: ", "))")
                }
                // Written like the other rows' scores: 6 decimals for confidence sums, else counts.
                let key: RankingScoreKey = rows.first.map { $0.fields[0].contains(".") ? .confidence : .matches } ?? .confidence
                let rotation = header?.columns == RankingCSV.rotationHeader
                rows += absent.map { RankingResultRow(.failure(image: $0, status: missingStatus, seconds: 0), key: key, queryRotation: rotation) }
                missingRows = absent.count
            }
        }
        try RankingJob.writeAtomically(RankingCSV.document(rows, header: header?.columns ?? RankingCSV.header), to: output)
        return RankingMergeSummary(files: shards.count, rows: rows.count, missingRows: missingRows)
    }

    /// The identity recorded in the journal next to a shard's results, if there is one.
    public static func journalIdentity(of results: URL) -> String? {
        let journal = results.deletingLastPathComponent().appendingPathComponent(results.lastPathComponent + ".journal")
        guard let handle = try? FileHandle(forReadingFrom: journal) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 200),
              let line = String(decoding: head, as: UTF8.self).split(separator: "\n").first,
              line.hasPrefix(RankingJournal.magic + " identity=") else { return nil }
        return String(line.dropFirst(RankingJournal.magic.count + " identity=".count))
    }
}
