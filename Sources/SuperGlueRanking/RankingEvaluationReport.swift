// Ground-truth labels for ranking results, and the evaluation of one or several queries' results
// (`superglue evaluate`).
//
// Labels file: a CSV (the results' dialect) whose header names at least the columns `image` and
// `label`, in any order; `label` is 1 (the image contains the query) or 0; an optional `bin`
// column groups the positives (e.g. difficulty); other columns are ignored. `image` is written as
// in the results CSV (the path relative to the ranked folder). Every ranked image must have a
// label and every labeled image a results row: a mismatch is an error, not a silent skip.
import Foundation

/// The results column a ranking is evaluated by.
public enum RankingEvaluationColumn: String, Sendable, CaseIterable, Codable {
    /// The results' `score` column (whatever `--score` sorted by).
    case score
    case matches
    case inliers
    case inlierRatio = "inlier_ratio"

    var fieldIndex: Int {
        switch self {
        case .score: return 0
        case .matches: return 2
        case .inliers: return 3
        case .inlierRatio: return 4
        }
    }
}

/// One row of a labels file.
public struct RankingLabel: Sendable, Equatable {
    public var positive: Bool
    public var bin: String?
}

public enum RankingLabels {
    /// Reads a labels file (format above): image name to label.
    public static func read(_ url: URL) throws -> [String: RankingLabel] {
        var bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
            throw RankingCSVError("\(url.path): cannot read (\(error.localizedDescription))")
        }
        // A final line without a newline is still a row here (labels are written by hand and by scripts).
        if let last = bytes.last, last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        let parsed = RankingCSV.records(bytes)
        guard let header = parsed.first?.fields else { throw RankingCSVError("\(url.path): empty file, expected a header with image,label") }
        guard let imageColumn = header.firstIndex(of: "image"), let labelColumn = header.firstIndex(of: "label") else {
            throw RankingCSVError("\(url.path): header is '\(header.joined(separator: ","))', expected columns image and label (and optionally bin)")
        }
        let binColumn = header.firstIndex(of: "bin")
        var labels: [String: RankingLabel] = [:]
        for (index, record) in parsed.dropFirst().enumerated() {
            let location = "\(url.path): line \(index + 2)"
            if record.fields == [""] { continue }  // blank line
            guard record.fields.count == header.count else {
                throw RankingCSVError("\(location): expected \(header.count) fields, found \(record.fields.count)")
            }
            let image = record.fields[imageColumn]
            guard !image.isEmpty else { throw RankingCSVError("\(location): empty image name") }
            let positive: Bool
            switch record.fields[labelColumn] {
            case "1": positive = true
            case "0": positive = false
            default: throw RankingCSVError("\(location): label '\(record.fields[labelColumn])' is not 1 or 0")
            }
            guard labels[image] == nil else { throw RankingCSVError("\(location): \(image) is labeled twice") }
            let bin = binColumn.map { record.fields[$0] }.flatMap { $0.isEmpty ? nil : $0 }
            labels[image] = RankingLabel(positive: positive, bin: bin)
        }
        return labels
    }

    /// Joins results rows with labels. Fails when an image lacks a label or a labeled image lacks a row.
    public static func join(_ rows: [RankingResultRow], labels: [String: RankingLabel], column: RankingEvaluationColumn,
                            resultsName: String, labelsName: String) throws -> [LabeledScore] {
        var seen = Set<String>()
        var unlabeled: [String] = []
        var items: [LabeledScore] = []
        for row in rows {
            seen.insert(row.image)
            guard let label = labels[row.image] else { unlabeled.append(row.image); continue }
            let text = row.fields[column.fieldIndex]
            guard let score = Double(text), score.isFinite else {
                throw RankingCSVError("\(resultsName): \(row.image): \(column.rawValue) '\(text)' is not a number")
            }
            items.append(LabeledScore(image: row.image, score: score, positive: label.positive, bin: label.bin))
        }
        guard unlabeled.isEmpty else {
            throw RankingCSVError("\(labelsName) has no label for \(unlabeled.count) image(s) of \(resultsName), e.g. \(unlabeled.sorted().prefix(3).joined(separator: ", "))")
        }
        let unranked = labels.keys.filter { !seen.contains($0) }.sorted()
        guard unranked.isEmpty else {
            throw RankingCSVError("\(resultsName) has no row for \(unranked.count) labeled image(s) of \(labelsName), e.g. \(unranked.prefix(3).joined(separator: ", "))")
        }
        return items
    }
}

