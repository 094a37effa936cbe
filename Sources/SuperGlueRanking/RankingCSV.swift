// The results table of the ranking job and the CSV dialect shared by results, journals and merge.
import Foundation
import SuperGlueKit

/// The value the results are sorted by (`--score`).
public enum RankingScoreKey: String, Sendable, CaseIterable {
    /// Sum of the confidences of the valid matches.
    case confidence
    /// Number of valid matches.
    case matches
    /// Number of matches consistent with the RANSAC homography.
    case inliers
}

/// Everything measured for one database image; one journal record, one results row.
public struct RankingRecord: Sendable, Equatable {
    /// Path relative to the images folder (or as written in the list file), `/`-separated.
    public var image: String
    /// Sum of the confidences of the valid matches.
    public var confidenceSum: Double
    public var matches: Int
    public var inliers: Int
    /// `inliers / matches`, 0 without matches.
    public var inlierRatio: Double
    /// Keypoints detected in the database image.
    public var keypoints: Int
    /// `ok`, or a short reason why the image could not be ranked.
    public var status: String
    /// Wall time spent on this image (features or cache load, matching, RANSAC).
    public var seconds: Double
    /// The rotation of the query, in degrees counter-clockwise, whose measures these are: the
    /// best-scoring one of the job's query rotations (0 without rotations).
    public var queryRotation: Int

    public init(image: String, confidenceSum: Double, matches: Int, inliers: Int, inlierRatio: Double, keypoints: Int, status: String, seconds: Double,
                queryRotation: Int = 0) {
        self.image = image
        self.confidenceSum = confidenceSum
        self.matches = matches
        self.inliers = inliers
        self.inlierRatio = inlierRatio
        self.keypoints = keypoints
        self.status = status
        self.seconds = seconds
        self.queryRotation = queryRotation
    }

    /// A row for an image that could not be ranked: every measure 0.
    public static func failure(image: String, status: String, keypoints: Int = 0, seconds: Double) -> RankingRecord {
        RankingRecord(image: image, confidenceSum: 0, matches: 0, inliers: 0, inlierRatio: 0, keypoints: keypoints, status: status, seconds: seconds)
    }

    /// The status of an image that was ranked.
    public static let okStatus = "ok"
}

/// One row of a results CSV as text, with its score parsed for sorting.
public struct RankingResultRow: Sendable, Equatable {
    /// The fields, in ``RankingCSV/header`` order, plus the query rotation in jobs with rotations
    /// (``RankingCSV/rotationHeader``).
    public var fields: [String]
    public var score: Double
    public var image: String { fields[1] }
    /// The winning query rotation in degrees, in files with the `query_rotation` column.
    public var queryRotation: Int? { fields.count > RankingCSV.header.count ? Int(fields[RankingCSV.header.count]) : nil }

    /// Formats a record; the score column holds the value of `key`. `queryRotation` adds the
    /// record's query rotation as the last column.
    public init(_ record: RankingRecord, key: RankingScoreKey, queryRotation: Bool = false) {
        let scoreText: String
        switch key {
        case .confidence: scoreText = String(format: "%.6f", record.confidenceSum)
        case .matches: scoreText = String(record.matches)
        case .inliers: scoreText = String(record.inliers)
        }
        fields = [scoreText, record.image, String(record.matches), String(record.inliers), String(format: "%.4f", record.inlierRatio),
                  String(record.keypoints), record.status, String(format: "%.3f", record.seconds)]
        if queryRotation { fields.append(String(record.queryRotation)) }
        // Sorting uses the printed score, not the full-precision one, so that merging shard CSVs
        // (which only have the printed value) orders near-ties exactly as a single run does.
        score = Double(scoreText) ?? 0
    }

    /// Parses a row read from a results CSV with the columns `header` (one of the two
    /// ``RankingCSV/headers``); `location` names it in errors.
    public init(fields: [String], header: [String] = RankingCSV.header, location: String) throws {
        guard fields.count == header.count else {
            throw RankingCSVError("\(location): expected \(header.count) fields, found \(fields.count)")
        }
        guard let score = Double(fields[0]), score.isFinite else { throw RankingCSVError("\(location): score '\(fields[0])' is not a number") }
        guard !fields[1].isEmpty else { throw RankingCSVError("\(location): empty image path") }
        if header.count > RankingCSV.header.count {
            guard let rotation = Int(fields[RankingCSV.header.count]), RankingQueryRotations.allowed.contains(rotation) else {
                throw RankingCSVError("\(location): query_rotation '\(fields[RankingCSV.header.count])' is not 0, 90, 180 or 270")
            }
        }
        self.fields = fields
        self.score = score
    }

    /// Results order: score descending, ties by image path ascending (so the order is total and
    /// independent of the order images were processed in).
    public static func inResultsOrder(_ a: RankingResultRow, _ b: RankingResultRow) -> Bool {
        if a.score != b.score { return a.score > b.score }
        return a.image.utf8.lexicographicallyPrecedes(b.image.utf8)
    }
}

/// A malformed CSV file or row.
public struct RankingCSVError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// RFC 4180 CSV: comma-separated, `\n` line ends, fields quoted when they contain a comma, a
/// quote or a line break, quotes doubled inside quoted fields.
public enum RankingCSV {
    /// The results header; the first two columns match the original pipeline's results.csv.
    public static let header = ["score", "image", "matches", "inliers", "inlier_ratio", "keypoints", "status", "seconds"]
    /// The results header of jobs with query rotations: one more column, the winning rotation.
    public static let rotationHeader = header + ["query_rotation"]
    /// The headers a results file may have.
    public static let headers = [header, rotationHeader]

    /// One CSV line, with its trailing newline.
    public static func line(_ fields: [String]) -> String {
        fields.map(quoted).joined(separator: ",") + "\n"
    }

    static func quoted(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The whole results file: `header` (the rows' columns) and rows in results order.
    public static func document(_ rows: [RankingResultRow], header: [String] = RankingCSV.header) -> String {
        var out = line(header)
        for row in rows.sorted(by: RankingResultRow.inResultsOrder) { out += line(row.fields) }
        return out
    }

    /// One parsed record and the byte offset just past it.
    struct ParsedRecord {
        var fields: [String]
        /// Offset of the first byte after the record's newline.
        var end: Int
    }

    /// Parses records from `bytes` starting at `start`. Stops at the first record that is not
    /// terminated by a newline (a torn write), returning the records before it; `end` of the last
    /// returned record is where valid data ends.
    static func records(_ bytes: [UInt8], from start: Int = 0) -> [ParsedRecord] {
        var out: [ParsedRecord] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var i = start
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == quote {
                    if i + 1 < bytes.count, bytes[i + 1] == quote { field.append(quote); i += 1 } else { inQuotes = false }
                } else {
                    field.append(b)
                }
            } else if b == quote, field.isEmpty {
                inQuotes = true
            } else if b == comma {
                fields.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true)
            } else if b == newline {
                fields.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true)
                out.append(ParsedRecord(fields: fields, end: i + 1))
                fields.removeAll()
            } else if b == carriageReturn, i + 1 < bytes.count, bytes[i + 1] == newline {
                // CRLF files (edited on Windows): the CR belongs to the line end.
            } else {
                field.append(b)
            }
            i += 1
        }
        return out
    }

    /// Reads a results CSV: checks the header and parses every row.
    public static func readResults(_ url: URL) throws -> [RankingResultRow] {
        try readTable(url).rows
    }

    /// Reads a results CSV with its header (``header`` or ``rotationHeader``).
    public static func readTable(_ url: URL) throws -> (header: [String], rows: [RankingResultRow]) {
        let parsed = try terminatedRecords(url)
        guard let first = parsed.first else { throw RankingCSVError("\(url.path): empty file, expected the header \(header.joined(separator: ","))") }
        guard headers.contains(first.fields) else {
            throw RankingCSVError("\(url.path): header is '\(first.fields.joined(separator: ","))', expected '\(header.joined(separator: ","))' (with ',query_rotation' after --query-rotations)")
        }
        let rows = try parsed.dropFirst().enumerated().map { index, record in
            try RankingResultRow(fields: record.fields, header: first.fields, location: "\(url.path): line \(index + 2)")
        }
        return (first.fields, rows)
    }

    /// Reads a file of result rows without a header, as an Azure ML parallel job appends them
    /// (`append_row_to`), possibly empty. Records whose first field starts with `#` are comments
    /// (the entry script's notes on files it skipped) and are left out.
    public static func readHeaderlessRows(_ url: URL) throws -> [RankingResultRow] {
        try terminatedRecords(url).enumerated().compactMap { index, record in
            if record.fields.first?.hasPrefix("#") == true { return nil }
            // Rows of a --query-rotations job carry one more column.
            let columns = record.fields.count == rotationHeader.count ? rotationHeader : header
            return try RankingResultRow(fields: record.fields, header: columns, location: "\(url.path): line \(index + 1)")
        }
    }

    /// Every record of a file, which must end with a line end.
    static func terminatedRecords(_ url: URL) throws -> [ParsedRecord] {
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
            throw RankingCSVError("\(url.path): cannot read (\(error.localizedDescription))")
        }
        let parsed = records(bytes)
        guard (parsed.last?.end ?? 0) == bytes.count else {
            throw RankingCSVError("\(url.path): the last line is not terminated (truncated file?)")
        }
        return parsed
    }
}