/// The evaluation of one query's results.
public struct QueryEvaluation: Sendable, Equatable, Codable {
    public var results: String
    public var labels: String
    /// Rows whose status is not `ok` (they rank with score 0).
    public var failedImages: Int
    public var metrics: RankingMetrics
    /// Per bin of the positives: that bin's positives against all negatives.
    public var bins: [String: RankingMetrics]

    enum CodingKeys: String, CodingKey {
        case results, labels, metrics, bins
        case failedImages = "failed_images"
    }
}

/// Means over queries of one bin (or of everything).
public struct EvaluationSummary: Sendable, Equatable, Codable {
    public var positives: Int
    /// Mean of the queries' average precision (queries without positives here are left out).
    public var meanAveragePrecision: Double?
    public var meanROCAUC: Double?
    /// Means of the queries' precision and recall at each k.
    public var atK: [PrecisionRecallAtK]
    /// See ``RankingEvaluation/identificationRecallAtOne(_:bin:)``; absent with one query.
    public var identificationRecallAt1: Double?

    enum CodingKeys: String, CodingKey {
        case positives
        case meanAveragePrecision = "mean_average_precision"
        case meanROCAUC = "mean_roc_auc"
        case atK = "at_k"
        case identificationRecallAt1 = "identification_recall_at_1"
    }
}

/// Everything `superglue evaluate` reports.
public struct RankingEvaluationReport: Sendable, Equatable, Codable {
    public var scoreColumn: RankingEvaluationColumn
    public var queries: [QueryEvaluation]
    public var overall: EvaluationSummary
    public var bins: [String: EvaluationSummary]
    /// One max-F1 threshold over the scores of all queries together (one decision rule for any query).
    public var pooledThreshold: ThresholdChoice?

    enum CodingKeys: String, CodingKey {
        case queries, overall, bins
        case scoreColumn = "score_column"
        case pooledThreshold = "pooled_threshold"
    }
}

extension RankingEvaluation {
    /// One query's input to ``report(_:column:cutoffs:)``.
    public struct QueryInput: Sendable {
        public var results: String
        public var labels: String
        public var items: [LabeledScore]
        public var failedImages: Int

        public init(results: String, labels: String, items: [LabeledScore], failedImages: Int = 0) {
            self.results = results
            self.labels = labels
            self.items = items
            self.failedImages = failedImages
        }
    }

    /// Evaluates each query, then the means over queries, overall and per bin.
    public static func report(_ queries: [QueryInput], column: RankingEvaluationColumn = .score,
                              cutoffs: [Int] = defaultCutoffs) -> RankingEvaluationReport {
        let evaluations = queries.map { query in
            QueryEvaluation(results: query.results, labels: query.labels, failedImages: query.failedImages,
                            metrics: metrics(query.items, cutoffs: cutoffs),
                            bins: Dictionary(uniqueKeysWithValues: positiveBins(query.items).map {
                                ($0, metrics(restricted(query.items, toBin: $0), cutoffs: cutoffs))
                            }))
        }
        let rankings = queries.map(\.items)
        let allBins = Set(evaluations.flatMap(\.bins.keys)).sorted()
        return RankingEvaluationReport(
            scoreColumn: column, queries: evaluations,
            overall: summary(evaluations.map(\.metrics), cutoffs: cutoffs, identification: identificationRecallAtOne(rankings)),
            bins: Dictionary(uniqueKeysWithValues: allBins.map { bin in
                (bin, summary(evaluations.compactMap { $0.bins[bin] }, cutoffs: cutoffs,
                              identification: identificationRecallAtOne(rankings, bin: bin)))
            }),
            pooledThreshold: bestThreshold(rankings.flatMap { $0 }))
    }

    static func summary(_ metrics: [RankingMetrics], cutoffs: [Int], identification: Double?) -> EvaluationSummary {
        func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
        let withPositives = metrics.filter { $0.positives > 0 }
        let atK = cutoffs.filter { $0 > 0 }.map { k -> PrecisionRecallAtK in
            let rows = withPositives.compactMap { $0.atK.first { $0.k == k } }
            return PrecisionRecallAtK(k: k, precision: mean(rows.map(\.precision)) ?? 0, recall: mean(rows.compactMap(\.recall)))
        }
        return EvaluationSummary(positives: metrics.map(\.positives).reduce(0, +),
                                 meanAveragePrecision: mean(withPositives.compactMap(\.averagePrecision)),
                                 meanROCAUC: mean(metrics.compactMap(\.rocAUC)), atK: atK, identificationRecallAt1: identification)
    }
}
